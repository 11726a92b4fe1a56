//! Monte Carlo π (book chapter 9): throw darts at the unit square and count those with
//! `x² + y² <= 1`; the estimate is `4·count/n`.
//!
//! # A counter-based stream: the same answer on any number of threads
//!
//! The random numbers are WORKLOADS.md's SplitMix64. Its state is a Weyl sequence
//! (`s += γ`, γ = 0x9E3779B97F4A7C15), so output `k` (0-based) of the stream seeded with
//! `seed` is `mix(seed + (k + 1)·γ)`: random access for free. Dart `i` is made from output
//! `i` alone, i.e. it reads the ordinary sequential stream one value per dart, and depends
//! only on `(seed, i)`. Any split of `0..n` over threads, chunks and SIMD lanes therefore
//! counts exactly the same darts, and a pure-Python loop over the sequential stream
//! (`hpkit.reference.pi`) reproduces the count bit for bit. The stream has 2^64 outputs,
//! one per dart: every `n_samples` up to `i64::MAX` fits.
//!
//! # One output per dart, decided exactly in integers
//!
//! Output `z` is the dart `x = a·2^-32`, `y = b·2^-32` with `a = z >> 32` (the high half)
//! and `b = z & (2^32 - 1)` (the low half): a uniform point of the 2^32 × 2^32 grid in
//! `[0, 1)²`. It is inside iff `x² + y² <= 1`, that is `a² + b² <= 2^64` - a test on
//! integers, with no rounding anywhere. Both squares fit in 64 bits (`a, b < 2^32`), so in
//! 64-bit arithmetic the test is whether `a² + b²` carries out, and a carry shows as a
//! wrapped sum `s = a² + b² mod 2^64` below `a²`. The one sum that carries yet is inside,
//! exactly 2^64, never occurs: `a² + b² = 2^64` makes `a` and `b` both even (squares are 0
//! or 1 mod 4), halving both 32 times leaves `a'² + b'² = 1`, so one of them is 0 and the
//! other 2^32, out of range. Hence inside iff no carry, iff `s >= a²` unsigned.
//!
//! The grid is the only approximation, and it is far below the noise. Counted exactly, it
//! has `N = 14,488,038,920,449,089,330` points inside, so a run's expectation is
//! `4N/2^64 = π + 9.313e-10`, a relative bias of 3.0e-10 ≈ 1.3·2^-32: the lattice count
//! exceeds the area `π/4·2^64` by about one column of 2^32 points (half from taking each
//! column's height at its left edge, half from its partly covered top cell), an `O(2^32)`
//! excess over `2^64`. The standard error of `4·count/n` is `1.64/√n`: 1.6e-6 at 10^12
//! darts, and it shrinks to the bias only at `n ≈ 3.1·10^18`, some 23 years at 4.3 G
//! darts/s. The former definition, two 53-bit floats per dart, was no better in any
//! measurable way and cost twice the random numbers.
//!
//! # Speed
//!
//! Per dart: one SplitMix64 finaliser (3 xor-shifts, 2 64-bit multiplies), then two
//! 32x32->64 multiplies (`vpmuludq` reads the low half of each lane: `b²` straight from
//! `z`, `a²` after one shuffle), an add and a compare - half the 64-bit multiplies of two
//! outputs per dart, and no conversion to float. With AVX-512DQ the 64-bit multiply is
//! `vpmullq`, three µops. On this Xeon (Emerald Rapids) 512-bit instructions issue on
//! ports 0 and 5 only (measured: `vpmullq` one per 1.5 cycles, `vpmuludq` two per cycle,
//! shifts on port 0, shuffles on port 5), so 19 µops per 8 darts take 9.5 cycles at best.
//! Measured about 2.2 G darts/s on one core, some 1.3 cycles per dart at 2.7-2.9 GHz, i.e.
//! 10-10.5 cycles per 8 (two outputs per dart: 1.2 G/s). Rotating with `vpmultishiftqb`
//! (port 5) instead of shifting, or more vectors in flight, changed nothing: the bound is
//! the µop count. AVX2 has no `vpmullq`: three `vpmuludq` each, about 28 µops per 4 darts
//! on three ports; about 1.0 G darts/s (was 0.43), against 0.72 for the scalar loop (four
//! `imul` per dart on one port: 4 cycles). All paths compute the same integers, so they
//! count the same darts. Work is split into chunks of 2^16 to 2^22 samples (four per
//! thread when that fits) over rayon; the cancel flag (Ctrl-C) is checked before each.

