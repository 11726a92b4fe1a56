//! A profiling session: the sampler thread, the data it gathers, and the hand-off that
//! lets it read Python stacks safely.
//!
//! **How a sample is taken.** Python stacks may only be read with the GIL held. Every
//! tick the sampler thread sends the main thread a real-time signal whose Python-level
//! handler is [`Session::sample_here`] (installed by `hpkit.profile`): CPython runs it at
//! the main thread's next bytecode boundary, microseconds later while Python code runs,
//! so the sample lands where the program was and costs one C call. (`Py_AddPendingCall`
//! would be simpler, but on 3.11 a call added from another thread is not noticed until
//! something else interrupts the eval loop.) The signal is only sent while the kernel
//! has the main thread running, so a blocking system call is never interrupted by it;
//! when the main thread is blocked (in `join()`, sleeping, waiting for the GIL) or the
//! signal is not handled within a short grace, the sampler thread takes the GIL itself
//! (`PyGILState_Ensure`) and samples every thread from there. A tick is sampled once, by
//! whichever path gets there first.
//!
//! **What a sample records.** For each Python thread: its stack (function and line of
//! every frame) and a state. `python`: it was running bytecode. `native`: its innermost
//! frame is inside a call (to C, Rust, the OS) and the kernel has it on a CPU. `idle`:
//! off the CPU - sleeping, blocked on I/O or a lock, or waiting for the GIL. Each sample
//! weighs one tick, except that a tick delayed by a long C call that held the GIL carries
//! the whole delay, charged to that call (as `native`).

