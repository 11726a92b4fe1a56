//! `BloomFilter`, `ScalingBloomFilter` and `CountMinSketch`: thin wrappers over
//! `hpkit_sketch`; extraction and validation here, the algorithms in the core crate.

use super::items;
use crate::errors::{IntoPyResult, InvalidInputError, InvalidTypeError};
use hpkit_sketch::{HashKind, Sketch, Variant};
use numpy::{
    IntoPyArray, PyArray1, PyArrayDescrMethods, PyArrayMethods, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::types::PyType;
use rayon::prelude::*;

/// Below this many hashes a batch lookup runs on one thread.
const PARALLEL_MIN: usize = 1 << 12;

fn non_negative(value: i128, name: &str) -> PyResult<u64> {
    u64::try_from(value).map_err(|_| {
        InvalidInputError::new_err(format!("{name} must be in [0, 2**64), got {value}"))
    })
}

fn positive(value: i128, name: &str) -> PyResult<u64> {
    match non_negative(value, name)? {
        0 => Err(InvalidInputError::new_err(format!(
            "{name} must be > 0, got 0"
        ))),
        v => Ok(v),
    }
}

/// `f(hashes, out)` over a batch into a new vector, pipelined like [`items::pipelined`]; large
/// chunks of a numpy array are split across threads.
fn lookup_many<H: Copy + Send + Sync + Default, T: Copy + Send + Sync + Default>(
    py: Python<'_>,
    hasher: hpkit_sketch::Hasher<H>,
    items: &Bound<'_, PyAny>,
    f: impl Fn(&[H], &mut [T]) + Send + Sync,
) -> PyResult<Vec<T>> {
    let mut out: Vec<T> = Vec::new();
    items::pipelined(py, hasher, items, &mut out, |out, hashes| {
        let start = out.len();
        out.resize(start + hashes.len(), T::default());
        let dst = &mut out[start..];
        if hashes.len() >= PARALLEL_MIN {
            dst.par_chunks_mut(1024)
                .zip(hashes.par_chunks(1024))
                .for_each(|(o, h)| f(h, o));
        } else {
            f(hashes, dst);
        }
    })?;
    Ok(out)
}

/// `add(x) -> bool`, `x in f` and `contains_many`: what both Bloom filter classes share
/// (their inner structures have the same `insert_hash_check`/`contains_hash(es)`).
macro_rules! membership_methods {
    ($py_type:ident) => {
        #[pymethods]
        impl $py_type {
            /// Add one item; True if it was probably present already (a scaling filter then
            /// does not insert it).
            fn add(&mut self, item: &Bound<'_, PyAny>) -> PyResult<bool> {
                let h = items::with_item_bytes(item, |b| self.inner.hash_item(b))?;
                Ok(self.inner.insert_hash_check(h))
            }

            fn __contains__(&self, item: &Bound<'_, PyAny>) -> PyResult<bool> {
                let h = items::with_item_bytes(item, |b| self.inner.hash_item(b))?;
                Ok(self.inner.contains_hash(h))
            }

            /// ``x in f`` for every item of a batch, as a numpy bool array.
            fn contains_many<'py>(
                &self,
                py: Python<'py>,
                items: &Bound<'py, PyAny>,
            ) -> PyResult<Bound<'py, PyArray1<bool>>> {
                let inner = &self.inner;
                let out = lookup_many(py, inner.hasher(), items, |h, o| {
                    inner.contains_hashes(h, o)
                })?;
                Ok(out.into_pyarray(py))
            }
        }
    };
}

// ------------------------------------------------------------------------- BloomFilter

