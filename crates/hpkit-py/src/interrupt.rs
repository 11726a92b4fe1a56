//! Long calls without the GIL that still stop on Ctrl-C.
//!
//! The work runs on the rayon pool while the calling thread, usually Python's main thread
//! (the only one on which Python runs signal handlers), wakes every [`POLL`] to run them.
//! When a handler raises (KeyboardInterrupt), the shared cancel flag is set; kernels check
//! it between rows, chunks or a few thousand iterations, return
//! `KernelError::Interrupted`, and the exception the handler raised is what the caller sees.

use crate::errors::IntoPyResult;
use hpkit_kernels::{pool, KernelError, Result};
use pyo3::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const POLL: Duration = Duration::from_millis(50);

/// Run `work` without the GIL, stoppable by Ctrl-C. `quick` work (a bound says it takes
/// well under [`POLL`]) runs directly on the calling thread: no hop to the pool, no polling.
pub fn run_interruptible<R, F>(py: Python<'_>, quick: bool, work: F) -> PyResult<R>
where
    R: Send,
    F: FnOnce(&AtomicBool) -> Result<R> + Send,
{
    let cancel = AtomicBool::new(false);
    if quick {
        return py.detach(|| work(&cancel)).py();
    }
    let mut signal_error = None;
    let result = py.detach(|| {
        pool::run_polling(
            || work(&cancel),
            POLL,
            || {
                if signal_error.is_none() {
                    if let Err(e) = Python::attach(|py| py.check_signals()) {
                        cancel.store(true, Ordering::Relaxed);
                        signal_error = Some(e);
                    }
                }
            },
        )
    });
    if let Some(e) = signal_error {
        return Err(e);
    }
    result
        .and_then(|r| r.ok_or(KernelError::Interrupted))
        .and_then(|r| r)
        .py()
}
