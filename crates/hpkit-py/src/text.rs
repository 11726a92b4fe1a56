//! `hpkit.text`: [`TokenSet`] and [`Matcher`] as Python classes. Extract and validate,
//! release the GIL for the heavy part, convert back; the structures are in `hpkit_text`.
//!
//! Keys and texts are borrowed from the Python objects without copying: `str.to_str()`
//! is the string's own UTF-8 (CPython keeps it for ASCII strings and caches it on first
//! use for others), `bytes.as_bytes()` its buffer. Both are immutable, so the borrowed
//! slices stay valid while the GIL is released (the `Bound`s keep them alive).

use crate::errors::{CorruptDataError, IntoPyResult, InvalidInputError, InvalidTypeError};
use hpkit_kernels::pool;
use hpkit_text::{
    Found, Layout, MatchKind, Matcher as CoreMatcher, Offsets, TokenSet as CoreSet, TokenSetBuilder,
};
use numpy::{IntoPyArray, PyArray1};
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyIndexError, PyKeyError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyString, PyTuple, PyType};
use std::path::PathBuf;

/// Batches shorter than this run on the calling thread (a pool hop costs microseconds).
const PARALLEL_MIN: usize = 1 << 14;
/// Texts shorter than this are searched without releasing the GIL (releasing and
/// re-taking it costs more than the search).
const DETACH_MIN_BYTES: usize = 1 << 15;
/// Overlapping searches of texts this long run in the thread pool, split over its threads.
const SPLIT_MIN_BYTES: usize = 1 << 19;
/// `find_iter_many` checks for Ctrl-C after each batch of about this many bytes.
const MANY_BATCH_BYTES: usize = 1 << 24;

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string())
}

fn threads(threads: Option<i64>) -> PyResult<usize> {
    pool::resolve_threads(threads).py()
}

/// A key read back from a set as a Python str (keys are UTF-8 unless the bytes were
/// damaged in a way the checksum missed or was told not to check).
fn key_to_str<'py>(py: Python<'py>, key: &[u8]) -> PyResult<Bound<'py, PyString>> {
    match std::str::from_utf8(key) {
        Ok(s) => Ok(PyString::new(py, s)),
        Err(_) => Err(CorruptDataError::new_err(
            "a key of the token set is not valid UTF-8",
        )),
    }
}

/// The items of a list, tuple or other iterable, as owned references.
fn items<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyAny>>> {
    if let Ok(list) = obj.cast::<PyList>() {
        return Ok(list.iter().collect());
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        return Ok(tuple.iter().collect());
    }
    let mut out = Vec::with_capacity(obj.len().unwrap_or(0));
    for item in obj.try_iter()? {
        out.push(item?);
    }
    Ok(out)
}

/// Refuse a single `str`/`bytes` where an iterable of them is meant (iterating it would
/// silently give characters).
fn not_a_single_string(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<()> {
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
        return Err(InvalidTypeError::new_err(format!(
            "{what} must be an iterable of str, not a single {}",
            type_name(obj)
        )));
    }
    Ok(())
}

/// Borrow every item as UTF-8. Items that are str but cannot be UTF-8 (lone surrogates)
/// are in no set: their indexes go to `unencodable` and a placeholder to the keys.
fn str_keys<'a>(
    items: &'a [Bound<'_, PyAny>],
    unencodable: &mut Vec<usize>,
) -> PyResult<Vec<&'a [u8]>> {
    let mut keys = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Ok(s) = item.cast::<PyString>() else {
            return Err(InvalidTypeError::new_err(format!(
                "tokens must be str, item {i} is {}",
                type_name(item)
            )));
        };
        match s.to_str() {
            Ok(s) => keys.push(s.as_bytes()),
            Err(_) => {
                unencodable.push(i);
                keys.push(&[]);
            }
        }
    }
    Ok(keys)
}

