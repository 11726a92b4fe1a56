//! Count-Min sketch: how often was each item seen, never under-counting (Cormode &
//! Muthukrishnan 2005, "An improved data stream summary: the count-min sketch and its
//! applications").
//!
//! `depth` rows of `width` counters; an item adds its count to one counter per row and its
//! estimate is the minimum of those counters. With `width = ceil(e/ε)` and
//! `depth = ceil(ln 1/δ)` ([`CountMinSketch::from_error`]) the estimate exceeds the true
//! count by more than `ε·total` with probability at most `δ`.
//!
//! * Row positions come from one 128-bit hash split into two 64-bit halves by enhanced
//!   double hashing (Kirsch & Mitzenmacher 2006 show this keeps the guarantees) and
//!   Lemire's multiply-shift range reduction - one hash per item whatever the depth.
//! * `conservative` update (Estan & Varghese 2002): raise each of the item's counters only
//!   as far as `min + count`. Estimates are still never below the truth and usually much
//!   closer; the price is that the sketch is no longer linear: merging (counter-wise sum)
//!   two conservative sketches gives an upper bound that may be looser than the sketch of
//!   the concatenated stream (still never under-counting).
//! * Counters are `u64` and saturate at `u64::MAX` instead of wrapping, so an estimate can
//!   never drop below the truth through overflow. `total` saturates likewise.
//!
//! There is no book variant: the chapter has no Count-Min listing.

use crate::error::{incompatible, invalid, Result};
use crate::format::{ensure, Kind, Reader, Writer};
use crate::hash::HashKind;
use crate::{Hasher, Merge, Persist, Sketch};

/// At most 2^32 counters (32 GiB).
pub const MAX_COUNTERS: u64 = 1 << 32;

/// A Count-Min sketch. See the module documentation.
#[derive(Clone, PartialEq, Debug)]
pub struct CountMinSketch {
    hash: HashKind,
    conservative: bool,
    width: u64,
    depth: u32,
    total: u64,
    /// Row-major: row `r` is `counters[r*width .. (r+1)*width]`.
    counters: Vec<u64>,
}

fn check_shape(width: u64, depth: u32) -> Result<()> {
    if width == 0 || depth == 0 {
        return invalid(format!(
            "width and depth must be > 0, got width={width}, depth={depth}"
        ));
    }
    if width
        .checked_mul(u64::from(depth))
        .is_none_or(|n| n > MAX_COUNTERS)
    {
        return invalid(format!(
            "width*depth = {width}*{depth} exceeds the limit of 2^32 counters"
        ));
    }
    Ok(())
}

impl CountMinSketch {
    /// An empty sketch of `depth` rows of `width` counters.
    pub fn new(width: u64, depth: u32, conservative: bool, hash: HashKind) -> Result<Self> {
        check_shape(width, depth)?;
        Ok(CountMinSketch {
            hash,
            conservative,
            width,
            depth,
            total: 0,
            counters: vec![0; (width * u64::from(depth)) as usize],
        })
    }

    /// The shape that guarantees `estimate <= true + epsilon·total` with probability
    /// `1 - delta`: `width = ceil(e/epsilon)`, `depth = ceil(ln(1/delta))`.
    pub fn shape_for_error(epsilon: f64, delta: f64) -> Result<(u64, u32)> {
        if !(epsilon > 0.0 && epsilon < 1.0) {
            return invalid(format!("epsilon must be in (0, 1), got {epsilon}"));
        }
        if !(delta > 0.0 && delta < 1.0) {
            return invalid(format!("delta must be in (0, 1), got {delta}"));
        }
        let width = (std::f64::consts::E / epsilon).ceil();
        let depth = (1.0 / delta).ln().ceil().max(1.0);
        if width > MAX_COUNTERS as f64 || depth > MAX_COUNTERS as f64 {
            return invalid(format!(
                "epsilon={epsilon}, delta={delta} need too many counters"
            ));
        }
        check_shape(width as u64, depth as u32)?;
        Ok((width as u64, depth as u32))
    }

