//! `hpkit._native` functions behind `hpkit.kernels.norm`, `sum_of_squares`,
//! `estimate_pi` and `count_in_circle`: extract, release the GIL, convert back.
//!
//! Arrays arrive as 1-D `int64`/`float64` numpy arrays, borrowed without a copy; the Python
//! layer (`hpkit/kernels.py`) converts lists, ranges and other dtypes and makes them
//! C-contiguous (a strided array is copied once there), so a non-contiguous array here is
//! refused with `InvalidInputError`.

use crate::errors::IntoPyResult;
use crate::interrupt::run_interruptible;
use hpkit_kernels::simd::Simd;
use hpkit_kernels::{norm, pi, pool, KernelError};
use numpy::{Element, PyReadonlyArray1};
use pyo3::prelude::*;
use std::sync::atomic::AtomicBool;

/// `"auto"` -> `None` (each kernel picks its best path), otherwise the named path.
fn simd_choice(name: &str) -> PyResult<Option<Simd>> {
    if name == "auto" {
        Ok(None)
    } else {
        Simd::parse(name).map(Some).py()
    }
}

fn contiguous<'a, T: Element>(x: &'a PyReadonlyArray1<'_, T>) -> PyResult<&'a [T]> {
    x.as_slice()
        .map_err(|_| KernelError::InvalidArgument("x must be a C-contiguous array".into()))
        .py()
}

/// A norm-module reduction `kernel` over `x`, without the GIL and stoppable by Ctrl-C.
fn reduce<T: Element + Sync, R: Send>(
    py: Python<'_>,
    x: &PyReadonlyArray1<'_, T>,
    threads: Option<i64>,
    simd: &str,
    kernel: fn(&[T], Option<Simd>, usize, &AtomicBool) -> hpkit_kernels::Result<R>,
) -> PyResult<R> {
    let (simd, threads) = (simd_choice(simd)?, pool::resolve_threads(threads).py()?);
    let x = contiguous(x)?;
    run_interruptible(py, norm::runs_inline(x.len()), |cancel| {
        kernel(x, simd, threads, cancel)
    })
}

/// Exact `Σ v²` of an int64 array, as a Python int (raises on overflow beyond 2**128 - 1).
#[pyfunction]
fn sum_of_squares_i64(
    py: Python<'_>,
    x: PyReadonlyArray1<'_, i64>,
    threads: Option<i64>,
    simd: &str,
) -> PyResult<u128> {
    reduce(py, &x, threads, simd, norm::sum_of_squares_i64)
}

/// Compensated (Dot2) `Σ x²` of a float64 array.
#[pyfunction]
fn sum_of_squares_f64(
    py: Python<'_>,
    x: PyReadonlyArray1<'_, f64>,
    threads: Option<i64>,
    simd: &str,
) -> PyResult<f64> {
    reduce(py, &x, threads, simd, norm::sum_of_squares_f64)
}

/// `sqrt(Σ v²)` of an int64 array, correctly rounded from the exact sum.
#[pyfunction]
fn norm_i64(
    py: Python<'_>,
    x: PyReadonlyArray1<'_, i64>,
    threads: Option<i64>,
    simd: &str,
) -> PyResult<f64> {
    reduce(py, &x, threads, simd, norm::norm_i64)
}

/// `sqrt(Σ x²)` of a float64 array (about one ulp; no spurious overflow or underflow).
#[pyfunction]
fn norm_f64(
    py: Python<'_>,
    x: PyReadonlyArray1<'_, f64>,
    threads: Option<i64>,
    simd: &str,
) -> PyResult<f64> {
    reduce(py, &x, threads, simd, norm::norm_f64)
}

/// `(inside, n_samples, seed)`: darts inside the quarter circle among the first
/// `n_samples` of the counter-based SplitMix64 stream `seed` (`None`: from OS entropy).
#[pyfunction]
fn count_in_circle(
    py: Python<'_>,
    n_samples: i64,
    seed: Option<u64>,
    threads: Option<i64>,
    simd: &str,
) -> PyResult<(u64, u64, u64)> {
    let (simd, threads) = (simd_choice(simd)?, pool::resolve_threads(threads).py()?);
    let run = run_interruptible(py, pi::runs_inline(n_samples), |cancel| {
        pi::estimate_pi(n_samples, seed, simd, threads, cancel)
    })?;
    Ok((run.inside, run.samples, run.seed))
}

/// The path `kernel` ("norm" or "pi") runs with for `simd` ("auto" resolved on this CPU).
#[pyfunction]
fn numeric_simd(kernel: &str, simd: &str) -> PyResult<&'static str> {
    let choice = simd_choice(simd)?;
    let path = match kernel {
        "norm" => norm::resolve_simd(choice),
        "pi" => pi::resolve_simd(choice),
        other => Err(KernelError::InvalidArgument(format!(
            "unknown kernel {other:?}; expected 'norm' or 'pi'"
        ))),
    };
    Ok(path.py()?.name())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sum_of_squares_i64, m)?)?;
    m.add_function(wrap_pyfunction!(sum_of_squares_f64, m)?)?;
    m.add_function(wrap_pyfunction!(norm_i64, m)?)?;
    m.add_function(wrap_pyfunction!(norm_f64, m)?)?;
    m.add_function(wrap_pyfunction!(count_in_circle, m)?)?;
    m.add_function(wrap_pyfunction!(numeric_simd, m)?)?;
    Ok(())
}
