//! `hpkit._native` functions behind the primes part of `hpkit.kernels`: extract and
//! validate, release the GIL, convert back. The algorithms are in `hpkit_kernels::primes`.
//!
//! Integers arrive as Python ints and are checked here, so a negative value or one of
//! 2**64 and more is an `InvalidInputError` naming the argument, not pyo3's generic
//! `OverflowError`. Range ends may be exactly 2**64 (the end of the u64 range): the one
//! number that excludes, 2**64 - 1, is composite, so the range is the same primes.

use crate::errors::{IntoPyResult, InvalidInputError, InvalidTypeError};
use crate::interrupt::run_interruptible;
use hpkit_kernels::pool;
use hpkit_kernels::primes;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::exceptions::{PyOverflowError, PyValueError};
use pyo3::prelude::*;

/// `value` as a u64, with errors that say which argument was wrong and how.
fn to_u64(value: &Bound<'_, PyAny>, name: &str) -> PyResult<u64> {
    match value.extract::<u64>() {
        Ok(v) => Ok(v),
        Err(e) if e.is_instance_of::<PyOverflowError>(value.py()) => {
            let message = if value.lt(0)? {
                format!("{name} must be >= 0, got {value}")
            } else {
                format!("{name} must be < 2**64, got {value}")
            };
            Err(InvalidInputError::new_err(message))
        }
        Err(_) => Err(InvalidTypeError::new_err(format!(
            "{name} must be an integer, got {}",
            value.get_type().name()?
        ))),
    }
}

/// A range end: like [`to_u64`] but also accepting exactly 2**64, read as 2**64 - 1
/// (composite, so `[lo, 2**64)` and `[lo, 2**64 - 1)` hold the same primes).
fn to_range_end(value: &Bound<'_, PyAny>, name: &str) -> PyResult<u64> {
    match to_u64(value, name) {
        Err(e) if e.is_instance_of::<InvalidInputError>(value.py()) && value.eq(1u128 << 64)? => {
            Ok(u64::MAX)
        }
        other => other,
    }
}

fn threads(threads: Option<i64>) -> PyResult<usize> {
    pool::resolve_threads(threads).py()
}

fn not_contiguous(name: &str) -> PyErr {
    PyValueError::new_err(format!("{name} must be a C-contiguous array"))
}

/// Deterministic primality of one u64 (sub-microsecond: the GIL is kept).
#[pyfunction]
fn is_prime(n: &Bound<'_, PyAny>) -> PyResult<bool> {
    Ok(primes::is_prime(to_u64(n, "n")?))
}

/// Trial division: correct, or the book's chapter 9 rule with `book_rule`.
#[pyfunction]
fn is_prime_trial(
    py: Python<'_>,
    n: &Bound<'_, PyAny>,
    book_rule: bool,
    threads: Option<i64>,
) -> PyResult<bool> {
    let n = to_u64(n, "n")?;
    let threads = self::threads(threads)?;
    run_interruptible(py, primes::trial_is_quick(n), |cancel| {
        primes::is_prime_trial(n, book_rule, threads, cancel)
    })
}

/// The smallest prime factor of `n >= 2`.
#[pyfunction]
fn smallest_factor(py: Python<'_>, n: &Bound<'_, PyAny>) -> PyResult<u64> {
    let n = to_u64(n, "n")?;
    py.detach(|| primes::smallest_factor(n)).py()
}

/// The number of primes in `[lo, hi)`.
#[pyfunction]
fn count_primes(
    py: Python<'_>,
    lo: &Bound<'_, PyAny>,
    hi: &Bound<'_, PyAny>,
    threads: Option<i64>,
) -> PyResult<u64> {
    let (lo, hi) = (to_range_end(lo, "lo")?, to_range_end(hi, "hi")?);
    let threads = self::threads(threads)?;
    run_interruptible(py, primes::sieve_is_quick(lo, hi), |cancel| {
        primes::count_primes(lo, hi, threads, cancel)
    })
}

/// The primes in `[lo, hi)` as a uint64 array (the Vec becomes the array: no copy).
#[pyfunction]
fn primes_between<'py>(
    py: Python<'py>,
    lo: &Bound<'py, PyAny>,
    hi: &Bound<'py, PyAny>,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyArray1<u64>>> {
    let (lo, hi) = (to_range_end(lo, "lo")?, to_range_end(hi, "hi")?);
    let threads = self::threads(threads)?;
    let found = run_interruptible(py, primes::sieve_is_quick(lo, hi), |cancel| {
        primes::primes_between(lo, hi, threads, cancel)
    })?;
    Ok(found.into_pyarray(py))
}

/// Deterministic primality of every value of a contiguous uint64 array.
#[pyfunction]
fn is_prime_many<'py>(
    py: Python<'py>,
    values: PyReadonlyArray1<'py, u64>,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyArray1<bool>>> {
    let threads = self::threads(threads)?;
    let values = values.as_slice().map_err(|_| not_contiguous("values"))?;
    let flags = run_interruptible(py, primes::many_is_quick(values.len()), |cancel| {
        primes::is_prime_many(values, threads, cancel)
    })?;
    Ok(flags.into_pyarray(py))
}

/// Trial division of every value of a contiguous uint64 array.
#[pyfunction]
fn is_prime_trial_many<'py>(
    py: Python<'py>,
    values: PyReadonlyArray1<'py, u64>,
    book_rule: bool,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyArray1<bool>>> {
    let threads = self::threads(threads)?;
    let values = values.as_slice().map_err(|_| not_contiguous("values"))?;
    let flags = run_interruptible(py, primes::trial_many_is_quick(values), |cancel| {
        primes::is_prime_trial_many(values, book_rule, threads, cancel)
    })?;
    Ok(flags.into_pyarray(py))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(is_prime, m)?)?;
    m.add_function(wrap_pyfunction!(is_prime_trial, m)?)?;
    m.add_function(wrap_pyfunction!(smallest_factor, m)?)?;
    m.add_function(wrap_pyfunction!(count_primes, m)?)?;
    m.add_function(wrap_pyfunction!(primes_between, m)?)?;
    m.add_function(wrap_pyfunction!(is_prime_many, m)?)?;
    m.add_function(wrap_pyfunction!(is_prime_trial_many, m)?)?;
    Ok(())
}