    /// [`CountMinSketch::new`] with the shape of [`CountMinSketch::shape_for_error`].
    pub fn from_error(
        epsilon: f64,
        delta: f64,
        conservative: bool,
        hash: HashKind,
    ) -> Result<Self> {
        let (w, d) = Self::shape_for_error(epsilon, delta)?;
        Self::new(w, d, conservative, hash)
    }

    pub fn hash_kind(&self) -> HashKind {
        self.hash
    }
    pub fn width(&self) -> u64 {
        self.width
    }
    pub fn depth(&self) -> u32 {
        self.depth
    }
    pub fn conservative(&self) -> bool {
        self.conservative
    }
    /// Sum of all counts added.
    pub fn total(&self) -> u64 {
        self.total
    }
    /// The counters, row-major.
    pub fn counters(&self) -> &[u64] {
        &self.counters
    }

    /// Index into `counters` of the item's counter in each row.
    #[inline(always)]
    fn cells(&self, h: (u64, u64)) -> impl Iterator<Item = usize> {
        let w = self.width;
        let (mut x, mut y) = h;
        (0..u64::from(self.depth)).map(move |r| {
            let col = ((u128::from(x) * u128::from(w)) >> 64) as u64;
            x = x.wrapping_add(y);
            y = y.wrapping_add(r);
            (r * w + col) as usize
        })
    }

    /// Add `count` occurrences of a hashed item.
    #[inline]
    pub fn insert_hash_count(&mut self, h: (u64, u64), count: u64) {
        if count == 0 {
            return;
        }
        self.total = self.total.saturating_add(count);
        if self.conservative {
            let target = self.count_hash(h).saturating_add(count);
            for c in self.cells(h) {
                let v = &mut self.counters[c];
                *v = (*v).max(target);
            }
        } else {
            for c in self.cells(h) {
                let v = &mut self.counters[c];
                *v = v.saturating_add(count);
            }
        }
    }

    /// Add `counts[j]` occurrences of `hashes[j]` (the slices have equal length).
    pub fn insert_hashes_counts(&mut self, hashes: &[(u64, u64)], counts: &[u64]) {
        for (&h, &c) in hashes.iter().zip(counts) {
            self.insert_hash_count(h, c);
        }
    }

    /// Add `count` occurrences of an item.
    pub fn add_count(&mut self, item: &[u8], count: u64) {
        let h = self.hash_item(item);
        self.insert_hash_count(h, count);
    }

    /// The estimated count of a hashed item: never below the truth.
    #[inline]
    pub fn count_hash(&self, h: (u64, u64)) -> u64 {
        self.cells(h).map(|c| self.counters[c]).min().unwrap_or(0)
    }

    /// The estimated count of an item.
    pub fn count(&self, item: &[u8]) -> u64 {
        self.count_hash(self.hash_item(item))
    }

    pub fn count_hashes(&self, hashes: &[(u64, u64)], out: &mut [u64]) {
        for (o, &h) in out.iter_mut().zip(hashes) {
            *o = self.count_hash(h);
        }
    }

    pub fn clear(&mut self) {
        self.counters.fill(0);
        self.total = 0;
    }
}

impl Sketch for CountMinSketch {
    type Hash = (u64, u64);

    fn hasher(&self) -> Hasher<(u64, u64)> {
        Hasher::new(self.hash, |kind, item| kind.hash128(item))
    }

    #[inline]
    fn insert_hash(&mut self, h: (u64, u64)) {
        self.insert_hash_count(h, 1);
    }
}

