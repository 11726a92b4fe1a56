//! Primes (book chapter 9, "multiprocessing"): the chapter's trial division, fast
//! primality, smallest prime factors, and a segmented sieve for counting and listing.
//!
//! * [`is_prime`] - deterministic for every `u64`: trial division by the small primes, a
//!   strong base-2 Miller-Rabin test and one more with a witness picked from a precomputed
//!   table (the `machine-prime` crate; proven correct below 2^64 against Feitsma's list
//!   of base-2 pseudoprimes). About 0.5 µs on an 18-digit prime.
//! * [`is_prime_trial`] - the chapter's algorithm: odd divisors up to the square root. By
//!   default it is correct; `book_rule` reproduces the chapter's checker exactly (even ->
//!   not prime, so 2 is reported composite; odd divisors below `int(sqrt(n) + 1)` with a
//!   float square root; 1 is reported prime). With several threads the divisor range is
//!   split across workers that stop as soon as one finds a divisor (the chapter's
//!   "early exit with a shared flag", W9.3).
//! * [`smallest_factor`] - trial division, then Pollard-Brent rho and primality tests
//!   for a full factorisation; the smallest prime factor of any u64 in milliseconds.
//! * [`count_primes`], [`primes_between`], [`primes_below`] - the segmented wheel sieve of
//!   [`sieve`] (the primesieve techniques: pre-sieved patterns, L1/L2 cache blocking,
//!   unrolled wheel loops, popcount), segments spread over the threads.
//! * [`is_prime_many`], [`is_prime_trial_many`] - the bulk versions, in parallel.
//!
//! Every range is half-open, `[lo, hi)`. Long calls take a cancel flag, checked between
//! segments, chunks or a few hundred thousand divisions, and return
//! [`KernelError::Interrupted`] once it is set.

mod factor;
mod sieve;

use crate::error::{invalid, KernelError, Result};
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether `n` is prime; exact for every `u64`.
#[inline]
pub fn is_prime(n: u64) -> bool {
    machine_prime::is_prime(n)
}

/// The smallest prime factor of `n` (`n` itself when it is prime); `n >= 2`.
pub fn smallest_factor(n: u64) -> Result<u64> {
    if n < 2 {
        return Err(invalid(format!(
            "n must be at least 2 to have a prime factor, got {n}"
        )));
    }
    Ok(factor::smallest_prime_factor(n))
}

/// Divisions between two looks at the cancel flag (well under a millisecond).
const DIVISIONS_PER_CHECK: u64 = 1 << 16;
/// Odd divisors per task when one number's trial division is split over threads (about
/// 0.1 ms of divisions: the early exit waits at most that long for the other workers).
const DIVISORS_PER_TASK: u64 = 1 << 15;

/// The exclusive upper bound of the odd divisors tried for `n`.
fn trial_upper(n: u64, book_rule: bool) -> u64 {
    if book_rule {
        // The chapter: `range(3, int(math.sqrt(n) + 1), 2)`, float square root and all.
        ((n as f64).sqrt() + 1.0) as u64
    } else {
        n.isqrt() + 1
    }
}

/// Trial division's answer for the numbers no divisor is tried on: `Some(answer)` for
/// even `n` (and 0, 1, 2, 3), `None` when the odd divisors must be tried.
fn trial_trivial(n: u64, book_rule: bool) -> Option<bool> {
    if book_rule {
        return n.is_multiple_of(2).then_some(false);
    }
    match n {
        0 | 1 => Some(false),
        2 | 3 => Some(true),
        _ if n.is_multiple_of(2) => Some(false),
        _ => None,
    }
}

/// The first odd divisor of `n` in `[from, to)` (`from` odd), checking `cancel` regularly.
fn first_odd_divisor(n: u64, from: u64, to: u64, cancel: &AtomicBool) -> Result<Option<u64>> {
    let mut d = from;
    while d < to {
        let stop = to.min(d.saturating_add(2 * DIVISIONS_PER_CHECK));
        while d < stop {
            if n.is_multiple_of(d) {
                return Ok(Some(d));
            }
            d += 2;
        }
        if cancel.load(Ordering::Relaxed) {
            return Err(KernelError::Interrupted);
        }
    }
    Ok(None)
}

