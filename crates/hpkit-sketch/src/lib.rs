//! # hpkit-sketch
//!
//! Compact, mergeable, serialisable probabilistic data structures - the book's chapter 11
//! ("Using less RAM") toolkit:
//!
//! | type | answers | source |
//! |---|---|---|
//! | [`MorrisCounter`] | how many events, in `log log n` bits | Morris 1978 |
//! | [`Kmv`] | how many distinct items (k minimum values) | Bar-Yossef et al. 2002 |
//! | [`LogLog`] | distinct items, 1 register per bucket | Durand & Flajolet 2003 |
//! | [`HyperLogLog`] | distinct items, sparse + dense registers | Flajolet et al. 2007; Heule et al. 2013 (HLL++); Ertl 2017 |
//! | [`BloomFilter`] | "have I seen it?" with a bounded false-positive rate | Bloom 1970; Kirsch & Mitzenmacher 2006 |
//! | [`ScalingBloomFilter`] | the same, growing without a capacity | Almeida et al. 2007 |
//! | [`CountMinSketch`] | how often, never under-counting | Cormode & Muthukrishnan 2005 |
//!
//! Every structure hashes items with a [`HashKind`]: `xxh3` by default (fast, 64/128-bit)
//! or `murmur3`, bit-for-bit the `mmh3` Python package, so that [`Variant::Book`] replays
//! the book's numbers exactly (the `countmemaybe` package semantics, quirks included;
//! see `WORKLOADS.md` ch11). [`Variant::Default`] is the best modern estimator.
//!
//! Items are byte strings; the binding decides how Python objects become bytes. Each
//! structure implements [`Sketch`]: hashing is separate from inserting, so a caller can
//! hash a batch in parallel and insert it in one pass. Structures round-trip through a
//! versioned, checksummed byte format ([`format`]); corrupted or truncated bytes give
//! [`SketchError::Corrupt`], never a panic.

pub mod error;
pub mod format;
pub mod hash;

mod bloom;
mod countmin;
mod hll;
mod kmv;
mod loglog;
mod morris;
mod scaling;

pub use bloom::BloomFilter;
pub use countmin::CountMinSketch;
pub use error::{Result, SketchError};
pub use hash::{HashKind, Variant};
pub use hll::HyperLogLog;
pub use kmv::Kmv;
pub use loglog::LogLog;
pub use morris::MorrisCounter;
pub use scaling::ScalingBloomFilter;

/// How a structure turns an item's bytes into its hash: a hash function chosen at
/// construction and a plain `fn` for the variant's width. `Copy` and `Sync`, so a caller
/// can hash a batch in parallel while the structure itself is borrowed elsewhere.
#[derive(Clone, Copy)]
pub struct Hasher<H> {
    kind: HashKind,
    f: fn(HashKind, &[u8]) -> H,
}

impl<H> Hasher<H> {
    pub fn new(kind: HashKind, f: fn(HashKind, &[u8]) -> H) -> Self {
        Hasher { kind, f }
    }

    #[inline]
    pub fn hash(&self, item: &[u8]) -> H {
        (self.f)(self.kind, item)
    }

    /// The hash function this hasher applies.
    pub fn kind(&self) -> HashKind {
        self.kind
    }
}

/// What every structure shares, hashed or not (a Morris counter hashes nothing): a byte
/// form that round-trips, equality, and a memory size.
pub trait Persist: Sized + Clone + PartialEq + Send + Sync {
    /// Bytes of memory the structure holds (heap included), for `nbytes`.
    fn nbytes(&self) -> usize;

    /// The versioned, checksummed byte form (see [`format`]).
    fn to_bytes(&self) -> Vec<u8>;

    /// Parse [`Persist::to_bytes`] output; any corruption is an error, never a panic.
    fn from_bytes(bytes: &[u8]) -> Result<Self>;
}

/// A structure fed with hashed items. Hashing ([`Sketch::hasher`], pure) is split from
/// inserting ([`Sketch::insert_hash`], `&mut self`) so a batch can be hashed in parallel
/// first and inserted in one pass.
pub trait Sketch: Persist {
    /// What one item hashes to for this structure (e.g. `u64`, or a pair for Bloom).
    type Hash: Copy + Send + Sync + Default;

    /// This structure's hash function and variant.
    fn hasher(&self) -> Hasher<Self::Hash>;

    /// Insert one hashed item.
    fn insert_hash(&mut self, hash: Self::Hash);

    /// Insert a batch of hashed items, in order.
    fn insert_hashes(&mut self, hashes: &[Self::Hash]) {
        for &h in hashes {
            self.insert_hash(h);
        }
    }

    /// Hash one item.
    fn hash_item(&self, item: &[u8]) -> Self::Hash {
        self.hasher().hash(item)
    }

    /// Hash and insert one item.
    fn add(&mut self, item: &[u8]) {
        let h = self.hash_item(item);
        self.insert_hash(h);
    }
}

/// Structures whose union is defined: `a.merge(&b)` makes `a` equal to a structure that
/// saw every item of both. Fails when the two were configured differently.
pub trait Merge {
    fn merge(&mut self, other: &Self) -> Result<()>;
}
