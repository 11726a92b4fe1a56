//! Machine probes: the measured limits the lab reports its results against (roofline style).
//!
//! **Memory bandwidth** ([`StreamArrays`], [`bandwidth`]) follows John McCalpin's STREAM
//! benchmark: `copy` (`a[i] = b[i]`) and `triad` (`a[i] = b[i] + s*c[i]`) over `f64`
//! arrays, each thread owning one contiguous chunk (the same chunking first-touches the
//! pages, so on a NUMA machine each chunk lives next to the thread that first wrote it),
//! best time of several repetitions. Bytes are counted as STREAM counts them: 16 per
//! element for copy (one read, one write) and 24 for triad (two reads, one write). The
//! write-allocate read of `a` that ordinary stores cause (the cache line is read before it
//! is overwritten) is *not* counted, as in STREAM, so the traffic actually moved is 24 and
//! 32 bytes per element and the figures are comparable with published STREAM numbers.
//! Ordinary stores are used on purpose (no non-temporal stores): that is what a kernel
//! written in plain Rust or C gets. (The copy is written with explicit vector loads and
//! stores because the compiler turns the plain loop into a `memcpy` call, and glibc's
//! `memcpy` switches to non-temporal stores for large copies - a different kernel.)
//!
//! **Peak floating-point throughput** ([`peak_flops`]) runs many independent accumulator
//! chains - more than FMA latency x FMA ports (4 cycles x 2 ports = 8 vectors on current
//! x86 cores) - of the recurrence `acc = acc*m + a`, either fused ([`FlopKind::Fma`],
//! one FMA counted as 2 flops per lane) or as a separate multiply and add
//! ([`FlopKind::MulAdd`], 1 flop each per lane). The values converge to `a/(1-m)` and
//! stay normal (no denormal slowdown, no overflow). The no-FMA figure is the fair ceiling
//! for kernels that must not fuse for exactness, such as the Julia kernel, whose every
//! operation is a plain IEEE multiply, add or subtract.
//!
//! Both run on the scalar, AVX2 and AVX-512 paths chosen at run time ([`Simd`]), with one
//! thread or a pool of threads. All repetitions of a measurement run inside one parallel
//! region (`rayon::broadcast`), each worker pinned to its own CPU for the duration, the
//! workers meeting at a spinning barrier before and after every repetition; a
//! repetition's time runs from the first worker's start to the last one's finish. Each
//! measurement repeats until a time budget is spent (at least [`MIN_REPS`] times) and
//! keeps the best, so a probe's duration is bounded by its budget plus one repetition.
//!
//! Limits: frequency scaling (turbo, AVX-512 licences) is whatever the machine does during
//! the run, and other processes on the same cores slow a probe down (best-of-N only
//! partly hides them) - these are the limits a program meets in practice, not the data
//! sheet's.
#![allow(unsafe_code)] // intrinsics and `#[target_feature]` kernels (every call guarded by a
                       // runtime feature check), an empty `asm!` optimisation barrier, and
                       // libc's sched_{get,set}affinity to pin the probe's workers

use crate::error::{invalid, KernelError, Result};
use crate::pool;
use crate::simd::Simd;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Every measurement repeats at least this often (the best repetition is kept).
pub const MIN_REPS: u32 = 3;
/// ... and at most this often, however short a repetition is.
const MAX_REPS: u32 = 10_000;
/// The longest time budget a caller may ask for, per measurement.
const MAX_SECONDS: f64 = 60.0;
/// Counted bytes one timed region of a bandwidth probe should move at least: small
/// (in-cache) arrays are swept many times inside one region so the fork/join of the pool
/// (microseconds) is noise next to the work.
const REGION_BYTES: u64 = 256 << 20;
/// A timed region of a flops probe lasts at least this long (calibrated).
const FLOPS_REGION: Duration = Duration::from_millis(2);
/// Chunks start on a cache-line boundary (8 f64 = 64 bytes), so no line is written by
/// two threads.
const CHUNK_ALIGN: usize = 8;
/// The triad's scalar.
const TRIAD_SCALAR: f64 = 3.0;

/// The STREAM kernel to time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StreamKernel {
    /// `a[i] = b[i]`: 16 bytes counted per element.
    Copy,
    /// `a[i] = b[i] + s*c[i]`: 24 bytes counted per element.
    Triad,
}

impl StreamKernel {
    pub const ALL: [StreamKernel; 2] = [StreamKernel::Copy, StreamKernel::Triad];

    pub fn name(self) -> &'static str {
        match self {
            StreamKernel::Copy => "copy",
            StreamKernel::Triad => "triad",
        }
    }

    pub fn parse(name: &str) -> Result<StreamKernel> {
        match name {
            "copy" => Ok(StreamKernel::Copy),
            "triad" => Ok(StreamKernel::Triad),
            other => Err(invalid(format!(
                "unknown bandwidth kernel {other:?}; expected 'copy' or 'triad'"
            ))),
        }
    }

    /// Arrays the kernel touches.
    pub fn arrays(self) -> u64 {
        match self {
            StreamKernel::Copy => 2,
            StreamKernel::Triad => 3,
        }
    }

    /// Bytes STREAM counts per element (reads plus writes, no write-allocate).
    pub fn bytes_per_element(self) -> u64 {
        self.arrays() * 8
    }
}

