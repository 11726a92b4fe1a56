//! Python items -> bytes -> hashes, shared by every sketch class.
//!
//! One encoding for every structure, so `add(x)`, `add_many([x])` and
//! `add_many(np.array([x]))` always agree:
//!
//! * `str` -> its UTF-8 bytes; `bytes`/`bytearray` -> themselves;
//! * `int` (and `bool`) -> 8 bytes, little-endian two's complement; it must fit int64 or
//!   uint64 (a value >= 2**63 is read as uint64, so `-1` and `2**64 - 1` coincide);
//! * numpy integer/bool arrays -> each element as an `int`; `S` arrays -> each element's
//!   bytes without numpy's trailing NUL padding; `U` arrays -> each element as a `str`;
//!   object arrays -> element by element.
//!
//! Batches are hashed chunk by chunk: a list or iterable under the GIL (the bytes of a
//! `str` are borrowed, not copied), a numpy array without the GIL and in parallel. The
//! caller's `sink` gets each chunk of hashes; Ctrl-C is checked between chunks.

use crate::errors::{InvalidInputError, InvalidTypeError};
use hpkit_sketch::Hasher;
use numpy::{PyArray1, PyArrayDescrMethods, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyInt, PyList, PyString, PyTuple};
use rayon::prelude::*;

/// Items hashed per chunk: large enough to amortise a GIL release, small enough to keep
/// the hash buffer in L2 and to answer Ctrl-C quickly.
const CHUNK: usize = 1 << 14;
/// Items per chunk of a numpy array, hashed without the GIL: larger, since waking the
/// pool's threads costs tens of microseconds per chunk.
const ARRAY_CHUNK: usize = 1 << 17;
/// Below this many items a numpy chunk is hashed on one thread.
const PARALLEL_MIN: usize = 1 << 15;

/// The 8 bytes an integer item hashes as.
#[inline]
fn int_bytes(v: &Bound<'_, PyInt>) -> PyResult<[u8; 8]> {
    if let Ok(x) = v.extract::<i64>() {
        return Ok(x.to_le_bytes());
    }
    match v.extract::<u64>() {
        Ok(x) => Ok(x.to_le_bytes()),
        Err(_) => Err(InvalidInputError::new_err(
            "integer items must fit in int64 or uint64; hash a larger int as str(x) or bytes",
        )),
    }
}

/// Call `f` with the bytes `item` hashes as (see the module docs).
#[inline]
pub fn with_item_bytes<R>(item: &Bound<'_, PyAny>, f: impl FnOnce(&[u8]) -> R) -> PyResult<R> {
    if let Ok(s) = item.cast::<PyString>() {
        return Ok(f(s.to_str()?.as_bytes()));
    }
    if let Ok(b) = item.cast::<PyBytes>() {
        return Ok(f(b.as_bytes()));
    }
    if let Ok(i) = item.cast::<PyInt>() {
        return Ok(f(&int_bytes(i)?));
    }
    if let Ok(b) = item.cast::<PyByteArray>() {
        return Ok(f(&b.to_vec()));
    }
    if let Ok(a) = item.cast::<PyUntypedArray>() {
        if a.ndim() == 0 {
            // a numpy scalar array: hash it as the Python value it holds
            return with_item_bytes(&a.call_method0("item")?, f);
        }
    }
    // numpy scalars (np.int64(3), np.str_('a'), np.bytes_(b'a')) convert through .item()
    if item.hasattr("dtype")? && item.hasattr("item")? {
        let value = item.call_method0("item")?;
        if !value.is(item) {
            return with_item_bytes(&value, f);
        }
    }
    Err(InvalidTypeError::new_err(format!(
        "items must be str, bytes or int, not {}",
        item.get_type().name()?
    )))
}

/// Hash `items` (a list, tuple, iterable or numpy array) chunk by chunk, handing each
/// chunk of hashes to `sink` in order.
pub fn for_each_chunk<H: Copy + Send + Sync + Default>(
    py: Python<'_>,
    hasher: Hasher<H>,
    items: &Bound<'_, PyAny>,
    mut sink: impl FnMut(Python<'_>, &[H]) -> PyResult<()>,
) -> PyResult<()> {
    reject_single_item(items)?;
    let mut buf: Vec<H> = Vec::with_capacity(CHUNK);
    if let Ok(array) = items.cast::<PyUntypedArray>() {
        if let Some(result) = numpy_chunks(py, hasher, array, &mut buf, &mut sink) {
            return result;
        }
    }
    let mut step = |item: &Bound<'_, PyAny>| -> PyResult<()> {
        buf.push(with_item_bytes(item, |b| hasher.hash(b))?);
        if buf.len() == CHUNK {
            sink(py, &buf)?;
            buf.clear();
            py.check_signals()?;
        }
        Ok(())
    };
    let walked = visit(items, &mut step);
    // the items before a bad one are kept, as `list.extend` keeps them, then it raises
    if !buf.is_empty() {
        sink(py, &buf)?;
    }
    walked
}