use crate::error::{invalid, KernelError, Result};
use crate::simd::Simd;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// SplitMix64's increment (the golden-ratio Weyl constant).
pub const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
/// Most samples per parallel task (a few milliseconds on one core): the granularity of
/// Ctrl-C. Smaller runs use smaller chunks (at least [`MIN_CHUNK`]) so that every thread
/// gets several; the count does not depend on the chunking.
const CHUNK: u64 = 1 << 22;
const MIN_CHUNK: u64 = 1 << 16;

/// The SplitMix64 output function (Steele, Lea & Flood 2014; Vigna's constants).
#[inline(always)]
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Output `k` (0-based) of the SplitMix64 stream seeded with `seed`.
#[inline(always)]
pub fn splitmix64_output(seed: u64, k: u64) -> u64 {
    mix(seed.wrapping_add(k.wrapping_add(1).wrapping_mul(GAMMA)))
}

/// A dart from one 64-bit output: `(a, b)` with `x = a·2^-32`, `y = b·2^-32`, i.e. the
/// high and the low 32 bits.
#[inline(always)]
pub fn dart(z: u64) -> (u64, u64) {
    (z >> 32, z & 0xFFFF_FFFF)
}

/// Sample `i` by the letter of the definition, `a² + b² <= 2^64` in wide integers (the
/// slow, obviously right version).
pub fn sample_is_inside(seed: u64, i: u64) -> bool {
    let (a, b) = dart(splitmix64_output(seed, i));
    let (a, b) = (u128::from(a), u128::from(b));
    a * a + b * b <= 1 << 64
}

/// The state whose mix is sample `i`'s output.
#[inline(always)]
fn state(seed: u64, i: u64) -> u64 {
    seed.wrapping_add(i.wrapping_add(1).wrapping_mul(GAMMA))
}

/// The test of the module docs in 64 bits: `a² + b²` does not carry out of 64 bits (each
/// square fits, `a, b < 2^32`; the sum `2^64` exactly is impossible).
#[inline(always)]
fn in_quarter_circle(z: u64) -> bool {
    let (a, b) = dart(z);
    !(a * a).overflowing_add(b * b).1
}

/// The path a count runs: `None` picks the best this CPU has. The AVX-512 path needs
/// AVX-512DQ as well as F (the 64-bit multiply `vpmullq`).
pub fn resolve_simd(simd: Option<Simd>) -> Result<Simd> {
    crate::simd::resolve(simd, |s| match s {
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => std::arch::is_x86_feature_detected!("avx512dq"),
        _ => true,
    })
}

/// Whether `n_samples` is so little work (well under a millisecond) that it runs on the
/// calling thread, with no pool and no Ctrl-C polling.
pub fn runs_inline(n_samples: i64) -> bool {
    n_samples <= 1 << 16
}

/// A seed from the operating system's entropy, for callers that give none (and must be
/// told which one was used, to repeat the run). std's `RandomState` keys come from the
/// OS random source (getrandom) and differ for every instance; the clock is mixed in too.
pub fn entropy_seed() -> u64 {
    use std::hash::BuildHasher;
    std::hash::RandomState::new().hash_one(std::time::SystemTime::now())
}

/// Darts inside the quarter circle among samples `0..n_samples` of the stream `seed`.
pub fn count_inside(
    n_samples: i64,
    seed: u64,
    simd: Option<Simd>,
    threads: usize,
    cancel: &AtomicBool,
) -> Result<u64> {
    let per_task = (n_samples.max(0) as u64).div_ceil(4 * threads.max(1) as u64);
    let chunk = per_task.clamp(MIN_CHUNK, CHUNK);
    count_chunked(n_samples, seed, simd, threads, cancel, chunk)
}

