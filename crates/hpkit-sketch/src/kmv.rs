//! K minimum values (Bar-Yossef, Jayram, Kumar, Sivakumar & Trevisan, "Counting distinct
//! elements in a data stream", RANDOM 2002; the unbiased estimator and set operations from
//! Beyer, Haas, Reinwald, Sismanis & Gemulla, SIGMOD 2007): hash every item to a number
//! in `[0, 2^64)`, keep the `k` smallest distinct hashes. If the `k`-th smallest is `h_k`,
//! the hashes are about `n` evenly spread points, so `n ≈ (k - 1) / (h_k / 2^64)`
//! (unbiased; relative standard error `≈ 1/sqrt(k - 2)`). Fewer than `k` distinct hashes
//! seen means the count is exact.
//!
//! The union of two sketches is the `k` smallest of both ([`Merge`]: exact, order-free),
//! and the kept hashes give Jaccard similarity and intersection estimates
//! ([`Kmv::jaccard`], [`Kmv::intersection`]).
//!
//! Insertion rejects a hash at or above the current `k`-th smallest with one comparison,
//! which is all but `~k ln(n/k)` of `n` inserts; the rest go into a `BTreeSet`.
//!
//! [`Variant::Book`] (the `countmemaybe` package the book benchmarks): the key is the
//! 32-bit hash (`mmh3.hash`) with its sign bit cleared, `& (2^31 - 1)`, and the estimate
//! `(k - 1)(2^31 - 1) / h_k`. 31-bit keys collide once `n` nears tens of thousands
//! (birthday bound), which biases the estimate low at large `n`. Its result equals Python's
//! `(k - 1) * (2**31 - 1) / kth` bit for bit while `(k - 1)(2^31 - 1) < 2^53`, i.e. for
//! `k <= 2^22`.
//!
//! Limits: `2 <= k <= 2^24`; memory is about 16 bytes per kept hash.

use std::collections::BTreeSet;

use crate::error::{incompatible, invalid, Result};
use crate::format::{ensure, Kind, Reader, Writer};
use crate::hash::{HashKind, Variant};
use crate::{Hasher, Merge, Persist, Sketch};

const MIN_K: usize = 2;
const MAX_K: usize = 1 << 24;
const BOOK_MAX_KEY: u64 = (1 << 31) - 1;
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;

/// A K-minimum-values distinct counter; see the module docs.
#[derive(Clone, PartialEq, Debug)]
pub struct Kmv {
    k: usize,
    kind: HashKind,
    variant: Variant,
    /// The (at most `k`) smallest distinct hashes seen.
    values: BTreeSet<u64>,
    /// The largest kept hash once `k` are kept (a hash must be below it to enter), else
    /// `u64::MAX`. Derived from `values`.
    threshold: u64,
}

impl Kmv {
    pub fn new(k: usize, kind: HashKind, variant: Variant) -> Result<Self> {
        if !(MIN_K..=MAX_K).contains(&k) {
            return invalid(format!("k must be between {MIN_K} and {MAX_K}, got {k}"));
        }
        Ok(Kmv {
            k,
            kind,
            variant,
            values: BTreeSet::new(),
            threshold: u64::MAX,
        })
    }

    pub fn k(&self) -> usize {
        self.k
    }
    pub fn hash_kind(&self) -> HashKind {
        self.kind
    }
    pub fn variant(&self) -> Variant {
        self.variant
    }

    /// How many hashes are kept (`min(k, distinct hashes seen)`).
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The `k`-th smallest hash (the key the estimate divides by) once `k` are kept.
    pub fn kth(&self) -> Option<u64> {
        if self.values.len() == self.k {
            self.values.last().copied()
        } else {
            None
        }
    }

