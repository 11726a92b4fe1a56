//! Diffusion (the heat equation) on a periodic grid, explicit Euler (book chapter 6).
//!
//! One step replaces every cell by `g + (D*dt) * laplacian(g)`, all reads from the old
//! grid, indices wrapping around (periodic boundaries):
//!
//! ```text
//! 2-D (5-point):  xx  = (up + down) - 2g      up = g[i-1, j], down = g[i+1, j]
//!                 yy  = (left + right) - 2g   left = g[i, j-1], right = g[i, j+1]
//!                 new = g + (D*dt) * (xx + yy)
//! 1-D (3-point):  new = g + (D*dt) * ((left + right) - 2g)
//! ```
//!
//! Exactness: this is WORKLOADS.md's canonical "order S", operation for operation: `D*dt`
//! is rounded once (in f64, then to the grid's type), no fused multiply-add, no
//! reassociation (Rust never contracts or reorders float operations on its own, and
//! nothing here uses `mul_add`). IEEE addition is commutative, so `up + down` and
//! `down + up` are the same bits. Hence every path (scalar, AVX2, AVX-512, any thread
//! count, any blocking) gives the numpy reference `hpkit.reference.diffusion.step_order_s`
//! bit for bit, for f64 and f32.
//!
//! Speed: a step does 8 flops per cell and moves 2 x grid bytes, so beyond the caches
//! it is bound by memory bandwidth. [`evolve`] therefore fuses several steps per pass over
//! memory (temporal blocking with overlapped tiles): the plane is cut into tiles (a band
//! of rows x a strip of columns; 1-D: chunks of points); to advance a tile by `k` steps a
//! worker reads it plus a halo of `k` cells on every side from the old grid and computes
//! the `k` levels as a wavefront over its rows, keeping only three rows per level - small
//! enough for L1 - and writing only the tile's final values. Tiles are independent (each
//! reads the old grid and writes its own part of the new one), so bands run in parallel
//! with no synchronisation inside a pass. Halo cells are computed redundantly by
//! neighbouring tiles, but each cell still gets the same arithmetic from the same inputs,
//! so the tiling cannot change a bit. Between passes two buffers are swapped (the caller's
//! output and one scratch grid allocated once per call). Rows are computed in whole
//! 64-byte vectors (LLVM vectorises fixed-length blocks on the AVX-512, AVX2 or baseline
//! path chosen at run time), stores aligned to cache lines.
//!
//! Limits: each axis needs at least 3 points, so that a point's two neighbours along an
//! axis are distinct from each other and from the point (with 2 they coincide and the
//! stencil counts one neighbour twice; with 1 the "Laplacian" is identically 0 - neither
//! is the discrete heat equation). The input must be finite (checked during the first
//! pass); later steps may still overflow for unstable parameters (`D*dt > 1/4` in 2-D,
//! `> 1/2` in 1-D), which is what the arithmetic gives and is not an error.
//! Subnormals are kept (no flush-to-zero), which can slow very long runs on tiny grids.

use crate::error::{invalid, KernelError, Result};
use crate::simd::Simd;
use rayon::prelude::*;
use std::ops::{Add, Mul, Sub};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Below this many cell updates (cells x steps) a call runs on the calling thread: waking
/// the pool costs tens of microseconds, more than the work.
const INLINE_WORK: u64 = 1 << 17;
/// The most steps one pass may fuse (the halo and the per-level buffers grow with it).
pub const MAX_STEPS_PER_PASS: usize = 256;

/// The float types a grid can hold (f32, f64).
pub trait Real:
    Copy
    + Send
    + Sync
    + PartialEq
    + std::fmt::Debug
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + 'static
{
    const ZERO: Self;
    const TWO: Self;
    /// Values per 64-byte cache line (and per AVX-512 vector).
    const LANES: usize;
    /// Round an f64 to this type (once).
    fn from_f64(v: f64) -> Self;
    /// The bit pattern, widened: non-finite values have every exponent bit set.
    fn exponent_all_ones(self) -> bool;
}

impl Real for f64 {
    const ZERO: f64 = 0.0;
    const TWO: f64 = 2.0;
    const LANES: usize = 8;
    #[inline(always)]
    fn from_f64(v: f64) -> f64 {
        v
    }
    #[inline(always)]
    fn exponent_all_ones(self) -> bool {
        const EXP: u64 = 0x7ff0_0000_0000_0000;
        self.to_bits() & EXP == EXP
    }
}

impl Real for f32 {
    const ZERO: f32 = 0.0;
    const TWO: f32 = 2.0;
    const LANES: usize = 16;
    #[inline(always)]
    fn from_f64(v: f64) -> f32 {
        v as f32
    }
    #[inline(always)]
    fn exponent_all_ones(self) -> bool {
        const EXP: u32 = 0x7f80_0000;
        self.to_bits() & EXP == EXP
    }
}

/// The grid's geometry: a periodic line or a periodic plane (row-major).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Line(usize),
    Plane { rows: usize, cols: usize },
}