/// An immutable, compact set of strings with stable integer ids.
///
/// Built once from any iterable of ``str`` (duplicates and any order are fine). The
/// default ``layout="compact"`` stores the sorted keys front-coded in buckets of
/// ``bucket_size`` (16) with Huffman-coded suffixes (about 2.4 bytes per English word, less
/// than marisa-trie); ``layout="fst"`` stores a minimal finite state transducer (the
/// ``fst`` crate) sharing prefixes and suffixes: about twice the bytes, lookups about
/// twice as fast. Iteration and ``keys()`` are in sorted UTF-8 byte order (which is code-point
/// order), and a token's id is its rank in that order: ``index(t)`` and ``token(i)``
/// convert both ways. ``save()`` writes the same bytes ``to_bytes()`` returns;
/// ``TokenSet.open()`` memory-maps such a file, so processes that open the same file
/// share one copy in the page cache.
///
/// Keys are ``str`` only. ``x in s`` is ``False`` for anything that is not a ``str``
/// (as for a ``frozenset`` of strings); the bulk methods raise ``TypeError`` instead.
#[pyclass(frozen, module = "hpkit.text", name = "TokenSet")]
pub struct TokenSet {
    inner: CoreSet,
}

impl TokenSet {
    /// `lookup` over a batch of str: long batches without the GIL on `threads`; items
    /// that cannot be UTF-8 (lone surrogates) are never in the set and get `absent`.
    fn lookup_many<T: Copy + Send>(
        &self,
        py: Python<'_>,
        tokens: &Bound<'_, PyAny>,
        threads: Option<i64>,
        lookup: fn(&CoreSet, &[&[u8]]) -> Vec<T>,
        absent: T,
    ) -> PyResult<Vec<T>> {
        not_a_single_string(tokens, "tokens")?;
        let threads = self::threads(threads)?;
        let items = items(tokens)?;
        let mut unencodable = Vec::new();
        let keys = str_keys(&items, &mut unencodable)?;
        let inner = &self.inner;
        let mut out = if keys.len() < PARALLEL_MIN {
            lookup(inner, &keys)
        } else {
            py.detach(|| pool::install(threads, || lookup(inner, &keys)))
                .py()?
        };
        for i in unencodable {
            out[i] = absent;
        }
        Ok(out)
    }
}

#[pymethods]
impl TokenSet {
    /// Build a set from an iterable of str (any order, duplicates allowed).
    ///
    /// ``layout`` is ``"compact"`` (default) or ``"fst"``; ``bucket_size`` (compact only,
    /// 1 to 4096, default 16) trades size for lookup speed.
    #[classmethod]
    #[pyo3(signature = (tokens, *, layout = "compact", bucket_size = None))]
    fn build(
        _cls: &Bound<'_, PyType>,
        tokens: &Bound<'_, PyAny>,
        layout: &str,
        bucket_size: Option<i64>,
    ) -> PyResult<Self> {
        let layout = match (layout, bucket_size) {
            ("compact", size) => {
                let size = size.unwrap_or(hpkit_text::compact::DEFAULT_BUCKET_SIZE as i64);
                let max = hpkit_text::compact::MAX_BUCKET_SIZE as i64;
                if !(1..=max).contains(&size) {
                    return Err(InvalidInputError::new_err(format!(
                        "bucket_size must be between 1 and {max}, got {size}"
                    )));
                }
                Layout::Compact {
                    bucket_size: size as usize,
                }
            }
            ("fst", None) => Layout::Fst,
            ("fst", Some(_)) => {
                return Err(InvalidInputError::new_err(
                    "bucket_size applies to layout=\"compact\" only",
                ))
            }
            (other, _) => {
                return Err(InvalidInputError::new_err(format!(
                    "layout must be \"compact\" or \"fst\", got {other:?}"
                )))
            }
        };
        not_a_single_string(tokens, "tokens")?;
        let mut builder = TokenSetBuilder::new();
        for (i, item) in tokens.try_iter()?.enumerate() {
            let item = item?;
            let Ok(s) = item.cast::<PyString>() else {
                return Err(InvalidTypeError::new_err(format!(
                    "TokenSet keys must be str, item {i} is {}",
                    type_name(&item)
                )));
            };
            builder.insert(s.to_str()?.as_bytes());
        }
        let inner = tokens.py().detach(|| builder.finish_with(layout)).py()?;
        Ok(TokenSet { inner })
    }