impl Persist for CountMinSketch {
    fn nbytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.counters.len() * 8
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(Kind::CountMin);
        w.u8(self.hash as u8)
            .u8(u8::from(self.conservative))
            .u64(self.width)
            .u32(self.depth)
            .u64(self.total)
            .u64s(&self.counters);
        w.finish()
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, Kind::CountMin)?;
        let hash = HashKind::from_u8(r.u8()?)?;
        let conservative = r.u8()?;
        ensure(conservative <= 1, "bad conservative flag")?;
        let width = r.u64()?;
        let depth = r.u32()?;
        let total = r.u64()?;
        ensure(check_shape(width, depth).is_ok(), "bad Count-Min shape")?;
        let counters = r.u64s()?;
        r.finish()?;
        ensure(
            counters.len() as u64 == width * u64::from(depth),
            "wrong number of counters",
        )?;
        for row in counters.chunks_exact(width as usize) {
            let sum: u128 = row.iter().map(|&c| u128::from(c)).sum();
            // Every count lands once per row: a plain row sums to the total exactly (no
            // counter can saturate before the total does); a conservative one to at most.
            let ok = if conservative == 1 || total == u64::MAX {
                sum <= u128::from(total) || total == u64::MAX
            } else {
                sum == u128::from(total)
            };
            ensure(ok, "counters inconsistent with the total")?;
        }
        Ok(CountMinSketch {
            hash,
            conservative: conservative == 1,
            width,
            depth,
            total,
            counters,
        })
    }
}