impl Shape {
    /// A line of `dims[0]` points or a plane of `dims[0]` rows x `dims[1]` columns;
    /// every axis needs at least 3 points (see the module docs for why).
    pub fn new(dims: &[usize]) -> Result<Shape> {
        let shape = match *dims {
            [n] => Shape::Line(n),
            [rows, cols] => Shape::Plane { rows, cols },
            _ => {
                return Err(invalid(format!(
                    "the grid must be 1-D or 2-D, got {} dimensions",
                    dims.len()
                )))
            }
        };
        if dims.iter().any(|&n| n < 3) {
            return Err(invalid(format!(
                "every axis of a periodic grid needs at least 3 points (so that a point's two \
                 neighbours are distinct from each other and from it), got shape {dims:?}"
            )));
        }
        if dims
            .iter()
            .try_fold(1usize, |a, &n| a.checked_mul(n))
            .is_none()
        {
            return Err(invalid(format!(
                "shape {dims:?} overflows the address space"
            )));
        }
        Ok(shape)
    }

    pub fn len(self) -> usize {
        match self {
            Shape::Line(n) => n,
            Shape::Plane { rows, cols } => rows * cols,
        }
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Rows (2-D) or points (1-D): the axis cut into bands.
    fn outer(self) -> usize {
        match self {
            Shape::Line(n) => n,
            Shape::Plane { rows, .. } => rows,
        }
    }
}

/// The equation's constants: diffusion coefficient `D` and time step `dt`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Coefficients {
    pub d: f64,
    pub dt: f64,
}

impl Coefficients {
    /// The book's values: D = 1, dt = 0.1.
    pub const BOOK: Coefficients = Coefficients { d: 1.0, dt: 0.1 };

    pub fn new(d: f64, dt: f64) -> Result<Coefficients> {
        if !(d.is_finite() && dt.is_finite()) {
            return Err(invalid(format!(
                "D and dt must be finite, got D={d}, dt={dt}"
            )));
        }
        if !(d * dt).is_finite() {
            return Err(invalid(format!("D*dt overflows (D={d}, dt={dt})")));
        }
        Ok(Coefficients { d, dt })
    }

    /// `D*dt`, rounded once in f64 and then to `T` (what numpy does with Python floats).
    fn factor<T: Real>(self) -> T {
        T::from_f64(self.d * self.dt)
    }
}

/// How [`evolve`] walks memory: `steps_per_pass` steps fused per pass over the grid;
/// 2-D tiles of `band` rows x `strip` columns, 1-D chunks of `band` points (`strip` is
/// unused). A worker takes one band at a time (all its strips, left to right).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocking {
    pub steps_per_pass: usize,
    pub band: usize,
    pub strip: usize,
}

impl Blocking {
    pub fn new(steps_per_pass: i64, band: i64, strip: i64) -> Result<Blocking> {
        if !(1..=MAX_STEPS_PER_PASS as i64).contains(&steps_per_pass) {
            return Err(invalid(format!(
                "steps per pass must be between 1 and {MAX_STEPS_PER_PASS}, got {steps_per_pass}"
            )));
        }
        if band < 1 || strip < 1 {
            return Err(invalid(format!(
                "the tile sizes must be positive, got band={band}, strip={strip}"
            )));
        }
        let size = |v: i64| usize::try_from(v).unwrap_or(usize::MAX);
        Ok(Blocking {
            steps_per_pass: steps_per_pass as usize,
            band: size(band),
            strip: size(strip),
        })
    }

    /// The blocking measured best on a 2-core Xeon (48 KiB L1d, 2 MiB L2 per core, an L3
    /// that streams about as slowly as DRAM) for this shape.
    ///
    /// 2-D: one step per pass over whole rows while both buffers fit in the workers' L2
    /// caches (fusing steps then only adds halo work: 15% slower at 256²). Beyond, the
    /// `k` levels' rows must stay in L1 (`k` x 3 rows x (strip + 2k) values under
    /// ~28 KiB: measured 20-50% slower beyond): 4 steps on 2 KiB strips up to 4 MiB
    /// grids, 8 steps on 1 KiB strips (128 f64) up to 64 MiB, 16 steps beyond, where
    /// every pass is a trip to DRAM and halving the trips is worth the spill to L2. Bands
    /// tall enough that the halo's redundant rows (`k - 1` per band and step) stay cheap,
    /// and at least two per worker. 1-D: chunks of 16 Ki points (two buffers in
    /// L2) and 16 steps per pass.
    pub fn auto(shape: Shape, elem_bytes: usize, steps: u64, threads: usize) -> Blocking {
        let steps = usize::try_from(steps.max(1)).unwrap_or(usize::MAX);
        match shape {
            Shape::Plane { rows, cols } => {
                // Both buffers fit in the workers' L2 (about 1 MiB each): nothing to save by
                // fusing steps, one per pass over whole rows. Beyond, fuse steps; past 64 MiB
                // every pass is a trip to DRAM, so fuse more (the levels then spill from L1
                // to L2, which costs less than the DRAM traffic saved).
                let grid_bytes = rows * cols * elem_bytes;
                let (k, strip_bytes) = if 2 * grid_bytes <= threads.max(1) << 20 {
                    (1, usize::MAX)
                } else if grid_bytes <= 4 << 20 {
                    (4, 2048)
                } else if grid_bytes < 64 << 20 {
                    (8, 1024)
                } else {
                    (16, 1024)
                };
                let k = k.min(steps);
                // one step per pass keeps nothing in L1 between levels: whole rows
                let strip = if k == 1 {
                    cols
                } else {
                    (strip_bytes / elem_bytes).min(cols)
                };
                let tasks = (threads * 2).max(1);
                let band = rows.div_ceil(tasks).clamp(8 * k, 512).min(rows);
                Blocking {
                    steps_per_pass: k,
                    band,
                    strip,
                }
            }
            Shape::Line(n) => {
                let k = 16.min(steps);
                Blocking {
                    steps_per_pass: k,
                    band: n.div_ceil(threads.max(1)).clamp(64 * k, 16 << 10).min(n),
                    strip: 1,
                }
            }
        }
    }
}