    /// The kept hashes, ascending.
    pub fn values(&self) -> impl Iterator<Item = u64> + '_ {
        self.values.iter().copied()
    }

    /// The distinct-count estimate: exact below `k` distinct hashes, else
    /// `(k - 1) / (h_k / 2^64)` (book: `(k - 1)(2^31 - 1) / h_k`).
    pub fn estimate(&self) -> f64 {
        match self.kth() {
            None => self.values.len() as f64,
            Some(kth) => {
                let k1 = (self.k - 1) as f64;
                match self.variant {
                    // kth >= k - 1 >= 1: the kept hashes are distinct.
                    Variant::Default => k1 / (kth as f64 / TWO_POW_64),
                    Variant::Book => ((self.k as u64 - 1) * BOOK_MAX_KEY) as f64 / kth as f64,
                }
            }
        }
    }

    fn check_compatible(&self, other: &Self) -> Result<()> {
        if self.k != other.k || self.kind != other.kind || self.variant != other.variant {
            return incompatible(format!(
                "KMV(k={}, hash={}, variant={}) vs KMV(k={}, hash={}, variant={})",
                self.k,
                self.kind.name(),
                self.variant.name(),
                other.k,
                other.kind.name(),
                other.variant.name()
            ));
        }
        Ok(())
    }

    /// Estimated Jaccard similarity `|A ∩ B| / |A ∪ B|` (Beyer et al. 2007): the share of
    /// the union's `k` smallest hashes kept by both sketches. Exact while the union holds
    /// fewer than `k` distinct hashes; 0 for two empty sketches.
    pub fn jaccard(&self, other: &Self) -> Result<f64> {
        self.check_compatible(other)?;
        let mut union = self.clone();
        union.merge(other)?;
        if union.values.is_empty() {
            return Ok(0.0);
        }
        let both = union
            .values
            .iter()
            .filter(|v| self.values.contains(v) && other.values.contains(v))
            .count();
        Ok(both as f64 / union.values.len() as f64)
    }

    /// Estimated size of the intersection: the Jaccard estimate times the union's estimate.
    pub fn intersection(&self, other: &Self) -> Result<f64> {
        let j = self.jaccard(other)?;
        let mut union = self.clone();
        union.merge(other)?;
        Ok(j * union.estimate())
    }
}

#[inline]
fn hash_default(kind: HashKind, item: &[u8]) -> u64 {
    kind.hash64(item)
}

#[inline]
fn hash_book(kind: HashKind, item: &[u8]) -> u64 {
    (kind.hash32(item) as u64) & BOOK_MAX_KEY
}

impl Sketch for Kmv {
    type Hash = u64;

    fn hasher(&self) -> Hasher<u64> {
        match self.variant {
            Variant::Default => Hasher::new(self.kind, hash_default),
            Variant::Book => Hasher::new(self.kind, hash_book),
        }
    }

    #[inline]
    fn insert_hash(&mut self, h: u64) {
        if self.values.len() < self.k {
            self.values.insert(h);
            if self.values.len() == self.k {
                self.threshold = *self.values.last().expect("k >= 2 values");
            }
        } else if h < self.threshold && self.values.insert(h) {
            self.values.pop_last();
            self.threshold = *self.values.last().expect("k >= 2 values");
        }
    }
}

impl Persist for Kmv {
    fn nbytes(&self) -> usize {
        // A BTreeSet<u64> leaf holds up to 11 keys in ~100 bytes and runs about 2/3 full.
        std::mem::size_of::<Self>() + self.values.len() * 16
    }

    fn to_bytes(&self) -> Vec<u8> {
        let values: Vec<u64> = self.values.iter().copied().collect();
        let mut w = Writer::new(Kind::Kmv);
        w.u64(self.k as u64)
            .u8(self.kind as u8)
            .u8(self.variant as u8)
            .u64s(&values);
        w.finish()
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, Kind::Kmv)?;
        let k = r.u64()?;
        ensure(
            (MIN_K as u64..=MAX_K as u64).contains(&k),
            "KMV k out of range",
        )?;
        let kind = HashKind::from_u8(r.u8()?)?;
        let variant = Variant::from_u8(r.u8()?)?;
        let values = r.u64s()?;
        r.finish()?;
        ensure(values.len() as u64 <= k, "KMV holds more than k values")?;
        ensure(
            values.windows(2).all(|w| w[0] < w[1]),
            "KMV values not strictly ascending",
        )?;
        if variant == Variant::Book {
            ensure(
                values.iter().all(|&v| v <= BOOK_MAX_KEY),
                "book KMV key above 2^31 - 1",
            )?;
        }
        let mut kmv = Kmv::new(k as usize, kind, variant)?;
        kmv.values = values.into_iter().collect();
        if kmv.values.len() == kmv.k {
            kmv.threshold = *kmv.values.last().expect("k >= 2 values");
        }
        Ok(kmv)
    }
}