/// The kind of floating-point work a flops probe times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FlopKind {
    /// Fused multiply-add: 2 flops per lane per instruction.
    Fma,
    /// A multiply then a separate add (two roundings, as exact kernels need):
    /// 1 flop per lane per instruction.
    MulAdd,
}

impl FlopKind {
    pub const ALL: [FlopKind; 2] = [FlopKind::Fma, FlopKind::MulAdd];

    pub fn name(self) -> &'static str {
        match self {
            FlopKind::Fma => "fma",
            FlopKind::MulAdd => "mul_add",
        }
    }

    pub fn parse(name: &str) -> Result<FlopKind> {
        match name {
            "fma" => Ok(FlopKind::Fma),
            "mul_add" => Ok(FlopKind::MulAdd),
            other => Err(invalid(format!(
                "unknown flop kind {other:?}; expected 'fma' or 'mul_add'"
            ))),
        }
    }

    /// Whether `simd` can run this kind in hardware. FMA needs the FMA instructions
    /// (AVX-512F includes them; AVX2 machines have them as a separate feature); a software
    /// `fma()` would measure libm, not the machine.
    pub fn is_available(self, simd: Simd) -> bool {
        simd.is_available()
            && match (self, simd) {
                (FlopKind::MulAdd, _) | (FlopKind::Fma, Simd::Avx512) => true,
                (FlopKind::Fma, Simd::Scalar | Simd::Avx2) => has_hardware_fma(),
            }
    }
}

fn has_hardware_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(target_arch = "aarch64")]
    {
        true // FMADD is part of the base aarch64 instruction set
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

/// The result of one bandwidth measurement.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bandwidth {
    pub kernel: StreamKernel,
    pub threads: usize,
    /// Elements per array.
    pub len: usize,
    /// Size of the arrays the kernel touches (its working set), bytes.
    pub footprint_bytes: u64,
    /// Bytes counted per sweep of the arrays (STREAM's convention).
    pub bytes_per_sweep: u64,
    /// The best time of one sweep, seconds.
    pub best_seconds: f64,
    /// Timed repetitions.
    pub reps: u32,
    /// `bytes_per_sweep / best_seconds / 1e9`.
    pub gb_per_s: f64,
}

/// The result of one flops measurement.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Flops {
    pub kind: FlopKind,
    pub simd: Simd,
    pub threads: usize,
    /// Floating-point operations in one timed region (all threads).
    pub flops_per_region: u64,
    pub best_seconds: f64,
    pub reps: u32,
    /// `flops_per_region / best_seconds / 1e9`.
    pub gflops: f64,
}

