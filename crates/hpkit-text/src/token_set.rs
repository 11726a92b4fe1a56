//! [`TokenSet`]: an immutable set of byte strings stored as a minimal acyclic finite state
//! transducer (`fst::Map`) from each key to its rank in sorted order.
//!
//! Ranks are monotone in key order, so the FST builder pushes every output as far toward
//! the root as it goes: the sum of outputs along a path is the smallest rank below that
//! point. That makes both directions cheap - key -> rank is one walk down the key's bytes
//! ([`TokenSet::index`]), rank -> key one walk down the transitions whose accumulated
//! output is the largest not above the rank ([`TokenSet::token`]).
//!
//! # Serialised form
//!
//! ```text
//! offset  size  field
//!      0     4  magic "HPKT"
//!      4     2  version (u16 LE) = 1
//!      6     2  reserved = 0
//!      8     8  number of keys (u64 LE)
//!     16     8  length of the FST bytes (u64 LE)
//!     24     4  length of the longest key (u32 LE)
//!     28     4  CRC-32 of bytes 0..28 followed by the FST bytes (u32 LE)
//!     32     .  the FST (fst 0.4 format, which ends with its own footer)
//! ```
//!
//! The same bytes are what [`TokenSet::to_bytes`] returns and [`TokenSet::save`] writes,
//! so [`TokenSet::open`] can map a file and use it in place.

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
pub const VERSION: u16 = 1;
/// Bytes before the FST.
pub const HEADER_LEN: usize = 32;
const CRC_AT: usize = 28;

/// Batches at least this long are looked up on every core (below it, waking the pool
/// costs more than the lookups).
const PARALLEL_MIN: usize = 1 << 14;

/// Collects keys in any order, with duplicates, then builds a [`TokenSet`].
///
/// Deduplication happens as keys arrive (a hash set), so building from a long stream with
/// few distinct tokens holds only the distinct ones; [`TokenSetBuilder::finish`] sorts
/// them and writes the FST.
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

    /// Sort the distinct keys and build the set.
    pub fn finish(self) -> Result<TokenSet> {
        let mut keys: Vec<Box<[u8]>> = self.keys.into_iter().collect();
        keys.sort_unstable();
        TokenSet::from_sorted_unique(keys.iter().map(|k| &k[..]))
    }
}

/// An immutable, compact set of byte strings with ranks (see the module docs).
pub struct TokenSet {
    map: Map<FstBytes>,
    max_key_len: usize,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("len", &self.len())
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

impl TokenSet {
    /// Build from keys in any order, duplicates allowed.
    pub fn from_keys<I, K>(keys: I) -> Result<Self>
    where
        I: IntoIterator<Item = K>,
        K: AsRef<[u8]>,
    {
        let mut builder = TokenSetBuilder::new();
        for k in keys {
            builder.insert(k.as_ref());
        }
        builder.finish()
    }