/// One step: `dst` = the grid `src` (of `shape`) advanced by `dt`.
#[allow(clippy::too_many_arguments)]
pub fn step<T: Real>(
    src: &[T],
    dst: &mut [T],
    shape: Shape,
    coefficients: Coefficients,
    simd: Simd,
    threads: usize,
    cancel: &AtomicBool,
) -> Result<()> {
    evolve(
        src,
        dst,
        shape,
        coefficients,
        1,
        None,
        simd,
        threads,
        cancel,
    )
}

/// Whether a call of this size is so little work that it runs on the calling thread
/// (no pool, no cancellation needed).
pub fn runs_inline(cells: usize, steps: u64) -> bool {
    (cells as u64).saturating_mul(steps) < INLINE_WORK
}

/// `dst` = the grid `src` advanced `steps` steps; `src` is never written. `blocking`
/// `None` picks [`Blocking::auto`]; the result does not depend on it (nor on `simd`
/// or `threads`). `Err(Interrupted)` if `cancel` is set (checked before every band);
/// `dst` is then unspecified. Allocates one scratch grid when more than one pass is needed.
#[allow(clippy::too_many_arguments)]
pub fn evolve<T: Real>(
    src: &[T],
    dst: &mut [T],
    shape: Shape,
    coefficients: Coefficients,
    steps: i64,
    blocking: Option<Blocking>,
    simd: Simd,
    threads: usize,
    cancel: &AtomicBool,
) -> Result<()> {
    let coefficients = Coefficients::new(coefficients.d, coefficients.dt)?;
    if steps < 0 {
        return Err(invalid(format!("steps must be >= 0, got {steps}")));
    }
    let steps = steps as u64;
    if src.len() != shape.len() || dst.len() != shape.len() {
        return Err(invalid(format!(
            "the grid has {} elements and the output {}, the shape {shape:?} needs {}",
            src.len(),
            dst.len(),
            shape.len()
        )));
    }
    if !simd.is_available() {
        return Err(KernelError::Unsupported(format!("simd={:?}", simd.name())));
    }
    if threads == 0 {
        return Err(invalid("threads must be positive"));
    }
    let threads = if runs_inline(shape.len(), steps) {
        1
    } else {
        threads
    };
    let blocking =
        blocking.unwrap_or_else(|| Blocking::auto(shape, std::mem::size_of::<T>(), steps, threads));
    if steps == 0 {
        if let Some(i) = first_non_finite(src) {
            return Err(non_finite(shape, i));
        }
        dst.copy_from_slice(src);
        return Ok(());
    }
    let k = blocking.steps_per_pass as u64;
    let passes = steps.div_ceil(k);
    let pass_steps = |i: u64| {
        if i + 1 < passes {
            k
        } else {
            steps - k * (passes - 1)
        }
    };
    let mut scratch = if passes > 1 {
        allocate::<T>(shape.len(), "the scratch grid")?
    } else {
        Vec::new()
    };
    let ctx = Pass {
        shape,
        factor: coefficients.factor::<T>(),
        band: blocking.band.min(shape.outer()),
        strip: match shape {
            Shape::Plane { cols, .. } => blocking.strip.min(cols),
            Shape::Line(_) => 1,
        },
        simd,
        threads,
        cancel,
    };
    let buffers = ctx.buffers(blocking.steps_per_pass)?;
    for i in 0..passes {
        if cancel.load(Ordering::Relaxed) {
            return Err(KernelError::Interrupted);
        }
        let steps = pass_steps(i) as usize;
        // Alternate between dst and the scratch grid so that the last pass ends in dst.
        let into_dst = (passes - 1 - i).is_multiple_of(2);
        let check = i == 0;
        match (i, into_dst) {
            (0, true) => ctx.run(src, dst, steps, check, &buffers)?,
            (0, false) => ctx.run(src, &mut scratch, steps, check, &buffers)?,
            (_, true) => ctx.run(&scratch, dst, steps, check, &buffers)?,
            (_, false) => ctx.run(dst, &mut scratch, steps, check, &buffers)?,
        }
    }
    Ok(())
}

/// A zeroed vector, or `TooLarge` instead of aborting the process when memory runs out.
fn allocate<T: Real>(len: usize, what: &'static str) -> Result<Vec<T>> {
    let bytes = len as u128 * std::mem::size_of::<T>() as u128;
    crate::limits::check_fits(what, bytes)?;
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| KernelError::TooLarge {
            what,
            bytes,
            limit: crate::limits::total_memory_bytes(),
        })?;
    v.resize(len, T::ZERO);
    Ok(v)
}

fn first_non_finite<T: Real>(values: &[T]) -> Option<usize> {
    values.iter().position(|v| v.exponent_all_ones())
}

/// Whether any value is NaN or infinite: a branch-free OR over the slice (vectorises).
#[inline(always)]
fn any_non_finite<T: Real>(values: &[T]) -> bool {
    values
        .iter()
        .fold(false, |acc, v| acc | v.exponent_all_ones())
}