    /// Map a file written by ``save()``. With ``verify`` (the default) the whole file is
    /// read once to check its CRC-32; ``verify=False`` reads only the header, for huge
    /// files you trust.
    #[classmethod]
    #[pyo3(signature = (path, *, verify = true))]
    fn open(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        path: PathBuf,
        verify: bool,
    ) -> PyResult<Self> {
        let inner = py.detach(|| CoreSet::open(&path, verify)).py()?;
        Ok(TokenSet { inner })
    }

    /// Load bytes from ``to_bytes()`` (copied; always checksummed).
    #[classmethod]
    fn from_bytes(_cls: &Bound<'_, PyType>, data: &Bound<'_, PyAny>) -> PyResult<Self> {
        let bytes = if let Ok(b) = data.cast::<PyBytes>() {
            b.as_bytes().to_vec()
        } else if let Ok(b) = data.cast::<PyByteArray>() {
            b.to_vec()
        } else if let Ok(buffer) = PyBuffer::<u8>::get(data) {
            buffer.to_vec(data.py())?
        } else {
            return Err(InvalidTypeError::new_err(format!(
                "from_bytes needs bytes, bytearray or a byte buffer, got {}",
                type_name(data)
            )));
        };
        let inner = data.py().detach(|| CoreSet::from_bytes(bytes)).py()?;
        Ok(TokenSet { inner })
    }

    /// Write the set to ``path`` (a new file renamed into place, so processes that have
    /// the old file open keep their copy).
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| self.inner.save(&path)).py()
    }

    /// The serialised form: a 32-byte header (magic ``b"HPKT"``, version, layout, counts,
    /// CRC-32) followed by the compact dictionary or the FST.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.as_bytes())
    }

    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let py = slf.py();
        let from_bytes = slf.get_type().getattr("from_bytes")?;
        Ok((from_bytes, (slf.get().to_bytes(py),)))
    }

    /// Size of the structure in bytes (what ``to_bytes()`` returns and ``save()`` writes;
    /// a set holds nothing else).
    #[getter]
    fn nbytes(&self) -> usize {
        self.inner.nbytes()
    }

    /// ``"compact"`` or ``"fst"`` (see ``build``).
    #[getter]
    fn layout(&self) -> &'static str {
        self.inner.layout().name()
    }

    /// The compact layout's bucket size (``None`` for ``"fst"``).
    #[getter]
    fn bucket_size(&self) -> Option<usize> {
        match self.inner.layout() {
            Layout::Compact { bucket_size } => Some(bucket_size),
            Layout::Fst => None,
        }
    }

    /// Whether the set reads a memory-mapped file (from ``TokenSet.open``).
    #[getter]
    fn mapped(&self) -> bool {
        self.inner.is_mapped()
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __contains__(&self, token: &Bound<'_, PyAny>) -> bool {
        match token.cast::<PyString>() {
            Ok(s) => match s.to_str() {
                Ok(s) => self.inner.contains(s.as_bytes()),
                Err(_) => false,
            },
            Err(_) => false,
        }
    }

    /// ``token in self`` for every item, as a numpy bool array. Long batches are looked up
    /// on every core (``threads``) with the GIL released.
    #[pyo3(signature = (tokens, *, threads = None))]
    fn contains_many<'py>(
        &self,
        py: Python<'py>,
        tokens: &Bound<'py, PyAny>,
        threads: Option<i64>,
    ) -> PyResult<Bound<'py, PyArray1<bool>>> {
        let flags = self.lookup_many(py, tokens, threads, CoreSet::contains_many, false)?;
        Ok(flags.into_pyarray(py))
    }

    /// The id of every item (``index``), -1 where absent, as a numpy int64 array.
    #[pyo3(signature = (tokens, *, threads = None))]
    fn index_many<'py>(
        &self,
        py: Python<'py>,
        tokens: &Bound<'py, PyAny>,
        threads: Option<i64>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let ids = self.lookup_many(py, tokens, threads, CoreSet::index_many, -1)?;
        Ok(ids.into_pyarray(py))
    }

    /// The id of ``token``: its rank in sorted order. ``KeyError`` if absent.
    fn index(&self, token: &Bound<'_, PyAny>) -> PyResult<u64> {
        let Ok(s) = token.cast::<PyString>() else {
            return Err(InvalidTypeError::new_err(format!(
                "token must be str, got {}",
                type_name(token)
            )));
        };
        let found = s.to_str().ok().and_then(|k| self.inner.index(k.as_bytes()));
        found.ok_or_else(|| PyKeyError::new_err(token.clone().unbind()))
    }

    /// The token with id ``id`` (negative ids count from the end, as for a list).
    /// ``IndexError`` if out of range.
    fn token<'py>(&self, py: Python<'py>, id: i64) -> PyResult<Bound<'py, PyString>> {
        let len = self.inner.len() as i64;
        let at = if id < 0 { id + len } else { id };
        let key = if at >= 0 {
            self.inner.token(at as u64)
        } else {
            None
        };
        match key {
            Some(k) => key_to_str(py, &k),
            None => Err(PyIndexError::new_err(format!(
                "token id {id} out of range for a set of {len}"
            ))),
        }
    }

    /// The tokens that start with ``prefix``, sorted; at most ``limit`` of them.
    #[pyo3(signature = (prefix = "", *, limit = None))]
    fn keys<'py>(
        &self,
        py: Python<'py>,
        prefix: &str,
        limit: Option<usize>,
    ) -> PyResult<Bound<'py, PyList>> {
        let inner = &self.inner;
        let keys = py.detach(|| inner.keys(prefix.as_bytes(), None, limit));
        let strs = keys
            .iter()
            .map(|k| key_to_str(py, k))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, strs)
    }

    /// The tokens in sorted order.
    fn __iter__(slf: &Bound<'_, Self>) -> TokenSetIterator {
        TokenSetIterator {
            set: slf.clone().unbind(),
            batch: Vec::new(),
            last: None,
            done: false,
        }
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = other.py();
        match other.cast::<TokenSet>() {
            Ok(o) => {
                let same = self.inner.same_keys(&o.get().inner);
                Ok(same.into_pyobject(py)?.to_owned().into_any().unbind())
            }
            Err(_) => Ok(py.NotImplemented()),
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let shown: Vec<String> = self
            .inner
            .keys(b"", None, Some(3))
            .iter()
            .map(|k| Ok(key_to_str(py, k)?.repr()?.to_string()))
            .collect::<PyResult<_>>()?;
        let more = if self.inner.len() > shown.len() {
            ", ..."
        } else {
            ""
        };
        Ok(format!(
            "TokenSet([{}{more}], len={}, nbytes={}{})",
            shown.join(", "),
            self.inner.len(),
            self.inner.nbytes(),
            if self.inner.is_mapped() {
                ", mapped=True"
            } else {
                ""
            }
        ))
    }
}