/// A Bloom filter: ``x in f`` is never False for an added item and True for a
/// never-added one with probability about ``error_rate`` once ``capacity`` items are in.
///
/// ``variant="book"`` (with ``hash="murmur3"``) is the chapter listing bit for bit.
/// ``variant="default"`` is a cache-line-blocked (split-block) Bloom filter: one 64-byte
/// block per item, chosen by half of a 128-bit hash, and one bit set in each of the
/// block's eight 64-bit words from the other half (``num_hashes`` is always 8,
/// ``num_bits`` a multiple of 512), so an add or lookup touches one cache line. It is
/// sized exactly for the blocked layout, so the rate at ``capacity`` is ``error_rate``.
#[pyclass(module = "hpkit.sketch", name = "BloomFilter")]
pub struct PyBloomFilter {
    inner: hpkit_sketch::BloomFilter,
}

super::sketch_methods!(PyBloomFilter);
membership_methods!(PyBloomFilter);
super::merge_methods!(PyBloomFilter);

#[pymethods]
impl PyBloomFilter {
    #[new]
    #[pyo3(signature = (capacity, error_rate=0.005, *, hash="xxh3", variant="default"))]
    fn new(capacity: i128, error_rate: f64, hash: &str, variant: &str) -> PyResult<Self> {
        let capacity = positive(capacity, "capacity")?;
        let inner = hpkit_sketch::BloomFilter::new(
            capacity,
            error_rate,
            HashKind::parse(hash).py()?,
            Variant::parse(variant).py()?,
        )
        .py()?;
        Ok(PyBloomFilter { inner })
    }

    /// The item's ``num_hashes`` bit positions, in probe order (default: one bit in each
    /// of the 8 words of the item's 512-bit block, word 0 first).
    fn indexes(&self, item: &Bound<'_, PyAny>) -> PyResult<Vec<u64>> {
        items::with_item_bytes(item, |b| self.inner.indexes(b))
    }

    /// Estimated number of distinct items added: ``-m ln(1 - X/m) / k`` for ``X`` bits
    /// set (infinite once every bit is set). For the default (blocked) layout this is
    /// approximate: centred on the count, a little noisier than for a standard filter.
    fn estimate(&self) -> f64 {
        self.inner.estimate()
    }

    fn __len__(&self) -> PyResult<usize> {
        super::rounded_len(self.inner.estimate())
    }

    /// The false-positive rate a never-added item sees now: default, exactly the mean over
    /// blocks of the product of the 8 words' fill fractions; book, ``(X/m)^k``.
    fn current_error_rate(&self) -> f64 {
        self.inner.current_error_rate()
    }

    /// Remove every item.
    fn clear(&mut self) {
        self.inner.clear();
    }

    /// Keep only the bits set in both filters (same shape, hash and variant): every item
    /// added to both still tests present.
    fn intersection_update(&mut self, other: PyRef<'_, Self>) -> PyResult<()> {
        let other = other.inner.clone();
        self.inner.intersect(&other).py()
    }

    fn __and__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = other.py();
        let Ok(other) = other.cast::<Self>() else {
            return Ok(py.NotImplemented());
        };
        let mut inner = self.inner.clone();
        inner.intersect(&other.borrow().inner).py()?;
        Ok(Bound::new(py, PyBloomFilter { inner })?.into_any().unbind())
    }

    fn __iand__(&mut self, other: &Bound<'_, PyAny>) -> PyResult<()> {
        let other = other
            .cast::<Self>()
            .map_err(|_| InvalidTypeError::new_err("&= needs another BloomFilter"))?;
        let other = other.borrow().inner.clone();
        self.inner.intersect(&other).py()
    }

    #[getter]
    fn capacity(&self) -> u64 {
        self.inner.capacity()
    }
    #[getter]
    fn error_rate(&self) -> f64 {
        self.inner.error_rate()
    }
    #[getter]
    fn num_bits(&self) -> u64 {
        self.inner.num_bits()
    }
    #[getter]
    fn num_hashes(&self) -> u32 {
        self.inner.num_hashes()
    }
    /// Number of bits set (``X``).
    #[getter]
    fn bits_set(&self) -> u64 {
        self.inner.bits_set()
    }
    #[getter]
    fn variant(&self) -> &'static str {
        self.inner.variant().name()
    }

    fn __repr__(&self) -> String {
        let f = &self.inner;
        format!(
            "BloomFilter(capacity={}, error_rate={}, hash='{}', variant='{}', num_bits={}, \
             num_hashes={}, estimate≈{:.0})",
            f.capacity(),
            f.error_rate(),
            f.hash_kind().name(),
            f.variant().name(),
            f.num_bits(),
            f.num_hashes(),
            f.estimate()
        )
    }
}

