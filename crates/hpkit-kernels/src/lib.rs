//! # hpkit-kernels
//!
//! The numeric kernels behind `hpkit.kernels` and the machine probes behind
//! `hpkit machine`. Pure Rust: slices in, Rust values and [`KernelError`] out; the
//! binding crate `hpkit-py` does the Python side (validation of Python objects, releasing
//! the GIL, Ctrl-C).
//!
//! * [`julia`] - the book's chapter 2 Julia set. Counts are bit-for-bit what CPython's
//!   complex arithmetic gives (no FMA, no reassociation; the `abs(z) < 2` test resolved
//!   with libm's `hypot` in a narrow band around 4), on the scalar, AVX2 and AVX-512 paths.
//! * [`simd`] - runtime dispatch: one binary carries every path and picks the widest the
//!   CPU has (never `-C target-cpu=native`). NEON is not written yet; aarch64 runs scalar.
//! * [`pool`] - one rayon pool sized by `HPKIT_NUM_THREADS` (default: all cores) and cached
//!   pools for an explicit thread count.
//! * [`probe`] - STREAM-style bandwidth (copy, triad) and peak floating-point throughput,
//!   the limits the lab reports results against (roofline style).
//!
//! Limits: outputs larger than the machine's RAM are refused up front
//! ([`KernelError::TooLarge`]) rather than left to the OS's out-of-memory killer.

mod error;
pub mod julia;
pub mod limits;
pub mod pool;
pub mod simd;

pub use error::{KernelError, Result};
pub use num_complex::Complex64;
