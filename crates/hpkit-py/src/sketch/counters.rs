//! `MorrisCounter`, `KMV` and `LogLog`: thin wrappers over `hpkit_sketch`; extraction and
//! validation here, the algorithms in the core crate.

use super::{items, rounded_len};
use crate::errors::{IntoPyResult, InvalidInputError, InvalidTypeError};
use hpkit_sketch::{HashKind, Sketch, Variant};
use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyInt};

/// Book-variant `increment(n)` draws once per event; this many per GIL release, so
/// Ctrl-C is answered within a few milliseconds.
const BOOK_CHUNK: u64 = 1 << 20;

// ----------------------------------------------------------------------- MorrisCounter

/// Morris's approximate counter: counts events in a register of ``log2 log2 n`` bits by
/// incrementing it with probability ``2**-counter``.
///
/// ``variant="default"``: unbiased estimate ``2**counter - 1``; a xoshiro256++ stream
/// seeded from ``seed`` (``None``: OS randomness); ``increment(n)`` draws the geometric
/// number of events to the next increment, so ``increment(10**12)`` is as fast as
/// ``increment(1)``, and ``increment(a); increment(b)`` equals ``increment(a + b)``.
/// ``variant="book"``: the chapter listing - ``random.Random(seed).random() < 2**-c`` per
/// event (the same Mersenne Twister stream as Python's ``random`` module, so
/// ``MorrisCounter(seed=0, variant="book")`` reaches counter 20 after 10**6 events), and
/// estimate ``2**counter`` (biased by +1, the book's quirk); ``increment(n)`` costs ``n``
/// draws. Merging (default variant only) adds the other counter's estimate as events:
/// unbiased, but noisier than one counter that saw everything.
#[pyclass(module = "hpkit.sketch", name = "MorrisCounter")]
pub struct PyMorrisCounter {
    inner: hpkit_sketch::MorrisCounter,
}

super::persist_methods!(PyMorrisCounter);
super::merge_methods!(PyMorrisCounter);

/// `n` random bytes from `os.urandom`.
fn urandom<'py>(py: Python<'py>, n: usize) -> PyResult<Bound<'py, PyBytes>> {
    Ok(py
        .import("os")?
        .call_method1("urandom", (n,))?
        .cast_into::<PyBytes>()?)
}