// ------------------------------------------------------------------ ScalingBloomFilter

/// A Bloom filter that grows: ``add`` never fails, and (default variant) the overall
/// false-positive rate stays below ``error_rate`` however many items arrive (Almeida et
/// al. 2007). ``variant="book"`` replays the book's ``countmemaybe`` ScalingBloom, whose
/// overall rate can reach twice ``error_rate``. Not mergeable.
#[pyclass(module = "hpkit.sketch", name = "ScalingBloomFilter")]
pub struct PyScalingBloomFilter {
    inner: hpkit_sketch::ScalingBloomFilter,
}

super::sketch_methods!(PyScalingBloomFilter);
membership_methods!(PyScalingBloomFilter);

#[pymethods]
impl PyScalingBloomFilter {
    #[new]
    #[pyo3(signature = (initial_capacity, error_rate=0.005, *, hash="xxh3", variant="default"))]
    fn new(initial_capacity: i128, error_rate: f64, hash: &str, variant: &str) -> PyResult<Self> {
        let initial_capacity = positive(initial_capacity, "initial_capacity")?;
        let inner = hpkit_sketch::ScalingBloomFilter::new(
            initial_capacity,
            error_rate,
            HashKind::parse(hash).py()?,
            Variant::parse(variant).py()?,
        )
        .py()?;
        Ok(PyScalingBloomFilter { inner })
    }

    /// Estimated number of distinct items added (default: items inserted; book: the sum
    /// of the filters' bit-count estimates).
    fn estimate(&self) -> f64 {
        self.inner.estimate()
    }

    fn __len__(&self) -> PyResult<usize> {
        super::rounded_len(self.inner.estimate())
    }

    /// An estimate of the false-positive rate now, from each filter's fill.
    fn current_error_rate(&self) -> f64 {
        self.inner.current_error_rate()
    }

    /// Not supported: the union of two scalable filters does not keep the error bound.
    #[allow(unused_variables)]
    fn merge(&self, other: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(pyo3::exceptions::PyTypeError::new_err(
            "ScalingBloomFilter cannot be merged: the filters of two streams fill differently, \
             and no union of them keeps the error-rate bound; use BloomFilters of equal size",
        ))
    }

    #[getter]
    fn num_filters(&self) -> usize {
        self.inner.num_filters()
    }
    /// Total capacity of the filters so far.
    #[getter]
    fn capacity(&self) -> u64 {
        self.inner.capacity()
    }
    #[getter]
    fn initial_capacity(&self) -> u64 {
        self.inner.initial_capacity()
    }
    #[getter]
    fn error_rate(&self) -> f64 {
        self.inner.error_rate()
    }
    /// Items inserted (added and not already probably present).
    #[getter]
    fn inserted(&self) -> u64 {
        self.inner.inserted()
    }
    /// ``(capacity, error_rate, num_bits, num_hashes, estimate)`` of each filter.
    #[getter]
    fn filters(&self) -> Vec<(u64, f64, u64, u32, f64)> {
        self.inner
            .filters()
            .iter()
            .map(|f| {
                (
                    f.capacity(),
                    f.error_rate(),
                    f.num_bits(),
                    f.num_hashes(),
                    f.estimate(),
                )
            })
            .collect()
    }
    #[getter]
    fn variant(&self) -> &'static str {
        self.inner.variant().name()
    }

    fn __repr__(&self) -> String {
        let f = &self.inner;
        format!(
            "ScalingBloomFilter(initial_capacity={}, error_rate={}, hash='{}', variant='{}', \
             num_filters={}, estimate≈{:.0})",
            f.initial_capacity(),
            f.error_rate(),
            f.hash_kind().name(),
            f.variant().name(),
            f.num_filters(),
            f.estimate()
        )
    }
}

