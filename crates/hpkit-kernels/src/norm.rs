//! Sums of squares and Euclidean norms: the book's chapter 6 opening example
//! (`sum(v * v for v in vector)`), exact for integers, as accurate as double-double for
//! floats, at memory bandwidth.
//!
//! # int64: exact
//!
//! Each `|v|` (as `u64`, so `i64::MIN` is fine) is split into 32-bit halves `h`, `l`, and
//! `v² = h²·2^64 + 2hl·2^32 + l²`. The three products are exact in `u64` (one
//! `vpmuludq` each), their 32-bit halves are summed in `u64` lanes (no lane can overflow:
//! a chunk is far below 2^32 elements), and each chunk's total is assembled in `u128` with
//! checked arithmetic. The answer is the exact sum, or [`KernelError::Overflow`] when it
//! exceeds `u128::MAX` = 2^128 - 1 (four values of `i64::MIN` already do) - never a
//! wrap-around like numpy's int64 `dot`, which at `range(10**7)` returns
//! 1,291,890,006,563,070,912 instead of 333,333,283,333,335,000,000.
//! A chunk whose values all stay below 2^32 in magnitude (the book's `range(N)`) needs
//! only `l²`: a first pass sums that and remembers the OR of the high halves; the full
//! three-product pass runs only for the chunks that need it.
//!
//! # float64: compensated (Dot2)
//!
//! Ogita, Rump & Oishi, "Accurate sum and dot product", SIAM J. Sci. Comput. 26(6), 2005,
//! algorithm Dot2: each square is split exactly into `p + e` (TwoProduct, `e` by one fused
//! multiply-add) and added with TwoSum, the rounding errors summed on the side. Their
//! bound (Prop. 5.5) with all terms non-negative (`Σ|x_i|² = S`) reads
//! `|result - S| <= u·S + γ_n²·S`, `u = 2^-53`, `γ_n = n·u / (1 - n·u)`: the result is as
//! accurate as if the sum were computed in twice the precision and rounded once - within
//! about one ulp for any n below 2^26 (γ_n² < 2^-54), and still far better than pairwise
//! summation's `u·log2(n)·S` (numpy) beyond. We chose it over pairwise because it costs
//! 10 flops per 8-byte element, which AVX-512 (or AVX2 + FMA) still does faster than
//! memory delivers the data, so accuracy is free here.
//!
//! Special values follow IEEE arithmetic: a NaN gives NaN, an infinity `inf`, squares whose
//! sum exceeds `f64::MAX` give `inf` (the compensated sum turns these into NaN, so a
//! non-finite result is recomputed by plain summation, which gets them right).
//!
//! # Determinism
//!
//! Element `i` of a chunk goes to accumulator lane `i % 32`; lanes are folded and chunks
//! (of a fixed size) combined in index order. So a float result is bit-for-bit the same on
//! every SIMD path (the vector code does exactly the scalar operations, lane by lane; the
//! scalar path's FMA is `f64::mul_add`, correctly rounded everywhere) and for every thread
//! count.
//!
//! # Norms
//!
//! `norm_i64` is the correctly rounded square root of the exact sum (an integer square
//! root with a sticky bit, then one rounding to `f64`). `norm_f64` is `sqrt` of the Dot2
//! sum (error about one ulp); when that sum overflows or is so small that squares lose
//! precision (below 2^-900), the values are scaled by 2^∓600 first (exact), so
//! `norm([1e200]) == 1e200` and `norm([1e-200]) == 1e-200` as for `math.hypot`.

use crate::error::{KernelError, Result};
use crate::simd::Simd;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// Accumulator lanes of the float kernel (four AVX-512 or eight AVX2 vectors): fixed, so
/// the summation order and hence the result do not depend on the instruction set.
const LANES: usize = 32;
/// Elements per parallel task: 256 KiB, so a task's data stays in L2.
const CHUNK: usize = 1 << 15;
/// Lanes of the integer kernels (any value gives the same, exact, answer).
const INT_LANES: usize = 16;
const LOW32: u64 = 0xFFFF_FFFF;
/// 2^-900: below this the Dot2 sum is recomputed on values scaled by 2^600 (module docs).
const TINY_SUM: f64 = f64::from_bits((1023 - 900) << 52);