/// Iterates a [`TokenSet`] in sorted order, a batch of keys at a time.
#[pyclass(module = "hpkit.text")]
pub struct TokenSetIterator {
    set: Py<TokenSet>,
    /// The current batch, reversed (popped from the end).
    batch: Vec<Vec<u8>>,
    last: Option<Vec<u8>>,
    done: bool,
}

const ITER_BATCH: usize = 1024;

#[pymethods]
impl TokenSetIterator {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        if self.batch.is_empty() && !self.done {
            let set = &self.set.get().inner;
            let mut batch = set.keys(b"", self.last.as_deref(), Some(ITER_BATCH));
            self.done = batch.len() < ITER_BATCH;
            self.last = batch.last().cloned();
            batch.reverse();
            self.batch = batch;
        }
        match self.batch.pop() {
            Some(k) => Ok(Some(key_to_str(py, &k)?)),
            None => Ok(None),
        }
    }
}

/// Many patterns found in one pass over a text (Aho-Corasick).
///
/// ``patterns`` are all ``str`` or all ``bytes``; texts must be the same type. With a
/// ``str`` matcher, offsets are code-point indices into the ``str`` (``text[start:end]``
/// is the match); with ``bytes``, byte offsets. Patterns keep their index, duplicates
/// included; an empty pattern is refused.
///
/// ``match_kind``:
///
/// * ``"standard"`` (default): ``find_iter`` reports every occurrence of every pattern,
///   overlapping ones included (``overlapping=False`` gives the non-overlapping matches
///   that end first instead);
/// * ``"leftmost-first"``: non-overlapping, leftmost, ties to the pattern listed first
///   (like the regex ``p0|p1|...``);
/// * ``"leftmost-longest"``: non-overlapping, leftmost, ties to the longest pattern.
///
/// ``ascii_case_insensitive`` folds ASCII letters only.
#[pyclass(frozen, module = "hpkit.text", name = "Matcher")]
pub struct Matcher {
    inner: CoreMatcher,
    is_str: bool,
}