// ---------------------------------------------------------------------- CountMinSketch

/// A Count-Min sketch: ``count(x)`` is never below the number of times ``x`` was added,
/// and above it by more than ``e/width * total`` with probability at most ``e^-depth``.
///
/// ``conservative=True`` (the default) raises counters only as far as needed: much
/// tighter estimates, still never under-counting, but merging then gives an upper bound
/// rather than exactly the sketch of both streams. Counters are uint64 and saturate.
#[pyclass(module = "hpkit.sketch", name = "CountMinSketch")]
pub struct PyCountMinSketch {
    inner: hpkit_sketch::CountMinSketch,
}

super::persist_methods!(PyCountMinSketch);
super::merge_methods!(PyCountMinSketch);

/// The per-item counts of `add_many`, as u64, validated.
fn extract_counts(py: Python<'_>, counts: &Bound<'_, PyAny>) -> PyResult<Vec<u64>> {
    if let Ok(array) = counts.cast::<PyUntypedArray>() {
        let kind = array.dtype().kind();
        if !matches!(kind, b'i' | b'u' | b'b') {
            return Err(InvalidTypeError::new_err(format!(
                "counts must be integers, got a numpy array of dtype {}",
                array.dtype()
            )));
        }
        if kind == b'i' && array.len() > 0 && array.call_method0("min")?.extract::<i64>()? < 0 {
            return Err(InvalidInputError::new_err("counts must be >= 0"));
        }
        let numpy = py.import("numpy")?;
        let flat = numpy.call_method1(
            "ascontiguousarray",
            (array.call_method1("reshape", (-1,))?, "uint64"),
        )?;
        let flat = flat.cast_into::<PyArray1<u64>>()?;
        return Ok(flat.readonly().as_slice()?.to_vec());
    }
    let mut out = Vec::new();
    for c in counts
        .try_iter()
        .map_err(|_| InvalidTypeError::new_err("counts must be a sequence of ints"))?
    {
        let c = c?;
        let v: i128 = c.extract().map_err(|_| {
            InvalidTypeError::new_err(format!("counts must be ints, not {}", c.get_type()))
        })?;
        out.push(non_negative(v, "count")?);
    }
    Ok(out)
}

#[pymethods]
impl PyCountMinSketch {
    #[new]
    #[pyo3(signature = (width, depth, *, conservative=true, hash="xxh3"))]
    fn new(width: i128, depth: i128, conservative: bool, hash: &str) -> PyResult<Self> {
        let width = positive(width, "width")?;
        let depth = u32::try_from(positive(depth, "depth")?)
            .map_err(|_| InvalidInputError::new_err("depth must be < 2**32"))?;
        let inner = hpkit_sketch::CountMinSketch::new(
            width,
            depth,
            conservative,
            HashKind::parse(hash).py()?,
        )
        .py()?;
        Ok(PyCountMinSketch { inner })
    }

    /// The sketch guaranteeing ``count(x) <= true + epsilon * total`` with probability
    /// ``1 - delta``: ``width = ceil(e / epsilon)``, ``depth = ceil(ln(1 / delta))``.
    #[classmethod]
    #[pyo3(signature = (epsilon, delta, *, conservative=true, hash="xxh3"))]
    fn from_error(
        _cls: &Bound<'_, PyType>,
        epsilon: f64,
        delta: f64,
        conservative: bool,
        hash: &str,
    ) -> PyResult<Self> {
        let inner = hpkit_sketch::CountMinSketch::from_error(
            epsilon,
            delta,
            conservative,
            HashKind::parse(hash).py()?,
        )
        .py()?;
        Ok(PyCountMinSketch { inner })
    }