/// Primality by trial division (the chapter's algorithm). Correct for every `u64` unless
/// `book_rule`, which reproduces the chapter's checker including its two wrong answers (1
/// is "prime", 2 is "not prime"; it is exact for n >= 3). With `threads > 1` the divisors
/// are split into blocks shared by the workers, which all stop once a divisor is found.
/// Up to 2^31 divisions for a prime near 2^64 (seconds): cancellable.
pub fn is_prime_trial(
    n: u64,
    book_rule: bool,
    threads: usize,
    cancel: &AtomicBool,
) -> Result<bool> {
    if let Some(answer) = trial_trivial(n, book_rule) {
        return Ok(answer);
    }
    let upper = trial_upper(n, book_rule);
    if threads <= 1 || upper < 8 * DIVISORS_PER_TASK {
        return Ok(first_odd_divisor(n, 3, upper, cancel)?.is_none());
    }
    let blocks = (upper - 3).div_ceil(2 * DIVISORS_PER_TASK);
    let found = crate::pool::install(threads, || {
        (0..blocks).into_par_iter().find_map_any(|b| {
            let from = 3 + b * 2 * DIVISORS_PER_TASK;
            let to = upper.min(from + 2 * DIVISORS_PER_TASK);
            first_odd_divisor(n, from, to, cancel).transpose()
        })
    })?;
    match found {
        None => Ok(true),
        Some(Ok(_divisor)) => Ok(false),
        Some(Err(e)) => Err(e),
    }
}

/// Whether [`is_prime_trial`] of `n` is bounded well under 50 ms (no need to poll Ctrl-C).
pub fn trial_is_quick(n: u64) -> bool {
    n < 1 << 36
}

/// Values per parallel task in the bulk tests.
const VALUES_PER_TASK: usize = 2048;

/// [`is_prime`] of every value, in parallel.
pub fn is_prime_many(values: &[u64], threads: usize, cancel: &AtomicBool) -> Result<Vec<bool>> {
    let mut out = vec![false; values.len()];
    let task = |(out, values): (&mut [bool], &[u64])| {
        if cancel.load(Ordering::Relaxed) {
            return Err(KernelError::Interrupted);
        }
        for (o, &v) in out.iter_mut().zip(values) {
            *o = is_prime(v);
        }
        Ok(())
    };
    if values.len() <= VALUES_PER_TASK || threads <= 1 {
        out.chunks_mut(VALUES_PER_TASK)
            .zip(values.chunks(VALUES_PER_TASK))
            .try_for_each(task)?;
    } else {
        crate::pool::install(threads, || {
            out.par_chunks_mut(VALUES_PER_TASK)
                .zip(values.par_chunks(VALUES_PER_TASK))
                .try_for_each(task)
        })??;
    }
    Ok(out)
}

/// Whether [`is_prime_many`] on `len` values is bounded well under 50 ms.
pub fn many_is_quick(len: usize) -> bool {
    len <= 1 << 14
}

/// [`is_prime_trial`] of every value (each on one thread), values spread over the threads.
pub fn is_prime_trial_many(
    values: &[u64],
    book_rule: bool,
    threads: usize,
    cancel: &AtomicBool,
) -> Result<Vec<bool>> {
    let one = |v: u64| is_prime_trial(v, book_rule, 1, cancel);
    if threads <= 1 {
        return values.iter().map(|&v| one(v)).collect();
    }
    crate::pool::install(threads, || values.par_iter().map(|&v| one(v)).collect())?
}

/// Whether [`is_prime_trial_many`] on these values is bounded well under 50 ms.
pub fn trial_many_is_quick(values: &[u64]) -> bool {
    values.len() <= 1024 && values.iter().all(|&v| v < 1 << 24)
}

fn check_range(lo: u64, hi: u64) -> Result<()> {
    if lo > hi {
        return Err(invalid(format!(
            "the range [lo, hi) must have lo <= hi, got lo={lo}, hi={hi}"
        )));
    }
    Ok(())
}

/// The primes 2, 3, 5 (not on the wheel) that lie in `[lo, hi)`.
fn wheel_primes(lo: u64, hi: u64) -> impl Iterator<Item = u64> {
    [2, 3, 5].into_iter().filter(move |p| (lo..hi).contains(p))
}

