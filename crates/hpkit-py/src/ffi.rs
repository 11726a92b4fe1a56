//! The chapter 7 FFI-overhead probe: one trivial Rust function reachable from Python three
//! ways - as a PyO3 function (`hpkit._native.ffi_add`), and through its C ABI export
//! (`hpkit_ffi_add` in the extension's shared library) by `ctypes` and `cffi`. The work is
//! nothing, so `hpkit lab ffi` measures what each route costs per call.

use pyo3::prelude::*;

/// `a + b` (wrapping), through PyO3: argument extraction and the result's conversion are
/// the whole cost.
#[pyfunction]
fn ffi_add(a: i64, b: i64) -> i64 {
    a.wrapping_add(b)
}

/// The same function with the C ABI, exported unmangled so `ctypes.CDLL(path)` and
/// `cffi.FFI().dlopen(path)` find it by name.
// SAFETY: exporting a symbol is "unsafe" only because two exports with one name would
// clash at link time; the `hpkit_` prefix keeps this one unique.
#[allow(unsafe_code)]
#[no_mangle]
pub extern "C" fn hpkit_ffi_add(a: i64, b: i64) -> i64 {
    a.wrapping_add(b)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(ffi_add, m)?)?;
    Ok(())
}