/// Validate a time budget in seconds.
pub fn budget(seconds: f64) -> Result<Duration> {
    if !(seconds.is_finite() && (0.0..=MAX_SECONDS).contains(&seconds)) {
        return Err(invalid(format!(
            "seconds must be between 0 and {MAX_SECONDS}, got {seconds}"
        )));
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn check_threads(threads: usize) -> Result<()> {
    if threads == 0 {
        return Err(invalid("threads must be at least 1, got 0"));
    }
    Ok(())
}

/// How many times to repeat a timed region: at least `min_reps`, then more until
/// `budget` is spent (at most [`MAX_REPS`]).
#[derive(Clone, Copy, Debug)]
struct Reps {
    min_reps: u32,
    budget: Duration,
}

impl Reps {
    /// A measurement: at least [`MIN_REPS`], as many as fit in `budget`.
    fn measure(budget: Duration) -> Reps {
        Reps {
            min_reps: MIN_REPS,
            budget,
        }
    }

    /// A single run (first touch, calibration).
    const ONCE: Reps = Reps {
        min_reps: 1,
        budget: Duration::ZERO,
    };
}

/// A reusable barrier whose waiters spin (yielding now and then, in case there are more
/// workers than cores) instead of sleeping: a sleeping thread takes the OS - and on a VM
/// the hypervisor - up to hundreds of microseconds to wake, which would be timed.
struct SpinBarrier {
    parties: usize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
}

impl SpinBarrier {
    fn new(parties: usize) -> SpinBarrier {
        SpinBarrier {
            parties,
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
        }
    }

    fn wait(&self) {
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.parties {
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
            return;
        }
        let mut spins = 0u32;
        while self.generation.load(Ordering::Acquire) == generation {
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(256) {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }
}

/// Pinning a thread to one CPU for a while (Linux; elsewhere a no-op).
///
/// The probes pin worker `i` to the `i`-th CPU the process may use, for the duration of a
/// measurement, and restore the worker's previous CPU set afterwards (the pool is shared
/// with the kernels). STREAM is run the same way (`OMP_PROC_BIND`); it measures what the
/// cores can do rather than where the scheduler happens to put threads. It matters more
/// than usual on VMs whose kernel packs threads onto few vCPUs (Firecracker's
/// `sched_vcpu_pack`): unpinned, both workers of a two-thread probe were seen sharing
/// one vCPU for the whole of a sub-second run, measuring one core's rate.
mod os {
    #[cfg(target_os = "linux")]
    pub(super) struct Pinned(Option<libc::cpu_set_t>);

    #[cfg(target_os = "linux")]
    pub(super) fn pin_current_thread(index: usize) -> Pinned {
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: cpu_set_t is plain data (all zeros is the empty set); the libc calls get
        // its true size and act on the calling thread only (pid 0).
        unsafe {
            let mut old: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, size, &mut old) != 0 {
                return Pinned(None);
            }
            let allowed: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
                .filter(|&cpu| libc::CPU_ISSET(cpu, &old))
                .collect();
            if allowed.len() < 2 {
                return Pinned(None);
            }
            let mut one: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(allowed[index % allowed.len()], &mut one);
            if libc::sched_setaffinity(0, size, &one) != 0 {
                return Pinned(None);
            }
            Pinned(Some(old))
        }
    }

    #[cfg(target_os = "linux")]
    impl Drop for Pinned {
        fn drop(&mut self) {
            if let Some(old) = &self.0 {
                // SAFETY: as above; `old` is the set this thread had before.
                unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), old) };
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) struct Pinned;

    #[cfg(not(target_os = "linux"))]
    pub(super) fn pin_current_thread(_index: usize) -> Pinned {
        Pinned
    }
}

/// Time `work(i)` on every worker `i` of a pool of `threads`, repeatedly as `reps` says,
/// and return the best repetition's time and the number of repetitions.
///
/// All repetitions run inside one parallel region (`rayon::broadcast`) and the workers
/// meet at a [`SpinBarrier`] before and after each one, so no worker sleeps in between
/// (OpenMP's STREAM keeps its threads spinning the same way). A repetition's time runs
/// from the earliest start to the latest finish. Each worker is pinned to its own CPU
/// meanwhile ([`os`]). Without the single region and the pinning, the scheduler of a small
/// VM woke both workers of a two-thread pool on one vCPU, and the probe measured a
/// two-thread rate no higher than one thread's.
fn timed_reps(
    threads: usize,
    reps: Reps,
    cancel: &AtomicBool,
    work: impl Fn(usize) + Sync,
) -> Result<(Duration, u32)> {
    let stop = AtomicBool::new(false);
    let interrupted = AtomicBool::new(false);
    let started = Instant::now();
    let per_worker = pool::install(threads, || {
        // Every worker of the pool takes part (`broadcast`), so that is the party size.
        let barrier = SpinBarrier::new(rayon::current_num_threads());
        rayon::broadcast(|ctx| {
            let _pinned = os::pin_current_thread(ctx.index());
            let mut spans = Vec::new();
            loop {
                barrier.wait();
                let start = Instant::now();
                work(ctx.index());
                spans.push((start, Instant::now()));
                barrier.wait();
                if ctx.index() == 0 {
                    let done = spans.len() as u32;
                    let more = done < reps.min_reps
                        || (started.elapsed() < reps.budget && done < MAX_REPS);
                    let cancelled = cancel.load(Ordering::Relaxed);
                    interrupted.store(cancelled, Ordering::Relaxed);
                    stop.store(cancelled || !more, Ordering::Relaxed);
                }
                barrier.wait();
                if stop.load(Ordering::Relaxed) {
                    return spans;
                }
            }
        })
    })?;
    if interrupted.load(Ordering::Relaxed) {
        return Err(KernelError::Interrupted);
    }
    // Every worker ran the same number of repetitions (they stop together).
    let n = per_worker.iter().map(Vec::len).min().unwrap_or(0);
    let best = (0..n)
        .filter_map(|r| {
            let first = per_worker.iter().map(|w| w[r].0).min()?;
            let last = per_worker.iter().map(|w| w[r].1).max()?;
            Some(last.duration_since(first))
        })
        .min()
        .unwrap_or(Duration::ZERO);
    // A timer that reads 0 (impossible in practice) would give an infinite rate.
    Ok((best.max(Duration::from_nanos(1)), n as u32))
}

// ---------------------------------------------------------------------------------------
// Bandwidth
// ---------------------------------------------------------------------------------------

/// The three STREAM arrays, allocated once and first-touched in parallel, so that several
/// measurements (kernels, thread counts) share one allocation: page-faulting a gigabyte
/// costs more than sweeping it.
pub struct StreamArrays {
    a: Vec<f64>,
    b: Vec<f64>,
    c: Vec<f64>,
}

/// Per-thread chunk length: `len / threads` rounded up to whole cache lines.
fn chunk_len(len: usize, threads: usize) -> usize {
    len.div_ceil(threads).next_multiple_of(CHUNK_ALIGN)
}

/// Run `work(a, b, c)` on every worker of a pool of `threads`, worker `i` on chunk `i`
/// of the arrays, repeated and timed by [`timed_reps`].
fn each_chunk(
    threads: usize,
    arrays: (&mut [f64], &mut [f64], &mut [f64]),
    reps: Reps,
    cancel: &AtomicBool,
    work: impl Fn(&mut [f64], &mut [f64], &mut [f64]) + Sync,
) -> Result<(Duration, u32)> {
    let (a, b, c) = arrays;
    let chunk = chunk_len(a.len(), threads);
    // One slot per worker; the mutexes are never contended (worker i takes slot i) and
    // only hand each worker its disjoint `&mut` chunks.
    type Chunks<'s> = (&'s mut [f64], &'s mut [f64], &'s mut [f64]);
    let slots: Vec<Mutex<Chunks<'_>>> = a
        .chunks_mut(chunk)
        .zip(b.chunks_mut(chunk))
        .zip(c.chunks_mut(chunk))
        .map(|((a, b), c)| Mutex::new((a, b, c)))
        .collect();
    timed_reps(threads, reps, cancel, |i| {
        if let Some(slot) = slots.get(i) {
            let mut guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
            let (a, b, c) = &mut *guard;
            work(a, b, c);
        }
    })
}

impl StreamArrays {
    /// Allocate three arrays of `len` elements and first-touch them with `threads`
    /// workers, each writing its own chunk (the chunking later measurements use).
    pub fn new(len: i64, threads: usize) -> Result<StreamArrays> {
        check_threads(threads)?;
        if len <= 0 {
            return Err(invalid(format!("length must be positive, got {len}")));
        }
        crate::limits::check_fits("the bandwidth probe's arrays", 3 * 8 * len as u128)?;
        let len = usize::try_from(len).map_err(|_| invalid("length too large"))?;
        // `vec![0.0; n]` asks the allocator for zeroed memory, which for large sizes is
        // fresh pages not yet touched; the parallel fill below is their first touch.
        // Ordinary 4 KiB pages, no MADV_HUGEPAGE: on the VM this was written on, huge pages
        // made the first touch of 1.5 GiB take 2-4 s instead of 0.7 s (the hypervisor
        // backs each 2 MiB page afresh), while a sequential sweep hardly feels TLB misses.
        let (mut a, mut b, mut c) = (vec![0.0; len], vec![0.0; len], vec![0.0; len]);
        let arrays = (&mut a[..], &mut b[..], &mut c[..]);
        each_chunk(
            threads,
            arrays,
            Reps::ONCE,
            &AtomicBool::new(false),
            |a, b, c| {
                a.fill(0.0);
                b.fill(1.0);
                c.fill(2.0);
            },
        )?;
        Ok(StreamArrays { a, b, c })
    }

    pub fn len(&self) -> usize {
        self.a.len()
    }

    pub fn is_empty(&self) -> bool {
        self.a.is_empty()
    }

    /// The destination array `a` (what the last kernel wrote).
    pub fn a(&self) -> &[f64] {
        &self.a
    }

    /// Time `kernel` with `threads` workers for about `budget` (at least [`MIN_REPS`]
    /// sweeps; the best is kept).
    pub fn measure(
        &mut self,
        kernel: StreamKernel,
        threads: usize,
        budget: Duration,
        cancel: &AtomicBool,
    ) -> Result<Bandwidth> {
        check_threads(threads)?;
        let len = self.len();
        let simd = Simd::best();
        let bytes_per_sweep = kernel.bytes_per_element() * len as u64;
        // Sweeps per timed region: 1 for arrays beyond the caches, many for small ones.
        let sweeps = (REGION_BYTES / bytes_per_sweep.max(1)).max(1);
        let arrays = (&mut self.a[..], &mut self.b[..], &mut self.c[..]);
        let reps = Reps::measure(budget);
        let (best, reps) = each_chunk(threads, arrays, reps, cancel, |a, b, c| {
            for _ in 0..sweeps {
                // black_box: the compiler must assume each sweep's input may have
                // changed and its output is read, so no sweep can be dropped or merged.
                let (a, b, c) = (black_box(&mut *a), black_box(&*b), black_box(&*c));
                match kernel {
                    StreamKernel::Copy => copy(simd, a, b),
                    StreamKernel::Triad => triad(simd, a, b, c, TRIAD_SCALAR),
                }
            }
            black_box(&*a);
        })?;
        let best_seconds = best.as_secs_f64() / sweeps as f64;
        Ok(Bandwidth {
            kernel,
            threads,
            len,
            footprint_bytes: kernel.arrays() * 8 * len as u64,
            bytes_per_sweep,
            best_seconds,
            reps,
            gb_per_s: bytes_per_sweep as f64 / best_seconds / 1e9,
        })
    }
}

/// One-shot [`StreamArrays::new`] + [`StreamArrays::measure`] (first touch with the same
/// threads as the measurement).
pub fn bandwidth(
    kernel: StreamKernel,
    len: i64,
    threads: usize,
    budget: Duration,
    cancel: &AtomicBool,
) -> Result<Bandwidth> {
    StreamArrays::new(len, threads)?.measure(kernel, threads, budget, cancel)
}

/// A batch of bandwidth measurements on one allocation of `len` elements per array: every
/// kernel of `kernels` for every thread count of `threads`, in that order (threads outer).
/// The arrays are first-touched by the largest thread count.
pub fn bandwidth_suite(
    len: i64,
    threads: &[usize],
    kernels: &[StreamKernel],
    budget: Duration,
    cancel: &AtomicBool,
) -> Result<Vec<Bandwidth>> {
    let Some(&most) = threads.iter().max() else {
        return Err(invalid("threads must name at least one thread count"));
    };
    for &t in threads {
        check_threads(t)?;
    }
    let mut arrays = StreamArrays::new(len, most)?;
    let mut out = Vec::with_capacity(threads.len() * kernels.len());
    for &t in threads {
        for &kernel in kernels {
            out.push(arrays.measure(kernel, t, budget, cancel)?);
        }
    }
    Ok(out)
}

#[inline(always)]
fn copy_body(a: &mut [f64], b: &[f64]) {
    for (x, &y) in a.iter_mut().zip(b) {
        *x = y;
    }
}

#[inline(always)]
fn triad_body(a: &mut [f64], b: &[f64], c: &[f64], s: f64) {
    for ((x, &y), &z) in a.iter_mut().zip(b).zip(c) {
        *x = y + s * z;
    }
}

/// `a[i] = b[i]`, compiled for `simd` (the plain loop auto-vectorises to its width).
fn copy(simd: Simd, a: &mut [f64], b: &[f64]) {
    match simd {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the feature was detected at run time.
        Simd::Avx512 if simd.is_available() => unsafe { x86::copy_avx512(a, b) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Simd::Avx2 if simd.is_available() => unsafe { x86::copy_avx2(a, b) },
        _ => copy_body(a, b),
    }
}

/// `a[i] = b[i] + s*c[i]` (multiply then add, never fused), compiled for `simd`.
fn triad(simd: Simd, a: &mut [f64], b: &[f64], c: &[f64], s: f64) {
    match simd {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the feature was detected at run time.
        Simd::Avx512 if simd.is_available() => unsafe { x86::triad_avx512(a, b, c, s) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Simd::Avx2 if simd.is_available() => unsafe { x86::triad_avx2(a, b, c, s) },
        _ => triad_body(a, b, c, s),
    }
}

// ---------------------------------------------------------------------------------------
// Peak flops
// ---------------------------------------------------------------------------------------

/// The multiplier and addend of the recurrence `acc = acc*M + A`: the fixed point is
/// `A / (1 - M)` = 1.2345, approached slowly from the starting values 1..1.25, so every
/// value stays a normal number between 1 and 2 for any run length. (Constants that are not
/// powers of two, so the fused and unfused recurrences round differently.)
const M: f64 = 0.999_999_9;
const A: f64 = 1.2345e-7;

/// A vector of `f64` lanes for the flops kernels (only the operations they need).
trait Vector: Copy {
    const LANES: u64;
    unsafe fn splat(x: f64) -> Self;
    unsafe fn mul(self, b: Self) -> Self;
    unsafe fn add(self, b: Self) -> Self;
    /// `self*m + a` with one rounding.
    unsafe fn fma(self, m: Self, a: Self) -> Self;
    unsafe fn sum(self) -> f64;
    /// `self`, unchanged, but opaque to the optimiser where it has to be (see the scalar
    /// impl); free for the vector types.
    #[inline(always)]
    fn opaque(self) -> Self {
        self
    }
}

impl Vector for f64 {
    const LANES: u64 = 1;
    #[inline(always)]
    unsafe fn splat(x: f64) -> f64 {
        x
    }
    #[inline(always)]
    unsafe fn mul(self, b: f64) -> f64 {
        self * b
    }
    #[inline(always)]
    unsafe fn add(self, b: f64) -> f64 {
        self + b
    }
    #[inline(always)]
    unsafe fn fma(self, m: f64, a: f64) -> f64 {
        self.mul_add(m, a)
    }
    #[inline(always)]
    unsafe fn sum(self) -> f64 {
        self
    }
    /// Without this the compiler packs pairs of the scalar chains into SSE2 vectors
    /// (SLP vectorisation), and the "scalar" path would really be 2-lane SIMD. An empty
    /// `asm!` that takes and returns each value in its own register forbids that and
    /// emits no instruction.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn opaque(self) -> f64 {
        let mut v = self;
        // SAFETY: the template is empty: no instruction, no memory, no flags touched.
        unsafe {
            std::arch::asm!("/* {0} */", inout(xmm_reg) v, options(nomem, nostack, preserves_flags))
        };
        v
    }
}

/// `ACC` independent chains of `iters` steps of `acc = acc*M + A`, fused or not; returns
/// the sum of the accumulators (so the work is observable). `2 * ACC * LANES * iters`
/// flops either way.
#[inline(always)]
unsafe fn chains<V: Vector, const ACC: usize, const FUSED: bool>(iters: u64, seed: f64) -> f64 {
    unsafe {
        // black_box: the constants must not be known at compile time, or the compiler
        // could evaluate the recurrence itself.
        let m = V::splat(black_box(M));
        let a = V::splat(black_box(A));
        let mut acc = [V::splat(0.0); ACC];
        for (k, v) in acc.iter_mut().enumerate() {
            *v = V::splat(1.0 + (seed + k as f64) / 64.0);
        }
        for _ in 0..iters {
            for v in acc.iter_mut() {
                *v = if FUSED { v.fma(m, a) } else { v.mul(m).add(a) }.opaque();
            }
        }
        acc.iter().fold(0.0, |s, v| s + v.sum())
    }
}

/// Accumulator chains per path: enough independent vectors to cover latency x ports
/// (4-cycle FMA x 2 ports = 8; the unfused chain is two dependent operations long, so
/// more in flight helps), and few enough to stay in registers (16 ymm, 32 zmm).
const ACC_SCALAR: usize = 12;
const ACC_AVX2: usize = 12;
const ACC_AVX512: usize = 16;

/// Run one chain kernel on this thread; `(flops, checksum)`. The caller has checked
/// `kind.is_available(simd)`.
fn run_chains(kind: FlopKind, simd: Simd, iters: u64, seed: f64) -> (u64, f64) {
    let fused = kind == FlopKind::Fma;
    let (acc, lanes, sum) = match (simd, fused) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX-512F (which includes FMA) was detected at run time.
        (Simd::Avx512, _) if simd.is_available() => (ACC_AVX512, x86::Zmm::LANES, unsafe {
            x86::chains_avx512(fused, iters, seed)
        }),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX2 and FMA were detected at run time (FlopKind::is_available).
        (Simd::Avx2, true) if kind.is_available(simd) => (ACC_AVX2, x86::Ymm::LANES, unsafe {
            x86::chains_avx2_fma(iters, seed)
        }),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX2 was detected at run time.
        (Simd::Avx2, false) if simd.is_available() => (ACC_AVX2, x86::Ymm::LANES, unsafe {
            x86::chains_avx2(iters, seed)
        }),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: FMA was detected at run time (FlopKind::is_available).
        (Simd::Scalar, true) if kind.is_available(simd) => (ACC_SCALAR, f64::LANES, unsafe {
            x86::chains_scalar_fma(iters, seed)
        }),
        // SAFETY: plain scalar code (`f64::mul_add` is a hardware FMA on aarch64, and
        // `peak_flops` refuses a fused run where it would be software).
        _ => (ACC_SCALAR, f64::LANES, unsafe {
            if fused {
                chains::<f64, ACC_SCALAR, true>(iters, seed)
            } else {
                chains::<f64, ACC_SCALAR, false>(iters, seed)
            }
        }),
    };
    (2 * acc as u64 * lanes * iters, sum)
}

/// Run the chains on every worker of a pool of `threads`, repeated as `reps` says;
/// `(best time, repetitions, flops per repetition)`.
fn run_region(
    kind: FlopKind,
    simd: Simd,
    threads: usize,
    iters: u64,
    reps: Reps,
    cancel: &AtomicBool,
) -> Result<(Duration, u32, u64)> {
    let flops = AtomicU64::new(0);
    let (best, reps) = timed_reps(threads, reps, cancel, |i| {
        let (f, sum) = run_chains(kind, simd, iters, i as f64);
        black_box(sum);
        flops.fetch_add(f, Ordering::Relaxed);
    })?;
    // Every repetition does the same work.
    Ok((
        best,
        reps,
        flops.load(Ordering::Relaxed) / u64::from(reps.max(1)),
    ))
}

/// Peak floating-point throughput of `kind` on the `simd` path with `threads` workers,
/// measured for about `budget`.
pub fn peak_flops(
    kind: FlopKind,
    simd: Simd,
    threads: usize,
    budget: Duration,
    cancel: &AtomicBool,
) -> Result<Flops> {
    check_threads(threads)?;
    if !kind.is_available(simd) {
        return Err(KernelError::Unsupported(format!(
            "{} on the {} path",
            kind.name(),
            simd.name()
        )));
    }
    // Calibrate: double the chain length until one region lasts FLOPS_REGION (this also
    // warms the vector units up to speed).
    let mut iters: u64 = 1 << 10;
    loop {
        let (t, _, _) = run_region(kind, simd, threads, iters, Reps::ONCE, cancel)?;
        if t >= FLOPS_REGION || iters >= 1 << 40 {
            break;
        }
        iters *= 2;
    }
    let (best, reps, flops_per_region) =
        run_region(kind, simd, threads, iters, Reps::measure(budget), cancel)?;
    let best_seconds = best.as_secs_f64();
    Ok(Flops {
        kind,
        simd,
        threads,
        flops_per_region,
        best_seconds,
        reps,
        gflops: flops_per_region as f64 / best_seconds / 1e9,
    })
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The per-instruction-set instantiations: generic code compiled inside
    //! `#[target_feature]` functions, called only after a runtime check.
    use super::{chains, triad_body, Vector, ACC_AVX2, ACC_AVX512, ACC_SCALAR};
    use std::arch::x86_64::*;

    // The copies use explicit vector loads and stores: the compiler turns the plain
    // loop `a[i] = b[i]` into a call to `memcpy`, whose large copies switch to
    // non-temporal stores (no write-allocate) - a different kernel from the triad's.

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn copy_avx512(a: &mut [f64], b: &[f64]) {
        let n = a.len().min(b.len());
        let (a, b) = (&mut a[..n], &b[..n]);
        let mut dst = a.chunks_exact_mut(8);
        let mut src = b.chunks_exact(8);
        for (d, s) in (&mut dst).zip(&mut src) {
            // SAFETY: both chunks hold exactly 8 f64.
            unsafe { _mm512_storeu_pd(d.as_mut_ptr(), _mm512_loadu_pd(s.as_ptr())) }
        }
        copy_tail(dst.into_remainder(), src.remainder());
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn copy_avx2(a: &mut [f64], b: &[f64]) {
        let n = a.len().min(b.len());
        let (a, b) = (&mut a[..n], &b[..n]);
        let mut dst = a.chunks_exact_mut(4);
        let mut src = b.chunks_exact(4);
        for (d, s) in (&mut dst).zip(&mut src) {
            // SAFETY: both chunks hold exactly 4 f64.
            unsafe { _mm256_storeu_pd(d.as_mut_ptr(), _mm256_loadu_pd(s.as_ptr())) }
        }
        copy_tail(dst.into_remainder(), src.remainder());
    }

    /// The last few elements, one at a time (kept out of line so it is not a memcpy
    /// candidate either; it runs at most 7 times).
    #[inline(never)]
    fn copy_tail(a: &mut [f64], b: &[f64]) {
        for (x, &y) in a.iter_mut().zip(b) {
            *x = std::hint::black_box(y);
        }
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn triad_avx512(a: &mut [f64], b: &[f64], c: &[f64], s: f64) {
        triad_body(a, b, c, s)
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn triad_avx2(a: &mut [f64], b: &[f64], c: &[f64], s: f64) {
        triad_body(a, b, c, s)
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn chains_avx512(fused: bool, iters: u64, seed: f64) -> f64 {
        unsafe {
            if fused {
                chains::<Zmm, ACC_AVX512, true>(iters, seed)
            } else {
                chains::<Zmm, ACC_AVX512, false>(iters, seed)
            }
        }
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn chains_avx2(iters: u64, seed: f64) -> f64 {
        unsafe { chains::<Ymm, ACC_AVX2, false>(iters, seed) }
    }

    /// FMA is a separate feature from AVX2 (every AVX2 CPU in practice has both).
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn chains_avx2_fma(iters: u64, seed: f64) -> f64 {
        unsafe { chains::<Ymm, ACC_AVX2, true>(iters, seed) }
    }

    #[target_feature(enable = "fma")]
    pub(super) unsafe fn chains_scalar_fma(iters: u64, seed: f64) -> f64 {
        unsafe { chains::<f64, ACC_SCALAR, true>(iters, seed) }
    }

    #[derive(Clone, Copy)]
    pub(super) struct Ymm(__m256d);

    impl Vector for Ymm {
        const LANES: u64 = 4;
        #[inline(always)]
        unsafe fn splat(x: f64) -> Self {
            Ymm(_mm256_set1_pd(x))
        }
        #[inline(always)]
        unsafe fn mul(self, b: Self) -> Self {
            Ymm(_mm256_mul_pd(self.0, b.0))
        }
        #[inline(always)]
        unsafe fn add(self, b: Self) -> Self {
            Ymm(_mm256_add_pd(self.0, b.0))
        }
        #[inline(always)]
        unsafe fn fma(self, m: Self, a: Self) -> Self {
            Ymm(_mm256_fmadd_pd(self.0, m.0, a.0))
        }
        #[inline(always)]
        unsafe fn sum(self) -> f64 {
            let mut lanes = [0.0; 4];
            unsafe { _mm256_storeu_pd(lanes.as_mut_ptr(), self.0) };
            lanes.iter().sum()
        }
    }

    #[derive(Clone, Copy)]
    pub(super) struct Zmm(__m512d);

    impl Vector for Zmm {
        const LANES: u64 = 8;
        #[inline(always)]
        unsafe fn splat(x: f64) -> Self {
            Zmm(_mm512_set1_pd(x))
        }
        #[inline(always)]
        unsafe fn mul(self, b: Self) -> Self {
            Zmm(_mm512_mul_pd(self.0, b.0))
        }
        #[inline(always)]
        unsafe fn add(self, b: Self) -> Self {
            Zmm(_mm512_add_pd(self.0, b.0))
        }
        #[inline(always)]
        unsafe fn fma(self, m: Self, a: Self) -> Self {
            Zmm(_mm512_fmadd_pd(self.0, m.0, a.0))
        }
        #[inline(always)]
        unsafe fn sum(self) -> f64 {
            _mm512_reduce_add_pd(self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUICK: Duration = Duration::from_millis(5);

    fn go() -> AtomicBool {
        AtomicBool::new(false)
    }

    #[test]
    fn triad_and_copy_compute_the_right_values() {
        // Odd lengths exercise the vector tails; every path the CPU has.
        for simd in Simd::available() {
            for len in [1usize, 7, 8, 9, 1001] {
                let b: Vec<f64> = (0..len).map(|i| i as f64 * 0.5).collect();
                let c: Vec<f64> = (0..len).map(|i| 1.0 - i as f64).collect();
                let mut a = vec![f64::NAN; len];
                triad(simd, &mut a, &b, &c, 3.0);
                for i in 0..len {
                    assert_eq!(a[i], b[i] + 3.0 * c[i], "{simd:?} triad len {len} at {i}");
                }
                copy(simd, &mut a, &c);
                assert_eq!(a, c, "{simd:?} copy len {len}");
            }
        }
    }

    #[test]
    fn measured_arrays_hold_the_kernels_results() {
        for threads in [1, 2, 3] {
            let mut arrays = StreamArrays::new(1003, threads).unwrap();
            let r = arrays
                .measure(StreamKernel::Triad, threads, QUICK, &go())
                .unwrap();
            // b = 1, c = 2, s = 3 everywhere: every element, in every chunk, is 7.
            assert!(arrays.a().iter().all(|&x| x == 7.0), "threads {threads}");
            assert!(r.gb_per_s.is_finite() && r.gb_per_s > 0.0);
            assert!(r.reps >= MIN_REPS);
            assert_eq!(r.bytes_per_sweep, 24 * 1003);
            assert_eq!(r.footprint_bytes, 24 * 1003);
            let r = arrays
                .measure(StreamKernel::Copy, threads, QUICK, &go())
                .unwrap();
            assert!(arrays.a().iter().all(|&x| x == 1.0));
            assert!(r.gb_per_s.is_finite() && r.gb_per_s > 0.0);
            assert_eq!(r.bytes_per_sweep, 16 * 1003);
        }
    }

    #[test]
    fn suite_runs_every_pair() {
        let kernels = [StreamKernel::Copy, StreamKernel::Triad];
        let r = bandwidth_suite(4096, &[1, 2], &kernels, QUICK, &go()).unwrap();
        let pairs: Vec<_> = r.iter().map(|b| (b.threads, b.kernel)).collect();
        assert_eq!(
            pairs,
            [
                (1, StreamKernel::Copy),
                (1, StreamKernel::Triad),
                (2, StreamKernel::Copy),
                (2, StreamKernel::Triad)
            ]
        );
        assert!(bandwidth_suite(4096, &[], &kernels, QUICK, &go()).is_err());
        assert!(bandwidth_suite(4096, &[1, 0], &kernels, QUICK, &go()).is_err());
    }

    #[test]
    fn more_threads_than_chunks() {
        // 5 elements round up to one cache line: one chunk, the other workers idle.
        let r = bandwidth(StreamKernel::Copy, 5, 4, QUICK, &go()).unwrap();
        assert!(r.gb_per_s > 0.0 && r.gb_per_s.is_finite());
    }

    #[test]
    fn chains_compute_the_recurrence() {
        // The scalar recurrence, fused and unfused, against every vector path: each lane
        // of each accumulator must hold exactly what the scalar code computes.
        let iters = 1000;
        let expect = |acc: usize, lanes: usize, fused: bool| -> f64 {
            let mut total = 0.0;
            for k in 0..acc {
                let mut v = 1.0 + (0.0 + k as f64) / 64.0;
                for _ in 0..iters {
                    v = if fused { v.mul_add(M, A) } else { v * M + A };
                }
                assert!(v.is_normal() && (1.0..2.0).contains(&v));
                total += v * lanes as f64;
            }
            total
        };
        for simd in Simd::available() {
            for kind in FlopKind::ALL {
                if !kind.is_available(simd) {
                    continue;
                }
                let (flops, sum) = run_chains(kind, simd, iters, 0.0);
                let (acc, lanes) = match simd {
                    Simd::Scalar => (ACC_SCALAR, 1),
                    Simd::Avx2 => (ACC_AVX2, 4),
                    Simd::Avx512 => (ACC_AVX512, 8),
                };
                assert_eq!(flops, 2 * (acc * lanes) as u64 * iters, "{simd:?} {kind:?}");
                let want = expect(acc, lanes, kind == FlopKind::Fma);
                // The lane sums are added in a different order than here: allow rounding.
                assert!(
                    (sum - want).abs() <= 1e-12 * want,
                    "{simd:?} {kind:?}: {sum} vs {want}"
                );
            }
        }
    }

    #[test]
    fn fused_and_unfused_differ() {
        // Sanity check that the "fma" kernel really fuses and "mul_add" really does not:
        // after many steps the two roundings disagree in the last bits.
        if !FlopKind::Fma.is_available(Simd::Scalar) {
            return;
        }
        let (_, fused) = run_chains(FlopKind::Fma, Simd::Scalar, 100_000, 0.0);
        let (_, unfused) = run_chains(FlopKind::MulAdd, Simd::Scalar, 100_000, 0.0);
        assert_ne!(fused, unfused);
    }

    #[test]
    fn flops_positive_on_every_path() {
        for simd in Simd::available() {
            for kind in FlopKind::ALL {
                if !kind.is_available(simd) {
                    continue;
                }
                for threads in [1, 2] {
                    let r = peak_flops(kind, simd, threads, QUICK, &go()).unwrap();
                    assert!(r.gflops.is_finite() && r.gflops > 0.0, "{r:?}");
                    assert!(r.reps >= MIN_REPS);
                    assert_eq!(r.threads, threads);
                }
            }
        }
    }

    #[test]
    fn bad_input() {
        let z = Duration::ZERO;
        assert!(matches!(
            StreamArrays::new(0, 1),
            Err(KernelError::InvalidArgument(_))
        ));
        assert!(matches!(
            StreamArrays::new(-3, 1),
            Err(KernelError::InvalidArgument(_))
        ));
        assert!(matches!(
            StreamArrays::new(10, 0),
            Err(KernelError::InvalidArgument(_))
        ));
        assert!(matches!(
            StreamArrays::new(1 << 60, 1),
            Err(KernelError::TooLarge { .. })
        ));
        let mut arrays = StreamArrays::new(16, 1).unwrap();
        assert!(arrays.measure(StreamKernel::Copy, 0, z, &go()).is_err());
        assert!(peak_flops(FlopKind::Fma, Simd::Scalar, 0, z, &go()).is_err());
        assert!(budget(-1.0).is_err());
        assert!(budget(f64::NAN).is_err());
        assert!(budget(1e9).is_err());
        assert!(budget(0.5).is_ok());
        assert!(StreamKernel::parse("scale").is_err());
        assert!(FlopKind::parse("fused").is_err());
    }

    #[test]
    fn cancel_stops() {
        let stop = AtomicBool::new(true);
        assert_eq!(
            bandwidth(StreamKernel::Copy, 64, 1, QUICK, &stop),
            Err(KernelError::Interrupted)
        );
        assert_eq!(
            peak_flops(FlopKind::MulAdd, Simd::Scalar, 1, QUICK, &stop),
            Err(KernelError::Interrupted)
        );
    }
}