/// CPython's `random.Random(seed)` key: the little-endian 32-bit words of `|seed|`, at
/// least one.
fn python_seed_key(seed: &Bound<'_, PyInt>) -> PyResult<Vec<u32>> {
    let a = seed.call_method0("__abs__")?;
    let bits: usize = a.call_method0("bit_length")?.extract()?;
    let words = bits.div_ceil(32).max(1);
    let bytes = a.call_method1("to_bytes", (words * 4, "little"))?;
    let bytes = bytes.cast::<PyBytes>()?.as_bytes();
    Ok(bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

impl PyMorrisCounter {
    /// Count `n` events; the book's per-event loop runs in chunks without the GIL.
    fn count(&mut self, py: Python<'_>, n: u64) -> PyResult<()> {
        if self.inner.variant() == Variant::Default {
            self.inner.increment(n);
            return Ok(());
        }
        let mut left = n;
        while left > 0 {
            let step = left.min(BOOK_CHUNK);
            let inner = &mut self.inner;
            py.detach(|| inner.increment(step));
            left -= step;
            if left > 0 {
                py.check_signals()?;
            }
        }
        Ok(())
    }
}

#[pymethods]
impl PyMorrisCounter {
    #[new]
    #[pyo3(signature = (*, seed=None, variant="default"))]
    fn new(py: Python<'_>, seed: Option<&Bound<'_, PyAny>>, variant: &str) -> PyResult<Self> {
        let variant = Variant::parse(variant).py()?;
        let seed = match seed {
            None => None,
            Some(s) => Some(s.cast::<PyInt>().map_err(|_| {
                InvalidTypeError::new_err(format!(
                    "seed must be an int or None, not {}",
                    s.get_type()
                        .name()
                        .map(|n| n.to_string())
                        .unwrap_or_default()
                ))
            })?),
        };
        let inner = match (variant, seed) {
            (Variant::Default, Some(s)) => {
                // any int, reduced mod 2**64
                let low: u64 = s.call_method1("__and__", (u64::MAX,))?.extract()?;
                hpkit_sketch::MorrisCounter::with_default_seed(low)
            }
            (Variant::Default, None) => {
                let b = urandom(py, 8)?;
                let b: [u8; 8] = b.as_bytes().try_into().expect("8 bytes");
                hpkit_sketch::MorrisCounter::with_default_seed(u64::from_le_bytes(b))
            }
            (Variant::Book, Some(s)) => {
                hpkit_sketch::MorrisCounter::with_book_key(&python_seed_key(s)?)
            }
            (Variant::Book, None) => {
                // what random.Random() does: init_by_array over 624 words of OS randomness
                let b = urandom(py, 624 * 4)?;
                let key: Vec<u32> = b
                    .as_bytes()
                    .chunks_exact(4)
                    .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                hpkit_sketch::MorrisCounter::with_book_key(&key)
            }
        };
        Ok(PyMorrisCounter { inner })
    }

    /// Count one event. The item is ignored (a Morris counter counts events, not distinct
    /// items); it is accepted so the counter drops in where other sketches take ``add(x)``.
    #[pyo3(signature = (item=None))]
    fn add(&mut self, py: Python<'_>, item: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let _ = item;
        self.count(py, 1)
    }

    /// Count one event per item of ``items`` (``len(items)``, or by iterating); the items
    /// themselves are ignored.
    fn add_many(&mut self, py: Python<'_>, items: &Bound<'_, PyAny>) -> PyResult<()> {
        let n = items::count_items(items)?;
        self.count(py, n)
    }

    /// Count ``n`` events (``n >= 0``).
    #[pyo3(signature = (n=None), text_signature = "($self, n=1)")]
    fn increment(&mut self, py: Python<'_>, n: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let Some(n) = n else {
            return self.count(py, 1);
        };
        let n = n
            .cast::<PyInt>()
            .map_err(|_| InvalidTypeError::new_err("n must be an int"))?;
        let n: u64 = n
            .extract()
            .map_err(|_| InvalidInputError::new_err(format!("n must be in [0, 2**64), got {n}")))?;
        self.count(py, n)
    }

    /// The register ``c``.
    #[getter]
    fn counter(&self) -> u32 {
        self.inner.counter()
    }

    /// ``2**counter - 1`` (default, unbiased) or ``2**counter`` (book).
    fn estimate(&self) -> f64 {
        self.inner.estimate()
    }

    fn __len__(&self) -> PyResult<usize> {
        rounded_len(self.inner.estimate())
    }

    #[getter]
    fn variant(&self) -> &'static str {
        self.inner.variant().name()
    }

    fn __repr__(&self) -> String {
        format!(
            "MorrisCounter(variant='{}', counter={}, estimate≈{:.0})",
            self.inner.variant().name(),
            self.inner.counter(),
            self.inner.estimate()
        )
    }
}

// --------------------------------------------------------------------------------- KMV

/// K minimum values: keeps the ``k`` smallest distinct hashes; ``estimate()`` is exact
/// below ``k`` distinct items, else ``(k - 1) / (kth / 2**64)`` (unbiased, relative
/// standard error about ``1/sqrt(k)``).
///
/// ``variant="book"`` (with ``hash="murmur3"``) is the ``countmemaybe`` package bit for
/// bit: keys ``mmh3.hash(x) & (2**31 - 1)``, estimate ``(k - 1) * (2**31 - 1) / kth``.
/// ``a | b`` is the exact union; ``jaccard``/``intersection`` estimate set overlaps.
#[pyclass(module = "hpkit.sketch", name = "KMV")]
pub struct PyKmv {
    inner: hpkit_sketch::Kmv,
}

super::sketch_methods!(PyKmv);
super::merge_methods!(PyKmv);

#[pymethods]
impl PyKmv {
    #[new]
    #[pyo3(signature = (k=1024, *, hash="xxh3", variant="default"))]
    fn new(k: i128, hash: &str, variant: &str) -> PyResult<Self> {
        let kind = HashKind::parse(hash).py()?;
        let variant = Variant::parse(variant).py()?;
        // out-of-range k reaches the core's check as 0, which names the valid range
        let k = usize::try_from(k).unwrap_or(0);
        Ok(PyKmv {
            inner: hpkit_sketch::Kmv::new(k, kind, variant).py()?,
        })
    }

    /// Add one item (str, bytes or int).
    fn add(&mut self, item: &Bound<'_, PyAny>) -> PyResult<()> {
        let h = items::with_item_bytes(item, |b| self.inner.hash_item(b))?;
        self.inner.insert_hash(h);
        Ok(())
    }

    /// Estimated number of distinct items.
    fn estimate(&self) -> f64 {
        self.inner.estimate()
    }

    fn __len__(&self) -> PyResult<usize> {
        rounded_len(self.inner.estimate())
    }

    /// The ``k``-th smallest kept hash (the key the estimate divides by), or None while
    /// fewer than ``k`` distinct hashes were seen.
    fn kth(&self) -> Option<u64> {
        self.inner.kth()
    }

