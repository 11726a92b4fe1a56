//! `HyperLogLog`: a thin wrapper over `hpkit_sketch::HyperLogLog` (HLL++ sparse start,
//! 4-bit dense registers, HIP estimator; or the book's `countmemaybe` semantics).

use super::items;
use crate::errors::{IntoPyResult, InvalidInputError};
use hpkit_sketch::{HashKind, Sketch, Variant};
use pyo3::prelude::*;
use pyo3::types::PyInt;

/// HyperLogLog: the number of distinct items, to about ``0.83/sqrt(2**p)`` relative error
/// in about ``2**p / 2`` bytes.
///
/// ``variant="default"`` starts sparse (exact-ish for small counts), then packs its
/// ``2**p`` registers 4 bits each and estimates with HIP; after merging two dense sketches
/// it switches to Ertl's improved estimator (``is_merged``). Sketches of different ``p``
/// merge at the smaller ``p``. ``variant="book"`` (with ``hash="murmur3"``) replays the
/// book's ``countmemaybe`` HyperLogLog bit for bit: 32-bit hash, one byte per register,
/// the raw estimate with its log2 range corrections.
#[pyclass(module = "hpkit.sketch", name = "HyperLogLog")]
pub struct PyHyperLogLog {
    inner: hpkit_sketch::HyperLogLog,
}

super::sketch_methods!(PyHyperLogLog);
super::merge_methods!(PyHyperLogLog);

#[pymethods]
impl PyHyperLogLog {
    #[new]
    #[pyo3(
        signature = (p=None, *, hash="xxh3", variant="default"),
        text_signature = "(p=14, *, hash='xxh3', variant='default')"
    )]
    fn new(p: Option<&Bound<'_, PyInt>>, hash: &str, variant: &str) -> PyResult<Self> {
        // any int (a huge one is a ValueError too, not an OverflowError)
        let p = match p {
            None => 14,
            Some(p) => p.extract::<u8>().map_err(|_| {
                InvalidInputError::new_err(format!("p must be in [4, 18], got {p}"))
            })?,
        };
        let inner = hpkit_sketch::HyperLogLog::new(
            p,
            HashKind::parse(hash).py()?,
            Variant::parse(variant).py()?,
        )
        .py()?;
        Ok(PyHyperLogLog { inner })
    }

    /// Add one item (``str``, ``bytes`` or ``int``).
    fn add(&mut self, item: &Bound<'_, PyAny>) -> PyResult<()> {
        let h = items::with_item_bytes(item, |b| self.inner.hash_item(b))?;
        self.inner.insert_hash(h);
        Ok(())
    }

    /// The estimated number of distinct items added.
    fn estimate(&self) -> f64 {
        self.inner.estimate()
    }

    /// The estimate rounded to an int.
    fn __len__(&self) -> PyResult<usize> {
        super::rounded_len(self.inner.estimate())
    }

    /// The precision: ``2**p`` registers.
    #[getter]
    fn p(&self) -> u8 {
        self.inner.p()
    }

    /// ``"default"`` or ``"book"``.
    #[getter]
    fn variant(&self) -> &'static str {
        self.inner.variant().name()
    }

    /// Still in the sparse representation (few distinct items so far).
    #[getter]
    fn is_sparse(&self) -> bool {
        self.inner.is_sparse()
    }

    /// Two dense sketches were merged into this one: the estimate is Ertl's improved
    /// estimator rather than HIP.
    #[getter]
    fn is_merged(&self) -> bool {
        self.inner.is_merged()
    }

    fn __repr__(&self) -> String {
        format!(
            "HyperLogLog(p={}, hash='{}', variant='{}', estimate≈{})",
            self.inner.p(),
            self.inner.hash_kind().name(),
            self.inner.variant().name(),
            self.inner.estimate().round()
        )
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyHyperLogLog>()
}
