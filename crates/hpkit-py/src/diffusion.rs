//! `hpkit._native` functions behind `hpkit.kernels.diffusion_step` / `evolve`: borrow the
//! numpy arrays (no copy), release the GIL, run the kernel stoppable by Ctrl-C.
//! The Python layer allocates `out`, checks dtypes, contiguity and aliasing; what reaches
//! here is re-checked only where a mistake could be unsafe (shapes, contiguity).

use crate::errors::IntoPyResult;
use crate::errors::{InvalidInputError, InvalidTypeError};
use crate::interrupt::run_interruptible;
use hpkit_kernels::diffusion::{self, Blocking, Coefficients, Real, Shape};
use hpkit_kernels::pool;
use hpkit_kernels::simd::Simd;
use numpy::{Element, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;

fn typed<'a, 'py, T: Element>(
    array: &'a Bound<'py, PyAny>,
    name: &str,
) -> PyResult<&'a Bound<'py, PyArrayDyn<T>>> {
    array.cast::<PyArrayDyn<T>>().map_err(|_| {
        InvalidTypeError::new_err(format!(
            "{name} must be a numpy array of dtype {}",
            std::any::type_name::<T>()
        ))
    })
}

/// `out` = `grid` advanced `steps` explicit-Euler steps (see `hpkit_kernels::diffusion`).
#[allow(clippy::too_many_arguments)]
fn evolve_typed<T: Real + Element>(
    py: Python<'_>,
    grid: &Bound<'_, PyAny>,
    out: &Bound<'_, PyAny>,
    steps: i64,
    coefficients: Coefficients,
    blocking: Option<Blocking>,
    simd: Simd,
    threads: usize,
) -> PyResult<()> {
    let grid = typed::<T>(grid, "grid")?
        .try_readonly()
        .map_err(|e| InvalidInputError::new_err(format!("grid cannot be read: {e}")))?;
    // Borrowing `out` writable fails if it shares memory with `grid` (numpy's borrow
    // checker), which is what makes the two slices below safe to use together.
    let mut out = typed::<T>(out, "out")?.try_readwrite().map_err(|e| {
        InvalidInputError::new_err(format!(
            "out must be writeable and must not share memory with the grid ({e})"
        ))
    })?;
    if grid.shape() != out.shape() {
        return Err(InvalidInputError::new_err(format!(
            "out has shape {:?}, the grid {:?}",
            out.shape(),
            grid.shape()
        )));
    }
    let shape = Shape::new(grid.shape()).py()?;
    let src = grid
        .as_slice()
        .map_err(|_| InvalidInputError::new_err("grid must be C-contiguous"))?;
    let dst = out
        .as_slice_mut()
        .map_err(|_| InvalidInputError::new_err("out must be C-contiguous"))?;
    let quick = diffusion::runs_inline(src.len(), steps.max(0) as u64);
    run_interruptible(py, quick, |cancel| {
        diffusion::evolve(
            src,
            dst,
            shape,
            coefficients,
            steps,
            blocking,
            simd,
            threads,
            cancel,
        )
    })
}

/// Advance `grid` by `steps` steps into `out` (same dtype, float32 or float64, and shape).
/// `blocking` is `(steps_per_pass, band, strip)` or `None` for the automatic choice.
#[pyfunction]
#[pyo3(signature = (grid, out, steps, dt, d, threads = None, simd = "auto", blocking = None))]
#[allow(clippy::too_many_arguments)]
fn diffusion_evolve_into(
    py: Python<'_>,
    grid: &Bound<'_, PyAny>,
    out: &Bound<'_, PyAny>,
    steps: i64,
    dt: f64,
    d: f64,
    threads: Option<i64>,
    simd: &str,
    blocking: Option<(i64, i64, i64)>,
) -> PyResult<()> {
    let coefficients = Coefficients::new(d, dt).py()?;
    let simd = Simd::parse(simd).py()?;
    let threads = pool::resolve_threads(threads).py()?;
    let blocking = blocking
        .map(|(k, band, strip)| Blocking::new(k, band, strip))
        .transpose()
        .py()?;
    if grid.cast::<PyArrayDyn<f64>>().is_ok() {
        evolve_typed::<f64>(py, grid, out, steps, coefficients, blocking, simd, threads)
    } else if grid.cast::<PyArrayDyn<f32>>().is_ok() {
        evolve_typed::<f32>(py, grid, out, steps, coefficients, blocking, simd, threads)
    } else {
        Err(InvalidTypeError::new_err(
            "grid must be a numpy array of float32 or float64",
        ))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(diffusion_evolve_into, m)?)?;
    Ok(())
}
