//! Bloom filter: "have I seen this item?" with no false negatives and a bounded rate of
//! false positives (Bloom 1970).
//!
//! Each item is hashed once to 128 bits, split into two 64-bit halves `(h1, h2)`.
//!
//! * [`Variant::Default`]: a *blocked* Bloom filter (Putze, Sanders & Singler 2007,
//!   "Cache-, hash- and space-efficient Bloom filters"), in the split-block form of
//!   Impala, Kudu and Parquet. The bit array is a run of 64-byte blocks (one cache line,
//!   8 `u64` words). `h1` picks the block by Lemire's multiply-shift
//!   (`(h1 * blocks) >> 64`, no division); `h2` sets one bit in *each* of the block's 8
//!   words, bit `(h2 >> 8j) & 63` of word `j` (the low 6 bits of each byte of `h2`; the
//!   hash is already uniform, so no salt multipliers are needed). So `k = 8` always, and
//!   an add or a lookup touches one cache line with 8 independent, branch-free word
//!   operations - a fixed-trip loop the compiler unrolls (and vectorises where the
//!   target has per-lane shifts).
//!
//!   Why this layout: at p = 0.005 a 512-bit block with one bit per word needs 11.61
//!   bits an item, as little as the best free-`k` blocked layout (`k` 9-bit positions
//!   anywhere in the block: k = 7 needs 11.50, k = 6 11.66) and 3% more than the
//!   standard filter's 11.24 at k = 6; but it is the cheapest to compute (8 byte slices
//!   of one word, no per-bit word index, no two probes hitting the same word) and the
//!   fastest measured: on an L2-resident filter (1M items) about as fast as the standard
//!   k = 6 layout to insert and 10% faster to query, and about 2x faster for both once
//!   the filter outgrows the caches (30M items), where the standard layout pays one
//!   cache miss per probe and this one one per item.
//!
//!   Sizing is exact, not the standard formula (which underestimates a blocked filter's
//!   rate: items spread over blocks unevenly, and overfull blocks dominate). With
//!   `lambda = n / blocks` items a block on average, the count in a block is
//!   Poisson(lambda) and a never-added item hits a block holding `i` items with
//!   probability `(1 - (1 - 1/64)^i)^8`, so the rate at `n` items is
//!   `sum_i Poisson(i; lambda) (1 - (1 - 1/64)^i)^8`. The filter has the fewest blocks
//!   for which that is `<= error_rate` at `n = capacity`: the measured rate at capacity
//!   is the target (from below), not the 10-30% over it that blocked filters sized
//!   by the standard formula show.
//! * [`Variant::Book`]: the chapter listing exactly (WORKLOADS.md W11.3):
//!   `m = int(-n ln p / ln(2)^2) + 1`, `k = int(m ln2 / n) + 1`, positions
//!   `(h1 + i·h2) mod m` with `(h1, h2)` the *signed* halves of `mmh3.hash64` and Python's
//!   (mathematical) modulo - double hashing (Kirsch & Mitzenmacher 2006, "Less hashing,
//!   same performance"). The listing's uninitialised bit array is a bug; bits start at 0.
//!
//! Both variants estimate how many distinct items were added from the number of set bits
//! `X`: `-m ln(1 - X/m) / k` (Swamidass & Baldi 2007). `X` is a popcount computed on
//! demand, so inserting stays a bare read-modify-write. For the blocked layout this is an
//! approximation: the expected fraction of zero bits is `e^{-kn/m}` there too (each word
//! sees Poisson(n/blocks) items), so the estimate is centred on `n`, but its spread is
//! somewhat wider than for a standard filter because block loads vary.
//!
//! Limits: a fixed capacity (see [`crate::ScalingBloomFilter`] to grow); above capacity
//! the false-positive rate climbs quickly (for the blocked layout a little faster than
//! for a standard one); items cannot be removed. At most [`MAX_BITS`] bits. The default
//! layout's fixed k = 8 costs memory at small rates: bits an item against a standard
//! filter's optimum are 10.10 vs 9.59 at p = 0.01, 11.61 vs 11.03 at 0.005, 15.72 vs
//! 14.38 at 0.001, but 23.6 vs 19.2 at 1e-4 and 51.9 vs 28.8 at 1e-6 (use the book
//! variant, or several filters, there). Rates are a whole number of blocks: a filter of a
//! few hundred blocks or fewer lands further below its target, and its realised rate
//! varies more from one item set to another.

