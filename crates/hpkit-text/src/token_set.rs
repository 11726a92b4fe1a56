//! [`TokenSet`]: an immutable set of byte strings, each with its rank in sorted order as
//! its id, in one of two layouts ([`Layout`]):
//!
//! * **fst** (the default): a minimal acyclic finite state transducer (`fst::Map`) from
//!   each key to its rank: about 5.5 bytes per key on an English vocabulary, and the
//!   fastest lookups (one node decode per key byte).
//! * **compact**: a sorted dictionary with front coding in buckets and
//!   Huffman-coded suffixes (see [`crate::compact`]'s docs): about 2.4 bytes per key at
//!   16 keys a bucket (less than marisa-trie's 2.5), but a lookup is a binary search over
//!   bucket headers plus the decode of half a bucket on average, about 2x the FST's
//!   time.
//!
//! In the FST, ranks are monotone in key order, so the builder pushes every output as far
//! toward the root as it goes: the sum of outputs along a path is the smallest rank below
//! that point. That makes both directions cheap - key -> rank is one walk down the key's
//! bytes, rank -> key one walk down the transitions whose accumulated output is the
//! largest not above the rank.
//!
//! # Serialised form
//!
//! ```text
//! offset  size  field
//!      0     4  magic "HPKT"
//!      4     2  version (u16 LE) = 2
//!      6     2  layout (u16 LE): 1 = fst, 2 = compact
//!      8     8  number of keys (u64 LE)
//!     16     8  length of the body (u64 LE)
//!     24     4  length of the longest key (u32 LE)
//!     28     4  CRC-32 of bytes 0..28 followed by the body (u32 LE)
//!     32     .  the body: the FST (fst 0.4 format, which ends with its own footer), or
//!               the compact layout
//! ```
//!
//! The same bytes are what [`TokenSet::as_bytes`] returns and [`TokenSet::save`] writes,
//! so [`TokenSet::open`] can map a file and use it in place. Version 1 (FST only, before
//! the layout field) is refused.

use crate::compact::{self, Compact, Cursor};
use crate::error::{corrupt, invalid, io_error, Result, TextError};
use crate::storage::{map_file, FstBytes, Storage};
use fst::{IntoStreamer, Map, MapBuilder, Streamer};
use rayon::prelude::*;
use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::path::Path;

pub const MAGIC: [u8; 4] = *b"HPKT";
/// Bump when the layout changes; readers reject versions they do not know.
pub const VERSION: u16 = 2;
/// Bytes before the body.
pub const HEADER_LEN: usize = 32;
const CRC_AT: usize = 28;
const LAYOUT_FST: u16 = 1;
const LAYOUT_COMPACT: u16 = 2;

/// Batches at least this long are looked up on every core (below it, waking the pool
/// costs more than the lookups).
const PARALLEL_MIN: usize = 1 << 14;

/// How a [`TokenSet`] stores its keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Front coding in buckets of `bucket_size` keys, Huffman-coded: the default, smaller
    /// than marisa-trie on English words (larger buckets are smaller still and slower).
    Compact { bucket_size: usize },
    /// A minimal finite state transducer (the `fst` crate): about twice the bytes, about
    /// twice as fast to search.
    Fst,
}

impl Default for Layout {
    fn default() -> Self {
        Layout::compact()
    }
}

impl Layout {
    /// The compact layout with the default bucket size.
    pub fn compact() -> Self {
        Layout::Compact {
            bucket_size: compact::DEFAULT_BUCKET_SIZE,
        }
    }
}

impl Layout {
    pub fn name(&self) -> &'static str {
        match self {
            Layout::Compact { .. } => "compact",
            Layout::Fst => "fst",
        }
    }
}

/// Collects keys in any order, with duplicates, then builds a [`TokenSet`].
///
/// Deduplication happens as keys arrive (a hash set), so building from a long stream with
/// few distinct tokens holds only the distinct ones; [`TokenSetBuilder::finish`] sorts
/// them and builds the set.
#[derive(Default)]
pub struct TokenSetBuilder {
    keys: HashSet<Box<[u8]>>,
}

