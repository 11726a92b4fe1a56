//! Julia set escape counts (book chapter 2).
//!
//! For each start point `z` the count is the number of updates `z = z*z + c` done while
//! `abs(z) < 2`, capped at `max_iter` - exactly what the book's pure-Python loop returns.
//!
//! Exactness: every path performs CPython's complex arithmetic operation for operation
//! (`re = (zr*zr - zi*zi) + cr`, `im = (zr*zi + zi*zr) + ci`, no fused multiply-add, no
//! reassociation), so the sequence of `z` is bit-identical to Python's. Python tests
//! `abs(z) < 2` with libm's `hypot`; we test the cheap `zr*zr + zi*zi` against a band
//! `[4(1 - 2^-40), 4(1 + 2^-40))` around 4 and call the same `hypot` for the (vanishingly
//! rare) points inside it. Outside the band the rounding of `zr*zr + zi*zi` (at most a few
//! ulps) cannot change the outcome, so the counts equal Python's at every size.
//!
//! Parallelism: rayon over rows (or chunks of points), which is dynamic work stealing; the
//! set is very unbalanced (rows through it run to `max_iter`), so static splits would idle
//! a core. Each row checks a cancel flag first, so Ctrl-C stops a call within one row.

use crate::error::{invalid, KernelError, Result};
use crate::simd::{Lanes, Simd};
use num_complex::Complex64;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

const MAG_LO: f64 = 4.0 * (1.0 - 1.0 / (1u64 << 40) as f64);
const MAG_HI: f64 = 4.0 * (1.0 + 1.0 / (1u64 << 40) as f64);
/// A start value that escapes before the first update (pads partial SIMD blocks).
const PAD: f64 = 4.0;
/// The widest block any SIMD path processes at once (unroll x lanes).
const BLOCK_MAX: usize = 32;
/// Points per parallel task in [`escape_points`]: long enough to amortise scheduling.
const POINTS_PER_TASK: usize = 4096;
/// Inner iterations between two looks at the cancel flag (a few milliseconds at most), so
/// Ctrl-C is noticed quickly even when a single point runs for billions of iterations.
const CANCEL_EVERY: u32 = 1 << 16;
/// Below this bound on the work (points x (max_iter + 1)), a call runs on the calling
/// thread: waking pool threads costs tens of microseconds, more than the work itself.
const INLINE_WORK: u64 = 1 << 18;

/// How the coordinate axes are built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grid {
    /// The book's repeated float addition: width 10 gives an 11x11 grid. Reproduces the
    /// book's published sums.
    Book,
    /// `x1 + i*step` for i in 0..width, as `numpy.linspace(x1, x2, width, endpoint=False)`:
    /// always exactly width x width.
    Linspace,
}

impl Grid {
    pub fn parse(name: &str) -> Result<Grid> {
        match name {
            "book" => Ok(Grid::Book),
            "linspace" => Ok(Grid::Linspace),
            other => Err(invalid(format!(
                "unknown grid {other:?}; expected 'book' or 'linspace'"
            ))),
        }
    }
}

/// The region of the complex plane: real part in [x1, x2), imaginary part in (y1, y2].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bounds {
    pub x1: f64,
    pub x2: f64,
    pub y1: f64,
    pub y2: f64,
}

impl Bounds {
    pub const BOOK: Bounds = Bounds {
        x1: -1.8,
        x2: 1.8,
        y1: -1.8,
        y2: 1.8,
    };

    fn validate(&self) -> Result<()> {
        let Bounds { x1, x2, y1, y2 } = *self;
        if ![x1, x2, y1, y2].iter().all(|v| v.is_finite()) {
            return Err(invalid(format!("bounds must be finite, got {self:?}")));
        }
        if !(x1 < x2 && y1 < y2) {
            return Err(invalid(format!(
                "bounds must satisfy x1 < x2 and y1 < y2, got (x1={x1}, x2={x2}, y1={y1}, y2={y2})"
            )));
        }
        Ok(())
    }
}