impl Matcher {
    fn text_kind(&self) -> &'static str {
        if self.is_str {
            "str"
        } else {
            "bytes"
        }
    }

    /// Borrow a text of this matcher's type.
    fn haystack<'a>(&self, text: &'a Bound<'_, PyAny>, what: &str) -> PyResult<&'a [u8]> {
        if self.is_str {
            if let Ok(s) = text.cast::<PyString>() {
                return Ok(s.to_str()?.as_bytes());
            }
        } else if let Ok(b) = text.cast::<PyBytes>() {
            return Ok(b.as_bytes());
        }
        Err(InvalidTypeError::new_err(format!(
            "this Matcher has {} patterns, so {what} must be {}, got {}",
            self.text_kind(),
            self.text_kind(),
            type_name(text)
        )))
    }

    fn offsets(&self) -> Offsets {
        if self.is_str {
            Offsets::Chars
        } else {
            Offsets::Bytes
        }
    }

    fn overlapping(&self, overlapping: Option<bool>) -> bool {
        overlapping.unwrap_or(self.inner.match_kind() == MatchKind::Standard)
    }

    fn pattern_object<'py>(&self, py: Python<'py>, p: &[u8]) -> PyResult<Bound<'py, PyAny>> {
        if self.is_str {
            // Patterns of a str matcher came from str, so they are UTF-8.
            let s = std::str::from_utf8(p)
                .map_err(|e| InvalidInputError::new_err(format!("pattern is not UTF-8: {e}")))?;
            Ok(PyString::new(py, s).into_any())
        } else {
            Ok(PyBytes::new(py, p).into_any())
        }
    }
}

/// Python ints for match offsets and pattern indexes, each made once and shared.
///
/// Making the result list is most of `find_iter`'s time: a tuple and up to three int
/// objects per match. Offsets repeat a lot (overlapping matches share ends, and a start
/// is often another match's end, a few characters back), so a small direct-mapped cache
/// keyed by the value's low bits catches most of them; pattern indexes get a full table.
struct IntCache<'py> {
    py: Python<'py>,
    offsets: Vec<Option<(usize, Bound<'py, PyAny>)>>,
    patterns: Vec<Option<Bound<'py, PyAny>>>,
}

const OFFSET_SLOTS: usize = 256;

/// A Python int (the conversion cannot fail).
#[inline]
fn int(py: Python<'_>, v: usize) -> Bound<'_, PyAny> {
    match v.into_pyobject(py) {
        Ok(obj) => obj.into_any(),
        Err(never) => match never {},
    }
}

impl<'py> IntCache<'py> {
    fn new(py: Python<'py>, patterns: usize) -> Self {
        IntCache {
            py,
            offsets: vec![None; OFFSET_SLOTS],
            patterns: vec![None; patterns],
        }
    }

    #[inline]
    fn offset(&mut self, v: usize) -> Bound<'py, PyAny> {
        let slot = &mut self.offsets[v % OFFSET_SLOTS];
        if let Some((cached, obj)) = slot {
            if *cached == v {
                return obj.clone();
            }
        }
        let obj = int(self.py, v);
        *slot = Some((v, obj.clone()));
        obj
    }

    #[inline]
    fn pattern(&mut self, v: usize) -> Bound<'py, PyAny> {
        match self.patterns.get_mut(v) {
            Some(Some(obj)) => obj.clone(),
            Some(slot) => {
                let obj = int(self.py, v);
                *slot = Some(obj.clone());
                obj
            }
            None => int(self.py, v),
        }
    }
}