fn count_chunked(
    n_samples: i64,
    seed: u64,
    simd: Option<Simd>,
    threads: usize,
    cancel: &AtomicBool,
    chunk: u64,
) -> Result<u64> {
    if n_samples < 0 {
        return Err(invalid(format!("n_samples must be >= 0, got {n_samples}")));
    }
    let simd = resolve_simd(simd)?;
    let n = n_samples as u64;
    let task = |c: u64| {
        if cancel.load(Ordering::Relaxed) {
            return Err(KernelError::Interrupted);
        }
        let start = c * chunk;
        Ok(count_range(seed, start, chunk.min(n - start), simd))
    };
    let chunks = n.div_ceil(chunk);
    if runs_inline(n_samples) {
        return (0..chunks).map(task).sum();
    }
    crate::pool::install(threads, || {
        (0..chunks)
            .into_par_iter()
            .map(task)
            .try_reduce(|| 0, |a, b| Ok(a + b))
    })?
}

/// The result of a run: enough to repeat it (`seed`) and to combine runs (`inside`, `samples`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PiEstimate {
    pub inside: u64,
    pub samples: u64,
    pub seed: u64,
}

impl PiEstimate {
    /// `4·inside/samples` (NaN for no samples).
    pub fn value(&self) -> f64 {
        4.0 * self.inside as f64 / self.samples as f64
    }
}

/// Estimate π from `n_samples` darts; `seed: None` draws one from [`entropy_seed`] and
/// reports it in the result.
pub fn estimate_pi(
    n_samples: i64,
    seed: Option<u64>,
    simd: Option<Simd>,
    threads: usize,
    cancel: &AtomicBool,
) -> Result<PiEstimate> {
    let seed = seed.unwrap_or_else(entropy_seed);
    let inside = count_inside(n_samples, seed, simd, threads, cancel)?;
    Ok(PiEstimate {
        inside,
        samples: n_samples as u64,
        seed,
    })
}

/// Count samples `start..start + len` with the chosen instruction set.
fn count_range(seed: u64, start: u64, len: u64, simd: Simd) -> u64 {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    match simd {
        // SAFETY: `resolve_simd` checked at run time that the CPU has AVX-512F and DQ.
        Simd::Avx512 => return unsafe { x86::count_avx512(seed, start, len) },
        // SAFETY: `resolve_simd` checked at run time that the CPU has AVX2.
        Simd::Avx2 => return unsafe { x86::count_avx2(seed, start, len) },
        Simd::Scalar => {}
    }
    let _ = simd;
    count_range_scalar(seed, start, len)
}

/// The scalar loop: the fallback, and the tail of the SIMD loops.
#[inline(always)]
fn count_range_scalar(seed: u64, start: u64, len: u64) -> u64 {
    (start..start + len)
        .filter(|&i| in_quarter_circle(mix(state(seed, i))))
        .count() as u64
}

/// The SIMD counting loops, with intrinsics: left to itself the compiler does not
/// vectorise the 64-bit multiplies well (on AVX2 its emulation is slower than
/// hand-written, and it does not use `vpmullq` reliably).
#[cfg(target_arch = "x86_64")]
mod x86 {
    // The intrinsics are `unsafe`; every function here is called only after the runtime
    // feature check in `resolve_simd`, and the generic kernel only from those functions.
    #![allow(unsafe_code)]

    use super::{count_range_scalar, state, GAMMA};
    use std::arch::x86_64::*;

    const MUL1: u64 = 0xBF58_476D_1CE4_E5B9;
    const MUL2: u64 = 0x94D0_49BB_1331_11EB;

    /// A vector of `u64` lanes with just what the dart count needs.
    trait U64Lanes: Copy {
        const N: usize;
        /// Load `N` values from the front of `v`.
        unsafe fn load(v: &[u64; 8]) -> Self;
        unsafe fn splat(x: u64) -> Self;
        unsafe fn add(self, b: Self) -> Self;
        /// SplitMix64's output function up to its last step `z ^ (z >> 31)`, lane by lane
        /// (`super::mix` without that step; `count_outside` finishes it).
        unsafe fn mix_head(self) -> Self;
        /// `outside + 1` in the lanes where the dart whose output is `finish(h)` misses
        /// the quarter circle, i.e. where `a² + b²` carries out of 64 bits.
        unsafe fn count_outside(h: Self, outside: Self) -> Self;
        unsafe fn total(self) -> u64;
    }