    /// Build from keys that are already strictly increasing (byte order); anything else is
    /// an `InvalidArgument` error.
    pub fn from_sorted_unique<'k>(keys: impl IntoIterator<Item = &'k [u8]>) -> Result<Self> {
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
        let Ok(max_key_len) = u32::try_from(max_key_len) else {
            return invalid("a token is longer than 4 GiB");
        };
        let fst_len = (bytes.len() - HEADER_LEN) as u64;
        bytes[0..4].copy_from_slice(&MAGIC);
        bytes[4..6].copy_from_slice(&VERSION.to_le_bytes());
        bytes[6..8].copy_from_slice(&0u16.to_le_bytes());
        bytes[8..16].copy_from_slice(&count.to_le_bytes());
        bytes[16..24].copy_from_slice(&fst_len.to_le_bytes());
        bytes[24..28].copy_from_slice(&max_key_len.to_le_bytes());
        let crc = checksum(&bytes);
        bytes[CRC_AT..HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
        Self::from_storage(Storage::Owned(bytes), true)
    }

    /// Check a serialised form (header fields, lengths, and the checksum when `verify`)
    /// and wrap it without copying.
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
        if read_u16(bytes, 6) != 0 {
            return corrupt("reserved header field is not zero");
        }
        let count = read_u64(bytes, 8);
        let fst_len = read_u64(bytes, 16);
        let max_key_len = read_u32(bytes, 24) as usize;
        let expected = (HEADER_LEN as u64).checked_add(fst_len);
        if expected != Some(bytes.len() as u64) {
            return corrupt(format!(
                "header says {fst_len} FST bytes, found {} (truncated or padded)",
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
        Ok(TokenSet { map, max_key_len })
    }

    /// Load a serialised form (always checksummed).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        Self::from_storage(Storage::Owned(bytes), true)
    }

    /// Map the file at `path` read-only. With `verify`, the whole file is read once to
    /// check its CRC-32 (about a millisecond per few MB); without, only the header is
    /// checked and a corrupted file gives wrong answers or a panic (caught as an exception
    /// by the binding) instead of an error.
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

    /// The serialised form (header and FST), without copying.
    pub fn as_bytes(&self) -> &[u8] {
        self.map.as_fst().as_inner().storage.as_ref()
    }

    /// Bytes of the structure: the serialised form, which is all a set holds.
    pub fn nbytes(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the bytes are a file mapping (from [`TokenSet::open`]).
    pub fn is_mapped(&self) -> bool {
        matches!(self.map.as_fst().as_inner().storage, Storage::Mapped(_))
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The length of the longest key.
    pub fn max_key_len(&self) -> usize {
        self.max_key_len
    }

    #[inline]
    pub fn contains(&self, key: &[u8]) -> bool {
        key.len() <= self.max_key_len && self.map.contains_key(key)
    }

    /// The rank of `key` in sorted order, if present.
    #[inline]
    pub fn index(&self, key: &[u8]) -> Option<u64> {
        if key.len() > self.max_key_len {
            return None;
        }
        self.map.get(key)
    }

    /// The key of rank `id`, appended to `key` (which is cleared first); false when `id`
    /// is out of range.
    pub fn token_into(&self, id: u64, key: &mut Vec<u8>) -> bool {
        key.clear();
        if id >= self.len() as u64 {
            return false;
        }
        let fst = self.map.as_fst();
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

    /// Up to `limit` keys (all with `None`) that start with `prefix` and are greater than
    /// `after`, in sorted order: one call lists a prefix, repeated calls page through it.
    pub fn keys(&self, prefix: &[u8], after: Option<&[u8]>, limit: Option<usize>) -> Vec<Vec<u8>> {
        let limit = limit.unwrap_or(usize::MAX);
        let mut out = Vec::new();
        if limit == 0 {
            return out;
        }
        let range = match after {
            Some(a) if a >= prefix => self.map.range().gt(a),
            _ => self.map.range().ge(prefix),
        };
        let mut stream = range.into_stream();
        while let Some((key, _)) = stream.next() {
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

    /// Whether both sets hold the same keys (whatever their storage).
    pub fn same_keys(&self, other: &TokenSet) -> bool {
        if self.len() != other.len() {
            return false;
        }
        if self.map.as_fst().as_bytes() == other.map.as_fst().as_bytes() {
            return true;
        }
        let (mut a, mut b) = (self.map.keys(), other.map.keys());
        loop {
            match (a.next(), b.next()) {
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

    #[test]
    fn table() {
        let words = ["banana", "apple", "cherry", "apple", "", "app", "é", "z"];
        let set = TokenSet::from_keys(words).unwrap();
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
        let r = TokenSet::from_sorted_unique([&b"b"[..], &b"a"[..]]);
        assert!(matches!(r, Err(TextError::InvalidArgument(_))));
    }

    #[test]
    fn every_truncation_and_bit_flip_is_corrupt() {
        let set = TokenSet::from_keys(["alpha", "beta", "gamma", "delta", "epsilon"]).unwrap();
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
        fn matches_a_sorted_set(words in proptest::collection::vec("[a-c\u{e9}\u{1F600}]{0,6}", 0..60),
                                probes in proptest::collection::vec("[a-c\u{e9}]{0,4}", 0..20)) {
            let set = TokenSet::from_keys(&words).unwrap();
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
            let back = TokenSet::from_bytes(set.as_bytes().to_vec()).unwrap();
            prop_assert!(back.same_keys(&set));
        }
    }
}