fn non_finite(shape: Shape, index: usize) -> KernelError {
    let at = match shape {
        Shape::Line(_) => format!("[{index}]"),
        Shape::Plane { cols, .. } => format!("[{}, {}]", index / cols, index % cols),
    };
    invalid(format!(
        "the grid must be finite: found NaN or infinity at {at}"
    ))
}

/// What every band of one pass shares.
struct Pass<'a, T> {
    shape: Shape,
    factor: T,
    band: usize,
    strip: usize,
    simd: Simd,
    threads: usize,
    cancel: &'a AtomicBool,
}

/// Per-worker buffers for the intermediate levels of a band, allocated once per call and
/// indexed by the rayon worker's index (a worker runs one band at a time).
type Buffers<T> = Vec<Mutex<Vec<T>>>;

impl<T: Real> Pass<'_, T> {
    fn buffers(&self, steps_per_pass: usize) -> Result<Buffers<T>> {
        let per_worker = match self.shape {
            // three rows of the strip and its halo for each level below the new one (level
            // 0 too, for strips whose halo wraps around), plus room to start on a cache line
            Shape::Plane { .. } => {
                steps_per_pass * 3 * ring_stride::<T>(self.strip + 2 * steps_per_pass)
                    + 64 / std::mem::size_of::<T>()
            }
            // two ping-pong buffers of the chunk plus its halo
            Shape::Line(_) => 2 * (self.band + 2 * steps_per_pass),
        };
        (0..self.threads)
            .map(|_| allocate::<T>(per_worker, "the per-thread band buffers").map(Mutex::new))
            .collect()
    }

    /// One pass: `dst` = `src` advanced `steps` steps, band by band in parallel.
    fn run(
        &self,
        src: &[T],
        dst: &mut [T],
        steps: usize,
        check: bool,
        buffers: &Buffers<T>,
    ) -> Result<()> {
        let inner = match self.shape {
            Shape::Line(_) => 1,
            Shape::Plane { cols, .. } => cols,
        };
        let band = |(index, out): (usize, &mut [T])| -> Result<()> {
            if self.cancel.load(Ordering::Relaxed) {
                return Err(KernelError::Interrupted);
            }
            let worker = rayon::current_thread_index().unwrap_or(0) % buffers.len();
            let mut buffer = buffers[worker]
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let first = index * self.band;
            let ok = self.band_dispatch(src, out, first, steps, check, &mut buffer);
            if ok {
                Ok(())
            } else {
                let start = first * inner;
                let bad = first_non_finite(&src[start..start + out.len()]).unwrap_or(0);
                Err(non_finite(self.shape, start + bad))
            }
        };
        let chunk = self.band * inner;
        if self.threads == 1 {
            return dst.chunks_mut(chunk).enumerate().try_for_each(band);
        }
        crate::pool::install(self.threads, || {
            dst.par_chunks_mut(chunk).enumerate().try_for_each(band)
        })?
    }

    /// Advance the band starting at row/point `first` (its new values go to `out`) on the
    /// chosen instruction set; false if `check` found a non-finite value in its old rows.
    fn band_dispatch(
        &self,
        src: &[T],
        out: &mut [T],
        first: usize,
        steps: usize,
        check: bool,
        buffer: &mut [T],
    ) -> bool {
        let f = self.factor;
        match (self.shape, self.simd) {
            #[cfg(target_arch = "x86_64")]
            (Shape::Plane { rows, cols }, Simd::Avx512) => {
                // SAFETY: evolve checked that the CPU has AVX-512F.
                #[allow(unsafe_code)]
                unsafe {
                    plane_band_avx512(
                        src, out, rows, cols, first, self.strip, steps, f, check, buffer,
                    )
                }
            }
            #[cfg(target_arch = "x86_64")]
            (Shape::Plane { rows, cols }, Simd::Avx2) => {
                // SAFETY: evolve checked that the CPU has AVX2.
                #[allow(unsafe_code)]
                unsafe {
                    plane_band_avx2(
                        src, out, rows, cols, first, self.strip, steps, f, check, buffer,
                    )
                }
            }
            (Shape::Plane { rows, cols }, _) => plane_band(
                src, out, rows, cols, first, self.strip, steps, f, check, buffer,
            ),
            #[cfg(target_arch = "x86_64")]
            (Shape::Line(n), Simd::Avx512) => {
                // SAFETY: evolve checked that the CPU has AVX-512F.
                #[allow(unsafe_code)]
                unsafe {
                    line_band_avx512(src, out, n, first, steps, f, check, buffer)
                }
            }
            #[cfg(target_arch = "x86_64")]
            (Shape::Line(n), Simd::Avx2) => {
                // SAFETY: evolve checked that the CPU has AVX2.
                #[allow(unsafe_code)]
                unsafe {
                    line_band_avx2(src, out, n, first, steps, f, check, buffer)
                }
            }
            (Shape::Line(n), _) => line_band(src, out, n, first, steps, f, check, buffer),
        }
    }
}

// The instruction-set variants: the same generic code compiled with wider vectors
// enabled (LLVM vectorises the zipped row loops; without fast-math it keeps every
// operation and its order, so all variants give the same bits).
macro_rules! with_features {
    ($name:ident, $feature:literal, $generic:ident, ($($arg:ident: $ty:ty),*)) => {
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code, clippy::too_many_arguments)]
        #[target_feature(enable = $feature)]
        unsafe fn $name<T: Real>($($arg: $ty),*) -> bool {
            $generic($($arg),*)
        }
    };
}