    /// 8 lanes, AVX-512F + DQ: `vpmullq` in hardware.
    #[derive(Clone, Copy)]
    struct Zmm(__m512i);

    impl U64Lanes for Zmm {
        const N: usize = 8;
        #[inline(always)]
        unsafe fn load(v: &[u64; 8]) -> Self {
            unsafe { Zmm(_mm512_loadu_si512(v.as_ptr().cast())) }
        }
        #[inline(always)]
        unsafe fn splat(x: u64) -> Self {
            Zmm(_mm512_set1_epi64(x as i64))
        }
        #[inline(always)]
        unsafe fn add(self, b: Self) -> Self {
            Zmm(_mm512_add_epi64(self.0, b.0))
        }
        #[inline(always)]
        unsafe fn mix_head(self) -> Self {
            let z = self.0;
            let z = _mm512_xor_si512(z, _mm512_srli_epi64::<30>(z));
            let z = _mm512_mullo_epi64(z, _mm512_set1_epi64(MUL1 as i64));
            let z = _mm512_xor_si512(z, _mm512_srli_epi64::<27>(z));
            Zmm(_mm512_mullo_epi64(z, _mm512_set1_epi64(MUL2 as i64)))
        }
        #[inline(always)]
        unsafe fn count_outside(h: Self, outside: Self) -> Self {
            let z = _mm512_xor_si512(h.0, _mm512_srli_epi64::<31>(h.0));
            // `vpmuludq` multiplies the low 32 bits of each lane: b² straight from z, a²
            // after moving the high half down - with a shuffle (port 5) rather than a shift
            // (port 0, which has the three xor-shifts): a percent or so faster. Each square
            // fits in 64 bits; their sum carries out exactly when the dart is outside.
            let b2 = _mm512_mul_epu32(z, z);
            let a = _mm512_shuffle_epi32::<0xF5>(z); // dwords 1, 1, 3, 3, ...
            let a2 = _mm512_mul_epu32(a, a);
            let carry = _mm512_cmplt_epu64_mask(_mm512_add_epi64(a2, b2), a2);
            Zmm(_mm512_mask_sub_epi64(
                outside.0,
                carry,
                outside.0,
                _mm512_set1_epi64(-1),
            ))
        }
        #[inline(always)]
        unsafe fn total(self) -> u64 {
            _mm512_reduce_add_epi64(self.0) as u64
        }
    }

    /// 4 lanes, AVX2: no 64-bit multiply (three 32x32->64 ones instead) and no unsigned
    /// 64-bit compare (a signed one on biased values).
    #[derive(Clone, Copy)]
    struct Ymm(__m256i);

    impl Ymm {
        #[inline(always)]
        unsafe fn mul(self, c: u64) -> Self {
            let a = self.0;
            let lo = _mm256_set1_epi64x((c & 0xFFFF_FFFF) as i64);
            let hi = _mm256_set1_epi64x((c >> 32) as i64);
            // a·c mod 2^64 = a_lo·c_lo + ((a_hi·c_lo + a_lo·c_hi) << 32)
            let low = _mm256_mul_epu32(a, lo);
            let cross = _mm256_add_epi64(
                _mm256_mul_epu32(_mm256_srli_epi64::<32>(a), lo),
                _mm256_mul_epu32(a, hi),
            );
            Ymm(_mm256_add_epi64(low, _mm256_slli_epi64::<32>(cross)))
        }
    }

