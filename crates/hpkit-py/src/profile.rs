//! `hpkit._native.Collector`: one profiling session of `hpkit-profile`, driven by
//! `hpkit.profile` (which owns modes, outputs and line counting).

use hpkit_profile::{Options, ProfileError, Report, Session};
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::errors::{BusyError, InvalidInputError};

fn profile_error(e: ProfileError) -> PyErr {
    match e {
        ProfileError::InvalidArgument(msg) => InvalidInputError::new_err(msg),
        ProfileError::Busy => BusyError::new_err(e.to_string()),
        ProfileError::Os(io) => PyOSError::new_err(io.to_string()),
    }
}

/// A sampling and allocation collector. ``start()`` begins, ``stop()`` ends and returns
/// what was gathered as plain Python data. One may run per process at a time.
#[pyclass(module = "hpkit._native")]
pub struct Collector {
    options: Options,
    session: Option<Session>,
}

#[pymethods]
impl Collector {
    #[new]
    #[pyo3(signature = (*, rate_hz = 100.0, timeline_hz = 0.0, memory_sample_bytes = 0, call_opcodes = Vec::new(), signal = 0))]
    fn new(
        rate_hz: f64,
        timeline_hz: f64,
        memory_sample_bytes: u64,
        call_opcodes: Vec<u8>,
        signal: i32,
    ) -> Self {
        Collector {
            options: Options {
                rate_hz,
                timeline_hz,
                memory_sample_bytes,
                call_opcodes,
                signal,
            },
            session: None,
        }
    }

    /// Start sampling (and the allocator hooks, when ``memory_sample_bytes`` > 0).
    fn start(&mut self, py: Python<'_>) -> PyResult<()> {
        if self.session.is_some() {
            return Err(BusyError::new_err("this collector is already running"));
        }
        self.session = Some(Session::start(py, self.options.clone()).map_err(profile_error)?);
        Ok(())
    }

    /// Stop and return ``{"frames", "threads", "samples", "allocations", "freed",
    /// "timeline", "peak_heap", "unattributed_bytes", "dropped", "duration"}``.
    fn stop<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let mut session = self
            .session
            .take()
            .ok_or_else(|| InvalidInputError::new_err("this collector is not running"))?;
        py.detach(|| session.stop_threads());
        let report = session.finish(py);
        report_to_dict(py, &report)
    }

    /// Restart in a forked child (``os.register_at_fork(after_in_child=...)``).
    fn after_fork_child(&mut self, py: Python<'_>) -> PyResult<()> {
        if let Some(session) = self.session.as_mut() {
            session.after_fork_child(py).map_err(profile_error)?;
        }
        Ok(())
    }

    #[getter]
    fn running(&self) -> bool {
        self.session.is_some()
    }

    /// Seconds since ``start()`` (0 when not running).
    #[getter]
    fn elapsed(&self) -> f64 {
        self.session.as_ref().map_or(0.0, Session::elapsed)
    }
}

/// The handler of the sampling signal: takes the sample the sampler thread asked for.
#[pyfunction]
#[pyo3(signature = (_signum = 0, _frame = None))]
fn sample_signal_handler(py: Python<'_>, _signum: i32, _frame: Option<Bound<'_, PyAny>>) {
    Session::sample_here(py);
}

fn stack<'py>(py: Python<'py>, stack: &[(u32, i32)]) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(py, stack.iter().copied())
}

fn report_to_dict<'py>(py: Python<'py>, r: &Report) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let frames = PyList::empty(py);
    for f in &r.frames {
        frames.append((f.name.as_str(), f.filename.as_str(), f.firstlineno))?;
    }
    d.set_item("frames", frames)?;
    d.set_item("threads", &r.threads)?;
    let samples = PyList::empty(py);
    for (thread, state, s, v) in &r.samples {
        samples.append((*thread, *state, stack(py, s)?, v.count, v.ns as f64 * 1e-9))?;
    }
    d.set_item("samples", samples)?;
    let allocations = PyList::empty(py);
    for (thread, s, v) in &r.allocations {
        allocations.append((*thread, stack(py, s)?, v.bytes, v.count, v.live))?;
    }
    d.set_item("allocations", allocations)?;
    d.set_item("freed", &r.freed)?;
    d.set_item("timeline", &r.timeline)?;
    d.set_item("peak_heap", r.peak_heap)?;
    d.set_item("unattributed_bytes", r.unattributed_bytes)?;
    d.set_item("dropped", r.dropped)?;
    d.set_item("duration", r.duration)?;
    Ok(d)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Collector>()?;
    m.add_function(wrap_pyfunction!(sample_signal_handler, m)?)?;
    m.add("MAX_RATE_HZ", hpkit_profile::session::MAX_RATE_HZ)?;
    Ok(())
}