impl Merge for CountMinSketch {
    /// Counter-wise (saturating) sum. Exact for plain sketches (the sketch of both streams);
    /// for conservative ones an upper bound, still never under-counting.
    fn merge(&mut self, other: &Self) -> Result<()> {
        if self.width != other.width
            || self.depth != other.depth
            || self.hash != other.hash
            || self.conservative != other.conservative
        {
            return incompatible(format!(
                "Count-Min sketches differ: (width={}, depth={}, hash={}, conservative={}) vs \
                 (width={}, depth={}, hash={}, conservative={})",
                self.width,
                self.depth,
                self.hash.name(),
                self.conservative,
                other.width,
                other.depth,
                other.hash.name(),
                other.conservative
            ));
        }
        for (a, b) in self.counters.iter_mut().zip(&other.counters) {
            *a = a.saturating_add(*b);
        }
        self.total = self.total.saturating_add(other.total);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// Zipf-ish stream: item i appears about 1000/(i+1) times, deterministic.
    fn stream() -> Vec<(u64, u64)> {
        (0..5000u64).map(|i| (i, 1000 / (i + 1) + 1)).collect()
    }

    #[test]
    fn never_under_counts_and_meets_the_bound() {
        for conservative in [false, true] {
            let eps = 0.001;
            let delta = 0.01;
            let mut s =
                CountMinSketch::from_error(eps, delta, conservative, HashKind::Xxh3).unwrap();
            assert_eq!((s.width(), s.depth()), (2719, 5));
            let data = stream();
            for &(x, c) in &data {
                s.add_count(&x.to_le_bytes(), c);
            }
            let total: u64 = data.iter().map(|p| p.1).sum();
            assert_eq!(s.total(), total);
            let mut over = 0;
            for &(x, c) in &data {
                let e = s.count(&x.to_le_bytes());
                assert!(e >= c);
                if (e - c) as f64 > eps * total as f64 {
                    over += 1;
                }
            }
            // P(over) <= delta per item; allow 2x slack on the expectation
            assert!(
                over as f64 <= 2.0 * delta * data.len() as f64,
                "{conservative}: {over}"
            );
        }
    }

    #[test]
    fn conservative_is_tighter() {
        let mut plain = CountMinSketch::new(200, 4, false, HashKind::Xxh3).unwrap();
        let mut cons = CountMinSketch::new(200, 4, true, HashKind::Xxh3).unwrap();
        let data = stream();
        for &(x, c) in &data {
            plain.add_count(&x.to_le_bytes(), c);
            cons.add_count(&x.to_le_bytes(), c);
        }
        let err = |s: &CountMinSketch| -> u64 {
            data.iter()
                .map(|&(x, c)| s.count(&x.to_le_bytes()) - c)
                .sum()
        };
        assert!(err(&cons) < err(&plain));
    }

    #[test]
    fn bad_parameters() {
        assert!(CountMinSketch::new(0, 3, true, HashKind::Xxh3).is_err());
        assert!(CountMinSketch::new(3, 0, true, HashKind::Xxh3).is_err());
        assert!(CountMinSketch::new(1 << 40, 1 << 20, true, HashKind::Xxh3).is_err());
        assert!(CountMinSketch::from_error(0.0, 0.1, true, HashKind::Xxh3).is_err());
        assert!(CountMinSketch::from_error(0.1, 1.0, true, HashKind::Xxh3).is_err());
        assert!(CountMinSketch::from_error(1e-300, 0.1, true, HashKind::Xxh3).is_err());
    }

    #[test]
    fn saturates() {
        let mut s = CountMinSketch::new(4, 2, false, HashKind::Xxh3).unwrap();
        s.add_count(b"a", u64::MAX - 1);
        s.add_count(b"a", 5);
        assert_eq!(s.count(b"a"), u64::MAX);
        assert_eq!(s.total(), u64::MAX);
        let back = CountMinSketch::from_bytes(&s.to_bytes()).unwrap();
        assert_eq!(back, s);
    }

    proptest! {
        #[test]
        fn merge_equals_union_plain(
            xs in proptest::collection::vec((any::<u16>(), 0u64..5), 0..100),
            ys in proptest::collection::vec((any::<u16>(), 0u64..5), 0..100),
        ) {
            let e = CountMinSketch::new(17, 3, false, HashKind::Murmur3).unwrap();
            let (mut a, mut b, mut u) = (e.clone(), e.clone(), e);
            for &(x, c) in &xs { a.add_count(&x.to_le_bytes(), c); u.add_count(&x.to_le_bytes(), c); }
            for &(y, c) in &ys { b.add_count(&y.to_le_bytes(), c); u.add_count(&y.to_le_bytes(), c); }
            a.merge(&b).unwrap();
            prop_assert_eq!(a, u);
        }

        #[test]
        fn merge_conservative_is_upper_bound(
            xs in proptest::collection::vec((0u16..50, 0u64..5), 0..100),
            ys in proptest::collection::vec((0u16..50, 0u64..5), 0..100),
        ) {
            let e = CountMinSketch::new(7, 3, true, HashKind::Xxh3).unwrap();
            let (mut a, mut b) = (e.clone(), e);
            let mut truth: HashMap<u16, u64> = HashMap::new();
            for &(x, c) in &xs { a.add_count(&x.to_le_bytes(), c); *truth.entry(x).or_default() += c; }
            for &(y, c) in &ys { b.add_count(&y.to_le_bytes(), c); *truth.entry(y).or_default() += c; }
            a.merge(&b).unwrap();
            for (x, c) in truth { prop_assert!(a.count(&x.to_le_bytes()) >= c); }
            prop_assert!(CountMinSketch::from_bytes(&a.to_bytes()).is_ok());
        }

        #[test]
        fn round_trip_and_corruption(
            xs in proptest::collection::vec((any::<u32>(), 0u64..1000), 0..60),
            conservative in any::<bool>(),
            flip in any::<(usize, u8)>(),
        ) {
            let mut s = CountMinSketch::new(5, 2, conservative, HashKind::Xxh3).unwrap();
            for &(x, c) in &xs { s.add_count(&x.to_le_bytes(), c); }
            let bytes = s.to_bytes();
            prop_assert_eq!(&CountMinSketch::from_bytes(&bytes).unwrap(), &s);
            for n in 0..bytes.len() {
                prop_assert!(CountMinSketch::from_bytes(&bytes[..n]).is_err());
            }
            let mut bad = bytes.clone();
            let at = flip.0 % bad.len();
            bad[at] ^= flip.1.max(1);
            prop_assert!(CountMinSketch::from_bytes(&bad).is_err());
        }
    }

    #[test]
    fn mismatched_merge() {
        let mut a = CountMinSketch::new(5, 2, true, HashKind::Xxh3).unwrap();
        for b in [
            CountMinSketch::new(6, 2, true, HashKind::Xxh3).unwrap(),
            CountMinSketch::new(5, 3, true, HashKind::Xxh3).unwrap(),
            CountMinSketch::new(5, 2, false, HashKind::Xxh3).unwrap(),
            CountMinSketch::new(5, 2, true, HashKind::Murmur3).unwrap(),
        ] {
            assert!(a.merge(&b).is_err());
        }
    }
}
