//! # hpkit-profile
//!
//! The engine behind `hpkit.profile` (the book's chapter 2: find the bottleneck before
//! optimising). It is the one hpkit crate that talks to CPython directly, through
//! `pyo3::ffi`, because a profiler has to read the interpreter's own state: thread
//! states, frames, code objects and the allocator table. Everything Python-facing (the
//! command line, outputs, line counting) lives in `python/hpkit/profile/`.
//!
//! * [`session`] - a **sampling profiler in the process**. A thread wakes at the chosen
//!   rate and has the main thread record every thread's stack at its next bytecode
//!   boundary (`Py_AddPendingCall`), or takes the GIL itself when the main thread is not
//!   running bytecode. Samples are aggregated by (thread, state, stack) as they come, so
//!   memory is bounded by the program's shape, not by run time. Unlike an external
//!   sampler (py-spy), it needs no ptrace rights and no per-version struct offsets; unlike
//!   a signal-based one (pyinstrument, scalene), it samples every thread, and tells
//!   running Python from native calls and from idle threads (read from `/proc`).
//! * [`memory`] - **allocator hooks** (`PyMem_SetAllocator`) with byte-sampled
//!   allocations (the tcmalloc scheme): per-line allocated and freed bytes, the live
//!   estimate and its peak, at the cost of one subtraction per allocation.
//!
//! Limits: CPython 3.11 to 3.13 on Linux (thread states come from `/proc`; elsewhere
//! every other thread counts as running). Only the main interpreter is sampled. A C call
//! that holds the GIL delays the next sample until it returns; that sample then carries
//! the elapsed time, charged to the call. The main thread's line is where the signal
//! found it ([`position`], on the layouts it knows); other threads are read where they
//! hand over the GIL, a bytecode boundary, so their lines lean toward loop heads and
//! call sites, and on 3.12+ (no GIL holder to read) a thread running Python that stopped
//! just after a call may show as native.

// Reading interpreter state needs the C API: every unsafe block states the invariant it
// relies on (GIL held, live objects), and the allocator hooks never call Python code.
#![allow(unsafe_code)]

pub mod error;
pub mod frames;
pub mod memory;
mod position;
mod proc;
pub mod session;
mod store;

pub use error::ProfileError;
pub use frames::FrameInfo;
pub use session::{Options, Report, Session, STATE_IDLE, STATE_NATIVE, STATE_PYTHON};