/// Results at least this long are built with the cyclic GC paused.
const GC_PAUSE_MIN: usize = 1 << 13;

/// Pauses Python's cyclic garbage collector while alive, if it was running.
///
/// Every new tuple is tracked by the collector, so building a list of a million of them
/// sets off a thousand young-generation collections and several full ones that re-scan
/// the growing list: a fifth of the time, for objects that cannot form cycles. No Python
/// code runs while the list is built and the GIL is held throughout, so no other thread
/// can see the collector paused.
struct GcPause<'py> {
    gc: Option<Bound<'py, PyModule>>,
}

impl<'py> GcPause<'py> {
    fn new(py: Python<'py>, items: usize) -> PyResult<Self> {
        if items < GC_PAUSE_MIN {
            return Ok(GcPause { gc: None });
        }
        let gc = py.import("gc")?;
        if !gc.call_method0("isenabled")?.is_truthy()? {
            return Ok(GcPause { gc: None });
        }
        gc.call_method0("disable")?;
        Ok(GcPause { gc: Some(gc) })
    }
}

impl Drop for GcPause<'_> {
    fn drop(&mut self) {
        if let Some(gc) = &self.gc {
            if let Err(e) = gc.call_method0("enable") {
                e.write_unraisable(gc.py(), None);
            }
        }
    }
}

fn found_list<'py>(
    py: Python<'py>,
    found: &[Found],
    cache: &mut IntCache<'py>,
) -> PyResult<Bound<'py, PyList>> {
    let _pause = GcPause::new(py, found.len())?;
    PyList::new(
        py,
        found.iter().map(|f| {
            (
                cache.offset(f.start),
                cache.offset(f.end),
                cache.pattern(f.pattern),
            )
        }),
    )
}

/// Matches handed from the search thread to the list builder at a time.
const STREAM_BATCH: usize = 1 << 14;

/// ``find_iter``'s list for a long text: the search runs on a second thread and hands
/// over batches of matches as it finds them (`find_batches`), while this thread, holding
/// the GIL, turns each batch into tuples - the two halves of the work overlap. Ctrl-C is
/// checked between batches.
fn streamed_list<'py>(
    py: Python<'py>,
    inner: &CoreMatcher,
    hay: &[u8],
    overlapping: bool,
    offsets: Offsets,
    cache: &mut IntCache<'py>,
) -> PyResult<Bound<'py, PyList>> {
    let _pause = GcPause::new(py, GC_PAUSE_MIN)?;
    let out = PyList::empty(py);
    std::thread::scope(|scope| {
        let (to_builder, batches) = std::sync::mpsc::sync_channel::<Vec<Found>>(8);
        let search = scope.spawn(move || {
            inner.find_batches(hay, overlapping, offsets, STREAM_BATCH, |batch| {
                to_builder.send(batch).is_ok()
            })
        });
        let built = (|| -> PyResult<()> {
            for batch in batches.iter() {
                for f in &batch {
                    out.append((
                        cache.offset(f.start),
                        cache.offset(f.end),
                        cache.pattern(f.pattern),
                    ))?;
                }
                py.check_signals()?;
            }
            Ok(())
        })();
        drop(batches);
        let searched = search.join().map_err(|_| {
            pyo3::exceptions::PyRuntimeError::new_err("matcher search thread panicked")
        })?;
        built?;
        searched.py()
    })?;
    Ok(out)
}