/// The path a kernel runs: `None` picks the best this CPU has. AVX2 also needs FMA (the
/// float kernel's exact products), which every AVX2 CPU made so far has.
pub fn resolve_simd(simd: Option<Simd>) -> Result<Simd> {
    crate::simd::resolve(simd, |s| match s {
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 => std::arch::is_x86_feature_detected!("fma"),
        _ => true,
    })
}

/// Whether a call over `len` elements is so little work that it should run on the calling
/// thread (one chunk: waking the pool would cost more than the work).
pub fn runs_inline(len: usize) -> bool {
    len <= CHUNK
}

/// Run `per_chunk` over the chunks of `x` (in parallel unless tiny) and return the
/// per-chunk results in order; `Err(Interrupted)` once `cancel` is set.
fn map_chunks<T, R>(
    x: &[T],
    threads: usize,
    cancel: &AtomicBool,
    per_chunk: impl Fn(&[T]) -> Result<R> + Sync,
) -> Result<Vec<R>>
where
    T: Sync,
    R: Send,
{
    let task = |chunk: &[T]| {
        if cancel.load(Ordering::Relaxed) {
            return Err(KernelError::Interrupted);
        }
        per_chunk(chunk)
    };
    if runs_inline(x.len()) {
        return x.chunks(CHUNK).map(task).collect();
    }
    crate::pool::install(threads, || x.par_chunks(CHUNK).map(task).collect())?
}

// ---------------------------------------------------------------------------------------
// int64
// ---------------------------------------------------------------------------------------

/// `Σ v²` over `x`, exactly; [`KernelError::Overflow`] beyond `u128::MAX`.
pub fn sum_of_squares_i64(
    x: &[i64],
    simd: Option<Simd>,
    threads: usize,
    cancel: &AtomicBool,
) -> Result<u128> {
    let simd = resolve_simd(simd)?;
    let parts = map_chunks(x, threads, cancel, |c| squares_i64(c, simd))?;
    parts
        .into_iter()
        .try_fold(0u128, |acc, part| acc.checked_add(part))
        .ok_or_else(too_big)
}

/// `sqrt(Σ v²)` correctly rounded from the exact integer sum.
pub fn norm_i64(x: &[i64], simd: Option<Simd>, threads: usize, cancel: &AtomicBool) -> Result<f64> {
    Ok(sqrt_correctly_rounded(sum_of_squares_i64(
        x, simd, threads, cancel,
    )?))
}

fn too_big() -> KernelError {
    KernelError::Overflow(
        "the sum of squares exceeds 2**128 - 1, the largest exact integer hpkit carries".into(),
    )
}

/// The square root of `s`, correctly rounded to nearest (ties to even).
///
/// `q = isqrt(s·4^k)` with `k` chosen so that `q` has at least 55 bits; then `√(s·4^k)` lies
/// in `[q, q + 1)` and, because the rounding position of `q` is at least two bits above its
/// last bit, `q | 1` ("sticky": is there anything below?) rounds exactly as the true root
/// does. One correctly rounded `u64 -> f64` conversion and an exact scaling by `2^-k` finish.
pub fn sqrt_correctly_rounded(s: u128) -> f64 {
    if s == 0 {
        return 0.0;
    }
    let bits = 128 - s.leading_zeros();
    // s·4^k needs at least 109 bits for q = isqrt to have 55; s itself has at most 128.
    let k = 109u32.saturating_sub(bits).div_ceil(2);
    let scaled = s << (2 * k);
    let q = scaled.isqrt();
    let sticky = if q * q == scaled { q } else { q | 1 };
    // q < 2^64 since scaled < 2^128; `as f64` rounds to nearest, ties to even.
    let root = sticky as u64 as f64;
    root * f64::powi(2.0, -(k as i32))
}