/// The x axis (left to right) and y axis (top to bottom) of the grid, as the book builds
/// them. The output has `ys.len()` rows of `xs.len()` columns.
pub fn grid_axes(width: i64, bounds: Bounds, grid: Grid) -> Result<(Vec<f64>, Vec<f64>)> {
    if width <= 0 {
        return Err(invalid(format!("width must be positive, got {width}")));
    }
    bounds.validate()?;
    let w = width as u128;
    // The book's grid has at most width + 1 points per axis; refuse outputs that cannot fit.
    crate::limits::check_fits("the escape-count array", (w + 1) * (w + 1) * 4)?;
    let width_f = width as f64;
    let Bounds { x1, x2, y1, y2 } = bounds;
    let x_step = (x2 - x1) / width_f;
    let y_step = (y1 - y2) / width_f;
    Ok(match grid {
        Grid::Book => {
            let max_len = width as usize + 2;
            let xs = accumulate(x1, x_step, |x| x < x2, max_len)?;
            let ys = accumulate(y2, y_step, |y| y > y1, max_len)?;
            (xs, ys)
        }
        Grid::Linspace => {
            let n = width as usize;
            let xs = (0..n).map(|i| i as f64 * x_step + x1).collect();
            let ys = (0..n).map(|j| j as f64 * y_step + y2).collect();
            (xs, ys)
        }
    })
}

/// `start, start + step, ...` while `keep` holds, accumulated like the book's while loop.
fn accumulate(
    start: f64,
    step: f64,
    keep: impl Fn(f64) -> bool,
    max_len: usize,
) -> Result<Vec<f64>> {
    let mut out = Vec::with_capacity(max_len);
    let mut v = start;
    while keep(v) {
        if out.len() == max_len {
            return Err(invalid(
                "the bounds are too narrow for their magnitude: repeated float addition does \
                 not advance; use grid='linspace'",
            ));
        }
        out.push(v);
        v += step;
    }
    Ok(out)
}

/// The constant part of an escape-count computation.
#[derive(Clone, Copy, Debug)]
pub struct Escape {
    pub c: Complex64,
    pub max_iter: u32,
    pub simd: Simd,
}

impl Escape {
    /// Whether `points` points are so little work that they run on the calling thread,
    /// with no thread pool and no cancellation needed.
    pub fn runs_inline(&self, points: usize) -> bool {
        (points as u64).saturating_mul(u64::from(self.max_iter) + 1) < INLINE_WORK
    }

    pub fn new(c: Complex64, max_iter: i64, simd: Simd) -> Result<Escape> {
        if !(c.re.is_finite() && c.im.is_finite()) {
            return Err(invalid(format!("c must be finite, got {c}")));
        }
        if !(0..=i64::from(i32::MAX)).contains(&max_iter) {
            return Err(invalid(format!(
                "max_iter must be between 0 and {}, got {max_iter}",
                i32::MAX
            )));
        }
        if !simd.is_available() {
            return Err(KernelError::Unsupported(format!("simd={:?}", simd.name())));
        }
        Ok(Escape {
            c,
            max_iter: max_iter as u32,
            simd,
        })
    }
}

/// Escape counts of the grid `xs` x `ys` into `out` (row-major, `ys.len()` rows).
pub fn julia_grid(
    xs: &[f64],
    ys: &[f64],
    esc: &Escape,
    out: &mut [i32],
    threads: usize,
    cancel: &AtomicBool,
) -> Result<()> {
    let cols = xs.len();
    if out.len() != cols * ys.len() {
        return Err(invalid(format!(
            "out has {} elements, the grid has {} x {}",
            out.len(),
            ys.len(),
            cols
        )));
    }
    if cols == 0 {
        return Ok(());
    }
    let row = |(row, &y): (&mut [i32], &f64)| {
        if cancel.load(Ordering::Relaxed) {
            return Err(KernelError::Interrupted);
        }
        escape_slice(xs, &vec![y; cols], esc, row, cancel)
    };
    if esc.runs_inline(out.len()) {
        return out.chunks_mut(cols).zip(ys).try_for_each(row);
    }
    crate::pool::install(threads, || {
        out.par_chunks_mut(cols)
            .zip(ys.par_iter())
            .try_for_each(row)
    })?
}

/// Escape counts of arbitrary start points into `out` (same length).
pub fn escape_points(
    zs: &[Complex64],
    esc: &Escape,
    out: &mut [i32],
    threads: usize,
    cancel: &AtomicBool,
) -> Result<()> {
    if out.len() != zs.len() {
        return Err(invalid(format!(
            "out has {} elements, zs has {}",
            out.len(),
            zs.len()
        )));
    }
    let chunk = |(out, zs): (&mut [i32], &[Complex64])| {
        if cancel.load(Ordering::Relaxed) {
            return Err(KernelError::Interrupted);
        }
        let re: Vec<f64> = zs.iter().map(|z| z.re).collect();
        let im: Vec<f64> = zs.iter().map(|z| z.im).collect();
        escape_slice(&re, &im, esc, out, cancel)
    };
    if esc.runs_inline(zs.len()) {
        return out
            .chunks_mut(POINTS_PER_TASK)
            .zip(zs.chunks(POINTS_PER_TASK))
            .try_for_each(chunk);
    }
    crate::pool::install(threads, || {
        out.par_chunks_mut(POINTS_PER_TASK)
            .zip(zs.par_chunks(POINTS_PER_TASK))
            .try_for_each(chunk)
    })?
}

