//! Long calls without the GIL that still stop on Ctrl-C.
//!
//! The work runs on a helper thread (which drives the rayon pool) while the calling thread,
//! usually Python's main thread, wakes every [`POLL`] to run Python's signal handlers. When
//! a handler raises (KeyboardInterrupt), the shared cancel flag is set; kernels check it
//! between rows or chunks, return `KernelError::Interrupted`, and the Python exception the
//! handler raised is what the caller sees.

use crate::errors::IntoPyResult;
use hpkit_kernels::Result;
use pyo3::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

const POLL: Duration = Duration::from_millis(50);

pub fn run_interruptible<R, F>(py: Python<'_>, work: F) -> PyResult<R>
where
    R: Send,
    F: FnOnce(&AtomicBool) -> Result<R> + Send,
{
    let cancel = AtomicBool::new(false);
    let (result, signal_error) = py.detach(|| {
        std::thread::scope(|scope| {
            let (tx, rx) = mpsc::channel();
            let cancel = &cancel;
            scope.spawn(move || {
                // The receiver outlives this thread inside the scope; a send cannot fail.
                let _ = tx.send(work(cancel));
            });
            let mut signal_error = None;
            loop {
                match rx.recv_timeout(POLL) {
                    Ok(result) => return (result, signal_error),
                    Err(mpsc::RecvTimeoutError::Timeout) if signal_error.is_none() => {
                        if let Err(e) = Python::attach(|py| py.check_signals()) {
                            cancel.store(true, Ordering::Relaxed);
                            signal_error = Some(e);
                        }
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        // The worker panicked: let the scope re-raise it as a PanicException.
                        return (Err(hpkit_kernels::KernelError::Interrupted), signal_error);
                    }
                }
            }
        })
    });
    match signal_error {
        Some(e) => Err(e),
        None => result.py(),
    }
}