use crate::error::{incompatible, invalid, Result};
use crate::format::{ensure, Kind, Reader, Writer};
use crate::hash::{HashKind, Variant};
use crate::{Hasher, Merge, Persist, Sketch};

/// The largest filter this crate builds: 2^40 bits = 128 GiB.
pub const MAX_BITS: u64 = 1 << 40;
/// Bits in a block of the default (blocked) layout: one 64-byte cache line.
pub const BLOCK_BITS: u64 = 512;
/// `u64` words in a block of the default layout.
const BLOCK_WORDS: usize = 8;
/// Bits the default layout sets per item: one in each word of its block.
const BLOCK_HASHES: u32 = BLOCK_WORDS as u32;

/// A Bloom filter over byte strings. See the module documentation.
#[derive(Clone, PartialEq, Debug)]
pub struct BloomFilter {
    hash: HashKind,
    variant: Variant,
    capacity: u64,
    error_rate: f64,
    num_bits: u64,
    num_hashes: u32,
    words: Vec<u64>,
}

/// The false-positive rate of the default (blocked) layout with `lambda` items a block
/// on average: `sum_i Poisson(i; lambda) (1 - (1 - 1/64)^i)^8`.
pub fn blocked_error_rate(lambda: f64) -> f64 {
    if lambda.is_nan() || lambda <= 0.0 {
        return 0.0;
    }
    if lambda > 65_536.0 {
        // every bit of nearly every block is set: (1 - e^{-1000})^8 == 1.0 in f64
        return 1.0;
    }
    // ln(1 - 1/64): a block word holding i items is still 0 at a bit w.p. (63/64)^i
    let ln_keep = (-1.0f64 / 64.0).ln_1p();
    let ln_lambda = lambda.ln();
    let mut ln_pmf = -lambda; // ln Poisson(0; lambda)
    let mut sum = 0.0;
    let mut i = 0u32;
    loop {
        i += 1;
        ln_pmf += ln_lambda - f64::from(i).ln();
        let pmf = ln_pmf.exp();
        let inside = (-(f64::from(i) * ln_keep).exp_m1()).powi(BLOCK_HASHES as i32);
        sum += pmf * inside;
        // past the mean the terms fall at least geometrically (ratio lambda/i <= 1/2
        // beyond 2 lambda): what is left is below 2 pmf
        if f64::from(i) > 2.0 * lambda + 16.0 && pmf < 1e-30 {
            break;
        }
    }
    sum.min(1.0)
}