with_features!(plane_band_avx512, "avx512f", plane_band,
    (src: &[T], out: &mut [T], rows: usize, cols: usize, first: usize, strip: usize, steps: usize,
     f: T, check: bool, buffer: &mut [T]));
with_features!(plane_band_avx2, "avx2", plane_band,
    (src: &[T], out: &mut [T], rows: usize, cols: usize, first: usize, strip: usize, steps: usize,
     f: T, check: bool, buffer: &mut [T]));
with_features!(line_band_avx512, "avx512f", line_band,
    (src: &[T], out: &mut [T], n: usize, first: usize, steps: usize, f: T, check: bool,
     buffer: &mut [T]));
with_features!(line_band_avx2, "avx2", line_band,
    (src: &[T], out: &mut [T], n: usize, first: usize, steps: usize, f: T, check: bool,
     buffer: &mut [T]));

/// The 5-point update of one cell, order S.
#[inline(always)]
fn cell<T: Real>(up: T, down: T, left: T, right: T, mid: T, f: T) -> T {
    let two_mid = T::TWO * mid;
    let xx = (up + down) - two_mid;
    let yy = (left + right) - two_mid;
    mid + f * (xx + yy)
}

/// The 3-point update of one point.
#[inline(always)]
fn point<T: Real>(left: T, right: T, mid: T, f: T) -> T {
    mid + f * ((left + right) - T::TWO * mid)
}

/// How many elements from `p` to the next 64-byte boundary (0 if `p` is on one).
///
/// Row loops start their vectorised part there: with 64-byte vectors a misaligned store
/// straddles two cache lines every time, which measured twice as slow (loads matter less).
#[inline(always)]
fn to_cache_line<T>(p: *const T) -> usize {
    let size = std::mem::size_of::<T>();
    let per_line = 64 / size;
    (per_line - (p as usize / size) % per_line) % per_line
}

/// Distance between two rows of the per-level ring buffers: whole cache lines (so every
/// row starts on one) and never a multiple of 4 KiB, where a load would falsely depend
/// on the store just before it to the row above ("4K aliasing"; 2x slower at 512
/// columns).
fn ring_stride<T>(cols: usize) -> usize {
    let per_line = 64 / std::mem::size_of::<T>();
    let stride = cols.next_multiple_of(per_line);
    if (stride * std::mem::size_of::<T>()).is_multiple_of(4096) {
        stride + per_line
    } else {
        stride
    }
}

/// Cells `at .. at + T::LANES` of a tile row (see [`strip_row`]): a loop of constant
/// length, which LLVM turns into one 64-byte vector per operation (or two or four
/// narrower ones).
#[inline(always)]
fn strip_block<T: Real>(out: &mut [T], up: &[T], mid: &[T], down: &[T], f: T, at: usize) {
    let l = T::LANES;
    let (out, up, down) = (&mut out[at..at + l], &up[at..at + l], &down[at..at + l]);
    let (left, centre, right) = (
        &mid[at..at + l],
        &mid[at + 1..at + 1 + l],
        &mid[at + 2..][..l],
    );
    for i in 0..l {
        out[i] = cell(up[i], down[i], left[i], right[i], centre[i], f);
    }
}

/// One row of a tile at the next time: `out[x]` from column `x + 1` of the rows above,
/// at and below it (old time), which carry one extra column on each side. No wrap here:
/// halo columns were taken from the other side of the plane when the tile was loaded.
///
/// Whole vectors only: a first block at 0, then blocks from the first cache-line-aligned
/// cell (a 64-byte store that straddles two lines measured twice as slow), and a last
/// block ending exactly at the end. Blocks may overlap; an overlapped cell is computed
/// twice from the same inputs (which never alias `out`), so it gets the same bits.
/// Scalar head and tail loops (up to 2 x 7 cells of a 128-cell strip) cost 30-40%.
#[inline(always)]
fn strip_row<T: Real>(out: &mut [T], up: &[T], mid: &[T], down: &[T], f: T) {
    let m = out.len();
    let (up, mid, down) = (&up[1..m + 1], &mid[..m + 2], &down[1..m + 1]);
    let l = T::LANES;
    if m < l {
        for x in 0..m {
            out[x] = cell(up[x], down[x], mid[x], mid[x + 2], mid[x + 1], f);
        }
        return;
    }
    strip_block(out, up, mid, down, f, 0);
    let mut at = to_cache_line(out.as_ptr()).max(1);
    while at + l <= m {
        strip_block(out, up, mid, down, f, at);
        at += l;
    }
    if at < m {
        strip_block(out, up, mid, down, f, m - l);
    }
}

/// `r` modulo `n` for the row numbers a band touches (`-n <= r < 2n` unless the halo is
/// taller than the plane), without a division in the common case.
#[inline(always)]
fn wrap(r: isize, n: usize) -> usize {
    let n = n as isize;
    let g = if r < 0 {
        r + n
    } else if r >= n {
        r - n
    } else {
        r
    };
    if (0..n).contains(&g) {
        g as usize
    } else {
        r.rem_euclid(n) as usize
    }
}

/// Where row `offset` (counted from the ring's base row) of `level` starts in the ring
/// buffer: three slots per level, used round-robin.
#[inline(always)]
fn ring_slot(level: usize, offset: isize, stride: usize) -> usize {
    (level * 3 + offset as usize % 3) * stride
}