    /// The kept hashes, ascending, as a numpy uint64 array.
    fn values<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u64>> {
        self.inner.values().collect::<Vec<u64>>().into_pyarray(py)
    }

    /// Estimated Jaccard similarity ``|A & B| / |A | B|`` of the two item sets.
    fn jaccard(&self, other: PyRef<'_, Self>) -> PyResult<f64> {
        self.inner.jaccard(&other.inner).py()
    }

    /// Estimated number of items in both sets.
    fn intersection(&self, other: PyRef<'_, Self>) -> PyResult<f64> {
        self.inner.intersection(&other.inner).py()
    }

    #[getter]
    fn k(&self) -> usize {
        self.inner.k()
    }
    #[getter]
    fn variant(&self) -> &'static str {
        self.inner.variant().name()
    }

    fn __repr__(&self) -> String {
        let s = &self.inner;
        format!(
            "KMV(k={}, hash='{}', variant='{}', estimate≈{:.0})",
            s.k(),
            s.hash_kind().name(),
            s.variant().name(),
            s.estimate()
        )
    }
}

// ------------------------------------------------------------------------------ LogLog

/// Durand-Flajolet LogLog: ``2**p`` one-byte registers; relative standard error about
/// ``1.30/sqrt(2**p)`` (HyperLogLog does better with the same registers).
///
/// ``variant="default"``: 64-bit hash, the exact finite-``m`` constant ``α_m``, linear
/// counting below ``2.5 * 2**p`` items. ``variant="book"`` (with ``hash="murmur3"``) is the
/// chapter's listing bit for bit, including its wrong (HyperLogLog) constant: +83% at
/// ``n = 10**6``, ``p = 16``. ``estimate(method="superloglog")`` is the book's SuperLogLog
/// listing. ``a | b`` (register max) is the exact union.
#[pyclass(module = "hpkit.sketch", name = "LogLog")]
pub struct PyLogLog {
    inner: hpkit_sketch::LogLog,
}

super::sketch_methods!(PyLogLog);
super::merge_methods!(PyLogLog);

#[pymethods]
impl PyLogLog {
    #[new]
    #[pyo3(signature = (p=16, *, hash="xxh3", variant="default"))]
    fn new(p: i64, hash: &str, variant: &str) -> PyResult<Self> {
        let kind = HashKind::parse(hash).py()?;
        let variant = Variant::parse(variant).py()?;
        let p8 = u8::try_from(p).map_err(|_| {
            InvalidInputError::new_err(format!("p must be between 4 and 18, got {p}"))
        })?;
        Ok(PyLogLog {
            inner: hpkit_sketch::LogLog::new(p8, kind, variant).py()?,
        })
    }

    /// Add one item (str, bytes or int).
    fn add(&mut self, item: &Bound<'_, PyAny>) -> PyResult<()> {
        let h = items::with_item_bytes(item, |b| self.inner.hash_item(b))?;
        self.inner.insert_hash(h);
        Ok(())
    }

    /// Estimated number of distinct items. ``method="loglog"`` (default): this variant's
    /// LogLog estimate; ``"superloglog"``: the book's SuperLogLog listing (smallest 70% of
    /// the registers, HyperLogLog constant).
    #[pyo3(signature = (method="loglog"))]
    fn estimate(&self, method: &str) -> PyResult<f64> {
        match method {
            "loglog" => Ok(self.inner.estimate()),
            "superloglog" => Ok(self.inner.estimate_superloglog()),
            _ => Err(InvalidInputError::new_err(format!(
                "unknown method {method:?}; expected 'loglog' or 'superloglog'"
            ))),
        }
    }

    fn __len__(&self) -> PyResult<usize> {
        rounded_len(self.inner.estimate())
    }

    /// A copy of the registers, as a numpy uint8 array of length ``2**p``.
    #[getter]
    fn registers<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u8>> {
        self.inner.registers().to_vec().into_pyarray(py)
    }

    /// The mean register value.
    #[getter]
    fn mean_register(&self) -> f64 {
        self.inner.mean_register()
    }

    #[getter]
    fn p(&self) -> u8 {
        self.inner.p()
    }
    #[getter]
    fn variant(&self) -> &'static str {
        self.inner.variant().name()
    }

    fn __repr__(&self) -> String {
        let s = &self.inner;
        format!(
            "LogLog(p={}, hash='{}', variant='{}', estimate≈{:.0})",
            s.p(),
            s.hash_kind().name(),
            s.variant().name(),
            s.estimate()
        )
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyMorrisCounter>()?;
    m.add_class::<PyKmv>()?;
    m.add_class::<PyLogLog>()?;
    Ok(())
}
