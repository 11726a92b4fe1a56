//! `hpkit._native` functions behind `hpkit.kernels`: extract, release the GIL, convert back.
//! Output arrays are allocated by the Python layer (numpy raises a proper MemoryError there)
//! and passed in as `out`; the Python layer also checks their dtype and shape.

use crate::errors::IntoPyResult;
use crate::interrupt::run_interruptible;
use hpkit_kernels::julia::{self, Bounds, Escape, Grid};
use hpkit_kernels::simd::{self, Simd};
use hpkit_kernels::{pool, Complex64};
use numpy::{
    IntoPyArray, PyArray1, PyReadonlyArray1, PyReadonlyArrayDyn, PyReadwriteArray2,
    PyReadwriteArrayDyn,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

fn not_contiguous(name: &str) -> PyErr {
    PyValueError::new_err(format!("{name} must be a C-contiguous array"))
}

type Axes<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>);

/// The x axis and y axis (top to bottom) of the book's Julia grid.
#[pyfunction]
fn julia_axes<'py>(
    py: Python<'py>,
    width: i64,
    bounds: (f64, f64, f64, f64),
    grid: &str,
) -> PyResult<Axes<'py>> {
    let (x1, x2, y1, y2) = bounds;
    let grid = Grid::parse(grid).py()?;
    let (xs, ys) = py
        .detach(|| julia::grid_axes(width, Bounds { x1, x2, y1, y2 }, grid))
        .py()?;
    Ok((xs.into_pyarray(py), ys.into_pyarray(py)))
}

fn escape_params(
    c: Complex64,
    max_iter: i64,
    threads: Option<i64>,
    simd: &str,
) -> PyResult<(Escape, usize)> {
    let esc = Escape::new(c, max_iter, Simd::parse(simd).py()?).py()?;
    Ok((esc, pool::resolve_threads(threads).py()?))
}

/// Escape counts of the grid `xs` x `ys` into `out` (shape `(len(ys), len(xs))`).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn julia_into(
    py: Python<'_>,
    xs: PyReadonlyArray1<'_, f64>,
    ys: PyReadonlyArray1<'_, f64>,
    c: Complex64,
    max_iter: i64,
    mut out: PyReadwriteArray2<'_, i32>,
    threads: Option<i64>,
    simd: &str,
) -> PyResult<()> {
    let (esc, threads) = escape_params(c, max_iter, threads, simd)?;
    let xs = xs.as_slice().map_err(|_| not_contiguous("xs"))?;
    let ys = ys.as_slice().map_err(|_| not_contiguous("ys"))?;
    let out = out.as_slice_mut().map_err(|_| not_contiguous("out"))?;
    run_interruptible(py, esc.runs_inline(out.len()), |cancel| {
        julia::julia_grid(xs, ys, &esc, out, threads, cancel)
    })
}

/// Escape counts of every point of `zs` into `out` (same shape).
#[pyfunction]
fn escape_time_into(
    py: Python<'_>,
    zs: PyReadonlyArrayDyn<'_, Complex64>,
    c: Complex64,
    max_iter: i64,
    mut out: PyReadwriteArrayDyn<'_, i32>,
    threads: Option<i64>,
    simd: &str,
) -> PyResult<()> {
    let (esc, threads) = escape_params(c, max_iter, threads, simd)?;
    let zs = zs.as_slice().map_err(|_| not_contiguous("zs"))?;
    let out = out.as_slice_mut().map_err(|_| not_contiguous("out"))?;
    run_interruptible(py, esc.runs_inline(out.len()), |cancel| {
        julia::escape_points(zs, &esc, out, threads, cancel)
    })
}

/// Names of the SIMD paths this CPU can run, narrowest first.
#[pyfunction]
fn simd_paths() -> Vec<&'static str> {
    Simd::available().into_iter().map(Simd::name).collect()
}

/// The path `simd="auto"` picks.
#[pyfunction]
fn best_simd() -> &'static str {
    Simd::best().name()
}

/// CPU features detected at run time.
#[pyfunction]
fn cpu_features() -> Vec<&'static str> {
    simd::cpu_features()
}

/// Threads used when `threads=None` (`HPKIT_NUM_THREADS`, default all cores).
#[pyfunction]
fn default_threads() -> usize {
    pool::default_threads()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(julia_axes, m)?)?;
    m.add_function(wrap_pyfunction!(julia_into, m)?)?;
    m.add_function(wrap_pyfunction!(escape_time_into, m)?)?;
    m.add_function(wrap_pyfunction!(simd_paths, m)?)?;
    m.add_function(wrap_pyfunction!(best_simd, m)?)?;
    m.add_function(wrap_pyfunction!(cpu_features, m)?)?;
    m.add_function(wrap_pyfunction!(default_threads, m)?)?;
    Ok(())
}