/// One whole row of the plane at the next time, columns wrapping: the two edge cells
/// directly, the rest as a [`strip_row`] (whose halo is the row itself).
#[inline(always)]
fn plane_row<T: Real>(out: &mut [T], up: &[T], mid: &[T], down: &[T], f: T) {
    let n = mid.len();
    out[0] = cell(up[0], down[0], mid[n - 1], mid[1], mid[0], f);
    out[n - 1] = cell(up[n - 1], down[n - 1], mid[n - 2], mid[0], mid[n - 1], f);
    strip_row(&mut out[1..n - 1], up, mid, down, f);
}

/// `dst` = `row[start], row[start + 1], ...` wrapping around the end of `row`.
#[inline(always)]
fn copy_wrapped<T: Real>(dst: &mut [T], row: &[T], start: usize) {
    let mut from = start;
    let mut done = 0;
    while done < dst.len() {
        let take = (row.len() - from).min(dst.len() - done);
        dst[done..done + take].copy_from_slice(&row[from..from + take]);
        done += take;
        from = 0;
    }
}

/// Advance rows `first..first + out.len() / cols` of the plane by `steps` steps, reading
/// the old plane `src` and writing the band's new rows into `out` (the band's rows of the
/// new plane), one strip of `strip` columns at a time.
///
/// Tile and halo: to get the tile's rows `r0..r1` and columns `c0..c1` after `k` steps,
/// level `s` (the plane after `s` of them) is needed on rows `r0-k+s .. r1+k-s` and
/// columns `c0-k+s .. c1+k-s` - the halo shrinks by one per level. Levels are computed as
/// a wavefront: at sweep `p`, level `s` computes row `p - s + 1`, whose three inputs of
/// level `s - 1` were computed at sweeps `p - 2 ..= p`; so each level only keeps its last
/// three rows (a ring of 3 in `buffer`), small enough for L1. Level 0 is sliced straight
/// from `src`, or copied into its own ring when the halo columns wrap around; the last
/// level goes to `out`. Row and column numbers outside the plane are taken modulo its
/// size (periodic). Returns false if `check` found NaN or infinity in the band's old rows.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn plane_band<T: Real>(
    src: &[T],
    out: &mut [T],
    rows: usize,
    cols: usize,
    first: usize,
    strip: usize,
    steps: usize,
    f: T,
    check: bool,
    buffer: &mut [T],
) -> bool {
    let k = steps;
    let ki = k as isize;
    let (r0, r1) = (first as isize, (first + out.len() / cols) as isize);
    let row_start = |r: isize| wrap(r, rows) * cols;
    let mut bad = false;
    if k == 1 && strip >= cols {
        // One step over whole rows: nothing to keep between levels, so no tiles and no
        // copies - each new row straight from three old ones.
        for (r, row) in (r0..r1).zip(out.chunks_exact_mut(cols)) {
            let (up, mid, down) = (row_start(r - 1), row_start(r), row_start(r + 1));
            let mid = &src[mid..mid + cols];
            bad |= check && any_non_finite(mid);
            plane_row(row, &src[up..up + cols], mid, &src[down..down + cols], f);
        }
        return !bad;
    }
    let aligned = to_cache_line(buffer.as_ptr());
    let buffer = &mut buffer[aligned..];
    for c0 in (0..cols).step_by(strip) {
        let c1 = (c0 + strip).min(cols);
        let w = c1 - c0;
        // Level s of row r lives in ring slot `slot(s, r)`, its columns c0-k+s .. c1+k-s
        // at offsets s .. wide-s (so column x is always at offset x - (c0 - k)).
        let wide = w + 2 * k;
        let stride = ring_stride::<T>(wide);
        let base = r0 - ki; // at or below every row of the tile's levels
        let slot = |level: usize, r: isize| ring_slot(level, r - base, stride);
        let direct = c0 >= k && c1 + k <= cols;
        let wrapped_from = (c0 + cols * k.div_ceil(cols) - k) % cols; // (c0 - k) mod cols
        for p in (r0 - ki + 1)..(r1 + ki - 1) {
            if !direct {
                // level 1 at row p needs level-0 rows p-1, p, p+1: load the new one(s)
                let from = if p == r0 - ki + 1 { p - 1 } else { p + 1 };
                for r in from..=p + 1 {
                    let o = slot(0, r);
                    let g = row_start(r);
                    copy_wrapped(&mut buffer[o..o + wide], &src[g..g + cols], wrapped_from);
                }
            }
            for s in 1..=k {
                let r = p - s as isize + 1;
                let si = s as isize;
                if r < r0 - ki + si || r >= r1 + ki - si {
                    continue;
                }
                if s == 1 && check && (r0..r1).contains(&r) {
                    let g = row_start(r);
                    bad |= any_non_finite(&src[g + c0..g + c1]);
                }
                // levels 0 ..= s-1 in `lower`, s .. in `upper`
                let (lower, upper) = buffer.split_at_mut(s * 3 * stride);
                let m = wide - 2 * s; // columns of level s
                let (up, mid, down) = if s == 1 && direct {
                    let row = |r: isize| row_start(r) + c0 - k;
                    let (a, b, c) = (row(r - 1), row(r), row(r + 1));
                    (&src[a..a + wide], &src[b..b + wide], &src[c..c + wide])
                } else {
                    let row = |r: isize| slot(s - 1, r) + s - 1;
                    let (a, b, c) = (row(r - 1), row(r), row(r + 1));
                    (
                        &lower[a..a + m + 2],
                        &lower[b..b + m + 2],
                        &lower[c..c + m + 2],
                    )
                };
                let target = if s == k {
                    let o = (r - r0) as usize * cols + c0;
                    &mut out[o..o + w]
                } else {
                    let o = slot(s, r) - s * 3 * stride + s;
                    &mut upper[o..o + m]
                };
                strip_row(target, up, mid, down, f);
            }
        }
    }
    !bad
}

