//! # hpkit-py
//!
//! The only binding crate: builds `hpkit._native`. Each function does three things -
//! extract and validate Python arguments, release the GIL (`py.detach`) for the heavy part,
//! convert the result back. No algorithm lives here; the algorithms are in the pure-Rust
//! crates under `crates/`. Crate errors map to Python exceptions in one place
//! ([`errors`]), and long calls stop on Ctrl-C ([`interrupt`]).

mod diffusion;
mod errors;
mod ffi;
mod interrupt;
mod kernels;
mod machine;
mod numeric;
mod primes;
mod profile;
mod sketch;
mod text;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    kernels::register(m)?;
    diffusion::register(m)?;
    ffi::register(m)?;
    machine::register(m)?;
    numeric::register(m)?;
    primes::register(m)?;
    profile::register(m)?;
    sketch::register(m)?;
    text::register(m)?;
    Ok(())
}