/// Call `f` on each element of a list (by index, so a list another thread shrinks is never
/// read out of bounds), a tuple, or any other iterable.
fn visit(
    items: &Bound<'_, PyAny>,
    f: &mut impl FnMut(&Bound<'_, PyAny>) -> PyResult<()>,
) -> PyResult<()> {
    if let Ok(list) = items.cast::<PyList>() {
        let mut i = 0;
        while i < list.len() {
            f(&list.get_item(i)?)?;
            i += 1;
        }
    } else if let Ok(tuple) = items.cast::<PyTuple>() {
        for item in tuple.iter() {
            f(&item)?;
        }
    } else {
        let iter = items.try_iter().map_err(|_| {
            InvalidTypeError::new_err(format!(
                "expected an iterable of items or a numpy array, not {}",
                items
                    .get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?;
        for item in iter {
            f(&item?)?;
        }
    }
    Ok(())
}

/// Batches shorter than this are not worth a second thread.
const PIPELINE_MIN: usize = 1 << 16;

/// One chunk on its way to the worker thread of [`pipelined`]: hashes already made (a
/// numpy array, hashed in parallel), or the raw bytes of list items, copied out under
/// the GIL and hashed by the worker.
enum Batch<H> {
    Hashed(Vec<H>),
    Raw { bytes: Vec<u8>, ends: Vec<usize> },
}

/// Run `work` on every chunk of hashes of `items`, in order - the way every `add_many`,
/// `contains_many` and `count_many` feeds a structure. A long batch is pipelined over
/// two threads: this one walks the items (a list needs the GIL) and copies out their
/// bytes, while a helper thread, without the GIL, hashes the previous chunk and runs
/// `work` on it. A numpy array is hashed here, in parallel and without the GIL, and the
/// helper runs `work`.
pub fn pipelined<H, S>(
    py: Python<'_>,
    hasher: Hasher<H>,
    items: &Bound<'_, PyAny>,
    state: &mut S,
    work: impl Fn(&mut S, &[H]) + Send + Sync,
) -> PyResult<()>
where
    H: Copy + Send + Sync + Default,
    S: Send,
{
    if !items.len().is_ok_and(|n| n >= PIPELINE_MIN) {
        return for_each_chunk(py, hasher, items, |py, hashes| {
            py.detach(|| work(state, hashes));
            Ok(())
        });
    }
    reject_single_item(items)?;
    std::thread::scope(|scope| {
        let (to_worker, batches) = std::sync::mpsc::sync_channel::<Batch<H>>(2);
        let (recycle, spare) = std::sync::mpsc::channel::<Batch<H>>();
        let work = &work;
        let worker = scope.spawn(move || {
            let mut hashes = Vec::new();
            for batch in batches {
                match &batch {
                    Batch::Hashed(h) => work(state, h),
                    Batch::Raw { bytes, ends } => {
                        hashes.clear();
                        let mut start = 0;
                        for &end in ends {
                            hashes.push(hasher.hash(&bytes[start..end]));
                            start = end;
                        }
                        work(state, &hashes);
                    }
                }
                let _ = recycle.send(batch);
            }
        });
        let send = |batch: Batch<H>| {
            py.detach(|| to_worker.send(batch))
                .map_err(|_| PyRuntimeError::new_err("sketch worker thread stopped"))
        };
        let fed = if items.cast::<PyUntypedArray>().is_ok() {
            for_each_chunk(py, hasher, items, |_, hashes| {
                let mut buf = match spare.try_recv() {
                    Ok(Batch::Hashed(v)) => v,
                    _ => Vec::with_capacity(hashes.len()),
                };
                buf.clear();
                buf.extend_from_slice(hashes);
                send(Batch::Hashed(buf))
            })
        } else {
            let fresh = || match spare.try_recv() {
                Ok(Batch::Raw {
                    mut bytes,
                    mut ends,
                }) => {
                    bytes.clear();
                    ends.clear();
                    (bytes, ends)
                }
                _ => (Vec::with_capacity(CHUNK * 16), Vec::with_capacity(CHUNK)),
            };
            let (mut bytes, mut ends) = fresh();
            let mut step = |item: &Bound<'_, PyAny>| -> PyResult<()> {
                with_item_bytes(item, |b| bytes.extend_from_slice(b))?;
                ends.push(bytes.len());
                if ends.len() == CHUNK {
                    let (b, e) = fresh();
                    send(Batch::Raw {
                        bytes: std::mem::replace(&mut bytes, b),
                        ends: std::mem::replace(&mut ends, e),
                    })?;
                    py.check_signals()?;
                }
                Ok(())
            };
            let walked = visit(items, &mut step);
            // the items before a bad one are kept, as `list.extend` keeps them
            let flushed = if ends.is_empty() {
                Ok(())
            } else {
                send(Batch::Raw { bytes, ends })
            };
            walked.and(flushed)
        };
        drop(to_worker);
        py.detach(|| worker.join())
            .map_err(|_| PyRuntimeError::new_err("sketch worker thread panicked"))?;
        fed
    })
}

/// How many items `items` holds: `len()` when it has one, else by iterating.
pub fn count_items(items: &Bound<'_, PyAny>) -> PyResult<u64> {
    reject_single_item(items)?;
    if let Ok(n) = items.len() {
        return Ok(n as u64);
    }
    let mut n = 0u64;
    for item in items.try_iter()? {
        item?;
        n += 1;
    }
    Ok(n)
}

/// A bare str/bytes/int passed where a batch is expected is almost always a mistake
/// (a str would otherwise be split into characters).
fn reject_single_item(items: &Bound<'_, PyAny>) -> PyResult<()> {
    if items.is_instance_of::<PyString>()
        || items.is_instance_of::<PyBytes>()
        || items.is_instance_of::<PyByteArray>()
        || items.is_instance_of::<PyInt>()
    {
        return Err(InvalidTypeError::new_err(format!(
            "expected a batch (list, iterable or numpy array) of items, got a single {}; \
             use add() for one item",
            items.get_type().name()?
        )));
    }
    Ok(())
}

/// The numpy fast paths. `None` means "not a kind handled here; iterate it instead".
fn numpy_chunks<H: Copy + Send + Sync + Default>(
    py: Python<'_>,
    hasher: Hasher<H>,
    array: &Bound<'_, PyUntypedArray>,
    buf: &mut Vec<H>,
    sink: &mut impl FnMut(Python<'_>, &[H]) -> PyResult<()>,
) -> Option<PyResult<()>> {
    let dtype = array.dtype();
    let (kind, itemsize) = (dtype.kind(), dtype.itemsize());
    let mut run = || -> PyResult<()> {
        // one contiguous 1-D view (a copy only when the layout needs it)
        let flat = py.import("numpy")?.call_method1(
            "ascontiguousarray",
            (array.call_method1("reshape", (-1,))?,),
        )?;
        match kind {
            b'i' | b'u' | b'b' => {
                let wide = if kind == b'u' && itemsize == 8 {
                    "uint64"
                } else {
                    "int64"
                };
                let values = flat.call_method1("astype", (wide, "K", "unsafe", true, false))?;
                // int64 and uint64 hash the same 8 little-endian bytes
                let values = values.call_method1("view", ("uint64",))?;
                let values = values.cast_into::<PyArray1<u64>>()?.readonly();
                let values = values.as_slice()?;
                chunked(py, values, 1, buf, sink, |v| {
                    hasher.hash(&v[0].to_le_bytes())
                })
            }
            b'S' => {
                let raw = flat
                    .call_method1("view", ("uint8",))?
                    .cast_into::<PyArray1<u8>>()?;
                let raw = raw.readonly();
                let raw = raw.as_slice()?;
                chunked(py, raw, itemsize.max(1), buf, sink, |item| {
                    let end = item.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
                    hasher.hash(&item[..end])
                })
            }
            b'U' => {
                let raw = flat
                    .call_method1("view", ("uint32",))?
                    .cast_into::<PyArray1<u32>>()?;
                let raw = raw.readonly();
                let raw = raw.as_slice()?;
                if let Some(bad) = raw.iter().find(|&&c| char::from_u32(c).is_none()) {
                    return Err(InvalidInputError::new_err(format!(
                        "the str array holds an invalid code point {bad:#x}"
                    )));
                }
                chunked(py, raw, (itemsize / 4).max(1), buf, sink, |item| {
                    let end = item.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
                    let s: String = item[..end]
                        .iter()
                        .map(|&c| char::from_u32(c).unwrap_or('\u{fffd}'))
                        .collect();
                    hasher.hash(s.as_bytes())
                })
            }
            _ => Err(InvalidTypeError::new_err(format!(
                "items must be str, bytes or int; a numpy array of dtype {} cannot be hashed \
                 (convert it, e.g. with .astype(np.int64) or .astype(str))",
                dtype.str().map(|s| s.to_string()).unwrap_or_default()
            ))),
        }
    };
    match kind {
        b'O' => None,
        _ => Some(run()),
    }
}

/// Hash fixed-width items of `data` (`width` elements each) chunk by chunk without the
/// GIL, in parallel for large chunks, handing each chunk to `sink`.
fn chunked<T: Sync, H: Copy + Send + Sync + Default>(
    py: Python<'_>,
    data: &[T],
    width: usize,
    buf: &mut Vec<H>,
    sink: &mut impl FnMut(Python<'_>, &[H]) -> PyResult<()>,
    hash: impl Fn(&[T]) -> H + Sync,
) -> PyResult<()> {
    for block in data.chunks(ARRAY_CHUNK * width) {
        let n = block.len() / width;
        buf.clear();
        buf.resize(n, H::default());
        py.detach(|| {
            if n >= PARALLEL_MIN {
                buf.par_iter_mut()
                    .zip(block.par_chunks_exact(width))
                    .for_each(|(out, item)| *out = hash(item));
            } else {
                for (out, item) in buf.iter_mut().zip(block.chunks_exact(width)) {
                    *out = hash(item);
                }
            }
        });
        sink(py, buf)?;
        py.check_signals()?;
    }
    Ok(())
}