    /// Add ``count`` (>= 0) occurrences of one item.
    #[pyo3(signature = (item, count=1))]
    fn add(&mut self, item: &Bound<'_, PyAny>, count: i128) -> PyResult<()> {
        let count = non_negative(count, "count")?;
        let h = items::with_item_bytes(item, |b| self.inner.hash_item(b))?;
        self.inner.insert_hash_count(h, count);
        Ok(())
    }

    /// Add every item of a batch, once each or ``counts[j]`` times (a sequence or numpy
    /// integer array as long as ``items``).
    #[pyo3(signature = (items, counts=None))]
    fn add_many(
        &mut self,
        py: Python<'_>,
        items: &Bound<'_, PyAny>,
        counts: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let hasher = self.inner.hasher();
        let inner = &mut self.inner;
        let Some(counts) = counts else {
            return items::pipelined(py, hasher, items, inner, |s, h| s.insert_hashes(h));
        };
        let counts = extract_counts(py, counts)?;
        let mismatch = |n: String| {
            InvalidInputError::new_err(format!(
                "counts has {} values but items has {n}",
                counts.len()
            ))
        };
        if let Ok(n) = items.len() {
            if n != counts.len() {
                return Err(mismatch(n.to_string()));
            }
        }
        let mut at = 0usize;
        items::for_each_chunk(py, hasher, items, |py, hashes| {
            let Some(c) = counts.get(at..at + hashes.len()) else {
                return Err(mismatch("more".into()));
            };
            py.detach(|| inner.insert_hashes_counts(hashes, c));
            at += hashes.len();
            Ok(())
        })?;
        if at != counts.len() {
            return Err(mismatch(at.to_string()));
        }
        Ok(())
    }

    /// The estimated count of one item (never below the truth).
    fn count(&self, item: &Bound<'_, PyAny>) -> PyResult<u64> {
        let h = items::with_item_bytes(item, |b| self.inner.hash_item(b))?;
        Ok(self.inner.count_hash(h))
    }

    fn __getitem__(&self, item: &Bound<'_, PyAny>) -> PyResult<u64> {
        self.count(item)
    }

    /// ``count(x)`` for every item of a batch, as a numpy uint64 array.
    fn count_many<'py>(
        &self,
        py: Python<'py>,
        items: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<u64>>> {
        let inner = &self.inner;
        let out = lookup_many(py, inner.hasher(), items, |h, o| inner.count_hashes(h, o))?;
        Ok(out.into_pyarray(py))
    }

    fn clear(&mut self) {
        self.inner.clear();
    }

    /// Sum of all counts added (saturating at 2**64 - 1).
    #[getter]
    fn total(&self) -> u64 {
        self.inner.total()
    }
    #[getter]
    fn width(&self) -> u64 {
        self.inner.width()
    }
    #[getter]
    fn depth(&self) -> u32 {
        self.inner.depth()
    }
    #[getter]
    fn conservative(&self) -> bool {
        self.inner.conservative()
    }
    /// The hash function: ``"xxh3"`` or ``"murmur3"``.
    #[getter]
    fn hash(&self) -> &'static str {
        self.inner.hash_kind().name()
    }
    /// Always ``"default"``: the book has no Count-Min listing.
    #[getter]
    fn variant(&self) -> &'static str {
        "default"
    }

    fn __repr__(&self) -> String {
        let s = &self.inner;
        format!(
            "CountMinSketch(width={}, depth={}, conservative={}, hash='{}', total={})",
            s.width(),
            s.depth(),
            if s.conservative() { "True" } else { "False" },
            s.hash_kind().name(),
            s.total()
        )
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyBloomFilter>()?;
    m.add_class::<PyScalingBloomFilter>()?;
    m.add_class::<PyCountMinSketch>()?;
    Ok(())
}