/// Escape counts of the points `re[i] + im[i]j` with the chosen instruction set;
/// `Err(Interrupted)` as soon as `cancel` is set.
pub fn escape_slice(
    re: &[f64],
    im: &[f64],
    esc: &Escape,
    out: &mut [i32],
    cancel: &AtomicBool,
) -> Result<()> {
    assert!(re.len() == im.len() && re.len() == out.len());
    let Escape { c, max_iter, simd } = *esc;
    let completed = match simd {
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 if simd.is_available() => {
            // SAFETY: AVX2 was detected at run time just above.
            #[allow(unsafe_code)]
            unsafe {
                escape_slice_avx2(re, im, c, max_iter, out, cancel)
            }
        }
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 if simd.is_available() => {
            // SAFETY: AVX-512F was detected at run time just above.
            #[allow(unsafe_code)]
            unsafe {
                escape_slice_avx512(re, im, c, max_iter, out, cancel)
            }
        }
        _ => out.iter_mut().zip(re).zip(im).all(|((o, &zr), &zi)| {
            escape_scalar(zr, zi, c, max_iter, cancel)
                .map(|n| *o = n as i32)
                .is_some()
        }),
    };
    if completed {
        Ok(())
    } else {
        Err(KernelError::Interrupted)
    }
}

/// `abs(complex(zr, zi)) < 2`, decided from `zr*zr + zi*zi` outside the rounding band.
#[inline(always)]
fn inside_scalar(zr: f64, zi: f64, mag2: f64) -> bool {
    if mag2 < MAG_LO {
        true
    } else if mag2 >= MAG_HI {
        false
    } else {
        zr.hypot(zi) < 2.0
    }
}

