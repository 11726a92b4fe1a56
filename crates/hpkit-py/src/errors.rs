//! The one exhaustive mapping from the crates' error enums to Python exceptions.
//! The classes live in `hpkit/errors.py`, rooted at `hpkit.HpkitError`, each also a
//! subclass of the stdlib exception whose meaning matches.

use hpkit_kernels::KernelError;
use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::PyErr;

pyo3::import_exception!(hpkit.errors, InvalidInputError);
pyo3::import_exception!(hpkit.errors, TooLargeError);
pyo3::import_exception!(hpkit.errors, UnsupportedError);
pyo3::import_exception!(hpkit.errors, HpkitOverflowError);

pub fn kernel_error(e: KernelError) -> PyErr {
    match e {
        KernelError::InvalidArgument(msg) => InvalidInputError::new_err(msg),
        KernelError::TooLarge { .. } => TooLargeError::new_err(e.to_string()),
        KernelError::Unsupported(_) => UnsupportedError::new_err(e.to_string()),
        KernelError::Overflow(msg) => HpkitOverflowError::new_err(msg),
        KernelError::Interrupted => PyKeyboardInterrupt::new_err(()),
    }
}

/// `result.py()?` turns a crate error into the matching Python exception.
pub trait IntoPyResult<T> {
    fn py(self) -> pyo3::PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, KernelError> {
    fn py(self) -> pyo3::PyResult<T> {
        self.map_err(kernel_error)
    }
}