/// Points `at .. at + T::LANES` of [`line_run`], as one vector per operation.
#[inline(always)]
fn line_block<T: Real>(out: &mut [T], old: &[T], f: T, at: usize) {
    let l = T::LANES;
    let out = &mut out[at..at + l];
    let (left, centre, right) = (
        &old[at..at + l],
        &old[at + 1..at + 1 + l],
        &old[at + 2..][..l],
    );
    for i in 0..l {
        out[i] = point(left[i], right[i], centre[i], f);
    }
}

/// `out[i]` = the point `i + 1` of `old` advanced one step (no wrap: `old` carries the
/// neighbours, `old.len() == out.len() + 2`). Whole, possibly overlapping vectors, as in
/// [`strip_row`].
#[inline(always)]
fn line_run<T: Real>(out: &mut [T], old: &[T], f: T) {
    let n = out.len();
    let old = &old[..n + 2];
    let l = T::LANES;
    if n < l {
        for i in 0..n {
            out[i] = point(old[i], old[i + 2], old[i + 1], f);
        }
        return;
    }
    line_block(out, old, f, 0);
    let mut at = to_cache_line(out.as_ptr()).max(1);
    while at + l <= n {
        line_block(out, old, f, at);
        at += l;
    }
    if at < n {
        line_block(out, old, f, n - l);
    }
}

