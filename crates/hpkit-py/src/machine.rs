//! `hpkit._native` functions behind `hpkit.machine`: the measured limits of this machine
//! (STREAM bandwidth, peak floating-point throughput). The probes run without the GIL and
//! stop on Ctrl-C between repetitions; the algorithms are in `hpkit_kernels::probe`.

use crate::errors::IntoPyResult;
use crate::interrupt::run_interruptible;
use hpkit_kernels::pool;
use hpkit_kernels::probe::{self, FlopKind, StreamKernel};
use hpkit_kernels::simd::Simd;
use pyo3::prelude::*;

/// STREAM-style bandwidth on arrays of `length` f64 each, allocated once: for every thread
/// count of `threads` (outer) and kernel of `kernels` ("copy", "triad"), about `seconds`
/// of repetitions, best kept. Returns `(kernel, threads, footprint_bytes, gb_per_s)` tuples.
#[pyfunction]
#[pyo3(signature = (length, threads, kernels = vec!["copy".to_owned(), "triad".to_owned()], seconds = 0.2))]
fn stream_bandwidth(
    py: Python<'_>,
    length: i64,
    threads: Vec<i64>,
    kernels: Vec<String>,
    seconds: f64,
) -> PyResult<Vec<(&'static str, usize, u64, f64)>> {
    let threads = threads
        .into_iter()
        .map(|t| pool::resolve_threads(Some(t)))
        .collect::<Result<Vec<_>, _>>()
        .py()?;
    let kernels = kernels
        .iter()
        .map(|k| StreamKernel::parse(k))
        .collect::<Result<Vec<_>, _>>()
        .py()?;
    let budget = probe::budget(seconds).py()?;
    let results = run_interruptible(py, false, |cancel| {
        probe::bandwidth_suite(length, &threads, &kernels, budget, cancel)
    })?;
    Ok(results
        .into_iter()
        .map(|b| (b.kernel.name(), b.threads, b.footprint_bytes, b.gb_per_s))
        .collect())
}

/// Peak GFLOP/s of `kind` ("fma" or "mul_add") on the `simd` path ("auto" = widest) with
/// `threads` workers (default: all), measured for about `seconds`.
#[pyfunction]
#[pyo3(signature = (kind, simd = "auto", threads = None, seconds = 0.1))]
fn peak_flops(
    py: Python<'_>,
    kind: &str,
    simd: &str,
    threads: Option<i64>,
    seconds: f64,
) -> PyResult<f64> {
    let kind = FlopKind::parse(kind).py()?;
    let simd = Simd::parse(simd).py()?;
    let threads = pool::resolve_threads(threads).py()?;
    let budget = probe::budget(seconds).py()?;
    let r = run_interruptible(py, false, |cancel| {
        probe::peak_flops(kind, simd, threads, budget, cancel)
    })?;
    Ok(r.gflops)
}

/// Names of the flop kinds the `simd` path can run in hardware on this CPU.
#[pyfunction]
fn flop_kinds(simd: &str) -> PyResult<Vec<&'static str>> {
    let simd = Simd::parse(simd).py()?;
    Ok(FlopKind::ALL
        .into_iter()
        .filter(|k| k.is_available(simd))
        .map(FlopKind::name)
        .collect())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(stream_bandwidth, m)?)?;
    m.add_function(wrap_pyfunction!(peak_flops, m)?)?;
    m.add_function(wrap_pyfunction!(flop_kinds, m)?)?;
    Ok(())
}
