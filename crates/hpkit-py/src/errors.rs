//! The one exhaustive mapping from the crates' error enums to Python exceptions.
//! The classes live in `hpkit/errors.py`, rooted at `hpkit.HpkitError`, each also a
//! subclass of the stdlib exception whose meaning matches.

use hpkit_kernels::KernelError;
use hpkit_sketch::SketchError;
use hpkit_text::TextError;
use pyo3::exceptions::{PyKeyboardInterrupt, PyOSError};
use pyo3::PyErr;

pyo3::import_exception!(hpkit.errors, InvalidInputError);
pyo3::import_exception!(hpkit.errors, TooLargeError);
pyo3::import_exception!(hpkit.errors, CorruptDataError);
pyo3::import_exception!(hpkit.errors, InvalidTypeError);
pyo3::import_exception!(hpkit.errors, UnsupportedError);
pyo3::import_exception!(hpkit.errors, HpkitOverflowError);
pyo3::import_exception!(hpkit.errors, BusyError);

pub fn kernel_error(e: KernelError) -> PyErr {
    match e {
        KernelError::InvalidArgument(msg) => InvalidInputError::new_err(msg),
        KernelError::TooLarge { .. } => TooLargeError::new_err(e.to_string()),
        KernelError::Unsupported(_) => UnsupportedError::new_err(e.to_string()),
        KernelError::Overflow(msg) => HpkitOverflowError::new_err(msg),
        KernelError::Interrupted => PyKeyboardInterrupt::new_err(()),
    }
}

pub fn sketch_error(e: SketchError) -> PyErr {
    match e {
        SketchError::InvalidArgument(msg) => InvalidInputError::new_err(msg),
        SketchError::Corrupt(_) => CorruptDataError::new_err(e.to_string()),
        SketchError::Incompatible(_) => InvalidInputError::new_err(e.to_string()),
    }
}

/// File errors become the `OSError` subclass their errno picks (`FileNotFoundError`,
/// `PermissionError`, ...), with the file name set.
pub fn text_error(e: TextError) -> PyErr {
    match e {
        TextError::InvalidArgument(msg) => InvalidInputError::new_err(msg),
        TextError::Corrupt(_) => CorruptDataError::new_err(e.to_string()),
        TextError::Io { path, source } => match source.raw_os_error() {
            Some(errno) => {
                let message = source.to_string();
                let strerror = message
                    .strip_suffix(&format!(" (os error {errno})"))
                    .unwrap_or(&message)
                    .to_owned();
                PyOSError::new_err((errno, strerror, path))
            }
            None => PyErr::from(source),
        },
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

impl<T> IntoPyResult<T> for Result<T, SketchError> {
    fn py(self) -> pyo3::PyResult<T> {
        self.map_err(sketch_error)
    }
}

impl<T> IntoPyResult<T> for Result<T, TextError> {
    fn py(self) -> pyo3::PyResult<T> {
        self.map_err(text_error)
    }
}