impl Merge for Kmv {
    /// The union: the `k` smallest of both sketches' hashes.
    fn merge(&mut self, other: &Self) -> Result<()> {
        self.check_compatible(other)?;
        for &h in &other.values {
            if self.values.len() == self.k && h >= self.threshold {
                break; // other's values ascend: none of the rest can enter either
            }
            self.insert_hash(h);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn items(n: u64) -> impl Iterator<Item = Vec<u8>> {
        (0..n).map(|i| i.to_string().into_bytes())
    }

    #[test]
    fn book_known_answer() {
        // WORKLOADS.md ch11: KMV(k=65536), mmh3 keys & (2^31-1), str(i) for i < 1e6.
        let mut s = Kmv::new(65_536, HashKind::Murmur3, Variant::Book).unwrap();
        for it in items(1_000_000) {
            s.add(&it);
        }
        assert_eq!(s.kth(), Some(141_200_390));
        assert_eq!(s.estimate(), 996_706.4595653383);
    }

    #[test]
    fn exact_below_k_and_accurate_above() {
        let mut s = Kmv::new(1024, HashKind::Xxh3, Variant::Default).unwrap();
        for it in items(1000) {
            s.add(&it);
        }
        assert_eq!(s.estimate(), 1000.0);
        for it in items(200_000) {
            s.add(&it);
        }
        // Relative standard error 1/sqrt(1022) ~ 3.1%; allow 4 sigma.
        let err = s.estimate() / 200_000.0 - 1.0;
        assert!(err.abs() < 0.125, "error {err}");
    }

    #[test]
    fn bad_parameters() {
        assert!(Kmv::new(1, HashKind::Xxh3, Variant::Default).is_err());
        assert!(Kmv::new(MAX_K + 1, HashKind::Xxh3, Variant::Default).is_err());
        let a = Kmv::new(16, HashKind::Xxh3, Variant::Default).unwrap();
        let mut b = Kmv::new(32, HashKind::Xxh3, Variant::Default).unwrap();
        assert!(b.merge(&a).is_err());
        let mut c = Kmv::new(16, HashKind::Murmur3, Variant::Default).unwrap();
        assert!(c.merge(&a).is_err());
        assert!(c.jaccard(&a).is_err());
    }

    #[test]
    fn jaccard_and_intersection() {
        let mut a = Kmv::new(4096, HashKind::Xxh3, Variant::Default).unwrap();
        let mut b = a.clone();
        // A = [0, 60000), B = [30000, 90000): J = 1/3, |A ∩ B| = 30000.
        for it in items(60_000) {
            a.add(&it);
        }
        for i in 30_000..90_000u64 {
            b.add(i.to_string().as_bytes());
        }
        let j = a.jaccard(&b).unwrap();
        assert!((j - 1.0 / 3.0).abs() < 0.04, "jaccard {j}");
        let n = a.intersection(&b).unwrap();
        assert!((n / 30_000.0 - 1.0).abs() < 0.15, "intersection {n}");
        let empty = Kmv::new(4096, HashKind::Xxh3, Variant::Default).unwrap();
        assert_eq!(empty.jaccard(&empty).unwrap(), 0.0);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let mut s = Kmv::new(8, HashKind::Murmur3, Variant::Book).unwrap();
        for it in items(100) {
            s.add(&it);
        }
        let data = Persist::to_bytes(&s);
        for n in 0..data.len() {
            assert!(Kmv::from_bytes(&data[..n]).is_err());
        }
    }

    fn config() -> impl Strategy<Value = (usize, HashKind, Variant)> {
        (
            2usize..40,
            prop_oneof![Just(HashKind::Xxh3), Just(HashKind::Murmur3)],
            prop_oneof![Just(Variant::Default), Just(Variant::Book)],
        )
    }

    proptest! {
        #[test]
        fn merge_equals_union(
            (k, kind, variant) in config(),
            xs in proptest::collection::vec(0u32..500, 0..200),
            ys in proptest::collection::vec(0u32..500, 0..200),
        ) {
            let mut a = Kmv::new(k, kind, variant).unwrap();
            let mut b = a.clone();
            let mut u = a.clone();
            for x in &xs { a.add(&x.to_le_bytes()); u.add(&x.to_le_bytes()); }
            for y in &ys { b.add(&y.to_le_bytes()); u.add(&y.to_le_bytes()); }
            let mut ab = a.clone();
            ab.merge(&b).unwrap();
            prop_assert_eq!(&ab, &u);
            b.merge(&a).unwrap();
            prop_assert_eq!(&b, &u);
        }

        #[test]
        fn round_trip(
            (k, kind, variant) in config(),
            xs in proptest::collection::vec(any::<u64>(), 0..100),
        ) {
            let mut a = Kmv::new(k, kind, variant).unwrap();
            for x in &xs { a.add(&x.to_le_bytes()); }
            let back = Kmv::from_bytes(&Persist::to_bytes(&a)).unwrap();
            prop_assert_eq!(&back, &a);
            // The restored threshold keeps working.
            let mut a2 = a.clone();
            let mut b2 = back;
            for x in 0u64..50 { a2.add(&x.to_le_bytes()); b2.add(&x.to_le_bytes()); }
            prop_assert_eq!(a2, b2);
        }

        #[test]
        fn random_corruption_is_an_error(
            xs in proptest::collection::vec(any::<u64>(), 1..50), pos: usize, bit in 0u8..8,
        ) {
            let mut a = Kmv::new(16, HashKind::Xxh3, Variant::Default).unwrap();
            for x in &xs { a.add(&x.to_le_bytes()); }
            let mut data = Persist::to_bytes(&a);
            let i = pos % data.len();
            data[i] ^= 1 << bit;
            prop_assert!(Kmv::from_bytes(&data).is_err());
        }
    }
}