    impl U64Lanes for Ymm {
        const N: usize = 4;
        #[inline(always)]
        unsafe fn load(v: &[u64; 8]) -> Self {
            unsafe { Ymm(_mm256_loadu_si256(v.as_ptr().cast())) }
        }
        #[inline(always)]
        unsafe fn splat(x: u64) -> Self {
            Ymm(_mm256_set1_epi64x(x as i64))
        }
        #[inline(always)]
        unsafe fn add(self, b: Self) -> Self {
            Ymm(_mm256_add_epi64(self.0, b.0))
        }
        #[inline(always)]
        unsafe fn mix_head(self) -> Self {
            unsafe {
                let z = self.0;
                let z = Ymm(_mm256_xor_si256(z, _mm256_srli_epi64::<30>(z)))
                    .mul(MUL1)
                    .0;
                Ymm(_mm256_xor_si256(z, _mm256_srli_epi64::<27>(z))).mul(MUL2)
            }
        }
        #[inline(always)]
        unsafe fn count_outside(h: Self, outside: Self) -> Self {
            let z = _mm256_xor_si256(h.0, _mm256_srli_epi64::<31>(h.0));
            let b2 = _mm256_mul_epu32(z, z);
            let a = _mm256_srli_epi64::<32>(z);
            let a2 = _mm256_mul_epu32(a, a);
            // a² + b² >= 2^64  <=>  a² - 2^63 > (2^63 - 1) - b², both sides in i64 range;
            // read as i64, a² ^ 2^63 is a² - 2^63 and b² ^ (2^63 - 1) is 2^63 - 1 - b².
            let sign = _mm256_set1_epi64x(i64::MIN);
            let carry = _mm256_cmpgt_epi64(
                _mm256_xor_si256(a2, sign),
                _mm256_xor_si256(b2, _mm256_set1_epi64x(i64::MAX)),
            );
            // a carry lane is all ones, i.e. -1
            Ymm(_mm256_sub_epi64(outside.0, carry))
        }
        #[inline(always)]
        unsafe fn total(self) -> u64 {
            let mut lanes = [0u64; 4];
            unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), self.0) };
            lanes.iter().sum()
        }
    }

    /// `U` vectors of independent samples per step (hides the multiply latency); the
    /// samples past the last full step go to the scalar loop.
    #[inline(always)]
    unsafe fn count_lanes<V: U64Lanes, const U: usize>(seed: u64, start: u64, len: u64) -> u64 {
        unsafe {
            let width = (V::N * U) as u64;
            let mut states = [V::splat(0); U];
            for (u, lanes) in states.iter_mut().enumerate() {
                let mut first = [0u64; 8];
                for (j, s) in first.iter_mut().take(V::N).enumerate() {
                    *s = state(seed, start + (u * V::N + j) as u64);
                }
                *lanes = V::load(&first);
            }
            let step = V::splat(GAMMA.wrapping_mul(width));
            let mut outside = [V::splat(0); U];
            let steps = len / width;
            for _ in 0..steps {
                for u in 0..U {
                    outside[u] = V::count_outside(states[u].mix_head(), outside[u]);
                    states[u] = states[u].add(step);
                }
            }
            let done = steps * width;
            done - outside.iter().map(|v| v.total()).sum::<u64>()
                + count_range_scalar(seed, start + done, len - done)
        }
    }

    /// How many lanes of `V` count the dart whose mix head is `h` as inside (all lanes
    /// get the same dart: the answer is 0 or `V::N`). For testing the vector predicate.
    #[cfg(test)]
    #[inline(always)]
    unsafe fn lanes_inside<V: U64Lanes>(h: u64) -> u64 {
        unsafe { V::N as u64 - V::count_outside(V::splat(h), V::splat(0)).total() }
    }

    #[cfg(test)]
    #[target_feature(enable = "avx512f,avx512dq")]
    pub(super) unsafe fn inside_avx512(h: u64) -> bool {
        unsafe { lanes_inside::<Zmm>(h) == 8 }
    }

    #[cfg(test)]
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn inside_avx2(h: u64) -> bool {
        unsafe { lanes_inside::<Ymm>(h) == 4 }
    }

    #[target_feature(enable = "avx512f,avx512dq")]
    pub(super) unsafe fn count_avx512(seed: u64, start: u64, len: u64) -> u64 {
        unsafe { count_lanes::<Zmm, 4>(seed, start, len) }
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn count_avx2(seed: u64, start: u64, len: u64) -> u64 {
        unsafe { count_lanes::<Ymm, 2>(seed, start, len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn no_cancel() -> AtomicBool {
        AtomicBool::new(false)
    }

    fn by_definition(seed: u64, n: u64) -> u64 {
        (0..n).filter(|&i| sample_is_inside(seed, i)).count() as u64
    }

    #[test]
    fn stream_matches_workloads_check_values() {
        // WORKLOADS.md "Conventions": seed 0 -> 16294208416658607535, seed 1 -> 10451216379200822465.
        assert_eq!(splitmix64_output(0, 0), 16_294_208_416_658_607_535);
        assert_eq!(splitmix64_output(1, 0), 10_451_216_379_200_822_465);
        // random access agrees with the sequential stream
        let mut state = 12345u64;
        for k in 0..100 {
            state = state.wrapping_add(GAMMA);
            assert_eq!(splitmix64_output(12345, k), mix(state));
        }
    }

    #[test]
    fn every_path_and_thread_count_counts_the_same() {
        for (seed, n) in [
            (0u64, 0i64),
            (0, 1),
            (1, 31),
            (7, 33),
            (42, 1000),
            (u64::MAX, 100_003),
        ] {
            let expected = by_definition(seed, n as u64);
            for simd in Simd::available() {
                let simd = Some(simd);
                if resolve_simd(simd).is_err() {
                    continue;
                }
                for threads in [1, 2, 3] {
                    let got = count_inside(n, seed, simd, threads, &no_cancel()).unwrap();
                    assert_eq!(got, expected, "seed {seed} n {n} {simd:?} {threads}");
                    // small chunks: many chunk boundaries, none a multiple of the lanes
                    let got = count_chunked(n, seed, simd, threads, &no_cancel(), 77).unwrap();
                    assert_eq!(
                        got, expected,
                        "seed {seed} n {n} {simd:?} {threads} chunk 77"
                    );
                }
            }
        }
    }

    #[test]
    fn large_count_same_for_any_threads() {
        let n = 3 * CHUNK as i64 + 12_345;
        let one = count_inside(n, 2024, None, 1, &no_cancel()).unwrap();
        assert_eq!(count_inside(n, 2024, None, 2, &no_cancel()).unwrap(), one);
        assert_eq!(count_inside(n, 2024, None, 3, &no_cancel()).unwrap(), one);
        // and it is a plausible estimate of π (5 standard errors)
        let p = std::f64::consts::PI / 4.0;
        let sigma = (p * (1.0 - p) / n as f64).sqrt();
        assert!((one as f64 / n as f64 - p).abs() < 5.0 * sigma);
    }

    /// The dart `(a, b)` as the output it comes from.
    fn output(a: u64, b: u64) -> u64 {
        a << 32 | b
    }

    /// The largest `b` inside for this `a`: `isqrt(2^64 - a² - 1)`, as `a² + b² = 2^64`
    /// has no solution in range (see the module docs).
    fn last_inside(a: u64) -> u64 {
        let r2 = (1u128 << 64) - u128::from(a) * u128::from(a);
        ((r2 - 1).isqrt() as u64).min(u32::MAX as u64)
    }

    /// The inverse of SplitMix64's last step `z ^ (z >> 31)`.
    fn unfinish(z: u64) -> u64 {
        z ^ (z >> 31) ^ (z >> 62)
    }

    /// Every path's predicate on the output `z` (the SIMD ones through their vector code).
    #[allow(unsafe_code)]
    fn all_paths_say(z: u64) -> Vec<bool> {
        let mut says = vec![in_quarter_circle(z)];
        #[cfg(target_arch = "x86_64")]
        {
            let h = unfinish(z);
            assert_eq!(h ^ (h >> 31), z);
            if resolve_simd(Some(Simd::Avx512)).is_ok() {
                // SAFETY: AVX-512F and DQ were detected just above.
                says.push(unsafe { x86::inside_avx512(h) });
            }
            if resolve_simd(Some(Simd::Avx2)).is_ok() {
                // SAFETY: AVX2 was detected just above.
                says.push(unsafe { x86::inside_avx2(h) });
            }
        }
        says
    }

    fn exactly_inside(a: u64, b: u64) -> bool {
        u128::from(a) * u128::from(a) + u128::from(b) * u128::from(b) <= 1 << 64
    }

    #[test]
    fn edge_darts() {
        let top = u64::from(u32::MAX); // 2^32 - 1, the largest coordinate
        let cases = [
            (0, 0, true),
            (0, top, true),
            (top, 0, true),
            // a² + b² = 2^64 - 2^33 + 2
            (top, 1, true),
            // the last b inside for the largest a: 2^64 - 166,830, and one more carries
            // by 18,533
            (top, 92_681, true),
            (top, 92_682, false),
            // the largest sum, 2^65 - 2^34 + 2
            (top, top, false),
            // x = 1/2: b = floor(2^32·sqrt(3)/2)
            (1 << 31, 3_719_550_786, true),
            (1 << 31, 3_719_550_787, false),
            // across the diagonal (2^32/sqrt(2) = 3,037,000,499.98); the last carries by
            // 290,948,384
            (3_037_000_500, 3_037_000_499, true),
            (3_037_000_500, 3_037_000_500, false),
        ];
        for (a, b, inside) in cases {
            assert_eq!(exactly_inside(a, b), inside, "definition at ({a}, {b})");
            assert_eq!(last_inside(a) >= b, inside, "last_inside({a})");
            for (path, says) in all_paths_say(output(a, b)).into_iter().enumerate() {
                assert_eq!(says, inside, "path {path} at ({a}, {b})");
            }
        }
    }

    #[test]
    fn no_dart_lands_exactly_on_the_circle() {
        // a² + b² = 2^64 forces a, b even (squares are 0 or 1 mod 4), and halving both
        // down to a'² + b'² = 1 leaves a zero: the only solutions are (2^32, 0), (0, 2^32),
        // out of range. Spot-check the claim over every a below 2^20 and the top 2^20.
        let top = 1u64 << 32;
        for a in (1..1 << 20).chain(top - (1 << 20)..top) {
            let r2 = (1u128 << 64) - u128::from(a) * u128::from(a);
            let b = r2.isqrt();
            assert_ne!(b * b, r2, "a = {a}");
        }
    }

    proptest! {
        /// Every path decides like the exact definition right at the circle, where a
        /// step of one in b changes the answer, and anywhere else.
        #[test]
        fn tests_equal_definition_at_the_circle(a in 0u64..(1 << 32), db in -3i64..4) {
            let b = (last_inside(a) as i64 + db).clamp(0, u32::MAX as i64) as u64;
            let expected = exactly_inside(a, b);
            prop_assert_eq!(expected, b <= last_inside(a));
            for says in all_paths_say(output(a, b)) {
                prop_assert_eq!(says, expected);
            }
        }

        #[test]
        fn tests_equal_definition_anywhere(z in any::<u64>()) {
            let (a, b) = dart(z);
            for says in all_paths_say(z) {
                prop_assert_eq!(says, exactly_inside(a, b));
            }
        }

        /// `a² + b² = 2^64` has no solution with `0 < a < 2^32`.
        #[test]
        fn circle_has_no_lattice_point_in_range(a in 1u64..(1 << 32)) {
            let r2 = (1u128 << 64) - u128::from(a) * u128::from(a);
            let b = r2.isqrt();
            prop_assert_ne!(b * b, r2);
        }
    }

    #[test]
    fn estimates_and_bad_input() {
        let c = no_cancel();
        assert!(matches!(
            count_inside(-1, 0, None, 1, &c),
            Err(KernelError::InvalidArgument(_))
        ));
        let e = estimate_pi(10_000, Some(3), None, 1, &c).unwrap();
        assert_eq!(e.seed, 3);
        assert_eq!(e.samples, 10_000);
        assert_eq!(e.inside, by_definition(3, 10_000));
        assert!((e.value() - std::f64::consts::PI).abs() < 0.1);
        let random = estimate_pi(10, None, None, 1, &c).unwrap();
        let again = estimate_pi(10, Some(random.seed), None, 1, &c).unwrap();
        assert_eq!(random, again);
        assert_ne!(entropy_seed(), entropy_seed());
    }

    #[test]
    fn cancel_stops() {
        let r = count_inside(1 << 40, 0, None, 2, &AtomicBool::new(true));
        assert_eq!(r, Err(KernelError::Interrupted));
    }
}