/// Chunks per thread: spare chunks let a thread that finishes early (the machine is
/// shared, later segments have more sieving primes) take more work.
const CHUNKS_PER_THREAD: usize = 8;

/// Whether a sieve call on `[lo, hi)` is bounded well under 50 ms.
pub fn sieve_is_quick(lo: u64, hi: u64) -> bool {
    hi.saturating_sub(lo) <= 1 << 20
}

/// The number of primes in `[lo, hi)`.
pub fn count_primes(lo: u64, hi: u64, threads: usize, cancel: &AtomicBool) -> Result<u64> {
    check_range(lo, hi)?;
    if lo == hi {
        return Ok(0);
    }
    let plan = sieve::Plan::new(lo, hi, cancel)?;
    let chunks = plan.chunks(threads * CHUNKS_PER_THREAD);
    let count_chunk = |chunk: &std::ops::Range<u64>| {
        let mut n = 0;
        plan.run(chunk.clone(), cancel, |seg, _| n += sieve::count_bits(seg))?;
        Ok(n)
    };
    let sieved: u64 = if chunks.len() <= 1 || threads <= 1 {
        chunks.iter().map(count_chunk).sum::<Result<u64>>()?
    } else {
        crate::pool::install(threads, || {
            chunks.par_iter().map(count_chunk).sum::<Result<u64>>()
        })??
    };
    Ok(sieved + wheel_primes(lo, hi).count() as u64)
}

/// An upper bound on the number of primes in `[lo, hi)`, to refuse outputs beyond RAM:
/// the wheel's candidates, `pi(x) < 1.25506 x / ln x` (Rosser & Schoenfeld 1962) and
/// `pi(x + y) - pi(x) <= 2y / ln y` (Montgomery & Vaughan 1973).
fn count_upper_bound(lo: u64, hi: u64) -> u128 {
    let width = hi - lo;
    let wheel = u128::from(width) * 8 / 30 + 11;
    let mut bound = wheel as f64;
    if width > 1 {
        bound = bound.min(2.0 * width as f64 / (width as f64).ln());
    }
    if hi > 1 {
        bound = bound.min(1.25506 * hi as f64 / (hi as f64).ln());
    }
    (bound as u128 + 16).min(wheel)
}

/// The primes in `[lo, hi)`, ascending.
pub fn primes_between(lo: u64, hi: u64, threads: usize, cancel: &AtomicBool) -> Result<Vec<u64>> {
    check_range(lo, hi)?;
    crate::limits::check_fits("the array of primes", count_upper_bound(lo, hi) * 8)?;
    let mut out: Vec<u64> = wheel_primes(lo, hi).collect();
    if lo == hi {
        return Ok(out);
    }
    let plan = sieve::Plan::new(lo, hi, cancel)?;
    let collect_into = |out: &mut Vec<u64>, chunk: &std::ops::Range<u64>| {
        plan.run(chunk.clone(), cancel, |seg, b0| {
            out.reserve(sieve::count_bits(seg) as usize);
            sieve::for_each_prime(seg, b0, |p| out.push(p));
        })
    };
    let chunks = plan.chunks(threads * CHUNKS_PER_THREAD);
    if chunks.len() <= 1 || threads <= 1 {
        for chunk in &chunks {
            collect_into(&mut out, chunk)?;
        }
        return Ok(out);
    }
    // A few chunks per thread at a time, appended in order, so the memory beyond the
    // result is bounded by one wave of chunks rather than a second copy of the result.
    crate::pool::install(threads, || {
        for wave in chunks.chunks(2 * threads) {
            let parts = wave
                .par_iter()
                .map(|chunk| {
                    let mut part = Vec::new();
                    collect_into(&mut part, chunk).map(|()| part)
                })
                .collect::<Result<Vec<_>>>()?;
            for part in parts {
                out.extend_from_slice(&part);
            }
        }
        Ok(())
    })??;
    Ok(out)
}

/// The primes below `n`, ascending.
pub fn primes_below(n: u64, threads: usize, cancel: &AtomicBool) -> Result<Vec<u64>> {
    primes_between(0, n, threads, cancel)
}

#[cfg(test)]
mod tests;