#[pymethods]
impl Matcher {
    #[new]
    #[pyo3(signature = (patterns, *, match_kind = "standard", ascii_case_insensitive = false))]
    fn new(
        py: Python<'_>,
        patterns: &Bound<'_, PyAny>,
        match_kind: &str,
        ascii_case_insensitive: bool,
    ) -> PyResult<Self> {
        if patterns.is_instance_of::<PyString>() || patterns.is_instance_of::<PyBytes>() {
            return Err(InvalidTypeError::new_err(format!(
                "patterns must be a list of str or of bytes, not a single {}",
                type_name(patterns)
            )));
        }
        let kind = MatchKind::parse(match_kind).py()?;
        let items = items(patterns)?;
        let Some(first) = items.first() else {
            return Err(InvalidInputError::new_err(
                "a Matcher needs at least one pattern",
            ));
        };
        let is_str = first.is_instance_of::<PyString>();
        let mut bytes: Vec<&[u8]> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let b = if let (true, Ok(s)) = (is_str, item.cast::<PyString>()) {
                s.to_str()?.as_bytes()
            } else if let (false, Ok(b)) = (is_str, item.cast::<PyBytes>()) {
                b.as_bytes()
            } else {
                return Err(InvalidTypeError::new_err(format!(
                    "patterns must be all str or all bytes: pattern 0 is {}, pattern {i} is {}",
                    type_name(first),
                    type_name(item)
                )));
            };
            bytes.push(b);
        }
        let inner = py
            .detach(|| CoreMatcher::new(&bytes, kind, ascii_case_insensitive))
            .py()?;
        Ok(Matcher { inner, is_str })
    }

    /// Every match as ``(start, end, pattern_index)``, in order of ``end``. ``overlapping``
    /// defaults to True for ``match_kind="standard"`` (every occurrence) and must be False
    /// for the leftmost kinds. For a long text (over 512 KiB) and ``threads`` other than
    /// 1, the search runs on a second thread while this one builds the result list from
    /// the matches found so far.
    #[pyo3(signature = (text, *, overlapping = None, threads = None))]
    fn find_iter<'py>(
        &self,
        py: Python<'py>,
        text: &Bound<'py, PyAny>,
        overlapping: Option<bool>,
        threads: Option<i64>,
    ) -> PyResult<Bound<'py, PyList>> {
        let threads = self::threads(threads)?;
        let hay = self.haystack(text, "text")?;
        let overlapping = self.overlapping(overlapping);
        let (inner, offsets) = (&self.inner, self.offsets());
        let mut cache = IntCache::new(py, inner.len());
        if hay.len() >= SPLIT_MIN_BYTES && threads > 1 {
            return streamed_list(py, inner, hay, overlapping, offsets, &mut cache);
        }
        let found = if hay.len() < DETACH_MIN_BYTES {
            inner.find_all(hay, overlapping, offsets)
        } else {
            py.detach(|| inner.find_all(hay, overlapping, offsets))
        }
        .py()?;
        found_list(py, &found, &mut cache)
    }

    /// ``find_iter`` for each text, on every core (``threads``) with the GIL released.
    #[pyo3(signature = (texts, *, overlapping = None, threads = None))]
    fn find_iter_many<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyAny>,
        overlapping: Option<bool>,
        threads: Option<i64>,
    ) -> PyResult<Bound<'py, PyList>> {
        if texts.is_instance_of::<PyString>() || texts.is_instance_of::<PyBytes>() {
            return Err(InvalidTypeError::new_err(format!(
                "texts must be an iterable of {}, not a single {}",
                self.text_kind(),
                type_name(texts)
            )));
        }
        let threads = self::threads(threads)?;
        let overlapping = self.overlapping(overlapping);
        let items = items(texts)?;
        let hays = items
            .iter()
            .map(|t| self.haystack(t, "each text"))
            .collect::<PyResult<Vec<_>>>()?;
        let (inner, offsets) = (&self.inner, self.offsets());
        let out = PyList::empty(py);
        let mut cache = IntCache::new(py, inner.len());
        let mut start = 0;
        while start < hays.len() {
            // One batch of about MANY_BATCH_BYTES, then a Ctrl-C check.
            let mut end = start;
            let mut bytes = 0;
            while end < hays.len() && (end == start || bytes < MANY_BATCH_BYTES) {
                bytes += hays[end].len();
                end += 1;
            }
            let batch = &hays[start..end];
            let found = py
                .detach(|| {
                    pool::install(threads, || inner.find_all_many(batch, overlapping, offsets))
                })
                .py()?
                .py()?;
            for f in &found {
                out.append(found_list(py, f, &mut cache)?)?;
            }
            py.check_signals()?;
            start = end;
        }
        Ok(out)
    }

    /// Whether any pattern occurs in ``text``.
    fn is_match(&self, py: Python<'_>, text: &Bound<'_, PyAny>) -> PyResult<bool> {
        let hay = self.haystack(text, "text")?;
        let inner = &self.inner;
        Ok(if hay.len() < DETACH_MIN_BYTES {
            inner.is_match(hay)
        } else {
            py.detach(|| inner.is_match(hay))
        })
    }

    /// ``len(find_iter(text, overlapping=...))`` without building the list.
    #[pyo3(signature = (text, *, overlapping = None))]
    fn count(
        &self,
        py: Python<'_>,
        text: &Bound<'_, PyAny>,
        overlapping: Option<bool>,
    ) -> PyResult<usize> {
        let hay = self.haystack(text, "text")?;
        let overlapping = self.overlapping(overlapping);
        let inner = &self.inner;
        py.detach(|| inner.count(hay, overlapping)).py()
    }

    /// ``text`` with each non-overlapping match replaced by ``replacements[pattern_index]``
    /// (one replacement per pattern, of the text's type). For ``match_kind="standard"``
    /// the matches are those of ``find_iter(text, overlapping=False)``.
    fn replace_all<'py>(
        &self,
        py: Python<'py>,
        text: &Bound<'py, PyAny>,
        replacements: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let hay = self.haystack(text, "text")?;
        if replacements.is_instance_of::<PyString>() || replacements.is_instance_of::<PyBytes>() {
            return Err(InvalidTypeError::new_err(
                "replacements must be a list with one replacement per pattern",
            ));
        }
        let items = items(replacements)?;
        let reps = items
            .iter()
            .map(|r| self.haystack(r, "each replacement"))
            .collect::<PyResult<Vec<_>>>()?;
        let inner = &self.inner;
        let replaced = py.detach(|| inner.replace_all(hay, &reps)).py()?;
        if self.is_str {
            // UTF-8 text with whole UTF-8 matches replaced by UTF-8 is UTF-8.
            let s = String::from_utf8(replaced)
                .map_err(|e| InvalidInputError::new_err(format!("result is not UTF-8: {e}")))?;
            Ok(PyString::new(py, &s).into_any())
        } else {
            Ok(PyBytes::new(py, &replaced).into_any())
        }
    }

    /// The patterns, in index order.
    #[getter]
    fn patterns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let objs = self
            .inner
            .patterns()
            .iter()
            .map(|p| self.pattern_object(py, p))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, objs)
    }

    #[getter]
    fn match_kind(&self) -> &'static str {
        self.inner.match_kind().name()
    }

    #[getter]
    fn ascii_case_insensitive(&self) -> bool {
        self.inner.ascii_case_insensitive()
    }

    /// The automaton in use: ``"dfa"`` (up to 100 patterns) or ``"contiguous-nfa"``.
    #[getter]
    fn automaton(&self) -> &'static str {
        self.inner.automaton()
    }

    /// Heap bytes of the automaton.
    #[getter]
    fn nbytes(&self) -> usize {
        self.inner.memory_usage()
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyList>,))> {
        let py = slf.py();
        let this = slf.get();
        let kwargs = PyDict::new(py);
        kwargs.set_item("match_kind", this.match_kind())?;
        kwargs.set_item("ascii_case_insensitive", this.ascii_case_insensitive())?;
        let partial = py.import("functools")?.getattr("partial")?;
        let rebuild = partial.call((slf.get_type(),), Some(&kwargs))?;
        Ok((rebuild, (this.patterns(py)?,)))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let n = self.inner.len();
        let mut shown = Vec::new();
        for p in self.inner.patterns().iter().take(3) {
            shown.push(self.pattern_object(py, p)?.repr()?.to_string());
        }
        let more = if n > shown.len() {
            format!(", ... {n} patterns")
        } else {
            String::new()
        };
        Ok(format!(
            "Matcher([{}{more}], match_kind='{}', ascii_case_insensitive={})",
            shown.join(", "),
            self.match_kind(),
            if self.ascii_case_insensitive() {
                "True"
            } else {
                "False"
            }
        ))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<TokenSet>()?;
    m.add_class::<TokenSetIterator>()?;
    m.add_class::<Matcher>()?;
    Ok(())
}