/// The book's loop for one point; `None` if `cancel` was set meanwhile.
#[inline]
pub fn escape_scalar(
    mut zr: f64,
    mut zi: f64,
    c: Complex64,
    max_iter: u32,
    cancel: &AtomicBool,
) -> Option<u32> {
    let mut n = 0;
    let (mut zr2, mut zi2) = (zr * zr, zi * zi);
    while n < max_iter && inside_scalar(zr, zi, zr2 + zi2) {
        if n % CANCEL_EVERY == CANCEL_EVERY - 1 && cancel.load(Ordering::Relaxed) {
            return None;
        }
        let t = zr * zi;
        zr = (zr2 - zi2) + c.re;
        zi = (t + t) + c.im;
        zr2 = zr * zr;
        zi2 = zi * zi;
        n += 1;
    }
    Some(n)
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx2")]
unsafe fn escape_slice_avx2(
    re: &[f64],
    im: &[f64],
    c: Complex64,
    max_iter: u32,
    out: &mut [i32],
    cancel: &AtomicBool,
) -> bool {
    unsafe { escape_slice_lanes::<crate::simd::x86::Avx2, 4>(re, im, c, max_iter, out, cancel) }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx512f")]
unsafe fn escape_slice_avx512(
    re: &[f64],
    im: &[f64],
    c: Complex64,
    max_iter: u32,
    out: &mut [i32],
    cancel: &AtomicBool,
) -> bool {
    unsafe { escape_slice_lanes::<crate::simd::x86::Avx512, 4>(re, im, c, max_iter, out, cancel) }
}

/// Blocks of `U` interleaved vectors (independent dependency chains hide the latency of
/// the multiply/add chain); a partial last block is padded with points that escape at once.
/// Returns false if `cancel` was set before the end.
#[allow(unsafe_code)]
#[inline(always)]
unsafe fn escape_slice_lanes<V: Lanes, const U: usize>(
    re: &[f64],
    im: &[f64],
    c: Complex64,
    max_iter: u32,
    out: &mut [i32],
    cancel: &AtomicBool,
) -> bool {
    let w = U * V::N;
    debug_assert!(w <= BLOCK_MAX);
    let n = re.len();
    let mut i = 0;
    while i + w <= n {
        let block = &mut out[i..i + w];
        if !unsafe {
            escape_block::<V, U>(&re[i..i + w], &im[i..i + w], c, max_iter, block, cancel)
        } {
            return false;
        }
        i += w;
    }
    if i < n {
        let rest = n - i;
        let (mut pr, mut pi, mut po) = ([PAD; BLOCK_MAX], [PAD; BLOCK_MAX], [0i32; BLOCK_MAX]);
        pr[..rest].copy_from_slice(&re[i..]);
        pi[..rest].copy_from_slice(&im[i..]);
        if !unsafe { escape_block::<V, U>(&pr[..w], &pi[..w], c, max_iter, &mut po[..w], cancel) } {
            return false;
        }
        out[i..].copy_from_slice(&po[..rest]);
    }
    true
}

#[allow(unsafe_code)]
#[inline(always)]
unsafe fn escape_block<V: Lanes, const U: usize>(
    re: &[f64],
    im: &[f64],
    c: Complex64,
    max_iter: u32,
    out: &mut [i32],
    cancel: &AtomicBool,
) -> bool {
    unsafe {
        let (cr, ci) = (V::splat(c.re), V::splat(c.im));
        let (lo, hi, one) = (V::splat(MAG_LO), V::splat(MAG_HI), V::splat(1.0));
        let mut zr = [V::splat(0.0); U];
        let mut zi = [V::splat(0.0); U];
        let mut zr2 = [V::splat(0.0); U];
        let mut zi2 = [V::splat(0.0); U];
        let mut counts = [V::splat(0.0); U];
        let mut active = [V::from_bits(0); U];
        let mut any = 0u32;
        for u in 0..U {
            zr[u] = V::load(&re[u * V::N..]);
            zi[u] = V::load(&im[u * V::N..]);
            zr2[u] = zr[u].mul(zr[u]);
            zi2[u] = zi[u].mul(zi[u]);
            active[u] = inside::<V>(zr[u], zi[u], zr2[u].add(zi2[u]), lo, hi);
            any |= V::bits(active[u]);
        }
        let mut n = 0;
        while n < max_iter && any != 0 {
            if n % CANCEL_EVERY == CANCEL_EVERY - 1 && cancel.load(Ordering::Relaxed) {
                return false;
            }
            let mut still = V::from_bits(0);
            for u in 0..U {
                let t = zr[u].mul(zi[u]);
                zr[u] = zr2[u].sub(zi2[u]).add(cr);
                zi[u] = t.add(t).add(ci);
                counts[u] = counts[u].add_where(active[u], one);
                zr2[u] = zr[u].mul(zr[u]);
                zi2[u] = zi[u].mul(zi[u]);
                let now = inside::<V>(zr[u], zi[u], zr2[u].add(zi2[u]), lo, hi);
                active[u] = V::and(active[u], now);
                still = V::or(still, active[u]);
            }
            any = V::bits(still);
            n += 1;
        }
        let mut buf = [0.0f64; BLOCK_MAX];
        for u in 0..U {
            counts[u].store(&mut buf[u * V::N..]);
        }
        for (o, &v) in out.iter_mut().zip(&buf) {
            *o = v as i32;
        }
        true
    }
}

/// Lanes where `abs(z) < 2`; see the module docs for the band.
#[allow(unsafe_code)]
#[inline(always)]
unsafe fn inside<V: Lanes>(zr: V, zi: V, mag2: V, lo: V, hi: V) -> V::Mask {
    unsafe {
        let sure = mag2.lt(lo);
        let ambiguous = V::bits(mag2.lt(hi)) & !V::bits(sure);
        if ambiguous == 0 {
            return sure;
        }
        let (mut r, mut i) = ([0.0f64; BLOCK_MAX], [0.0f64; BLOCK_MAX]);
        zr.store(&mut r);
        zi.store(&mut i);
        V::from_bits(V::bits(sure) | resolve_with_hypot(&r, &i, ambiguous))
    }
}

#[cold]
#[inline(never)]
fn resolve_with_hypot(zr: &[f64], zi: &[f64], lanes: u32) -> u32 {
    (0..32)
        .filter(|&l| lanes >> l & 1 == 1 && zr[l].hypot(zi[l]) < 2.0)
        .fold(0, |acc, l| acc | 1 << l)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOK_C: Complex64 = Complex64::new(-0.62772, -0.42193);

    fn book_sum(width: i64, max_iter: i64, simd: Simd, threads: usize) -> (usize, usize, i64) {
        let (xs, ys) = grid_axes(width, Bounds::BOOK, Grid::Book).unwrap();
        let esc = Escape::new(BOOK_C, max_iter, simd).unwrap();
        let mut out = vec![0; xs.len() * ys.len()];
        julia_grid(&xs, &ys, &esc, &mut out, threads, &AtomicBool::new(false)).unwrap();
        (ys.len(), xs.len(), out.iter().map(|&v| i64::from(v)).sum())
    }

    #[test]
    fn known_answers_every_path() {
        // WORKLOADS.md ch2, verified by the oracle.
        for simd in Simd::available() {
            for threads in [1, 2, 3] {
                assert_eq!(
                    book_sum(10, 300, simd, threads),
                    (11, 11, 3_098),
                    "{simd:?}"
                );
                assert_eq!(
                    book_sum(100, 300, simd, threads),
                    (100, 100, 334_236),
                    "{simd:?}"
                );
            }
            assert_eq!(
                book_sum(1000, 300, simd, 2),
                (1000, 1000, 33_219_980),
                "{simd:?}"
            );
        }
    }

    #[test]
    fn paths_agree_point_for_point() {
        let (xs, ys) = grid_axes(257, Bounds::BOOK, Grid::Linspace).unwrap();
        let mut expected = vec![0; xs.len() * ys.len()];
        let scalar = Escape::new(BOOK_C, 500, Simd::Scalar).unwrap();
        julia_grid(&xs, &ys, &scalar, &mut expected, 1, &AtomicBool::new(false)).unwrap();
        for simd in Simd::available() {
            let esc = Escape::new(BOOK_C, 500, simd).unwrap();
            let mut out = vec![0; expected.len()];
            julia_grid(&xs, &ys, &esc, &mut out, 2, &AtomicBool::new(false)).unwrap();
            assert_eq!(out, expected, "{simd:?}");
        }
    }

    #[test]
    fn band_points_use_hypot() {
        // Points whose squared magnitude lands in the rounding band around 4.
        let pts = [
            (2.0, 0.0),
            (0.0, 2.0),
            (1.2, 1.6),
            (2.0f64.sqrt(), 2.0f64.sqrt()),
        ];
        for simd in Simd::available() {
            let esc = Escape::new(Complex64::new(0.0, 0.0), 1, simd).unwrap();
            let re: Vec<f64> = pts.iter().map(|p| p.0).collect();
            let im: Vec<f64> = pts.iter().map(|p| p.1).collect();
            let mut out = vec![0; pts.len()];
            escape_slice(&re, &im, &esc, &mut out, &AtomicBool::new(false)).unwrap();
            let expected: Vec<i32> = pts
                .iter()
                .map(|p| i32::from(p.0.hypot(p.1) < 2.0))
                .collect();
            assert_eq!(out, expected, "{simd:?}");
        }
    }

    #[test]
    fn cancel_stops() {
        let (xs, ys) = grid_axes(64, Bounds::BOOK, Grid::Book).unwrap();
        let esc = Escape::new(BOOK_C, 300, Simd::Scalar).unwrap();
        let mut out = vec![0; xs.len() * ys.len()];
        let r = julia_grid(&xs, &ys, &esc, &mut out, 1, &AtomicBool::new(true));
        assert_eq!(r, Err(KernelError::Interrupted));
    }

    #[test]
    fn bad_input() {
        assert!(grid_axes(0, Bounds::BOOK, Grid::Book).is_err());
        assert!(grid_axes(-5, Bounds::BOOK, Grid::Book).is_err());
        let nan = Bounds {
            x1: f64::NAN,
            ..Bounds::BOOK
        };
        assert!(grid_axes(10, nan, Grid::Book).is_err());
        let flipped = Bounds {
            x1: 1.0,
            x2: -1.0,
            ..Bounds::BOOK
        };
        assert!(grid_axes(10, flipped, Grid::Book).is_err());
        let narrow = Bounds {
            x1: 1e20,
            x2: 1e20 + 1e5,
            ..Bounds::BOOK
        };
        assert!(grid_axes(1_000_000, narrow, Grid::Book).is_err());
        assert!(matches!(
            grid_axes(1 << 40, Bounds::BOOK, Grid::Book),
            Err(KernelError::TooLarge { .. })
        ));
        assert!(Escape::new(Complex64::new(f64::INFINITY, 0.0), 10, Simd::Scalar).is_err());
        assert!(Escape::new(BOOK_C, -1, Simd::Scalar).is_err());
        assert!(Escape::new(BOOK_C, 1 << 40, Simd::Scalar).is_err());
    }
}