impl TokenSetBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add one key (a duplicate is ignored).
    #[inline]
    pub fn insert(&mut self, key: &[u8]) {
        if !self.keys.contains(key) {
            self.keys.insert(key.into());
        }
    }

    /// The number of distinct keys so far.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Sort the distinct keys and build the set in the default layout.
    pub fn finish(self) -> Result<TokenSet> {
        self.finish_with(Layout::default())
    }

    /// Sort the distinct keys and build the set in `layout`.
    pub fn finish_with(self, layout: Layout) -> Result<TokenSet> {
        let mut keys: Vec<Box<[u8]>> = self.keys.into_iter().collect();
        keys.sort_unstable();
        TokenSet::from_sorted_unique_with(keys.iter().map(|k| &k[..]), layout)
    }
}

enum Repr {
    Fst(Map<FstBytes>),
    Compact(Compact),
}

/// An immutable, compact set of byte strings with ranks (see the module docs).
pub struct TokenSet {
    repr: Repr,
    max_key_len: usize,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("len", &self.len())
            .field("layout", &self.layout())
            .field("nbytes", &self.nbytes())
            .field("mapped", &self.is_mapped())
            .finish()
    }
}

fn read_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn read_u32(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

fn read_u64(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

fn checksum(bytes: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&bytes[..CRC_AT]);
    h.update(&bytes[HEADER_LEN..]);
    h.finalize()
}

/// Fill in the header of `bytes` (a body after `HEADER_LEN` placeholder bytes).
fn seal(bytes: &mut [u8], layout: u16, count: u64, max_key_len: usize) -> Result<()> {
    let Ok(max_key_len) = u32::try_from(max_key_len) else {
        return invalid("a token is longer than 4 GiB");
    };
    let body_len = (bytes.len() - HEADER_LEN) as u64;
    bytes[0..4].copy_from_slice(&MAGIC);
    bytes[4..6].copy_from_slice(&VERSION.to_le_bytes());
    bytes[6..8].copy_from_slice(&layout.to_le_bytes());
    bytes[8..16].copy_from_slice(&count.to_le_bytes());
    bytes[16..24].copy_from_slice(&body_len.to_le_bytes());
    bytes[24..28].copy_from_slice(&max_key_len.to_le_bytes());
    let crc = checksum(bytes);
    bytes[CRC_AT..HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// Keys in order from either layout, one at a time.
enum KeyStream<'a> {
    Fst(fst::map::Stream<'a>),
    Compact(Cursor<'a>),
}

impl KeyStream<'_> {
    fn next_key(&mut self) -> Option<&[u8]> {
        match self {
            KeyStream::Fst(s) => s.next().map(|(k, _)| k),
            KeyStream::Compact(c) => c.next_key(),
        }
    }
}

impl TokenSet {
    /// Build from keys in any order, duplicates allowed, in the default layout.
    pub fn from_keys<I, K>(keys: I) -> Result<Self>
    where
        I: IntoIterator<Item = K>,
        K: AsRef<[u8]>,
    {
        Self::from_keys_with(keys, Layout::default())
    }

    /// Build from keys in any order, duplicates allowed, in `layout`.
    pub fn from_keys_with<I, K>(keys: I, layout: Layout) -> Result<Self>
    where
        I: IntoIterator<Item = K>,
        K: AsRef<[u8]>,
    {
        let mut builder = TokenSetBuilder::new();
        for k in keys {
            builder.insert(k.as_ref());
        }
        builder.finish_with(layout)
    }

    /// Build from keys that are already strictly increasing (byte order); anything else is
    /// an `InvalidArgument` error. Default layout.
    pub fn from_sorted_unique<'k>(keys: impl IntoIterator<Item = &'k [u8]>) -> Result<Self> {
        Self::from_sorted_unique_with(keys, Layout::default())
    }

    /// [`TokenSet::from_sorted_unique`] in `layout`.
    pub fn from_sorted_unique_with<'k>(
        keys: impl IntoIterator<Item = &'k [u8]>,
        layout: Layout,
    ) -> Result<Self> {
        match layout {
            Layout::Fst => Self::build_fst(keys),
            Layout::Compact { bucket_size } => {
                let keys: Vec<&[u8]> = keys.into_iter().collect();
                if keys.windows(2).any(|w| w[0] >= w[1]) {
                    return invalid("keys must be strictly increasing (sorted, no duplicates)");
                }
                let max_key_len = keys.iter().map(|k| k.len()).max().unwrap_or(0);
                let body = compact::build(&keys, bucket_size)?;
                let mut bytes = Vec::with_capacity(HEADER_LEN + body.len());
                bytes.resize(HEADER_LEN, 0);
                bytes.extend_from_slice(&body);
                drop(body);
                seal(&mut bytes, LAYOUT_COMPACT, keys.len() as u64, max_key_len)?;
                Self::from_storage(Storage::Owned(bytes), true)
            }
        }
    }

    fn build_fst<'k>(keys: impl IntoIterator<Item = &'k [u8]>) -> Result<Self> {
        let fst_error = |e: fst::Error| TextError::InvalidArgument(e.to_string());
        let mut builder = MapBuilder::new(vec![0u8; HEADER_LEN]).map_err(fst_error)?;
        let mut count = 0u64;
        let mut max_key_len = 0usize;
        for key in keys {
            builder.insert(key, count).map_err(fst_error)?;
            count += 1;
            max_key_len = max_key_len.max(key.len());
        }
        let mut bytes = builder.into_inner().map_err(fst_error)?;
        seal(&mut bytes, LAYOUT_FST, count, max_key_len)?;
        Self::from_storage(Storage::Owned(bytes), true)
    }

    /// Check a serialised form (header fields, lengths, and the checksum when `verify`)
    /// and wrap it without copying. With `verify`, a compact body is also decoded once
    /// and checked.
    fn from_storage(storage: Storage, verify: bool) -> Result<Self> {
        let bytes = storage.as_ref();
        if bytes.len() < HEADER_LEN {
            return corrupt(format!(
                "{} bytes is shorter than the {HEADER_LEN}-byte header",
                bytes.len()
            ));
        }
        if bytes[0..4] != MAGIC {
            return corrupt("not a token set (bad magic; expected b\"HPKT\")");
        }
        let version = read_u16(bytes, 4);
        if version != VERSION {
            return corrupt(format!(
                "format version {version}, this hpkit reads version {VERSION}"
            ));
        }
        let layout = read_u16(bytes, 6);
        if layout != LAYOUT_FST && layout != LAYOUT_COMPACT {
            return corrupt(format!("unknown layout {layout}"));
        }
        let count = read_u64(bytes, 8);
        let body_len = read_u64(bytes, 16);
        let max_key_len = read_u32(bytes, 24) as usize;
        let expected = (HEADER_LEN as u64).checked_add(body_len);
        if expected != Some(bytes.len() as u64) {
            return corrupt(format!(
                "header says {body_len} body bytes, found {} (truncated or padded)",
                bytes.len() - HEADER_LEN
            ));
        }
        if verify {
            let stored = read_u32(bytes, CRC_AT);
            let actual = checksum(bytes);
            if stored != actual {
                return corrupt(format!(
                    "checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"
                ));
            }
        }
        let repr = if layout == LAYOUT_COMPACT {
            Repr::Compact(Compact::new(
                storage,
                HEADER_LEN,
                count,
                max_key_len,
                verify,
            )?)
        } else {
            let map = Map::new(FstBytes {
                storage,
                start: HEADER_LEN,
            })
            .map_err(|e| TextError::Corrupt(e.to_string()))?;
            if map.len() as u64 != count {
                return corrupt(format!(
                    "header says {count} keys, the FST holds {}",
                    map.len()
                ));
            }
            Repr::Fst(map)
        };
        Ok(TokenSet { repr, max_key_len })
    }

    /// Load a serialised form (always checksummed).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        Self::from_storage(Storage::Owned(bytes), true)
    }

    /// Map the file at `path` read-only. With `verify`, the whole file is read once to
    /// check its CRC-32 (about a millisecond per few MB) and a compact set is decoded
    /// once; without, only the header is checked and a corrupted file gives wrong answers
    /// (or, for the FST layout, a panic, caught as an exception by the binding) instead of
    /// an error.
    pub fn open(path: &Path, verify: bool) -> Result<Self> {
        let file = File::open(path).map_err(io_error(path))?;
        let len = file.metadata().map_err(io_error(path))?.len();
        if len < HEADER_LEN as u64 {
            // Also keeps an empty file from being mapped (which some systems refuse).
            return corrupt(format!(
                "{}: {len} bytes is shorter than the {HEADER_LEN}-byte header",
                path.display()
            ));
        }
        let map = map_file(&file).map_err(io_error(path))?;
        Self::from_storage(Storage::Mapped(map), verify).map_err(|e| match e {
            TextError::Corrupt(msg) => TextError::Corrupt(format!("{}: {msg}", path.display())),
            other => other,
        })
    }

    /// Write the serialised form to `path`: to a temporary file beside it, then renamed
    /// into place, so a process that has the old file mapped keeps reading the old file
    /// (overwriting a mapped file in place would crash it).
    pub fn save(&self, path: &Path) -> Result<()> {
        let Some(name) = path.file_name() else {
            return invalid(format!("{} is not a file path", path.display()));
        };
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}.tmp", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let write = || -> std::io::Result<()> {
            let mut file = File::create(&tmp)?;
            file.write_all(self.as_bytes())?;
            file.flush()?;
            Ok(())
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_file(&tmp);
            return Err(io_error(path)(e));
        }
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io_error(path)(e)
        })
    }

    fn storage(&self) -> &Storage {
        match &self.repr {
            Repr::Fst(map) => &map.as_fst().as_inner().storage,
            Repr::Compact(c) => &c.storage,
        }
    }

    /// The serialised form (header and body), without copying.
    pub fn as_bytes(&self) -> &[u8] {
        self.storage().as_ref()
    }

    /// Bytes of the structure: the serialised form (a compact set also holds two 8 KiB
    /// decode tables, see [`TokenSet::aux_nbytes`]).
    pub fn nbytes(&self) -> usize {
        self.as_bytes().len()
    }

    /// Heap bytes besides [`TokenSet::nbytes`]: the compact layout's decode tables.
    pub fn aux_nbytes(&self) -> usize {
        match &self.repr {
            Repr::Fst(_) => 0,
            Repr::Compact(c) => c.table_bytes(),
        }
    }

    /// The layout (for the compact one, with its bucket size).
    pub fn layout(&self) -> Layout {
        match &self.repr {
            Repr::Fst(_) => Layout::Fst,
            Repr::Compact(c) => Layout::Compact {
                bucket_size: c.bucket_size(),
            },
        }
    }

    /// Whether the bytes are a file mapping (from [`TokenSet::open`]).
    pub fn is_mapped(&self) -> bool {
        matches!(self.storage(), Storage::Mapped(_))
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Fst(map) => map.len(),
            Repr::Compact(c) => c.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The length of the longest key.
    pub fn max_key_len(&self) -> usize {
        self.max_key_len
    }

    #[inline]
    pub fn contains(&self, key: &[u8]) -> bool {
        self.index(key).is_some()
    }

    /// The rank of `key` in sorted order, if present.
    #[inline]
    pub fn index(&self, key: &[u8]) -> Option<u64> {
        if key.len() > self.max_key_len {
            return None;
        }
        match &self.repr {
            Repr::Fst(map) => map.get(key),
            Repr::Compact(c) => c.index(key),
        }
    }

    /// The key of rank `id`, appended to `key` (which is cleared first); false when `id`
    /// is out of range.
    pub fn token_into(&self, id: u64, key: &mut Vec<u8>) -> bool {
        key.clear();
        if id >= self.len() as u64 {
            return false;
        }
        let map = match &self.repr {
            Repr::Fst(map) => map,
            Repr::Compact(c) => return c.token_into(id, key),
        };
        let fst = map.as_fst();
        let mut node = fst.root();
        let mut rest = id;
        loop {
            if node.is_final() && node.final_output().value() == rest {
                return true;
            }
            // The depth bound only matters for damaged bytes, where it stops a cycle.
            if key.len() >= self.max_key_len {
                return false;
            }
            // Transitions are in input order, so their outputs (smallest rank below
            // each) increase: binary search for the last one not above `rest`.
            let (mut lo, mut hi) = (0, node.len());
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if node.transition(mid).out.value() <= rest {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            if lo == 0 {
                return false;
            }
            let t = node.transition(lo - 1);
            rest -= t.out.value();
            key.push(t.inp);
            node = fst.node(t.addr);
        }
    }

    /// The key of rank `id`, if `id < len`.
    pub fn token(&self, id: u64) -> Option<Vec<u8>> {
        let mut key = Vec::with_capacity(self.max_key_len.min(64));
        self.token_into(id, &mut key).then_some(key)
    }

    /// Keys in order from the first one at or after `from` (inclusive) or after it.
    fn stream_from(&self, from: &[u8], inclusive: bool) -> KeyStream<'_> {
        match &self.repr {
            Repr::Fst(map) => {
                let range = if inclusive {
                    map.range().ge(from)
                } else {
                    map.range().gt(from)
                };
                KeyStream::Fst(range.into_stream())
            }
            // The cursor starts at the bucket of `from`; the caller skips the keys below.
            Repr::Compact(c) => KeyStream::Compact(c.cursor(from)),
        }
    }

    /// Up to `limit` keys (all with `None`) that start with `prefix` and are greater than
    /// `after`, in sorted order: one call lists a prefix, repeated calls page through it.
    pub fn keys(&self, prefix: &[u8], after: Option<&[u8]>, limit: Option<usize>) -> Vec<Vec<u8>> {
        let limit = limit.unwrap_or(usize::MAX);
        let mut out = Vec::new();
        if limit == 0 {
            return out;
        }
        let (from, inclusive) = match after {
            Some(a) if a >= prefix => (a, false),
            _ => (prefix, true),
        };
        let mut stream = self.stream_from(from, inclusive);
        while let Some(key) = stream.next_key() {
            if key < from || (!inclusive && key == from) {
                continue;
            }
            if !key.starts_with(prefix) {
                break;
            }
            out.push(key.to_vec());
            if out.len() == limit {
                break;
            }
        }
        out
    }

    /// `contains` for each key, on every core for long batches.
    pub fn contains_many(&self, keys: &[&[u8]]) -> Vec<bool> {
        if keys.len() < PARALLEL_MIN {
            return keys.iter().map(|k| self.contains(k)).collect();
        }
        keys.par_iter()
            .with_min_len(4096)
            .map(|k| self.contains(k))
            .collect()
    }

    /// `index` for each key, -1 where absent.
    pub fn index_many(&self, keys: &[&[u8]]) -> Vec<i64> {
        let one = |k: &&[u8]| self.index(k).map_or(-1, |i| i as i64);
        if keys.len() < PARALLEL_MIN {
            return keys.iter().map(one).collect();
        }
        keys.par_iter().with_min_len(4096).map(one).collect()
    }

    /// Whether both sets hold the same keys (whatever their layout or storage).
    pub fn same_keys(&self, other: &TokenSet) -> bool {
        if self.len() != other.len() {
            return false;
        }
        if self.as_bytes() == other.as_bytes() {
            return true;
        }
        let (mut a, mut b) = (self.stream_from(b"", true), other.stream_from(b"", true));
        loop {
            match (a.next_key(), b.next_key()) {
                (None, None) => return true,
                (Some(x), Some(y)) if x == y => continue,
                _ => return false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn reference(words: &[String]) -> Vec<Vec<u8>> {
        let set: BTreeSet<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        set.into_iter().collect()
    }

    const LAYOUTS: [Layout; 5] = [
        Layout::Fst,
        Layout::Compact { bucket_size: 1 },
        Layout::Compact { bucket_size: 2 },
        Layout::Compact { bucket_size: 3 },
        Layout::Compact { bucket_size: 32 },
    ];
    #[test]
    fn fst_is_the_default() {
        assert_eq!(Layout::default(), Layout::compact());
        assert_eq!(Layout::compact(), Layout::Compact { bucket_size: 16 });
    }

    fn layout_strategy() -> impl Strategy<Value = Layout> {
        prop_oneof![
            Just(Layout::Fst),
            (1usize..8).prop_map(|bucket_size| Layout::Compact { bucket_size }),
            Just(Layout::compact()),
        ]
    }

    #[test]
    fn table() {
        for layout in LAYOUTS {
            table_in(layout);
        }
    }

    fn table_in(layout: Layout) {
        let words = ["banana", "apple", "cherry", "apple", "", "app", "é", "z"];
        let set = TokenSet::from_keys_with(words, layout).unwrap();
        assert_eq!(set.layout(), layout);
        let sorted = ["", "app", "apple", "banana", "cherry", "z", "é"];
        assert_eq!(set.len(), sorted.len());
        for (i, w) in sorted.iter().enumerate() {
            assert!(set.contains(w.as_bytes()));
            assert_eq!(set.index(w.as_bytes()), Some(i as u64));
            assert_eq!(set.token(i as u64).unwrap(), w.as_bytes());
        }
        assert_eq!(set.token(sorted.len() as u64), None);
        assert!(!set.contains(b"ap"));
        assert!(!set.contains(b"apples"));
        assert_eq!(set.index(b"zz"), None);
        assert_eq!(
            set.keys(b"app", None, None),
            vec![b"app".to_vec(), b"apple".to_vec()]
        );
        assert_eq!(
            set.keys(b"app", Some(b"app"), None),
            vec![b"apple".to_vec()]
        );
        assert_eq!(
            set.keys(b"", None, Some(2)),
            vec![b"".to_vec(), b"app".to_vec()]
        );
        assert_eq!(set.keys(b"q", None, None), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn empty_set() {
        for layout in LAYOUTS {
            let set = TokenSet::from_keys_with(Vec::<&str>::new(), layout).unwrap();
            assert!(set.is_empty());
            assert!(!set.contains(b""));
            assert!(!set.contains(b"a"));
            assert_eq!(set.token(0), None);
            assert!(set.keys(b"", None, None).is_empty());
            let back = TokenSet::from_bytes(set.as_bytes().to_vec()).unwrap();
            assert!(back.is_empty() && back.same_keys(&set));
        }
        let set = TokenSet::from_keys(Vec::<&str>::new()).unwrap();
        assert!(set.is_empty());
        assert!(!set.contains(b""));
        assert_eq!(set.token(0), None);
        assert!(set.keys(b"", None, None).is_empty());
        let back = TokenSet::from_bytes(set.as_bytes().to_vec()).unwrap();
        assert!(back.is_empty());
    }

    #[test]
    fn unsorted_input_to_from_sorted_is_an_error() {
        for layout in LAYOUTS {
            let r = TokenSet::from_sorted_unique_with([&b"b"[..], &b"a"[..]], layout);
            assert!(matches!(r, Err(TextError::InvalidArgument(_))));
            let r = TokenSet::from_sorted_unique_with([&b"a"[..], &b"a"[..]], layout);
            assert!(matches!(r, Err(TextError::InvalidArgument(_))));
        }
        for bucket_size in [0, compact::MAX_BUCKET_SIZE + 1] {
            let r = TokenSet::from_keys_with(["a"], Layout::Compact { bucket_size });
            assert!(matches!(r, Err(TextError::InvalidArgument(_))));
        }
    }

    #[test]
    fn long_keys_and_shared_prefixes_escape() {
        // lcp >= 16 and suffixes longer than 16 take the escape path.
        let base = "x".repeat(40);
        let words: Vec<String> = (0..200)
            .map(|i| format!("{}{}{}", &base[..i % 37], i, "y".repeat(i % 23)))
            .chain(["".to_owned(), "\u{10FFFF}".repeat(30)])
            .collect();
        let sorted = reference(&words);
        for layout in LAYOUTS {
            let set = TokenSet::from_keys_with(&words, layout).unwrap();
            assert_eq!(set.keys(b"", None, None), sorted);
            for (i, k) in sorted.iter().enumerate() {
                assert_eq!(set.index(k), Some(i as u64));
                assert_eq!(set.token(i as u64).as_ref(), Some(k));
                let mut longer = k.clone();
                longer.push(b'!');
                assert_eq!(set.contains(&longer), sorted.binary_search(&longer).is_ok());
            }
            let back = TokenSet::from_bytes(set.as_bytes().to_vec()).unwrap();
            assert!(back.same_keys(&set));
        }
    }

    #[test]
    fn other_versions_and_layouts_are_corrupt() {
        let set = TokenSet::from_keys(["a", "b"]).unwrap();
        for (at, value) in [(4, 1u16), (4, 3), (6, 0), (6, 3)] {
            let mut b = set.as_bytes().to_vec();
            b[at..at + 2].copy_from_slice(&value.to_le_bytes());
            let crc = checksum(&b);
            b[CRC_AT..HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
            assert!(matches!(
                TokenSet::from_bytes(b),
                Err(TextError::Corrupt(_))
            ));
        }
        // A layout tag that does not match the body.
        for (layout, tag) in [
            (Layout::compact(), LAYOUT_FST),
            (Layout::Fst, LAYOUT_COMPACT),
        ] {
            let set = TokenSet::from_keys_with(["a", "b"], layout).unwrap();
            let mut b = set.as_bytes().to_vec();
            b[6..8].copy_from_slice(&tag.to_le_bytes());
            let crc = checksum(&b);
            b[CRC_AT..HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
            assert!(matches!(
                TokenSet::from_bytes(b),
                Err(TextError::Corrupt(_))
            ));
        }
    }

    /// Use every query on a set that may hold garbage: nothing may panic.
    fn exercise(set: &TokenSet, probes: &[&[u8]]) {
        for p in probes {
            let _ = set.contains(p);
            let _ = set.index(p);
            let _ = set.keys(p, None, Some(50));
            let _ = set.keys(b"", Some(p), Some(5));
        }
        for id in 0..set.len().min(200) as u64 {
            let _ = set.token(id);
        }
        let _ = set.contains_many(probes);
        let _ = set.keys(b"", None, Some(1000));
    }

    #[test]
    fn every_truncation_and_bit_flip_is_corrupt() {
        for layout in LAYOUTS {
            every_truncation_and_bit_flip_is_corrupt_in(layout);
        }
    }

    fn every_truncation_and_bit_flip_is_corrupt_in(layout: Layout) {
        let words = [
            "alpha", "beta", "gamma", "delta", "epsilon", "alphabet", "bet",
        ];
        let set = TokenSet::from_keys_with(words, layout).unwrap();
        let bytes = set.as_bytes().to_vec();
        for n in 0..bytes.len() {
            let r = TokenSet::from_bytes(bytes[..n].to_vec());
            assert!(matches!(r, Err(TextError::Corrupt(_))), "truncated to {n}");
        }
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                let r = TokenSet::from_bytes(b);
                assert!(matches!(r, Err(TextError::Corrupt(_))), "flip {i}:{bit}");
            }
        }
        let mut padded = bytes.clone();
        padded.push(0);
        assert!(matches!(
            TokenSet::from_bytes(padded),
            Err(TextError::Corrupt(_))
        ));
    }

    #[test]
    fn save_and_open() {
        let dir = std::env::temp_dir().join(format!("hpkit-text-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("set.hpkt");
        let set = TokenSet::from_keys(["x", "y", "zeta"]).unwrap();
        set.save(&path).unwrap();
        let opened = TokenSet::open(&path, true).unwrap();
        assert!(opened.is_mapped());
        assert!(opened.same_keys(&set));
        assert_eq!(opened.token(2).unwrap(), b"zeta");
        let missing = TokenSet::open(&dir.join("missing"), true);
        assert!(matches!(missing, Err(TextError::Io { .. })));
        std::fs::write(&path, b"").unwrap();
        assert!(matches!(
            TokenSet::open(&path, true),
            Err(TextError::Corrupt(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    proptest! {
        #[test]
        fn matches_a_sorted_set(words in proptest::collection::vec("[a-c\u{e9}\u{1F600}]{0,6}|a{10,20}[ab]{0,20}", 0..120),
                                probes in proptest::collection::vec("[a-c\u{e9}]{0,4}|a{10,20}[ab]{0,5}", 0..20),
                                layout in layout_strategy()) {
            let set = TokenSet::from_keys_with(&words, layout).unwrap();
            let sorted = reference(&words);
            prop_assert_eq!(set.len(), sorted.len());
            prop_assert_eq!(set.keys(b"", None, None), sorted.clone());
            for (i, k) in sorted.iter().enumerate() {
                prop_assert_eq!(set.index(k), Some(i as u64));
                prop_assert_eq!(set.token(i as u64), Some(k.clone()));
            }
            prop_assert_eq!(set.token(sorted.len() as u64), None);
            for p in &probes {
                let p = p.as_bytes();
                prop_assert_eq!(set.contains(p), sorted.binary_search(&p.to_vec()).is_ok());
                let with_prefix: Vec<Vec<u8>> =
                    sorted.iter().filter(|k| k.starts_with(p)).cloned().collect();
                prop_assert_eq!(set.keys(p, None, None), with_prefix);
            }
            let refs: Vec<&[u8]> = probes.iter().map(|p| p.as_bytes()).collect();
            let flags = set.contains_many(&refs);
            for (p, f) in refs.iter().zip(flags) {
                prop_assert_eq!(f, set.contains(p));
            }
            for (i, k) in sorted.iter().enumerate() {
                let after = set.keys(b"", Some(k), Some(3));
                let expected: Vec<Vec<u8>> = sorted[i + 1..].iter().take(3).cloned().collect();
                prop_assert_eq!(after, expected);
            }
            let ids = set.index_many(&refs);
            for (p, id) in refs.iter().zip(ids) {
                prop_assert_eq!(id, set.index(p).map_or(-1, |i| i as i64));
            }
            let back = TokenSet::from_bytes(set.as_bytes().to_vec()).unwrap();
            prop_assert!(back.same_keys(&set));
            let other = TokenSet::from_keys_with(&words, Layout::Fst).unwrap();
            prop_assert!(other.same_keys(&set) && set.same_keys(&other));
        }

        #[test]
        fn damaged_bodies_with_a_valid_checksum_never_panic(
            words in proptest::collection::vec("[a-d\u{e9}]{0,8}|b{14,20}[ab]{0,20}", 1..80),
            bucket_size in 1usize..40,
            flips in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..4),
            probes in proptest::collection::vec("[a-d]{0,5}", 0..10),
        ) {
            let set = TokenSet::from_keys_with(&words, Layout::Compact { bucket_size }).unwrap();
            let mut b = set.as_bytes().to_vec();
            for (at, bit) in &flips {
                let i = HEADER_LEN + at.index(b.len() - HEADER_LEN);
                b[i] ^= 1 << bit;
            }
            let crc = checksum(&b);
            b[CRC_AT..HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
            let mut probes: Vec<&[u8]> = probes.iter().map(|p| p.as_bytes()).collect();
            probes.extend(words.iter().map(|w| w.as_bytes()));
            // Checked: an error or a set whose keys decode.
            match TokenSet::from_bytes(b.clone()) {
                Ok(s) => exercise(&s, &probes),
                Err(e) => prop_assert!(matches!(e, TextError::Corrupt(_))),
            }
            // Unchecked (`open(verify=False)`): any answers, but no panic.
            if let Ok(s) = TokenSet::from_storage(Storage::Owned(b), false) {
                exercise(&s, &probes);
            }
        }
    }
}