use std::cell::{Cell, UnsafeCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pyo3::{ffi, Python};

use crate::error::ProfileError;
use crate::frames::{capture, FrameTable, Stack, ThreadTable};
use crate::memory;
use crate::position;
use crate::proc;
use crate::store::Store;

pub const STATE_PYTHON: u8 = 0;
pub const STATE_NATIVE: u8 = 1;
pub const STATE_IDLE: u8 = 2;

/// Highest stack-sampling rate accepted.
pub const MAX_RATE_HZ: f64 = 10_000.0;
/// Most points kept in the memory timeline (then every other one is dropped).
const MAX_TIMELINE_POINTS: usize = 10_000;
/// How long a thread's `/proc` state is reused before it is read again.
const PROC_STATE_TTL: Duration = Duration::from_millis(10);

/// What a session measures.
#[derive(Debug, Clone)]
pub struct Options {
    /// Stack samples per second; 0 turns stack sampling off.
    pub rate_hz: f64,
    /// RSS readings per second for the memory timeline; 0 turns it off.
    pub timeline_hz: f64,
    /// Mean bytes between sampled allocations; 0 turns the allocator hooks off.
    pub memory_sample_bytes: u64,
    /// The interpreter's call opcodes (`dis.opmap`), to tell a thread inside a call.
    pub call_opcodes: Vec<u8>,
    /// The signal whose Python handler calls [`Session::sample_here`]; 0 for none (then
    /// every sample takes the GIL from the sampler thread).
    pub signal: i32,
}

/// Samples under one (thread, state, stack).
#[derive(Debug, Default, Clone, Copy)]
pub struct TimeCounts {
    pub count: u64,
    pub ns: u64,
}

/// Sampled allocations under one (thread, stack), in estimated bytes.
#[derive(Debug, Default, Clone, Copy)]
pub struct AllocCounts {
    pub bytes: f64,
    pub count: f64,
    pub live: f64,
}

/// Everything gathered; only touched with the GIL held by the thread marked busy.
pub struct Data {
    pub frames: FrameTable,
    pub threads: ThreadTable,
    pub samples: Store<TimeCounts>,
    pub allocs: Store<AllocCounts>,
    pub freed: HashMap<(u32, i32), f64>,
    pub stack: Stack,
    last_sample: Instant,
    proc_states: HashMap<i32, (Instant, bool)>,
    is_call: [bool; 256],
}

/// A cell for [`Data`]: Sync because every access holds the GIL and marks the thread
/// busy ([`enter`]), which keeps the allocator hooks from re-entering it.
pub struct GilCell<T>(UnsafeCell<T>);
// SAFETY: accessed only with the GIL held, see `with_data`.
unsafe impl<T> Sync for GilCell<T> {}
unsafe impl<T> Send for GilCell<T> {}

pub struct Inner {
    data: GilCell<Data>,
    period: Option<Duration>,
    signal: i32,
    timeline_period: Option<Duration>,
    pub(crate) stop: AtomicBool,
    tick: AtomicU64,
    sampled_tick: AtomicU64,
    /// A signal was sent and its handler has not run yet.
    outstanding: AtomicBool,
    /// The main thread's CPU time (ns) when the last signal was sent.
    signalled_cpu: AtomicU64,
    handoff: Mutex<()>,
    sampled: Condvar,
    started: Instant,
    timeline: Mutex<Vec<(f64, u64, f64)>>,
    /// Kernel thread ids with their state read just before the sampler took the GIL.
    pre_states: Mutex<HashMap<i32, bool>>,
    /// The thread state that held the GIL then (3.11 keeps it in a global; null when
    /// unknown), so the thread that was running Python is not mistaken for one in a call.
    pre_holder: AtomicPtr<ffi::PyThreadState>,
    known_tids: Mutex<Vec<i32>>,
}

thread_local! {
    /// Set while this thread is inside the profiler, so allocations the profiler itself
    /// makes are not profiled (and `Data` is never borrowed twice).
    static BUSY: Cell<bool> = const { Cell::new(false) };
}

/// Mark this thread busy; `None` when it already is.
pub(crate) fn enter() -> Option<BusyGuard> {
    BUSY.with(|b| {
        if b.get() {
            None
        } else {
            b.set(true);
            Some(BusyGuard)
        }
    })
}

pub(crate) struct BusyGuard;
impl Drop for BusyGuard {
    fn drop(&mut self) {
        BUSY.with(|b| b.set(false));
    }
}

/// The running session, for the allocator hooks (which get no context of their own).
pub(crate) static CURRENT: AtomicPtr<Inner> = AtomicPtr::new(std::ptr::null_mut());
static RUNNING: AtomicBool = AtomicBool::new(false);

impl Inner {
    /// # Safety
    /// GIL held and the thread marked busy: that pair is the lock this cell stands for,
    /// so no two `&mut Data` exist at once.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn data(&self) -> &mut Data {
        &mut *self.data.0.get()
    }

    fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

/// A running session. Start it with the GIL held; [`Session::stop_threads`] must be
/// called *without* the GIL (it joins a thread that may be waiting for it), then
/// [`Session::finish`] with the GIL.
pub struct Session {
    inner: Arc<Inner>,
    options: Options,
    thread: Option<JoinHandle<()>>,
    finished: bool,
}

impl Session {
    /// Start; the `Python` token proves the GIL is held.
    pub fn start(py: Python<'_>, options: Options) -> Result<Session, ProfileError> {
        check(&options)?;
        if RUNNING.swap(true, Ordering::AcqRel) {
            return Err(ProfileError::Busy);
        }
        // SAFETY: GIL held (the token).
        let inner = Arc::new(unsafe { new_inner(&options) });
        let mut session = Session {
            inner,
            options,
            thread: None,
            finished: false,
        };
        CURRENT.store(Arc::as_ptr(&session.inner) as *mut Inner, Ordering::Release);
        session.start_positions(py);
        if session.options.memory_sample_bytes > 0 {
            // SAFETY: GIL held (the token).
            unsafe { memory::enable(session.options.memory_sample_bytes) };
        }
        if let Err(e) = session.spawn() {
            session.abandon();
            return Err(e);
        }
        Ok(session)
    }

    fn spawn(&mut self) -> Result<(), ProfileError> {
        if self.inner.period.is_none() && self.inner.timeline_period.is_none() {
            return Ok(());
        }
        let inner = Arc::clone(&self.inner);
        self.thread = Some(
            std::thread::Builder::new()
                .name("hpkit-sampler".into())
                .spawn(move || sampler_loop(&inner))?,
        );
        Ok(())
    }

    /// Record where the main thread is at each signal (see [`position`]), when this is
    /// the main thread and the interpreter's layout is one we know.
    fn start_positions(&self, py: Python<'_>) {
        if self.options.signal <= 0 {
            return;
        }
        // SAFETY: GIL held (the token); the tstate is this thread's own.
        let version = py.version_info();
        let calibrated = unsafe {
            position::calibrate(ffi::PyThreadState_Get(), (version.major, version.minor))
        };
        if calibrated {
            position::chain_handler(self.options.signal);
        }
    }

    fn abandon(&mut self) {
        position::unchain_handler();
        memory::disable();
        CURRENT.store(std::ptr::null_mut(), Ordering::Release);
        RUNNING.store(false, Ordering::Release);
    }

    /// Stop the sampler thread and wait for it. Call without the GIL.
    pub fn stop_threads(&mut self) {
        self.inner.stop.store(true, Ordering::Release);
        {
            let _lock = self.inner.handoff.lock().unwrap_or_else(|e| e.into_inner());
            self.inner.sampled.notify_all();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Stop the allocator hooks and hand over what was gathered. Call after
    /// [`Session::stop_threads`]; the token proves the GIL is held.
    pub fn finish(mut self, _py: Python<'_>) -> Report {
        let _busy = enter();
        memory::disable();
        let inner = &self.inner;
        // SAFETY: GIL held and this thread marked busy; the sampler thread has stopped.
        let data = unsafe { inner.data() };
        let report = Report {
            frames: data.frames.infos().to_vec(),
            threads: data
                .threads
                .infos()
                .iter()
                .map(|t| t.name.clone())
                .collect(),
            samples: data
                .samples
                .rows()
                .iter()
                .map(|r| (r.thread, r.state, r.stack.to_vec(), r.value))
                .collect(),
            allocations: data
                .allocs
                .rows()
                .iter()
                .map(|r| (r.thread, r.stack.to_vec(), r.value))
                .collect(),
            freed: data.freed.iter().map(|(&(f, l), &b)| (f, l, b)).collect(),
            timeline: inner
                .timeline
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            peak_heap: memory::peak_heap(),
            unattributed_bytes: memory::unattributed_bytes(),
            dropped: data.samples.dropped + data.allocs.dropped,
            duration: inner.elapsed(),
        };
        // SAFETY: GIL held.
        unsafe {
            data.frames.release();
            data.threads.release();
        }
        self.abandon();
        self.finished = true;
        report
    }

    /// In a child process after `fork()`: the sampler thread did not survive and the
    /// hand-off locks may be held by it, so start over with fresh state. The parent's
    /// data stays with the parent (its copy here is forgotten, never freed).
    ///
    /// Call in the child right after the fork; the token proves the GIL is held.
    pub fn after_fork_child(&mut self, _py: Python<'_>) -> Result<(), ProfileError> {
        self.inner.stop.store(true, Ordering::Release);
        {
            let _busy = enter();
            // SAFETY: GIL held; the parent's sampler thread does not exist here.
            let old = unsafe { self.inner.data() };
            old.frames.forget();
            old.threads.forget();
        }
        std::mem::forget(self.thread.take());
        // SAFETY: GIL held (the token).
        let fresh = Arc::new(unsafe { new_inner(&self.options) });
        std::mem::forget(std::mem::replace(&mut self.inner, fresh));
        CURRENT.store(Arc::as_ptr(&self.inner) as *mut Inner, Ordering::Release);
        position::unchain_handler();
        self.start_positions(_py);
        memory::after_fork_child();
        self.spawn()
    }

    /// Seconds since the session started.
    pub fn elapsed(&self) -> f64 {
        self.inner.elapsed()
    }
}

/// A session dropped without [`Session::finish`] (its owner was garbage-collected, say)
/// stops without waiting: the sampler thread ends on its own at its next tick, and the
/// data it holds is leaked rather than freed without the GIL.
impl Drop for Session {
    fn drop(&mut self) {
        if !self.finished {
            self.inner.stop.store(true, Ordering::Release);
            self.inner.sampled.notify_all();
            drop(self.thread.take()); // detached, not joined: it may be waiting for the GIL
            self.abandon();
        }
    }
}

/// What a finished session hands over; frame, thread and state ids index `frames`,
/// `threads` and the `STATE_*` constants.
pub struct Report {
    pub frames: Vec<crate::frames::FrameInfo>,
    pub threads: Vec<String>,
    pub samples: Vec<(u32, u8, Stack, TimeCounts)>,
    pub allocations: Vec<(u32, Stack, AllocCounts)>,
    pub freed: Vec<(u32, i32, f64)>,
    pub timeline: Vec<(f64, u64, f64)>,
    pub peak_heap: f64,
    /// Sampled bytes allocated without the GIL, where no Python stack can be read.
    pub unattributed_bytes: f64,
    pub dropped: u64,
    pub duration: f64,
}

fn check(options: &Options) -> Result<(), ProfileError> {
    let rate_ok = |r: f64| r.is_finite() && (0.0..=MAX_RATE_HZ).contains(&r);
    if !rate_ok(options.rate_hz) {
        return Err(ProfileError::InvalidArgument(format!(
            "rate must be between 1 and {MAX_RATE_HZ} samples per second, got {}",
            options.rate_hz
        )));
    }
    if !rate_ok(options.timeline_hz) {
        return Err(ProfileError::InvalidArgument(format!(
            "timeline rate must be between 0 and {MAX_RATE_HZ} per second, got {}",
            options.timeline_hz
        )));
    }
    Ok(())
}

unsafe fn new_inner(options: &Options) -> Inner {
    let period = |hz: f64| (hz > 0.0).then(|| Duration::from_secs_f64(1.0 / hz));
    let mut is_call = [false; 256];
    for &op in &options.call_opcodes {
        is_call[op as usize] = true;
    }
    let now = Instant::now();
    Inner {
        data: GilCell(UnsafeCell::new(Data {
            frames: FrameTable::new(),
            threads: ThreadTable::new(),
            samples: Store::new(),
            allocs: Store::new(),
            freed: HashMap::new(),
            stack: Vec::with_capacity(64),
            last_sample: now,
            proc_states: HashMap::new(),
            is_call,
        })),
        period: period(options.rate_hz),
        signal: options.signal,
        timeline_period: period(options.timeline_hz),
        stop: AtomicBool::new(false),
        tick: AtomicU64::new(0),
        sampled_tick: AtomicU64::new(0),
        outstanding: AtomicBool::new(false),
        signalled_cpu: AtomicU64::new(u64::MAX),
        handoff: Mutex::new(()),
        sampled: Condvar::new(),
        started: now,
        timeline: Mutex::new(Vec::new()),
        pre_states: Mutex::new(HashMap::new()),
        pre_holder: AtomicPtr::new(std::ptr::null_mut()),
        known_tids: Mutex::new(Vec::new()),
    }
}

fn sampler_loop(inner: &Arc<Inner>) {
    // Signals sent to the process (SIGTERM, SIGINT...) must reach a Python thread: one
    // delivered here would be noted by CPython but never acted on while the main thread
    // blocks, so this thread blocks them all.
    // SAFETY: a full set, then pthread_sigmask on the calling thread.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
    }
    let step = match (inner.period, inner.timeline_period) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => return,
    };
    let mut next = Instant::now() + step;
    let mut next_timeline = Instant::now();
    let mut timeline_step = inner.timeline_period.unwrap_or(step);
    while !inner.stop.load(Ordering::Acquire) {
        let now = Instant::now();
        if next > now {
            let lock = inner.handoff.lock().unwrap_or_else(|e| e.into_inner());
            let _ = inner.sampled.wait_timeout(lock, next - now);
            if Instant::now() < next {
                continue; // woken early (stop, or a late notification): re-check
            }
        }
        if inner.stop.load(Ordering::Acquire) {
            break;
        }
        if inner.period.is_some() {
            sample_tick(inner, inner.signal, step);
        }
        if inner.timeline_period.is_some() {
            let now = Instant::now();
            if now >= next_timeline {
                let rss = proc::rss_bytes().unwrap_or(0);
                let point = (inner.elapsed(), rss, memory::live_heap());
                let mut timeline = inner.timeline.lock().unwrap_or_else(|e| e.into_inner());
                timeline.push(point);
                // A long run keeps a bounded timeline: halve its resolution when full.
                if timeline.len() >= MAX_TIMELINE_POINTS {
                    let mut i = 0;
                    timeline.retain(|_| {
                        i += 1;
                        i % 2 == 1
                    });
                    timeline_step *= 2;
                }
                next_timeline = now + timeline_step;
            }
        }
        next += step;
        let now = Instant::now();
        if next < now {
            next = now + step; // ticks missed while waiting are not made up
        }
    }
}

/// One tick: signal the main thread if it is running, wait a little, else take the
/// GIL and sample from here.
fn sample_tick(inner: &Arc<Inner>, signal: i32, period: Duration) {
    let tick = inner.tick.fetch_add(1, Ordering::AcqRel) + 1;
    // SAFETY: getpid has no preconditions. The main thread's kernel id is the pid.
    let pid = unsafe { libc::getpid() };
    let main_running = signal > 0 && proc::thread_running(pid) == Some(true);
    if main_running && !inner.outstanding.swap(true, Ordering::AcqRel) {
        let cpu = proc::thread_cpu_ns(pid).unwrap_or(u64::MAX);
        inner.signalled_cpu.store(cpu, Ordering::Release);
        // SAFETY: tgkill to our own main thread with a signal that has a handler.
        let sent = unsafe { libc::syscall(libc::SYS_tgkill, pid, pid, signal) } == 0;
        if !sent {
            inner.outstanding.store(false, Ordering::Release);
        }
    }
    if main_running {
        let grace = (period / 2).min(Duration::from_millis(2));
        let deadline = Instant::now() + grace;
        let mut lock = inner.handoff.lock().unwrap_or_else(|e| e.into_inner());
        while inner.sampled_tick.load(Ordering::Acquire) < tick
            && !inner.stop.load(Ordering::Acquire)
        {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            lock = inner
                .sampled
                .wait_timeout(lock, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
    if inner.sampled_tick.load(Ordering::Acquire) >= tick || inner.stop.load(Ordering::Acquire) {
        return;
    }
    // The main thread is not running bytecode: read the threads' states before taking
    // the GIL (taking it makes the thread running Python stop), then sample from here.
    let tids = inner
        .known_tids
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let states: HashMap<i32, bool> = tids
        .into_iter()
        .filter_map(|tid| proc::thread_running(tid).map(|r| (tid, r)))
        .collect();
    *inner.pre_states.lock().unwrap_or_else(|e| e.into_inner()) = states;
    // SAFETY: an atomic read of the interpreter's GIL-holder pointer; on 3.12+ it is
    // this thread's own (null) state, which matches no thread below.
    let holder = unsafe { ffi::compat::PyThreadState_GetUnchecked() };
    inner.pre_holder.store(holder, Ordering::Release);
    // SAFETY: the interpreter is running (the session is stopped before finalisation),
    // so PyGILState_Ensure may be called from this non-Python thread.
    unsafe {
        let gil = ffi::PyGILState_Ensure();
        if inner.sampled_tick.load(Ordering::Acquire) < tick && !inner.stop.load(Ordering::Acquire)
        {
            take_sample(inner, ffi::PyThreadState_Get(), false, false);
            inner.sampled_tick.store(tick, Ordering::Release);
        }
        ffi::PyGILState_Release(gil);
    }
}

impl Session {
    /// Take the sample the sampler thread asked for, from the main thread's signal
    /// handler; a no-op when no tick is waiting (or no session runs).
    pub fn sample_here(py: Python<'_>) {
        let _ = py;
        let ptr = CURRENT.load(Ordering::Acquire);
        if ptr.is_null() {
            return;
        }
        // SAFETY: CURRENT points at the running session's Inner, which outlives it (the
        // Session's Arc is only dropped after CURRENT is cleared, under the GIL we hold).
        let inner = unsafe { &*ptr };
        inner.outstanding.store(false, Ordering::Release);
        let tick = inner.tick.load(Ordering::Acquire);
        if inner.stop.load(Ordering::Acquire) || inner.sampled_tick.load(Ordering::Acquire) >= tick
        {
            return;
        }
        // A handler that ran after the main thread spent over 1 ms of CPU since the
        // signal ran after a call that kept the eval loop away. (Wall-clock latency would
        // also count time the thread waited for a CPU on a busy machine.)
        let cpu_then = inner.signalled_cpu.load(Ordering::Acquire);
        let late = proc::current_thread_cpu_ns()
            .is_some_and(|now| now.saturating_sub(cpu_then) > 1_000_000 && cpu_then != u64::MAX);
        // SAFETY: GIL held (the token), in the thread whose state is current.
        unsafe { take_sample(inner, ffi::PyThreadState_Get(), true, late) };
        let _lock = inner.handoff.lock().unwrap_or_else(|e| e.into_inner());
        inner.sampled_tick.store(tick, Ordering::Release);
        inner.sampled.notify_all();
    }
}

/// Record one sample of every thread of the main interpreter.
///
/// # Safety
/// GIL held by `current`'s thread. `on_current` says whether `current` is a Python
/// thread to sample (the main thread in its signal handler) or the sampler's own;
/// `late` that the handler ran late, so a thread inside a call spent the wait there.
unsafe fn take_sample(
    inner: &Inner,
    current: *mut ffi::PyThreadState,
    on_current: bool,
    late: bool,
) {
    let Some(_busy) = enter() else { return };
    let data = inner.data();
    let now = Instant::now();
    let elapsed = now.duration_since(data.last_sample).as_nanos() as u64;
    data.last_sample = now;
    // A sample stands for one tick. The exception is a main thread whose handler ran late
    // because it sat in a call holding the GIL: that sample carries the whole wait, the
    // native time it stands for. (Crediting every late sample with its wait would charge
    // a virtual machine's stolen time, or a busy machine's scheduling delay, to whatever
    // line the thread happened to be on.)
    let tick = inner.period.map_or(elapsed, |p| p.as_nanos() as u64);
    let pre_states = if on_current {
        None
    } else {
        Some(std::mem::take(
            &mut *inner.pre_states.lock().unwrap_or_else(|e| e.into_inner()),
        ))
    };
    let mut tstate = ffi::PyInterpreterState_ThreadHead(ffi::PyInterpreterState_Main());
    while !tstate.is_null() {
        let next = ffi::PyThreadState_Next(tstate);
        if tstate == current && !on_current {
            tstate = next;
            continue;
        }
        let mut stack = std::mem::take(&mut data.stack);
        let top = capture(tstate, &mut data.frames, &mut stack);
        // Threads without a Python frame (a C thread holding a thread state) are skipped.
        let threads_before = data.threads.infos().len();
        let slot = if top.is_some() {
            Some(data.threads.slot(tstate))
        } else {
            None
        };
        let tid = slot.and_then(|s| data.threads.infos()[s as usize].tid);
        // A thread seen for the first time: the fallback path reads its state from then on.
        if let (Some(tid), true) = (tid, data.threads.infos().len() > threads_before) {
            let mut known = inner.known_tids.lock().unwrap_or_else(|e| e.into_inner());
            if !known.contains(&tid) {
                known.push(tid);
            }
        }
        // The main thread, sampled from its signal handler: its innermost line is where
        // the signal found it, and so is whether it was inside a call (into C, numpy,
        // the OS: native time) - the handler itself only runs between bytecodes.
        let mut signalled_in_call = None;
        if let (Some(top), true) = (&top, tstate == current && on_current) {
            let code = data.frames.code(top.frame);
            if let Some(offset) = position::recorded_offset(code) {
                if let Some(op) = data.frames.opcode_at(top.frame, offset) {
                    signalled_in_call = Some(data.is_call[op as usize]);
                    let line = ffi::PyCode_Addr2Line(code.cast(), offset);
                    if let (true, Some(leaf)) = (line > 0, stack.last_mut()) {
                        leaf.1 = line;
                    }
                }
            }
        }
        if let (Some(top), Some(slot)) = (top, slot) {
            let in_call = data
                .frames
                .opcode_at(top.frame, top.lasti)
                .is_some_and(|op| data.is_call[op as usize]);
            let state = if tstate == current {
                match signalled_in_call {
                    Some(true) => STATE_NATIVE,
                    Some(false) => STATE_PYTHON,
                    // No recorded position: a handler delayed by over 1 ms of CPU while
                    // the frame sits on a call spent that time in the call.
                    None if late && in_call => STATE_NATIVE,
                    None => STATE_PYTHON,
                }
            } else {
                let running = match pre_states
                    .as_ref()
                    .and_then(|m| tid.and_then(|t| m.get(&t)))
                {
                    Some(&r) => Some(r),
                    None => tid.and_then(|t| data.running(t, now)),
                };
                let held_gil = !on_current && tstate == inner.pre_holder.load(Ordering::Acquire);
                match running {
                    // It was running bytecode and stopped at a boundary to hand us the
                    // GIL: the call it stands after is over.
                    Some(true) if held_gil => STATE_PYTHON,
                    Some(true) if in_call => STATE_NATIVE,
                    Some(true) => STATE_PYTHON,
                    _ => STATE_IDLE,
                }
            };
            let ns = if state == STATE_NATIVE && tstate == current && late {
                elapsed.max(tick)
            } else {
                tick
            };
            if let Some(i) = data.samples.index(slot, state, &stack) {
                let v = data.samples.value_mut(i);
                v.count += 1;
                v.ns += ns;
            }
        }
        data.stack = stack;
        tstate = next;
    }
}

impl Data {
    /// Whether kernel thread `tid` is running, from `/proc`, read at most every 10 ms.
    fn running(&mut self, tid: i32, now: Instant) -> Option<bool> {
        if let Some(&(at, r)) = self.proc_states.get(&tid) {
            if now.duration_since(at) < PROC_STATE_TTL {
                return Some(r);
            }
        }
        let r = proc::thread_running(tid)?;
        self.proc_states.insert(tid, (now, r));
        Some(r)
    }
}