/// The fewest 512-bit blocks for which the default layout's rate at `n` items is at
/// most `p`; `None` past [`MAX_BITS`].
fn blocks_for(n: u64, p: f64) -> Option<u64> {
    let rate = |blocks: u64| blocked_error_rate(n as f64 / blocks as f64);
    let most = MAX_BITS / BLOCK_BITS;
    if rate(most) > p {
        return None;
    }
    // the rate falls as blocks are added: bisect for the first block count that meets p
    let (mut lo, mut hi) = (0u64, most); // rate(lo) > p (or lo = 0), rate(hi) <= p
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if rate(mid) <= p {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

/// `(num_bits, num_hashes)` for `capacity` items at `error_rate`, per variant.
pub fn bloom_size(capacity: u64, error_rate: f64, variant: Variant) -> Result<(u64, u32)> {
    if capacity == 0 {
        return invalid("capacity must be > 0");
    }
    if !(error_rate > 0.0 && error_rate < 1.0) {
        return invalid(format!("error_rate must be in (0, 1), got {error_rate}"));
    }
    let n = capacity as f64;
    let ln2 = std::f64::consts::LN_2;
    let (bits, hashes) = match variant {
        Variant::Book => {
            // Python: int(-capacity * math.log(error) / math.log(2) ** 2) + 1, etc.
            let bits = (-n * error_rate.ln() / (ln2 * ln2)).trunc() + 1.0;
            let hashes = (bits * ln2 / n).trunc() + 1.0;
            (bits, hashes)
        }
        Variant::Default => match blocks_for(capacity, error_rate) {
            Some(blocks) => ((blocks * BLOCK_BITS) as f64, f64::from(BLOCK_HASHES)),
            None => {
                return invalid(format!(
                    "a Bloom filter for capacity={capacity} at error_rate={error_rate} needs \
                     more bits than the limit of 2^40"
                ))
            }
        },
    };
    if bits > MAX_BITS as f64 {
        return invalid(format!(
            "a Bloom filter for capacity={capacity} at error_rate={error_rate} needs {bits:.0} \
             bits, more than the limit of 2^40"
        ));
    }
    if hashes > 4096.0 {
        return invalid(format!(
            "error_rate={error_rate} needs {hashes} hashes (limit 4096)"
        ));
    }
    Ok((bits as u64, hashes as u32))
}

/// The default layout's block index of `h1` among `blocks`.
#[inline(always)]
fn block_of(h1: u64, blocks: usize) -> usize {
    ((u128::from(h1) * blocks as u128) >> 64) as usize
}

/// The default layout's in-block mask: bit `(h2 >> 8j) & 63` of word `j`.
#[inline(always)]
fn block_mask(h2: u64) -> [u64; BLOCK_WORDS] {
    let mut mask = [0u64; BLOCK_WORDS];
    for (j, m) in mask.iter_mut().enumerate() {
        *m = 1 << ((h2 >> (8 * j)) & 63);
    }
    mask
}

impl BloomFilter {
    /// An empty filter sized for `capacity` items at false-positive rate `error_rate`.
    pub fn new(capacity: u64, error_rate: f64, hash: HashKind, variant: Variant) -> Result<Self> {
        let (num_bits, num_hashes) = bloom_size(capacity, error_rate, variant)?;
        Ok(BloomFilter {
            hash,
            variant,
            capacity,
            error_rate,
            num_bits,
            num_hashes,
            words: vec![0; num_bits.div_ceil(64) as usize],
        })
    }

    pub fn hash_kind(&self) -> HashKind {
        self.hash
    }
    pub fn variant(&self) -> Variant {
        self.variant
    }
    pub fn capacity(&self) -> u64 {
        self.capacity
    }
    pub fn error_rate(&self) -> f64 {
        self.error_rate
    }
    pub fn num_bits(&self) -> u64 {
        self.num_bits
    }
    pub fn num_hashes(&self) -> u32 {
        self.num_hashes
    }
    /// The bit array, 64 bits a word, bit `i` at `words[i / 64] >> (i % 64)`.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// Number of 512-bit blocks of the default layout.
    #[inline(always)]
    fn blocks(&self) -> usize {
        self.words.len() / BLOCK_WORDS
    }

    /// Call `f` with each of the item's `k` bit positions, stopping when it returns false.
    #[inline(always)]
    fn probe(&self, h: (u64, u64), mut f: impl FnMut(u64) -> bool) {
        let m = self.num_bits;
        match self.variant {
            Variant::Default => {
                let base = block_of(h.0, self.blocks()) as u64 * BLOCK_BITS;
                for j in 0..BLOCK_WORDS as u64 {
                    if !f(base + 64 * j + ((h.1 >> (8 * j)) & 63)) {
                        return;
                    }
                }
            }
            Variant::Book => {
                // (h1 + i*h2) mod m with signed h1, h2: reduce both once (m < 2^40 fits
                // i64), then step; every intermediate stays below 2m.
                let a = (h.0 as i64).rem_euclid(m as i64) as u64;
                let b = (h.1 as i64).rem_euclid(m as i64) as u64;
                let mut idx = a;
                for _ in 0..self.num_hashes {
                    if !f(idx) {
                        return;
                    }
                    idx += b;
                    if idx >= m {
                        idx -= m;
                    }
                }
            }
        }
    }

    /// The `k` bit positions of a hashed item, in probe order (default layout: the bit
    /// in word 0 of the item's block, then word 1, ... word 7).
    pub fn indexes_of_hash(&self, h: (u64, u64)) -> Vec<u64> {
        let mut out = Vec::with_capacity(self.num_hashes as usize);
        self.probe(h, |i| {
            out.push(i);
            true
        });
        out
    }

    /// The `k` bit positions of an item.
    pub fn indexes(&self, item: &[u8]) -> Vec<u64> {
        self.indexes_of_hash(self.hash_item(item))
    }

    /// Default layout: whether every bit of `h`'s mask is set in its block. Branch-free.
    #[inline(always)]
    fn block_contains(blocks: &[[u64; BLOCK_WORDS]], h: (u64, u64)) -> bool {
        let block = &blocks[block_of(h.0, blocks.len())];
        let mask = block_mask(h.1);
        let mut missing = 0;
        for (w, m) in block.iter().zip(mask) {
            missing |= m & !w;
        }
        missing == 0
    }

    /// Whether a hashed item is probably present (never false for an added item).
    #[inline]
    pub fn contains_hash(&self, h: (u64, u64)) -> bool {
        match self.variant {
            Variant::Default => Self::block_contains(self.words.as_chunks().0, h),
            Variant::Book => {
                let words = &self.words;
                let mut all = true;
                self.probe(h, |i| {
                    all = words[(i >> 6) as usize] & (1 << (i & 63)) != 0;
                    all
                });
                all
            }
        }
    }

    /// Whether an item is probably present.
    pub fn contains(&self, item: &[u8]) -> bool {
        self.contains_hash(self.hash_item(item))
    }

    /// [`BloomFilter::contains_hash`] without the early exit: all `k` bits are tested.
    /// In a batch this is faster - a never-added item would leave the early-exit loop at
    /// a random probe, a branch the CPU cannot predict, while `k` independent loads
    /// overlap. (The default layout never exits early.)
    #[inline]
    pub fn contains_hash_all(&self, h: (u64, u64)) -> bool {
        match self.variant {
            Variant::Default => Self::block_contains(self.words.as_chunks().0, h),
            Variant::Book => {
                let words = &self.words;
                let mut all = 1u64;
                self.probe(h, |i| {
                    all &= words[(i >> 6) as usize] >> (i & 63);
                    true
                });
                all & 1 != 0
            }
        }
    }

    /// `out[j] = contains_hash(hashes[j])`.
    pub fn contains_hashes(&self, hashes: &[(u64, u64)], out: &mut [bool]) {
        match self.variant {
            Variant::Default => {
                let blocks = self.words.as_chunks().0;
                for (o, &h) in out.iter_mut().zip(hashes) {
                    *o = Self::block_contains(blocks, h);
                }
            }
            Variant::Book => {
                for (o, &h) in out.iter_mut().zip(hashes) {
                    *o = self.contains_hash_all(h);
                }
            }
        }
    }

    /// Insert a hashed item; true when every bit was already set (the item was probably
    /// present before).
    #[inline]
    pub fn insert_hash_check(&mut self, h: (u64, u64)) -> bool {
        let (m, k, variant) = (self.num_bits, self.num_hashes, self.variant);
        if variant == Variant::Default {
            let blocks = self.words.as_chunks_mut::<BLOCK_WORDS>().0;
            let n = blocks.len();
            let block = &mut blocks[block_of(h.0, n)];
            let mut changed = 0;
            for (w, m) in block.iter_mut().zip(block_mask(h.1)) {
                changed |= m & !*w;
                *w |= m;
            }
            return changed == 0;
        }
        // Book: `probe` borrows self; inline its loop over the word array instead.
        let words = &mut self.words;
        let mut changed = 0u64;
        let a = (h.0 as i64).rem_euclid(m as i64) as u64;
        let b = (h.1 as i64).rem_euclid(m as i64) as u64;
        let mut idx = a;
        for _ in 0..k {
            let w = &mut words[(idx >> 6) as usize];
            let bit = 1u64 << (idx & 63);
            changed |= !*w & bit;
            *w |= bit;
            idx += b;
            if idx >= m {
                idx -= m;
            }
        }
        changed == 0
    }

    /// Add an item; true when it was probably present already.
    pub fn insert(&mut self, item: &[u8]) -> bool {
        let h = self.hash_item(item);
        self.insert_hash_check(h)
    }

    /// Number of bits set (`X`).
    pub fn bits_set(&self) -> u64 {
        self.words.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    /// Estimated number of distinct items added: `-m ln(1 - X/m) / k`; infinite when every
    /// bit is set.
    pub fn estimate(&self) -> f64 {
        let m = self.num_bits as f64;
        let x = self.bits_set() as f64;
        // `0.0 -` keeps an empty filter at +0.0 (bit-identical to the book otherwise)
        0.0 - m * (1.0 - x / m).ln() / f64::from(self.num_hashes)
    }

    /// The false-positive rate a never-added item sees now. Default layout: exactly the
    /// mean over blocks of `prod_j popcount(word_j) / 64` (the chance that a random item's
    /// block has its 8 bits set). Book: `(X/m)^k`.
    pub fn current_error_rate(&self) -> f64 {
        match self.variant {
            Variant::Default => {
                let blocks = self.words.as_chunks::<BLOCK_WORDS>().0;
                let sum: f64 = blocks
                    .iter()
                    .map(|b| {
                        b.iter()
                            .map(|w| f64::from(w.count_ones()) / 64.0)
                            .product::<f64>()
                    })
                    .sum();
                sum / blocks.len() as f64
            }
            Variant::Book => {
                (self.bits_set() as f64 / self.num_bits as f64).powi(self.num_hashes as i32)
            }
        }
    }

    /// True when no bit is set.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// Remove every item.
    pub fn clear(&mut self) {
        self.words.fill(0);
    }

    fn check_compatible(&self, other: &Self) -> Result<()> {
        if self.num_bits != other.num_bits
            || self.num_hashes != other.num_hashes
            || self.hash != other.hash
            || self.variant != other.variant
        {
            return incompatible(format!(
                "Bloom filters differ: (num_bits={}, num_hashes={}, hash={}, variant={}) vs \
                 (num_bits={}, num_hashes={}, hash={}, variant={})",
                self.num_bits,
                self.num_hashes,
                self.hash.name(),
                self.variant.name(),
                other.num_bits,
                other.num_hashes,
                other.hash.name(),
                other.variant.name()
            ));
        }
        Ok(())
    }

    /// Keep only bits set in both: every item added to both still tests present, and the
    /// result is never worse than either filter (it is not, in general, the filter of the
    /// intersection of the two item sets: it may hold more bits).
    pub fn intersect(&mut self, other: &Self) -> Result<()> {
        self.check_compatible(other)?;
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= b;
        }
        Ok(())
    }
}

impl Sketch for BloomFilter {
    type Hash = (u64, u64);

    fn hasher(&self) -> Hasher<(u64, u64)> {
        Hasher::new(self.hash, |kind, item| kind.hash128(item))
    }

    #[inline]
    fn insert_hash(&mut self, h: (u64, u64)) {
        self.insert_hash_check(h);
    }

    fn insert_hashes(&mut self, hashes: &[(u64, u64)]) {
        match self.variant {
            Variant::Default => {
                // One cache line an item: pick the block, OR in the 8-word mask.
                let blocks = self.words.as_chunks_mut::<BLOCK_WORDS>().0;
                let n = blocks.len();
                for &(h1, h2) in hashes {
                    let block = &mut blocks[block_of(h1, n)];
                    for (w, m) in block.iter_mut().zip(block_mask(h2)) {
                        *w |= m;
                    }
                }
            }
            Variant::Book => {
                for &h in hashes {
                    self.insert_hash_check(h);
                }
            }
        }
    }
}

impl Persist for BloomFilter {
    fn nbytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.words.len() * 8
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(Kind::Bloom);
        w.u8(self.hash as u8)
            .u8(self.variant as u8)
            .u64(self.capacity)
            .f64(self.error_rate)
            .u64(self.num_bits)
            .u32(self.num_hashes)
            .u64s(&self.words);
        w.finish()
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, Kind::Bloom)?;
        let hash = HashKind::from_u8(r.u8()?)?;
        let variant = Variant::from_u8(r.u8()?)?;
        let capacity = r.u64()?;
        let error_rate = r.f64()?;
        let num_bits = r.u64()?;
        let num_hashes = r.u32()?;
        let sized = bloom_size(capacity, error_rate, variant);
        ensure(
            sized == Ok((num_bits, num_hashes)),
            "Bloom size does not match its parameters",
        )?;
        let words = r.u64s()?;
        r.finish()?;
        ensure(
            words.len() as u64 == num_bits.div_ceil(64),
            "Bloom bit array has the wrong length",
        )?;
        ensure(
            variant == Variant::Book || num_bits % BLOCK_BITS == 0,
            "Bloom default layout is not whole blocks",
        )?;
        let tail = num_bits % 64;
        if tail != 0 {
            ensure(
                words[words.len() - 1] >> tail == 0,
                "Bloom bits set beyond num_bits",
            )?;
        }
        Ok(BloomFilter {
            hash,
            variant,
            capacity,
            error_rate,
            num_bits,
            num_hashes,
            words,
        })
    }
}