/// Dispatch one chunk to the chosen instruction set (same operations on every path).
fn squares_i64(x: &[i64], simd: Simd) -> Result<u128> {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    match simd {
        // SAFETY: `resolve_simd` checked at run time that the CPU has these features.
        Simd::Avx512 => return unsafe { squares_i64_avx512(x) },
        // SAFETY: as above.
        Simd::Avx2 => return unsafe { squares_i64_avx2(x) },
        Simd::Scalar => {}
    }
    let _ = simd;
    squares_i64_portable(x)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl")]
fn squares_i64_avx512(x: &[i64]) -> Result<u128> {
    squares_i64_portable(x)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn squares_i64_avx2(x: &[i64]) -> Result<u128> {
    squares_i64_portable(x)
}

/// One chunk's exact sum of squares, written so the compiler vectorises it for whatever
/// `#[target_feature]` function it is inlined into.
#[inline(always)]
fn squares_i64_portable(x: &[i64]) -> Result<u128> {
    debug_assert!(x.len() < 1 << 32);
    // First pass: l² only, and the OR of the high halves.
    let (mut ll_lo, mut ll_hi, mut high) =
        ([0u64; INT_LANES], [0u64; INT_LANES], [0u64; INT_LANES]);
    let (blocks, rest) = x.as_chunks::<INT_LANES>();
    for block in blocks {
        for j in 0..INT_LANES {
            let a = block[j].unsigned_abs();
            let l = a & LOW32;
            let ll = l * l;
            ll_lo[j] += ll & LOW32;
            ll_hi[j] += ll >> 32;
            high[j] |= a;
        }
    }
    for (j, &v) in rest.iter().enumerate() {
        let a = v.unsigned_abs();
        let l = a & LOW32;
        let ll = l * l;
        ll_lo[j] += ll & LOW32;
        ll_hi[j] += ll >> 32;
        high[j] |= a;
    }
    let sum_ll = halves(&ll_lo, &ll_hi);
    if high.iter().fold(0, |acc, &h| acc | h) >> 32 == 0 {
        return Ok(sum_ll);
    }
    // Some |v| >= 2^32: the cross and high products too.
    let (mut hl_lo, mut hl_hi) = ([0u64; INT_LANES], [0u64; INT_LANES]);
    let (mut hh_lo, mut hh_hi) = ([0u64; INT_LANES], [0u64; INT_LANES]);
    for block in blocks {
        for j in 0..INT_LANES {
            let a = block[j].unsigned_abs();
            let (h, l) = (a >> 32, a & LOW32);
            let (hl, hh) = (h * l, h * h);
            hl_lo[j] += hl & LOW32;
            hl_hi[j] += hl >> 32;
            hh_lo[j] += hh & LOW32;
            hh_hi[j] += hh >> 32;
        }
    }
    for (j, &v) in rest.iter().enumerate() {
        let a = v.unsigned_abs();
        let (h, l) = (a >> 32, a & LOW32);
        let (hl, hh) = (h * l, h * h);
        hl_lo[j] += hl & LOW32;
        hl_hi[j] += hl >> 32;
        hh_lo[j] += hh & LOW32;
        hh_hi[j] += hh >> 32;
    }
    // Σll < 2^79 and Σhl < 2^78 for a chunk below 2^15 elements; Σhh·2^64 may overflow.
    let sum_hl = halves(&hl_lo, &hl_hi) << 33;
    let sum_hh = halves(&hh_lo, &hh_hi);
    if sum_hh >> 64 != 0 {
        return Err(too_big());
    }
    sum_ll
        .checked_add(sum_hl)
        .and_then(|s| s.checked_add(sum_hh << 64))
        .ok_or_else(too_big)
}

/// `Σ lo + 2^32 Σ hi` over the lanes, exactly.
fn halves(lo: &[u64], hi: &[u64]) -> u128 {
    let lo: u128 = lo.iter().map(|&v| u128::from(v)).sum();
    let hi: u128 = hi.iter().map(|&v| u128::from(v)).sum();
    lo + (hi << 32)
}

// ---------------------------------------------------------------------------------------
// float64
// ---------------------------------------------------------------------------------------

/// A compensated partial sum: the value is `sum + err` (err is much smaller).
#[derive(Clone, Copy, Debug, Default)]
struct Partial {
    sum: f64,
    err: f64,
}

/// TwoSum (Knuth): `a + b = s + e` exactly, for any order of magnitudes.
#[inline(always)]
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let z = s - a;
    (s, (a - (s - z)) + (b - z))
}

impl Partial {
    /// Add another partial sum (the cascade of Dot2's final summation).
    #[inline(always)]
    fn add(self, other: Partial) -> Partial {
        let (sum, e) = two_sum(self.sum, other.sum);
        Partial {
            sum,
            err: self.err + (e + other.err),
        }
    }

    fn value(self) -> f64 {
        self.sum + self.err
    }
}

/// `Σ x²` over `x`, compensated (Dot2; see the module docs for the error bound).
pub fn sum_of_squares_f64(
    x: &[f64],
    simd: Option<Simd>,
    threads: usize,
    cancel: &AtomicBool,
) -> Result<f64> {
    let simd = resolve_simd(simd)?;
    let s = dot2(x, 1.0, simd, threads, cancel)?;
    if s.is_finite() {
        return Ok(s);
    }
    plain_sum_of_squares(x, threads, cancel)
}

/// `sqrt(Σ x²)`, within about one ulp, without overflow or underflow in between.
pub fn norm_f64(x: &[f64], simd: Option<Simd>, threads: usize, cancel: &AtomicBool) -> Result<f64> {
    let simd = resolve_simd(simd)?;
    let s = dot2(x, 1.0, simd, threads, cancel)?;
    if s.is_finite() && s >= TINY_SUM {
        return Ok(s.sqrt());
    }
    if !s.is_finite() {
        let plain = plain_sum_of_squares(x, threads, cancel)?;
        if plain.is_nan() || x.iter().any(|v| v.is_infinite()) {
            return Ok(plain.sqrt()); // NaN, or inf from an infinite element
        }
    }
    // Finite values whose squares overflow (s = inf) or lose precision (s tiny): scale
    // by a power of two, exact for every value that matters to the result.
    let (scale, unscale) = if s.is_finite() {
        (f64::powi(2.0, 600), f64::powi(2.0, -600))
    } else {
        (f64::powi(2.0, -600), f64::powi(2.0, 600))
    };
    Ok(dot2(x, scale, simd, threads, cancel)?.sqrt() * unscale)
}

/// Dot2 of `x·scale` with itself, chunk partials combined in index order.
fn dot2(x: &[f64], scale: f64, simd: Simd, threads: usize, cancel: &AtomicBool) -> Result<f64> {
    let parts = map_chunks(x, threads, cancel, |c| Ok(dot2_chunk(c, scale, simd)))?;
    Ok(parts
        .into_iter()
        .fold(Partial::default(), Partial::add)
        .value())
}

/// Plain (uncompensated) `Σ x²`: right for the special values the compensation turns into
/// NaN (an infinite element, an overflowing sum).
fn plain_sum_of_squares(x: &[f64], threads: usize, cancel: &AtomicBool) -> Result<f64> {
    let parts = map_chunks(x, threads, cancel, |c| {
        Ok(c.iter().map(|v| v * v).sum::<f64>())
    })?;
    Ok(parts.into_iter().sum())
}

fn dot2_chunk(x: &[f64], scale: f64, simd: Simd) -> Partial {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    match simd {
        // SAFETY: `resolve_simd` checked at run time that the CPU has these features.
        Simd::Avx512 => return unsafe { dot2_avx512(x, scale) },
        // SAFETY: as above (AVX2 and FMA).
        Simd::Avx2 => return unsafe { dot2_avx2(x, scale) },
        Simd::Scalar => {}
    }
    let _ = simd;
    dot2_portable(x, scale)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,fma")]
fn dot2_avx512(x: &[f64], scale: f64) -> Partial {
    dot2_portable(x, scale)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dot2_avx2(x: &[f64], scale: f64) -> Partial {
    dot2_portable(x, scale)
}

/// Dot2 over one chunk in [`LANES`] independent lanes. Plain Rust: the compiler turns the
/// lane loop into vector instructions of the enclosing `#[target_feature]` function, with
/// exactly these IEEE operations (Rust never reassociates or contracts floating point).
#[inline(always)]
fn dot2_portable(x: &[f64], scale: f64) -> Partial {
    let mut sum = [0.0f64; LANES];
    let mut err = [0.0f64; LANES];
    let mut step = |j: usize, v: f64| {
        let v = v * scale;
        let p = v * v;
        let e = v.mul_add(v, -p); // TwoProduct: v·v = p + e exactly
        let (s, q) = two_sum(sum[j], p);
        sum[j] = s;
        err[j] += q + e;
    };
    let (blocks, rest) = x.as_chunks::<LANES>();
    for block in blocks {
        for (j, &v) in block.iter().enumerate() {
            step(j, v);
        }
    }
    for (j, &v) in rest.iter().enumerate() {
        step(j, v);
    }
    (0..LANES)
        .map(|j| Partial {
            sum: sum[j],
            err: err[j],
        })
        .fold(Partial::default(), Partial::add)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn no_cancel() -> AtomicBool {
        AtomicBool::new(false)
    }

    fn exact_i64(x: &[i64]) -> Option<u128> {
        x.iter().try_fold(0u128, |acc, &v| {
            let a = u128::from(v.unsigned_abs());
            acc.checked_add(a * a)
        })
    }

    #[test]
    fn known_answers_every_path() {
        // WORKLOADS.md "Vector norm" (verified): Σ v*v for v in range(N).
        for (n, expected) in [
            (1_000_000i64, 333_332_833_333_500_000u128),
            (10_000_000, 333_333_283_333_335_000_000),
        ] {
            let x: Vec<i64> = (0..n).collect();
            let closed = {
                let n = n as u128;
                (n - 1) * n * (2 * n - 1) / 6
            };
            assert_eq!(closed, expected);
            for simd in Simd::available() {
                for threads in [1, 2, 3] {
                    let got = sum_of_squares_i64(&x, Some(simd), threads, &no_cancel()).unwrap();
                    assert_eq!(got, expected, "{simd:?} {threads}");
                }
            }
        }
    }

    #[test]
    fn large_values_and_overflow() {
        let x = [i64::MIN, i64::MAX, -3, 1 << 40, -(1 << 33) - 7];
        for simd in Simd::available() {
            assert_eq!(
                sum_of_squares_i64(&x, Some(simd), 1, &no_cancel()).unwrap(),
                exact_i64(&x).unwrap()
            );
            // 3 · 2^126 fits in u128, 4 · 2^126 = 2^128 does not.
            let three = [i64::MIN; 3];
            assert_eq!(
                sum_of_squares_i64(&three, Some(simd), 1, &no_cancel()).unwrap(),
                3u128 << 126
            );
            let four = [i64::MIN; 4];
            assert!(matches!(
                sum_of_squares_i64(&four, Some(simd), 1, &no_cancel()),
                Err(KernelError::Overflow(_))
            ));
            // overflow spread over chunks, and found in parallel
            let many = vec![i64::MAX; 3 * CHUNK];
            assert!(matches!(
                sum_of_squares_i64(&many, Some(simd), 2, &no_cancel()),
                Err(KernelError::Overflow(_))
            ));
        }
    }

    #[test]
    fn empty_is_zero() {
        assert_eq!(sum_of_squares_i64(&[], None, 1, &no_cancel()), Ok(0));
        assert_eq!(sum_of_squares_f64(&[], None, 1, &no_cancel()), Ok(0.0));
        assert_eq!(norm_f64(&[], None, 1, &no_cancel()), Ok(0.0));
        assert_eq!(norm_i64(&[], None, 1, &no_cancel()), Ok(0.0));
    }

    #[test]
    fn correctly_rounded_sqrt() {
        for s in [
            1u128,
            2,
            3,
            4,
            10,
            1 << 52,
            (1 << 106) - 1,
            u128::MAX,
            u128::MAX - 1,
        ] {
            let got = sqrt_correctly_rounded(s);
            // check against neighbours: no float is closer to √s
            assert!(closest_to_sqrt(s, got), "{s}");
        }
        // perfect squares are exact
        for r in [3u128, 1 << 40, (1 << 64) - 1] {
            assert_eq!(sqrt_correctly_rounded(r * r), r as f64);
        }
        // the book's N = 10**6 and 10**7 sums (Decimal's 60-digit sqrt, rounded once)
        assert_eq!(
            sqrt_correctly_rounded(333_332_833_333_500_000),
            577_349_836.176_905_9
        );
        assert_eq!(
            sqrt_correctly_rounded(333_333_283_333_335_000_000),
            18_257_417_214.199_14
        );
    }

    /// Whether `y` is the float nearest √s: compares `s` with the squares of the midpoints
    /// between y and its neighbours, in exact integer arithmetic (y·2^k integral).
    fn closest_to_sqrt(s: u128, y: f64) -> bool {
        let up = f64::from_bits(y.to_bits() + 1);
        let down = f64::from_bits(y.to_bits() - 1);
        let below_upper = mid_squared_cmp(y, up, s) != std::cmp::Ordering::Less;
        let above_lower = mid_squared_cmp(down, y, s) != std::cmp::Ordering::Greater;
        below_upper && above_lower
    }

    /// Compare ((a+b)/2)² with s exactly in u128 (a, b adjacent floats >= 1).
    fn mid_squared_cmp(a: f64, b: f64, s: u128) -> std::cmp::Ordering {
        // a + b = m·2^e with m < 2^55, so ((a+b)/2)² = m²·2^(2e-2), m² < 2^110.
        let (ma, ea) = decompose(a);
        let (mb, eb) = decompose(b);
        let e = ea.min(eb);
        let m = (ma << (ea - e) as u32) + (mb << (eb - e) as u32);
        let m2 = m * m;
        let shift = 2 * e - 2;
        if shift >= 0 {
            let sh = shift as u32;
            match m2.checked_shl(sh).filter(|v| v >> sh == m2) {
                Some(l) => l.cmp(&s),
                None => std::cmp::Ordering::Greater,
            }
        } else {
            let sh = (-shift) as u32;
            match s.checked_shl(sh).filter(|v| v >> sh == s) {
                Some(r) => m2.cmp(&r),
                None => std::cmp::Ordering::Less,
            }
        }
    }

    fn decompose(x: f64) -> (u128, i32) {
        let bits = x.to_bits();
        let exp = ((bits >> 52) & 0x7FF) as i32;
        let mant = (bits & ((1 << 52) - 1)) | (1 << 52);
        (u128::from(mant), exp - 1075)
    }

    /// The exact value of Σ x² as a rounded f64, by exact rational arithmetic in u128
    /// fixed point (values restricted to a range where that is exact).
    fn exact_f64(x: &[f64]) -> f64 {
        // every x = m·2^-40 with |m| < 2^40 here, so x² = m²·2^-80 and the sum fits u128.
        let total: u128 = x
            .iter()
            .map(|&v| {
                let m = (v * (1u64 << 40) as f64) as i128;
                assert_eq!(m as f64 / (1u64 << 40) as f64, v);
                (m * m) as u128
            })
            .sum();
        // one correct rounding of total·2^-80: u128 -> f64 `as` rounds to nearest.
        total as f64 * f64::powi(2.0, -80)
    }

    proptest! {
        #[test]
        fn float_sum_is_nearly_exact_and_path_independent(
            ms in prop::collection::vec(-(1i64 << 40)..(1i64 << 40), 0..3000),
            threads in 1usize..4,
        ) {
            let x: Vec<f64> = ms.iter().map(|&m| m as f64 / (1u64 << 40) as f64).collect();
            let exact = exact_f64(&x);
            let expected = sum_of_squares_f64(&x, Some(Simd::Scalar), 1, &no_cancel()).unwrap();
            // within one ulp of the exactly rounded sum (n < 2^26: γ_n² negligible)
            prop_assert!((expected - exact).abs() <= exact * f64::EPSILON);
            for simd in Simd::available() {
                let got = sum_of_squares_f64(&x, Some(simd), threads, &no_cancel()).unwrap();
                prop_assert_eq!(got.to_bits(), expected.to_bits());
            }
        }

        #[test]
        fn int_sum_is_exact(x in prop::collection::vec(any::<i64>(), 0..200)) {
            let expected = exact_i64(&x);
            for simd in Simd::available() {
                let got = sum_of_squares_i64(&x, Some(simd), 1, &no_cancel()).ok();
                prop_assert_eq!(got, expected);
            }
        }

        #[test]
        fn int_norm_is_correctly_rounded(x in prop::collection::vec(any::<i32>(), 1..50)) {
            let x: Vec<i64> = x.iter().map(|&v| i64::from(v) * 12_345).collect();
            let s = exact_i64(&x).unwrap();
            let n = norm_i64(&x, None, 1, &no_cancel()).unwrap();
            prop_assert!(s == 0 || closest_to_sqrt(s, n));
        }
    }

    #[test]
    fn float_special_values() {
        let c = no_cancel();
        assert!(sum_of_squares_f64(&[1.0, f64::NAN, 2.0], None, 1, &c)
            .unwrap()
            .is_nan());
        assert_eq!(
            sum_of_squares_f64(&[1.0, f64::NEG_INFINITY], None, 1, &c),
            Ok(f64::INFINITY)
        );
        assert!(sum_of_squares_f64(&[f64::INFINITY, f64::NAN], None, 1, &c)
            .unwrap()
            .is_nan());
        assert_eq!(
            sum_of_squares_f64(&[1e300, 1e300], None, 1, &c),
            Ok(f64::INFINITY)
        );
        assert_eq!(
            norm_f64(&[1e300, 1e300], None, 1, &c),
            Ok(1e300 * 2f64.sqrt())
        );
        assert_eq!(norm_f64(&[1e200], None, 1, &c), Ok(1e200));
        assert_eq!(norm_f64(&[-1e-200], None, 1, &c), Ok(1e-200));
        assert_eq!(norm_f64(&[3e-310, 4e-310], None, 1, &c), Ok(5e-310));
        assert_eq!(norm_f64(&[3.0, 4.0], None, 1, &c), Ok(5.0));
        assert_eq!(
            norm_f64(&[f64::INFINITY, 1.0], None, 1, &c),
            Ok(f64::INFINITY)
        );
        assert!(norm_f64(&[f64::NAN, 1e300, 1e300], None, 1, &c)
            .unwrap()
            .is_nan());
    }

    #[test]
    fn cancel_stops() {
        let x = vec![1i64; 4 * CHUNK];
        let r = sum_of_squares_i64(&x, None, 2, &AtomicBool::new(true));
        assert_eq!(r, Err(KernelError::Interrupted));
        let y = vec![1.0; 4 * CHUNK];
        let r = sum_of_squares_f64(&y, None, 2, &AtomicBool::new(true));
        assert_eq!(r, Err(KernelError::Interrupted));
    }
}