/// Advance points `first..first + out.len()` of the line by `steps` steps (overlapped
/// tiling: level `s` is computed on the chunk plus `steps - s` points each side, in two
/// ping-pong buffers; level 0 comes straight from `src` unless the halo wraps around).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn line_band<T: Real>(
    src: &[T],
    out: &mut [T],
    n: usize,
    first: usize,
    steps: usize,
    f: T,
    check: bool,
    buffer: &mut [T],
) -> bool {
    let len = out.len();
    let k = steps;
    let bad = check && any_non_finite(&src[first..first + len]);
    let wide = len + 2 * k;
    let (a, rest) = buffer.split_at_mut(wide);
    let b = &mut rest[..wide];
    let level0: &[T] = if first >= k && first + len + k <= n {
        &src[first - k..first + len + k]
    } else {
        let start = (first + n * k.div_ceil(n) - k) % n; // (first - k) mod n
        for (i, v) in a.iter_mut().enumerate() {
            *v = src[(start + i) % n];
        }
        &*a
    };
    if k == 1 {
        line_run(out, level0, f);
        return !bad;
    }
    // level 1 into b (from level 0, which may be `a` itself), then alternate.
    line_run(&mut b[1..wide - 1], level0, f);
    let (mut cur, mut next) = (b, a);
    for s in 2..k {
        line_run(&mut next[s..wide - s], &cur[s - 1..wide - s + 1], f);
        std::mem::swap(&mut cur, &mut next);
    }
    line_run(out, &cur[k - 1..wide - k + 1], f);
    !bad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book_plane(n: usize) -> Vec<f64> {
        let mut g = vec![0.0; n * n];
        let (lo, hi) = ((n as f64 * 0.4) as usize, (n as f64 * 0.5) as usize);
        for i in lo..hi {
            for j in lo..hi {
                g[i * n + j] = 0.005;
            }
        }
        g
    }

    /// The obvious scalar step with modular indexing: the oracle for the blocked code.
    fn naive_step<T: Real>(g: &[T], shape: Shape, f: T) -> Vec<T> {
        match shape {
            Shape::Line(n) => (0..n)
                .map(|i| point(g[(i + n - 1) % n], g[(i + 1) % n], g[i], f))
                .collect(),
            Shape::Plane { rows, cols } => (0..rows * cols)
                .map(|x| {
                    let (i, j) = (x / cols, x % cols);
                    let at = |i: usize, j: usize| g[(i % rows) * cols + j % cols];
                    cell(
                        at(i + rows - 1, j),
                        at(i + 1, j),
                        at(i, j + cols - 1),
                        at(i, j + 1),
                        g[x],
                        f,
                    )
                })
                .collect(),
        }
    }

    fn run<T: Real>(
        g: &[T],
        shape: Shape,
        steps: i64,
        blocking: Option<Blocking>,
        simd: Simd,
        threads: usize,
    ) -> Vec<T> {
        let mut out = vec![T::ZERO; g.len()];
        let cancel = AtomicBool::new(false);
        evolve(
            g,
            &mut out,
            shape,
            Coefficients::BOOK,
            steps,
            blocking,
            simd,
            threads,
            &cancel,
        )
        .unwrap();
        out
    }

    fn stats(g: &[f64]) -> (f64, f64, f64) {
        let max = g.iter().copied().fold(f64::MIN, f64::max);
        (g.iter().sum(), max, g.iter().map(|v| v * v).sum())
    }

    #[test]
    fn known_answer_512_500() {
        // WORKLOADS.md ch6, order S: max 0.004906177706325198, sum u^2 0.04145759917767716.
        let g = book_plane(512);
        for simd in Simd::available() {
            let out = run(&g, Shape::new(&[512, 512]).unwrap(), 500, None, simd, 2);
            let (_, max, sq) = stats(&out);
            assert_eq!(max, 0.004906177706325198, "{simd:?}");
            // numpy sums pairwise, we sum in order: equal to a few ulps, not to the bit
            assert!((sq - 0.04145759917767716).abs() < 1e-15, "{simd:?}");
        }
    }

    #[test]
    fn known_answer_1d() {
        let n = 512;
        let mut g = vec![0.0; n];
        g[204..256].iter_mut().for_each(|v| *v = 0.005);
        for simd in Simd::available() {
            let out = run(&g, Shape::new(&[n]).unwrap(), 500, None, simd, 2);
            let (_, max, sq) = stats(&out);
            assert_eq!(max, 0.004952872988890272, "{simd:?}");
            assert!((sq - 0.001018066724193033).abs() < 1e-16, "{simd:?}");
        }
    }

    fn check_blockings<T: Real>(g: &[T], dims: &[usize]) {
        let shape = Shape::new(dims).unwrap();
        let f = Coefficients::BOOK.factor::<T>();
        let mut expected = vec![g.to_vec()];
        for _ in 0..13 {
            expected.push(naive_step(expected.last().unwrap(), shape, f));
        }
        for simd in Simd::available() {
            for steps in [0usize, 1, 2, 3, 7, 13] {
                for k in [1, 2, 3, 5, 8, 16] {
                    for (band, strip) in [(1, 1), (2, 3), (3, 8), (7, 2), (64, 64), (5, 1000)] {
                        for threads in [1, 2, 3] {
                            let b = Blocking::new(k as i64, band as i64, strip as i64).ok();
                            let got = run(g, shape, steps as i64, b, simd, threads);
                            assert!(
                                got == expected[steps],
                                "{dims:?} {simd:?} steps={steps} k={k} band={band} strip={strip} t={threads}"
                            );
                        }
                    }
                }
            }
        }
    }

    fn noise(len: usize, seed: u64) -> Vec<f64> {
        let mut x = seed;
        (0..len)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 11) as f64 / (1u64 << 53) as f64
            })
            .collect()
    }

    #[test]
    fn blocking_never_changes_a_bit() {
        for dims in [&[3usize, 3][..], &[5, 17], &[33, 9], &[3], &[4], &[129]] {
            let len = dims.iter().product();
            let g = noise(len, len as u64);
            check_blockings(&g, dims);
            let g32: Vec<f32> = g.iter().map(|&v| v as f32).collect();
            check_blockings(&g32, dims);
        }
    }

    #[test]
    fn bad_input() {
        let g = vec![0.0f64; 16];
        let mut out = vec![0.0; 16];
        let c = AtomicBool::new(false);
        let shape = Shape::new(&[4, 4]).unwrap();
        let go = |g: &[f64], out: &mut [f64], coef, steps| {
            evolve(g, out, shape, coef, steps, None, Simd::Scalar, 1, &c)
        };
        assert!(Shape::new(&[2, 5]).is_err());
        assert!(Shape::new(&[5, 2]).is_err());
        assert!(Shape::new(&[1]).is_err());
        assert!(Shape::new(&[3, 3, 3]).is_err());
        assert!(Shape::new(&[]).is_err());
        assert!(Coefficients::new(f64::NAN, 0.1).is_err());
        assert!(Coefficients::new(1.0, f64::INFINITY).is_err());
        assert!(Coefficients::new(1e300, 1e300).is_err());
        assert!(go(&g, &mut out, Coefficients::BOOK, -1).is_err());
        assert!(go(&g[..15], &mut out, Coefficients::BOOK, 1).is_err());
        assert!(Blocking::new(0, 4, 4).is_err());
        assert!(Blocking::new(1, 0, 4).is_err());
        assert!(Blocking::new(1, 4, 0).is_err());
        assert!(Blocking::new(1000, 4, 4).is_err());
        for steps in [0, 1, 5, 40] {
            let mut bad = g.clone();
            bad[6] = f64::NAN;
            let e = go(&bad, &mut out, Coefficients::BOOK, steps).unwrap_err();
            assert!(e.to_string().contains("[1, 2]"), "{e}");
            bad[6] = f64::NEG_INFINITY;
            assert!(go(&bad, &mut out, Coefficients::BOOK, steps).is_err());
        }
        let mut line = vec![0.0f32; 100];
        line[99] = f32::INFINITY;
        let mut out = vec![0.0f32; 100];
        for steps in [1, 30] {
            let e = evolve(
                &line,
                &mut out,
                Shape::Line(100),
                Coefficients::BOOK,
                steps,
                None,
                Simd::best(),
                2,
                &c,
            );
            assert!(e.unwrap_err().to_string().contains("[99]"));
        }
    }

    #[test]
    fn cancel_stops() {
        let g = book_plane(256);
        let mut out = vec![0.0; g.len()];
        let r = evolve(
            &g,
            &mut out,
            Shape::new(&[256, 256]).unwrap(),
            Coefficients::BOOK,
            1000,
            None,
            Simd::best(),
            2,
            &AtomicBool::new(true),
        );
        assert_eq!(r, Err(KernelError::Interrupted));
    }
}