impl Merge for BloomFilter {
    /// Bitwise OR: the filter of the union of both item sets, exactly.
    fn merge(&mut self, other: &Self) -> Result<()> {
        self.check_compatible(other)?;
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn book(capacity: u64, p: f64) -> BloomFilter {
        BloomFilter::new(capacity, p, HashKind::Murmur3, Variant::Book).unwrap()
    }

    #[test]
    fn book_known_answers() {
        let f = book(2048, 0.005);
        assert_eq!((f.num_bits(), f.num_hashes()), (22_585, 8));
        assert_eq!(
            f.indexes(b"foo"),
            vec![13141, 7699, 2257, 19400, 13958, 8516, 3074, 20217]
        );
        assert_eq!(
            bloom_size(1_048_576, 0.005, Variant::Book),
            Ok((11_563_438, 8))
        );
        assert_eq!(
            bloom_size(1_048_576, 0.0025, Variant::Book),
            Ok((13_076_213, 9))
        );
    }

    #[test]
    fn book_indexes_match_signed_python_mod() {
        let f = book(1000, 0.01);
        let m = f.num_bits() as i128;
        for i in 0..2000u32 {
            let key = i.to_string();
            let (a, b) = f.hash_item(key.as_bytes());
            let want: Vec<u64> = (0..i128::from(f.num_hashes()))
                .map(|j| ((a as i64 as i128) + j * (b as i64 as i128)).rem_euclid(m) as u64)
                .collect();
            assert_eq!(f.indexes(key.as_bytes()), want);
        }
    }

    #[test]
    fn bad_parameters() {
        for (n, p) in [
            (0, 0.01),
            (10, 0.0),
            (10, 1.0),
            (10, -0.5),
            (10, f64::NAN),
            (u64::MAX, 0.01),
        ] {
            for v in [Variant::Default, Variant::Book] {
                assert!(
                    BloomFilter::new(n, p, HashKind::Xxh3, v).is_err(),
                    "{n} {p}"
                );
            }
        }
    }

    #[test]
    fn default_sizing_is_the_fewest_blocks_meeting_the_target() {
        for (n, p) in [
            (1u64, 0.5),
            (10, 0.1),
            (1000, 0.01),
            (1 << 20, 0.005),
            (1 << 20, 0.001),
            (1 << 20, 1e-6),
        ] {
            let (m, k) = bloom_size(n, p, Variant::Default).unwrap();
            assert_eq!((k, m % BLOCK_BITS), (8, 0));
            let blocks = m / BLOCK_BITS;
            let rate = blocked_error_rate(n as f64 / blocks as f64);
            assert!(rate <= p, "{n} {p}: {blocks} blocks -> {rate}");
            if blocks > 1 {
                let fewer = blocked_error_rate(n as f64 / (blocks - 1) as f64);
                assert!(
                    fewer > p,
                    "{n} {p}: {} blocks already give {fewer}",
                    blocks - 1
                );
            }
        }
        // bits an item at 2^20 items (the standard filter's optimum: 11.03, 14.38, 28.76):
        // close at the usual rates, and the price of a fixed k = 8 at tiny ones
        for (p, want) in [(0.005, 11.61), (0.001, 15.72), (1e-6, 51.87)] {
            let (m, _) = bloom_size(1 << 20, p, Variant::Default).unwrap();
            let per_item = m as f64 / (1 << 20) as f64;
            assert!((per_item - want).abs() < 0.01, "{p}: {per_item}");
        }
    }

    #[test]
    fn blocked_rate_formula() {
        assert_eq!(blocked_error_rate(0.0), 0.0);
        assert_eq!(blocked_error_rate(1e9), 1.0);
        // for tiny lambda, single-item blocks dominate: lambda (1/64)^8, plus two-item
        // blocks at lambda^2/2 (2/64)^8-ish, 1.2e-4 of it at lambda = 1e-6
        let tiny = blocked_error_rate(1e-6);
        let two = 0.5e-12 * (1.0 - (63.0f64 / 64.0).powi(2)).powi(8);
        let want = 1e-6 * 64f64.powi(-8) + two;
        assert!((tiny / want - 1.0).abs() < 1e-6, "{tiny} vs {want}");
        // increasing in lambda
        let rates: Vec<f64> = (1..200).map(|l| blocked_error_rate(l as f64)).collect();
        assert!(rates.windows(2).all(|w| w[0] < w[1]));
        // Monte Carlo check of the formula itself, independent of any hash function
        let mut s = 12345u64;
        let mut next = || {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let (blocks, n) = (20_000usize, 900_000usize); // lambda = 45
        let mut words = vec![[0u64; BLOCK_WORDS]; blocks];
        for _ in 0..n {
            let (b, h) = (block_of(next(), blocks), next());
            for (w, m) in words[b].iter_mut().zip(block_mask(h)) {
                *w |= m;
            }
        }
        let probes = 2_000_000;
        let hits = (0..probes)
            .filter(|_| BloomFilter::block_contains(&words, (next(), next())))
            .count();
        let want = blocked_error_rate(45.0);
        let got = hits as f64 / probes as f64;
        // ~11000 expected hits, sd ~105: 5% is > 5 sd
        assert!((got / want - 1.0).abs() < 0.05, "{got} vs {want}");
    }

    fn fill_and_probe(v: Variant, n: u64, p: f64, probes: u64) -> (BloomFilter, f64) {
        let mut f = BloomFilter::new(n, p, HashKind::Xxh3, v).unwrap();
        for i in 0..n {
            f.insert(&i.to_le_bytes());
        }
        for i in 0..n {
            assert!(f.contains(&i.to_le_bytes()));
        }
        // never-added keys: far above the added ones
        let start = 1u64 << 50;
        let fp = (start..start + probes)
            .filter(|i| f.contains(&i.to_le_bytes()))
            .count();
        (f, fp as f64 / probes as f64)
    }

    #[test]
    fn false_positive_rate_at_capacity() {
        for v in [Variant::Default, Variant::Book] {
            let (n, p) = (100_000u64, 0.01);
            let (f, rate) = fill_and_probe(v, n, p, 400_000);
            // 4000 expected, sd ~63: +-10% is > 6 sd
            assert!((rate - p).abs() < 0.1 * p, "{v:?}: {rate}");
            let est = f.estimate();
            assert!((est - n as f64).abs() < 0.02 * n as f64, "{v:?}: {est}");
            let now = f.current_error_rate();
            assert!((now - p).abs() < 0.1 * p, "{v:?}: {now}");
        }
    }

    /// The default layout's measured rate at capacity is within 10% of the target, for
    /// several targets and capacities. Inputs are fixed (keys 0..n added, 2^50.. probed,
    /// xxh3), so this is deterministic; the tolerance is a statistical one all the same:
    /// 2M probes give >= 2000 expected false positives at p = 0.001 (sd <= 45, 2.2%), the
    /// fill of one filter moves its rate by a few percent at 100k items (less above), and
    /// the sized rate sits within 1% below the target (one block fewer would exceed it).
    /// Much smaller filters (a few hundred blocks) have coarser, more variable rates.
    #[test]
    fn default_rate_within_10_percent_of_target() {
        for p in [0.01, 0.005, 0.001] {
            for n in [100_000u64, 400_000, 1_000_000] {
                let (f, rate) = fill_and_probe(Variant::Default, n, p, 2_000_000);
                let sized = blocked_error_rate(n as f64 / (f.num_bits() / BLOCK_BITS) as f64);
                assert!(sized <= p && sized > 0.99 * p, "{n} {p}: sized {sized}");
                assert!((rate - p).abs() < 0.1 * p, "{n} {p}: {rate}");
                // the exact current rate of the filled array agrees with the measurement
                let now = f.current_error_rate();
                assert!((rate - now).abs() < 0.1 * now, "{n} {p}: {rate} vs {now}");
                let est = f.estimate();
                assert!((est / n as f64 - 1.0).abs() < 0.03, "{n} {p}: {est}");
            }
        }
    }

    #[test]
    fn default_indexes_are_one_bit_per_word_of_one_block() {
        let mut f = BloomFilter::new(10_000, 0.005, HashKind::Xxh3, Variant::Default).unwrap();
        for i in 0..1000u32 {
            let key = i.to_le_bytes();
            let idx = f.indexes(&key);
            assert_eq!(idx.len(), 8);
            let block = idx[0] / BLOCK_BITS;
            for (j, &b) in idx.iter().enumerate() {
                assert_eq!(b / BLOCK_BITS, block);
                assert_eq!((b % BLOCK_BITS) / 64, j as u64);
            }
            f.insert(&key);
            for &b in &idx {
                assert_ne!(f.words()[(b / 64) as usize] & (1 << (b % 64)), 0);
            }
        }
    }

    #[test]
    fn insert_reports_presence() {
        let mut f = BloomFilter::new(100, 0.01, HashKind::Xxh3, Variant::Default).unwrap();
        assert!(!f.insert(b"a"));
        assert!(f.insert(b"a"));
        assert!(f.contains(b"a"));
        assert!(!f.contains(b"b"));
        assert_eq!(
            f.bits_set() as usize,
            f.indexes(b"a")
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .len()
        );
    }

    #[test]
    fn merge_mismatch() {
        let mut a = BloomFilter::new(100, 0.01, HashKind::Xxh3, Variant::Default).unwrap();
        let b = BloomFilter::new(200, 0.01, HashKind::Xxh3, Variant::Default).unwrap();
        let c = BloomFilter::new(100, 0.01, HashKind::Murmur3, Variant::Default).unwrap();
        assert!(a.merge(&b).is_err());
        assert!(a.merge(&c).is_err());
        assert!(a.intersect(&c).is_err());
    }

    fn variant() -> impl Strategy<Value = Variant> {
        prop_oneof![Just(Variant::Default), Just(Variant::Book)]
    }

    proptest! {
        #[test]
        fn merge_equals_union(
            xs in proptest::collection::vec(any::<u32>(), 0..200),
            ys in proptest::collection::vec(any::<u32>(), 0..200),
            v in variant(),
        ) {
            let empty = BloomFilter::new(100, 0.02, HashKind::Murmur3, v).unwrap();
            let (mut a, mut b, mut u) = (empty.clone(), empty.clone(), empty);
            for x in &xs { a.insert(&x.to_le_bytes()); u.insert(&x.to_le_bytes()); }
            for y in &ys { b.insert(&y.to_le_bytes()); u.insert(&y.to_le_bytes()); }
            let mut i = a.clone();
            a.merge(&b).unwrap();
            prop_assert_eq!(&a, &u);
            i.intersect(&b).unwrap();
            for x in xs.iter().filter(|x| ys.contains(x)) {
                prop_assert!(i.contains(&x.to_le_bytes()));
            }
        }

        #[test]
        fn round_trip_and_corruption(
            xs in proptest::collection::vec(any::<u64>(), 0..50),
            v in variant(),
            flip in any::<(usize, u8)>(),
        ) {
            let mut f = BloomFilter::new(30, 0.05, HashKind::Xxh3, v).unwrap();
            for x in &xs { f.insert(&x.to_le_bytes()); }
            let bytes = f.to_bytes();
            prop_assert_eq!(&BloomFilter::from_bytes(&bytes).unwrap(), &f);
            for n in 0..bytes.len() {
                prop_assert!(BloomFilter::from_bytes(&bytes[..n]).is_err());
            }
            let mut bad = bytes.clone();
            let at = flip.0 % bad.len();
            bad[at] ^= flip.1.max(1);
            prop_assert!(BloomFilter::from_bytes(&bad).is_err());
        }
    }

    #[test]
    fn corrupt_but_checksummed_fields_are_rejected() {
        // Re-encode with a valid checksum but inconsistent fields.
        let f = BloomFilter::new(30, 0.05, HashKind::Xxh3, Variant::Default).unwrap();
        let mut w = Writer::new(Kind::Bloom);
        w.u8(0)
            .u8(0)
            .u64(30)
            .f64(0.05)
            .u64(f.num_bits() + 1)
            .u32(f.num_hashes())
            .u64s(f.words());
        assert!(BloomFilter::from_bytes(&w.finish()).is_err());
        // bits beyond num_bits (the book's m is not a multiple of 64)
        let b = BloomFilter::new(30, 0.05, HashKind::Murmur3, Variant::Book).unwrap();
        assert_ne!(b.num_bits() % 64, 0);
        let mut w = Writer::new(Kind::Bloom);
        let mut words = b.words().to_vec();
        *words.last_mut().unwrap() = u64::MAX;
        w.u8(1)
            .u8(1)
            .u64(30)
            .f64(0.05)
            .u64(b.num_bits())
            .u32(b.num_hashes())
            .u64s(&words);
        assert!(BloomFilter::from_bytes(&w.finish()).is_err());
        // the default layout: one word short of whole blocks
        let mut w = Writer::new(Kind::Bloom);
        w.u8(0)
            .u8(0)
            .u64(30)
            .f64(0.05)
            .u64(f.num_bits())
            .u32(f.num_hashes())
            .u64s(&f.words()[1..]);
        assert!(BloomFilter::from_bytes(&w.finish()).is_err());
        let mut w = Writer::new(Kind::Bloom);
        w.u8(0)
            .u8(0)
            .u64(1 << 50)
            .f64(0.05)
            .u64(1)
            .u32(1)
            .u64s(&[0]);
        assert!(BloomFilter::from_bytes(&w.finish()).is_err());
    }
}
