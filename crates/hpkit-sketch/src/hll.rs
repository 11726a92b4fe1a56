//! HyperLogLog: distinct counting in `m = 2^p` small registers.
//!
//! **Algorithm.** Each item's 64-bit hash picks a register (its top `p` bits) and a rank
//! (1 + the leading zeros of the remaining bits); a register keeps the largest rank it has
//! seen (Flajolet, Fusy, Gandouet & Meunier 2007). [`Variant::Default`] is built for the
//! best accuracy per byte:
//!
//! - **Sparse start** (Heule, Nunkesser & Hall 2013, "HyperLogLog in practice", HLL++): a
//!   sketch first stores one `u32` per touched register at precision `p' = 26`
//!   (`index << 6 | rank`; HLL++ uses 25 index bits and a flag, 26 + 6 bits fill the
//!   `u32` as DataSketches' coupons do) in a sorted, deduplicated list plus a small
//!   unsorted insert buffer merged when full. Its estimate is linear counting over `2^26`
//!   buckets, near exact (0.002% error at 1,000 items). It turns dense once the list
//!   would take more bytes than the dense registers (`m/8` entries).
//! - **Dense registers packed 4 bits each**, like Apache DataSketches' `HLL_4`: a shared
//!   offset `cur_min` (the smallest register), each register stored as `value - cur_min`,
//!   and the rare values 15 or more above the offset kept exactly in a sorted exception
//!   list (nibble 15 = "look it up"). When no register is left at the offset, the offset
//!   moves up. Registers are therefore exact (no truncation), in about `m/2` bytes.
//! - **HIP estimator** (Ting 2014, "Streamed approximate counting of distinct elements";
//!   Cohen 2015, "All-distances sketches, revisited: HIP estimators"): a running estimate
//!   grows by `1/q` at each register change, `q = Σ 2^-M[j] / m` before the change (the
//!   sum is kept exactly, as an integer scaled by `2^64`). Relative standard error about
//!   `0.83/√m`, against `1.04/√m` for the classic estimator. The sparse-to-dense switch
//!   starts HIP from the sparse estimate.
//! - **Merging** is the register-wise maximum. HIP is a property of one stream, so after
//!   a dense ∪ dense merge the sketch is flagged `merged` (serialised) and estimates with
//!   Ertl's improved raw estimator (Ertl 2017, "New cardinality estimation algorithms for
//!   HyperLogLog sketches", with his σ and τ functions: no empirical bias tables). Merging
//!   a *sparse* sketch into a dense one replays its entries as a stream, so HIP stays
//!   valid. Sketches of different `p` merge at the smaller `p` (the larger one is folded
//!   down exactly, as DataSketches' union does).
//!
//! **Limits.** `p` in `[4, 18]`. 64-bit hashes, so counts far beyond `2^40` stay
//! accurate. Relative error about `0.83/√m` (HIP) or `1.04/√m` (after a merge).
//!
//! **[`Variant::Book`]** replays the `countmemaybe` package the book benchmarks (see
//! `WORKLOADS.md` W11.3), quirks included: a signed 32-bit hash (`hash32`), index = bits
//! `[31-p, 31)` (the sign bit is dropped), rank over the low `31-p` bits, one plain `u8`
//! per register, the raw estimate `alpha·m²/Σ2^-M` with range corrections that use `log2`
//! where the paper uses `ln`. With `HashKind::Murmur3`, `p = 16` and the items `str(i)`,
//! `i < 10^6`, it gives 1,002,796.3523436624 exactly.

use std::fmt;

use crate::error::{incompatible, invalid, Result};
use crate::format::{ensure, Kind, Reader, Writer};
use crate::hash::{HashKind, Variant};
use crate::{Hasher, Merge, Persist, Sketch};

/// Smallest and largest precision: `m = 2^p` registers.
pub const MIN_P: u8 = 4;
pub const MAX_P: u8 = 18;
/// The sparse representation's precision (HLL++).
const SPARSE_P: u32 = 26;
/// Largest rank stored in a sparse entry: 1 + the 38 bits below the 26 index bits.
const SPARSE_MAX_RANK: u32 = 64 - SPARSE_P + 1;
/// Nibble value meaning "15 or more above the offset: see the exception list".
const EXCEPTION: u8 = 15;

/// A HyperLogLog distinct counter (see the module docs).
#[derive(Clone)]
pub struct HyperLogLog {
    p: u8,
    hash: HashKind,
    variant: Variant,
    /// Dense ∪ dense happened: HIP is no longer valid, estimate with Ertl's estimator.
    merged: bool,
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Sparse(Sparse),
    Dense(Dense),
    /// `Variant::Book`: one `u8` per register.
    Book(Vec<u8>),
}

/// HLL++ sparse entries `index26 << 6 | rank` (26 + 6 bits: all of a `u32`).
#[derive(Clone, Default)]
struct Sparse {
    /// Sorted by index, one entry per index (the largest rank).
    list: Vec<u32>,
    /// Unsorted recent inserts, folded into `list` when full.
    buf: Vec<u32>,
}

/// 4-bit registers relative to `cur_min`, exceptions for the rare large ones, the exact
/// `Σ 2^-M` and the HIP estimate.
#[derive(Clone)]
struct Dense {
    p: u8,
    /// Two registers per byte: register `2i` in the low nibble, `2i+1` in the high one.
    nibbles: Vec<u8>,
    /// The smallest register value.
    cur_min: u8,
    /// How many registers equal `cur_min`.
    num_at_cur_min: u32,
    /// `index << 8 | value` for registers with `value - cur_min >= 15`, sorted by index.
    exceptions: Vec<u32>,
    /// `Σ_j 2^(64 - M[j])`, exact.
    sum: u128,
    /// The running HIP estimate.
    hip: f64,
}

#[inline]
fn max_rank(p: u8) -> u8 {
    65 - p
}

/// Dense register index and rank of a 64-bit hash.
#[inline]
fn dense_pair(h: u64, p: u8) -> (usize, u8) {
    let j = (h >> (64 - p)) as usize;
    let rank = ((h << p) | (1u64 << (p - 1))).leading_zeros() + 1;
    (j, rank as u8)
}

/// The sparse entry of a 64-bit hash.
#[inline]
fn sparse_entry(h: u64) -> u32 {
    let idx = (h >> (64 - SPARSE_P)) as u32;
    let rank = ((h << SPARSE_P) | (1u64 << (SPARSE_P - 1))).leading_zeros() + 1;
    (idx << 6) | rank
}

/// The dense `(index, rank)` a sparse entry stands for at precision `p`: the same pair
/// [`dense_pair`] gives for the hash the entry came from.
#[inline]
fn sparse_make_dense(e: u32, p: u8) -> (usize, u8) {
    let idx26 = e >> 6;
    let extra = SPARSE_P - p as u32;
    let j = (idx26 >> extra) as usize;
    let low = idx26 & ((1u32 << extra) - 1);
    let rank = if low != 0 {
        extra - (32 - low.leading_zeros()) + 1
    } else {
        extra + (e & 63)
    };
    (j, rank as u8)
}

/// Most sparse entries before the dense form is smaller (`4 * n > m / 2`).
#[inline]
fn sparse_max(p: u8) -> usize {
    (1usize << p) / 8
}

/// Unsorted inserts held before a fold into the sorted list: small, so the sparse form
/// stays within about 1.1x the dense bytes.
#[inline]
fn buffer_max(p: u8) -> usize {
    ((1usize << p) / 64).max(4)
}

#[inline]
fn pow2_64(value: u8) -> u128 {
    1u128 << (64 - value as u32)
}

impl Sparse {
    /// Sort and deduplicate `entries` in place, keeping each index's largest rank.
    fn normalize(entries: &mut Vec<u32>) {
        entries.sort_unstable();
        let mut out = 0usize;
        for i in 0..entries.len() {
            let e = entries[i];
            if out > 0 && entries[out - 1] >> 6 == e >> 6 {
                entries[out - 1] = e; // sorted, so this rank is at least as large
            } else {
                entries[out] = e;
                out += 1;
            }
        }
        entries.truncate(out);
    }

    /// Merge two normalized lists.
    fn union(a: &[u32], b: &[u32]) -> Vec<u32> {
        let mut out = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut k) = (0, 0);
        while i < a.len() && k < b.len() {
            let (x, y) = (a[i], b[k]);
            match (x >> 6).cmp(&(y >> 6)) {
                std::cmp::Ordering::Less => {
                    out.push(x);
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    out.push(y);
                    k += 1;
                }
                std::cmp::Ordering::Equal => {
                    out.push(x.max(y));
                    i += 1;
                    k += 1;
                }
            }
        }
        out.extend_from_slice(&a[i..]);
        out.extend_from_slice(&b[k..]);
        out
    }

    fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        Self::normalize(&mut self.buf);
        self.list = Self::union(&self.list, &self.buf);
        self.buf.clear();
    }

    /// The sorted, deduplicated entries, buffer included.
    fn normalized(&self) -> Vec<u32> {
        if self.buf.is_empty() {
            return self.list.clone();
        }
        let mut b = self.buf.clone();
        Self::normalize(&mut b);
        Self::union(&self.list, &b)
    }

    /// Linear counting over the `2^26` sparse buckets.
    fn estimate(&self) -> f64 {
        let n = if self.buf.is_empty() {
            self.list.len()
        } else {
            self.normalized().len()
        };
        let m = (1u64 << SPARSE_P) as f64;
        m * (m / (m - n as f64)).ln()
    }
}

impl Dense {
    fn empty(p: u8) -> Self {
        let m = 1usize << p;
        Dense {
            p,
            nibbles: vec![0; m / 2],
            cur_min: 0,
            num_at_cur_min: m as u32,
            exceptions: Vec::new(),
            sum: (m as u128) << 64,
            hip: 0.0,
        }
    }

    /// Pack exact register values (the canonical form: `cur_min` is their minimum).
    fn from_values(p: u8, values: &[u8], hip: f64) -> Self {
        let cur_min = values.iter().copied().min().unwrap_or(0);
        let mut nibbles = vec![0u8; values.len() / 2];
        let mut exceptions = Vec::new();
        let mut num_at_cur_min = 0u32;
        let mut sum = 0u128;
        for (j, &v) in values.iter().enumerate() {
            sum += pow2_64(v);
            num_at_cur_min += u32::from(v == cur_min);
            let d = v - cur_min;
            let nib = if d >= EXCEPTION {
                exceptions.push(((j as u32) << 8) | u32::from(v));
                EXCEPTION
            } else {
                d
            };
            nibbles[j >> 1] |= nib << ((j & 1) * 4);
        }
        Dense {
            p,
            nibbles,
            cur_min,
            num_at_cur_min,
            exceptions,
            sum,
            hip,
        }
    }

    #[inline]
    fn nibble(&self, j: usize) -> u8 {
        (self.nibbles[j >> 1] >> ((j & 1) * 4)) & 0xF
    }

    #[inline]
    fn set_nibble(&mut self, j: usize, nib: u8) {
        let shift = (j & 1) * 4;
        let byte = &mut self.nibbles[j >> 1];
        *byte = (*byte & !(0xF << shift)) | (nib << shift);
    }

    fn exception_pos(&self, j: usize) -> std::result::Result<usize, usize> {
        self.exceptions
            .binary_search_by_key(&(j as u32), |e| e >> 8)
    }

    fn values(&self) -> Vec<u8> {
        let m = 1usize << self.p;
        let mut out = Vec::with_capacity(m);
        for &byte in &self.nibbles {
            out.push(self.cur_min + (byte & 0xF));
            out.push(self.cur_min + (byte >> 4));
        }
        for &e in &self.exceptions {
            out[(e >> 8) as usize] = e as u8;
        }
        out
    }

    /// Raise register `j` to `rank` if larger, advancing HIP.
    #[inline]
    fn update(&mut self, j: usize, rank: u8) {
        if rank <= self.cur_min {
            return;
        }
        let nib = self.nibble(j);
        if nib < EXCEPTION && rank <= self.cur_min + nib {
            return;
        }
        self.update_slow(j, rank, nib);
    }

    #[cold]
    fn update_slow(&mut self, j: usize, rank: u8, nib: u8) {
        let old = if nib < EXCEPTION {
            self.cur_min + nib
        } else {
            let Ok(k) = self.exception_pos(j) else { return };
            let old = self.exceptions[k] as u8;
            if rank <= old {
                return;
            }
            self.exceptions[k] = ((j as u32) << 8) | u32::from(rank);
            old
        };
        // HIP: this change had probability q = sum / (m 2^64) before it happened.
        // (u128 -> f64 is a slow library call; two u64 halves convert in hardware.)
        let m = (1u64 << self.p) as f64;
        let sum = (self.sum >> 64) as u64 as f64
            + (self.sum as u64) as f64 * (1.0 / 18_446_744_073_709_551_616.0);
        self.hip += m / sum;
        self.sum = self.sum - pow2_64(old) + pow2_64(rank);
        if nib < EXCEPTION {
            let d = rank - self.cur_min;
            if d >= EXCEPTION {
                self.set_nibble(j, EXCEPTION);
                if let Err(k) = self.exception_pos(j) {
                    self.exceptions
                        .insert(k, ((j as u32) << 8) | u32::from(rank));
                }
            } else {
                self.set_nibble(j, d);
            }
        }
        if old == self.cur_min {
            self.num_at_cur_min -= 1;
            if self.num_at_cur_min == 0 {
                *self = Dense::from_values(self.p, &self.values(), self.hip);
            }
        }
    }

    /// Ertl's improved raw estimator from the register histogram.
    fn ertl_estimate(&self) -> f64 {
        let q = 64 - self.p as usize;
        let mut counts = [0u32; 66];
        for &byte in &self.nibbles {
            counts[(self.cur_min + (byte & 0xF)) as usize] += 1;
            counts[(self.cur_min + (byte >> 4)) as usize] += 1;
        }
        for &e in &self.exceptions {
            counts[(self.cur_min + EXCEPTION) as usize] -= 1;
            counts[(e as u8) as usize] += 1;
        }
        ertl(&counts[..=q + 1], 1u64 << self.p)
    }
}

/// Ertl 2017, Algorithm 6: `counts[k]` = registers equal to `k`, `k = 0..=q+1`.
fn ertl(counts: &[u32], m: u64) -> f64 {
    let m = m as f64;
    let q = counts.len() - 2;
    let mut z = m * ertl_tau(1.0 - f64::from(counts[q + 1]) / m);
    for k in (1..=q).rev() {
        z = 0.5 * (z + f64::from(counts[k]));
    }
    z += m * ertl_sigma(f64::from(counts[0]) / m);
    m * m / (2.0 * std::f64::consts::LN_2) / z
}

fn ertl_sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if z == before {
            return z;
        }
    }
}

fn ertl_tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if z == before {
            return z / 3.0;
        }
    }
}

/// `countmemaybe`'s alpha.
fn book_alpha(m: f64) -> f64 {
    match m as u64 {
        16 => 0.673,
        32 => 0.697,
        64 => 0.709,
        _ => 0.7213 / (1.0 + 1.079 / m),
    }
}

/// Python's `math.log(x, 2)`: `ln(x) / ln(2)` (not `log2`, to match the package bit for bit).
fn py_log2(x: f64) -> f64 {
    x.ln() / 2f64.ln()
}

fn book_estimate(regs: &[u8]) -> f64 {
    let m = regs.len() as f64;
    // Every term is a power of two >= 2^-32 and the total is < 2^19, so this integer sum
    // scaled by 2^-32 is exact - as numpy's pairwise float sum is, whatever its order.
    let scaled: u64 = regs.iter().map(|&r| 1u64 << (32 - u32::from(r))).sum();
    let sum = scaled as f64 / 4_294_967_296.0;
    let mut e = book_alpha(m) * m * m / sum;
    if e <= 2.5 * m {
        let zeros = regs.iter().filter(|&&r| r == 0).count();
        if zeros > 0 {
            e = m * py_log2(m / zeros as f64);
        }
    } else if e > 4_294_967_296.0 / 30.0 {
        e = -4_294_967_296.0 * py_log2(1.0 - e / 4_294_967_296.0);
    }
    e
}

/// Book register index and rank of a 32-bit hash (countmemaybe semantics).
#[inline]
fn book_pair(h: u32, p: u8) -> (usize, u8) {
    let width = 31 - u32::from(p);
    let j = ((h >> width) & ((1u32 << p) - 1)) as usize;
    let w = h & ((1u32 << width) - 1);
    let bit_length = 32 - w.leading_zeros();
    (j, (width - bit_length + 1) as u8)
}

impl HyperLogLog {
    /// A sketch with `2^p` registers, `p` in `[4, 18]`.
    pub fn new(p: u8, hash: HashKind, variant: Variant) -> Result<Self> {
        if !(MIN_P..=MAX_P).contains(&p) {
            return invalid(format!("p must be in [{MIN_P}, {MAX_P}], got {p}"));
        }
        let repr = match variant {
            Variant::Default => Repr::Sparse(Sparse::default()),
            Variant::Book => Repr::Book(vec![0; 1 << p]),
        };
        Ok(HyperLogLog {
            p,
            hash,
            variant,
            merged: false,
            repr,
        })
    }

    pub fn p(&self) -> u8 {
        self.p
    }
    pub fn hash_kind(&self) -> HashKind {
        self.hash
    }
    pub fn variant(&self) -> Variant {
        self.variant
    }
    /// Still in the HLL++ sparse representation.
    pub fn is_sparse(&self) -> bool {
        matches!(self.repr, Repr::Sparse(_))
    }
    /// A dense ∪ dense merge happened; the estimate is Ertl's, not HIP.
    pub fn is_merged(&self) -> bool {
        self.merged
    }

    /// The estimated number of distinct items.
    pub fn estimate(&self) -> f64 {
        match &self.repr {
            Repr::Sparse(s) => s.estimate(),
            Repr::Dense(d) if self.merged => d.ertl_estimate(),
            Repr::Dense(d) => d.hip,
            Repr::Book(regs) => book_estimate(regs),
        }
    }

    /// Ertl's improved estimator on the registers (whatever the state; for comparisons).
    pub fn ertl_estimate(&self) -> f64 {
        match &self.repr {
            Repr::Dense(d) => d.ertl_estimate(),
            _ => {
                let regs = self.registers();
                let q = match self.variant {
                    Variant::Book => 31 - self.p as usize,
                    Variant::Default => 64 - self.p as usize,
                };
                let mut counts = vec![0u32; q + 2];
                for r in regs {
                    counts[r as usize] += 1;
                }
                ertl(&counts, 1u64 << self.p)
            }
        }
    }

    /// The `2^p` register values (sparse entries folded to precision `p`).
    pub fn registers(&self) -> Vec<u8> {
        match &self.repr {
            Repr::Sparse(s) => {
                let mut regs = vec![0u8; 1 << self.p];
                for e in s.normalized() {
                    let (j, r) = sparse_make_dense(e, self.p);
                    regs[j] = regs[j].max(r);
                }
                regs
            }
            Repr::Dense(d) => d.values(),
            Repr::Book(regs) => regs.clone(),
        }
    }

    fn make_dense(&mut self) {
        if let Repr::Sparse(s) = &mut self.repr {
            s.flush();
            let mut dense = Dense::empty(self.p);
            for &e in &s.list {
                let (j, r) = sparse_make_dense(e, self.p);
                dense.update(j, r);
            }
            dense.hip = s.estimate();
            self.repr = Repr::Dense(dense);
        }
    }

    /// Fold a default-variant sketch down to precision `p < self.p`. Exact: the result
    /// equals the sketch built at `p` from the same items. HIP stays valid (a running
    /// unbiased estimate continued with the new registers' change probabilities).
    fn downgrade(&mut self, p: u8) {
        debug_assert!(p < self.p && self.variant == Variant::Default);
        match &mut self.repr {
            Repr::Sparse(s) => {
                s.flush();
                self.p = p;
                if s.list.len() > sparse_max(p) {
                    self.make_dense();
                }
            }
            Repr::Dense(d) => {
                let shift = self.p - p;
                let mut folded = vec![0u8; 1 << p];
                for (j, &v) in d.values().iter().enumerate() {
                    if v == 0 {
                        continue;
                    }
                    let low = (j as u32) & ((1u32 << shift) - 1);
                    let r = if low != 0 {
                        (u32::from(shift) - (32 - low.leading_zeros()) + 1) as u8
                    } else {
                        shift + v
                    };
                    let t = j >> shift;
                    folded[t] = folded[t].max(r);
                }
                self.repr = Repr::Dense(Dense::from_values(p, &folded, d.hip));
                self.p = p;
            }
            Repr::Book(_) => {}
        }
    }

    #[inline]
    fn insert_sparse(&mut self, h: u64) {
        if let Repr::Sparse(s) = &mut self.repr {
            s.buf.push(sparse_entry(h));
            if s.buf.len() >= buffer_max(self.p) {
                s.flush();
                if s.list.len() > sparse_max(self.p) {
                    self.make_dense();
                }
            }
        }
    }
}

impl Sketch for HyperLogLog {
    type Hash = u64;

    fn hasher(&self) -> Hasher<u64> {
        match self.variant {
            Variant::Default => Hasher::new(self.hash, HashKind::hash64),
            Variant::Book => Hasher::new(self.hash, |k, item| u64::from(k.hash32(item))),
        }
    }

    fn insert_hash(&mut self, h: u64) {
        self.insert_hashes(std::slice::from_ref(&h));
    }

    fn insert_hashes(&mut self, hashes: &[u64]) {
        let p = self.p;
        let mut rest = hashes;
        while !rest.is_empty() {
            match &mut self.repr {
                Repr::Sparse(_) => {
                    self.insert_sparse(rest[0]);
                    rest = &rest[1..];
                }
                Repr::Dense(d) => {
                    for &h in rest {
                        let (j, r) = dense_pair(h, p);
                        d.update(j, r);
                    }
                    return;
                }
                Repr::Book(regs) => {
                    for &h in rest {
                        let (j, r) = book_pair(h as u32, p);
                        regs[j] = regs[j].max(r);
                    }
                    return;
                }
            }
        }
    }
}

impl Persist for HyperLogLog {
    fn nbytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + match &self.repr {
                Repr::Sparse(s) => 4 * (s.list.capacity() + s.buf.capacity()),
                Repr::Dense(d) => d.nibbles.capacity() + 4 * d.exceptions.capacity(),
                Repr::Book(regs) => regs.capacity(),
            }
    }

    /// Body: variant, hash, p, merged, mode (0 sparse, 1 dense, 2 book), then the state.
    fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(Kind::HyperLogLog);
        w.u8(self.variant as u8)
            .u8(self.hash as u8)
            .u8(self.p)
            .u8(u8::from(self.merged));
        match &self.repr {
            Repr::Sparse(s) => {
                w.u8(0).u32s(&s.normalized());
            }
            Repr::Dense(d) => {
                w.u8(1)
                    .f64(d.hip)
                    .u8(d.cur_min)
                    .bytes(&d.nibbles)
                    .u32s(&d.exceptions);
            }
            Repr::Book(regs) => {
                w.u8(2).bytes(regs);
            }
        }
        w.finish()
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, Kind::HyperLogLog)?;
        let variant = Variant::from_u8(r.u8()?)?;
        let hash = HashKind::from_u8(r.u8()?)?;
        let p = r.u8()?;
        ensure((MIN_P..=MAX_P).contains(&p), "p out of range")?;
        let merged = r.u8()?;
        ensure(merged <= 1, "bad merged flag")?;
        let merged = merged == 1;
        let mode = r.u8()?;
        let m = 1usize << p;
        let repr = match (variant, mode) {
            (Variant::Default, 0) => {
                ensure(!merged, "a sparse sketch is never flagged merged")?;
                let list = r.u32s()?;
                // the list plus a not-yet-folded buffer
                ensure(
                    list.len() <= sparse_max(p) + buffer_max(p),
                    "too many sparse entries",
                )?;
                for (i, &e) in list.iter().enumerate() {
                    let rank = e & 63;
                    ensure((1..=SPARSE_MAX_RANK).contains(&rank), "bad entry")?;
                    ensure(
                        i == 0 || list[i - 1] >> 6 < e >> 6,
                        "sparse entries not sorted",
                    )?;
                }
                Repr::Sparse(Sparse {
                    list,
                    buf: Vec::new(),
                })
            }
            (Variant::Default, 1) => {
                let hip = r.f64()?;
                ensure(hip.is_finite() && hip >= 0.0, "bad HIP estimate")?;
                let cur_min = r.u8()?;
                ensure(cur_min <= max_rank(p), "offset out of range")?;
                let nibbles = r.bytes()?;
                ensure(nibbles.len() == m / 2, "wrong register count")?;
                let exceptions = r.u32s()?;
                let mut values = Vec::with_capacity(m);
                for &byte in nibbles {
                    values.push(byte & 0xF);
                    values.push(byte >> 4);
                }
                let tokens = values.iter().filter(|&&v| v == EXCEPTION).count();
                ensure(exceptions.len() == tokens, "exception count mismatch")?;
                for v in values.iter_mut() {
                    *v += cur_min; // exceptions overwrite their slots below
                    ensure(*v <= max_rank(p), "register out of range")?;
                }
                for (i, &e) in exceptions.iter().enumerate() {
                    let (j, v) = ((e >> 8) as usize, e as u8);
                    ensure(
                        j < m && (i == 0 || exceptions[i - 1] >> 8 < e >> 8),
                        "bad exception",
                    )?;
                    ensure(
                        values[j] == cur_min + EXCEPTION,
                        "exception without its token",
                    )?;
                    ensure(
                        v >= cur_min + EXCEPTION && v <= max_rank(p),
                        "bad exception",
                    )?;
                    values[j] = v;
                }
                ensure(
                    values.iter().copied().min() == Some(cur_min),
                    "offset is not the min",
                )?;
                Repr::Dense(Dense::from_values(p, &values, hip))
            }
            (Variant::Book, 2) => {
                ensure(!merged, "a book sketch is never flagged merged")?;
                let regs = r.bytes()?;
                ensure(regs.len() == m, "wrong register count")?;
                ensure(
                    regs.iter().all(|&v| u32::from(v) <= 32 - u32::from(p)),
                    "bad register",
                )?;
                Repr::Book(regs.to_vec())
            }
            _ => return Err(crate::SketchError::Corrupt("bad representation id".into())),
        };
        r.finish()?;
        Ok(HyperLogLog {
            p,
            hash,
            variant,
            merged,
            repr,
        })
    }
}

impl Merge for HyperLogLog {
    /// Register-wise maximum. Same hash and variant required; `Variant::Book` also needs
    /// the same `p`, while default sketches of different `p` merge at the smaller `p`.
    fn merge(&mut self, other: &Self) -> Result<()> {
        if self.variant != other.variant {
            return incompatible(format!(
                "variant {:?} vs {:?}",
                self.variant.name(),
                other.variant.name()
            ));
        }
        if self.hash != other.hash {
            return incompatible(format!(
                "hash {:?} vs {:?}",
                self.hash.name(),
                other.hash.name()
            ));
        }
        if self.variant == Variant::Book {
            if self.p != other.p {
                return incompatible(format!(
                    "book-variant sketches need the same p ({} vs {})",
                    self.p, other.p
                ));
            }
            if let (Repr::Book(a), Repr::Book(b)) = (&mut self.repr, &other.repr) {
                for (x, &y) in a.iter_mut().zip(b) {
                    *x = (*x).max(y);
                }
            }
            return Ok(());
        }
        let folded;
        let other = if other.p > self.p {
            let mut o = other.clone();
            o.downgrade(self.p);
            folded = o;
            &folded
        } else {
            if other.p < self.p {
                self.downgrade(other.p);
            }
            other
        };
        let p = self.p;
        match (&mut self.repr, &other.repr) {
            (Repr::Sparse(a), Repr::Sparse(b)) => {
                a.flush();
                a.list = Sparse::union(&a.list, &b.normalized());
                if a.list.len() > sparse_max(p) {
                    self.make_dense();
                }
            }
            (Repr::Dense(a), Repr::Sparse(b)) => {
                // Replaying b's entries is replaying (a subset of) its stream: HIP holds.
                for e in b.normalized() {
                    let (j, r) = sparse_make_dense(e, p);
                    a.update(j, r);
                }
            }
            (Repr::Sparse(a), Repr::Dense(b)) => {
                let mut dense = b.clone();
                for e in a.normalized() {
                    let (j, r) = sparse_make_dense(e, p);
                    dense.update(j, r);
                }
                self.repr = Repr::Dense(dense);
                self.merged = other.merged;
            }
            (Repr::Dense(a), Repr::Dense(b)) => {
                let values: Vec<u8> = a
                    .values()
                    .iter()
                    .zip(b.values())
                    .map(|(&x, y)| x.max(y))
                    .collect();
                *a = Dense::from_values(p, &values, a.hip);
                self.merged = true;
            }
            _ => return incompatible("mixed representations"),
        }
        Ok(())
    }
}

impl PartialEq for HyperLogLog {
    /// Same configuration and the same state (representation, registers, HIP estimate).
    fn eq(&self, other: &Self) -> bool {
        if (self.p, self.hash, self.variant, self.merged)
            != (other.p, other.hash, other.variant, other.merged)
        {
            return false;
        }
        match (&self.repr, &other.repr) {
            (Repr::Sparse(a), Repr::Sparse(b)) => a.normalized() == b.normalized(),
            (Repr::Dense(a), Repr::Dense(b)) => {
                a.hip.to_bits() == b.hip.to_bits()
                    && a.cur_min == b.cur_min
                    && a.nibbles == b.nibbles
                    && a.exceptions == b.exceptions
            }
            (Repr::Book(a), Repr::Book(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Debug for HyperLogLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match &self.repr {
            Repr::Sparse(_) => "sparse",
            Repr::Dense(_) => "dense",
            Repr::Book(_) => "book",
        };
        f.debug_struct("HyperLogLog")
            .field("p", &self.p)
            .field("hash", &self.hash)
            .field("variant", &self.variant)
            .field("mode", &mode)
            .field("merged", &self.merged)
            .field("estimate", &self.estimate())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn with_items(p: u8, hash: HashKind, variant: Variant, n: u64) -> HyperLogLog {
        let mut h = HyperLogLog::new(p, hash, variant).unwrap();
        for i in 0..n {
            h.add(i.to_string().as_bytes());
        }
        h
    }

    #[test]
    fn rejects_bad_p() {
        for p in [0, 3, 19, 64] {
            assert!(HyperLogLog::new(p, HashKind::Xxh3, Variant::Default).is_err());
        }
        for p in MIN_P..=MAX_P {
            assert!(HyperLogLog::new(p, HashKind::Xxh3, Variant::Book).is_ok());
        }
    }

    #[test]
    fn book_known_answer_w11_3() {
        // WORKLOADS.md W11.3: countmemaybe HLL, b = 16, str(i) for i < 1e6.
        let h = with_items(16, HashKind::Murmur3, Variant::Book, 1_000_000);
        assert_eq!(h.estimate(), 1_002_796.352_343_662_4);
    }

    #[test]
    fn sparse_entry_folds_to_dense_pair() {
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        for i in 0..200_000u64 {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // also hashes with long runs of zeros
            let h = if i % 3 == 0 { rng >> (i % 64) } else { rng };
            for p in MIN_P..=MAX_P {
                assert_eq!(
                    sparse_make_dense(sparse_entry(h), p),
                    dense_pair(h, p),
                    "{h:x} p={p}"
                );
            }
        }
        assert_eq!(dense_pair(0, 4), (0, 61));
        assert_eq!(sparse_make_dense(sparse_entry(0), 4), (0, 61));
    }

    #[test]
    fn accuracy_across_modes() {
        for &(p, n) in &[
            (12u8, 100u64),
            (12, 3_000),
            (12, 200_000),
            (14, 50_000),
            (4, 10_000),
        ] {
            let h = with_items(p, HashKind::Xxh3, Variant::Default, n);
            let err = (h.estimate() - n as f64).abs() / n as f64;
            let tol = 5.0 * 0.84 / ((1u64 << p) as f64).sqrt();
            assert!(
                err < tol.max(0.02),
                "p={p} n={n} est={} err={err}",
                h.estimate()
            );
            let ertl = (h.ertl_estimate() - n as f64).abs() / n as f64;
            assert!(
                ertl < 5.0 * 1.04 / ((1u64 << p) as f64).sqrt(),
                "ertl p={p} n={n}"
            );
        }
        assert!(with_items(12, HashKind::Xxh3, Variant::Default, 100).is_sparse());
        assert!(!with_items(12, HashKind::Xxh3, Variant::Default, 3_000).is_sparse());
    }

    #[test]
    fn offset_shifts_and_exceptions() {
        // p = 4: 16 registers, so the offset moves and exceptions appear quickly.
        let h = with_items(4, HashKind::Xxh3, Variant::Default, 2_000_000);
        if let Repr::Dense(d) = &h.repr {
            assert!(d.cur_min > 0);
            let vals = d.values();
            assert_eq!(vals.iter().copied().min(), Some(d.cur_min));
            assert_eq!(Dense::from_values(4, &vals, d.hip).sum, d.sum);
        } else {
            panic!("expected dense");
        }
        assert_eq!(HyperLogLog::from_bytes(&h.to_bytes()).unwrap(), h);
    }

    #[test]
    fn merge_rules() {
        let a = with_items(12, HashKind::Xxh3, Variant::Default, 10_000);
        let b = with_items(10, HashKind::Xxh3, Variant::Default, 10_000);
        let mut c = a.clone();
        c.merge(&b).unwrap();
        assert_eq!(c.p(), 10);
        assert_eq!(
            c.registers(),
            with_items(10, HashKind::Xxh3, Variant::Default, 10_000).registers()
        );
        let m = HyperLogLog::new(12, HashKind::Murmur3, Variant::Default).unwrap();
        assert!(c.clone().merge(&m).is_err());
        let bk = HyperLogLog::new(12, HashKind::Xxh3, Variant::Book).unwrap();
        assert!(c.clone().merge(&bk).is_err());
        let bk2 = HyperLogLog::new(13, HashKind::Xxh3, Variant::Book).unwrap();
        assert!(bk.clone().merge(&bk2).is_err());
        // dense ∪ dense switches to Ertl's estimator; dense ∪ sparse keeps HIP
        let mut d = a.clone();
        d.merge(&a).unwrap();
        assert!(d.is_merged());
        assert_eq!(d.estimate(), d.ertl_estimate());
        let mut e = a.clone();
        e.merge(&with_items(12, HashKind::Xxh3, Variant::Default, 50))
            .unwrap();
        assert!(!e.is_merged());
    }

    fn build(p: u8, variant: Variant, items: &[u64]) -> HyperLogLog {
        let mut h = HyperLogLog::new(p, HashKind::Xxh3, variant).unwrap();
        for i in items {
            h.add(&i.to_le_bytes());
        }
        h
    }

    fn items() -> impl Strategy<Value = Vec<u64>> {
        prop_oneof![
            prop::collection::vec(0u64..500, 0..200),
            prop::collection::vec(any::<u64>(), 0..3000),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn merge_equals_union(
            p in MIN_P..=12u8, q in MIN_P..=12u8, book in any::<bool>(),
            a in items(), b in items(),
        ) {
            let variant = if book { Variant::Book } else { Variant::Default };
            let q = if book { p } else { q };
            let mut x = build(p, variant, &a);
            let y = build(q, variant, &b);
            x.merge(&y).unwrap();
            let all: Vec<u64> = a.iter().chain(&b).copied().collect();
            let u = build(p.min(q), variant, &all);
            prop_assert_eq!(x.registers(), u.registers());
            prop_assert_eq!(x.p(), u.p());
            if x.is_merged() {
                prop_assert_eq!(x.estimate(), u.ertl_estimate());
            } else if x.is_sparse() || book {
                prop_assert_eq!(x.estimate(), u.estimate());
            }
        }

        #[test]
        fn round_trip(p in MIN_P..=14u8, book in any::<bool>(), a in items(), merge in any::<bool>()) {
            let variant = if book { Variant::Book } else { Variant::Default };
            let mut x = build(p, variant, &a);
            if merge {
                let y = x.clone();
                x.merge(&y).unwrap();
            }
            let bytes = x.to_bytes();
            let y = HyperLogLog::from_bytes(&bytes).unwrap();
            prop_assert_eq!(&y, &x);
            prop_assert_eq!(y.estimate().to_bits(), x.estimate().to_bits());
            prop_assert_eq!(y.to_bytes(), bytes);
        }

        #[test]
        fn corruption_is_an_error(a in items(), pos in any::<prop::sample::Index>(), bit in 0u8..8) {
            let x = build(8, Variant::Default, &a);
            let bytes = x.to_bytes();
            for n in [0, bytes.len() / 2, bytes.len() - 1] {
                prop_assert!(HyperLogLog::from_bytes(&bytes[..n]).is_err());
            }
            let mut bad = bytes.clone();
            let i = pos.index(bad.len());
            bad[i] ^= 1 << bit;
            prop_assert!(HyperLogLog::from_bytes(&bad).is_err());
        }
    }

    /// Re-checksummed bodies with broken invariants: decoded as Corrupt, not a panic.
    #[test]
    fn invariant_violations_are_corrupt() {
        // header: variant, hash, p, merged, mode
        let head = |w: &mut Writer, variant: u8, p: u8, mode: u8| {
            w.u8(variant).u8(0).u8(p).u8(0).u8(mode);
        };
        let sparse = |p: u8, entries: &[u32]| {
            let mut w = Writer::new(Kind::HyperLogLog);
            head(&mut w, 0, p, 0);
            w.u32s(entries);
            w.finish()
        };
        let dense = |hip: f64, cur_min: u8, nibbles: &[u8], exceptions: &[u32]| {
            let mut w = Writer::new(Kind::HyperLogLog);
            head(&mut w, 0, 4, 1);
            w.f64(hip).u8(cur_min).bytes(nibbles).u32s(exceptions);
            w.finish()
        };
        let book = |variant: u8, mode: u8, regs: &[u8]| {
            let mut w = Writer::new(Kind::HyperLogLog);
            head(&mut w, variant, 4, mode);
            w.bytes(regs);
            w.finish()
        };
        let all_tokens: Vec<u32> = (0..16).step_by(2).map(|j| (j << 8) | 15).collect();
        let low_tokens: Vec<u32> = all_tokens.iter().map(|e| e - 1).collect();
        let mut unsorted = all_tokens.clone();
        unsorted.swap(0, 1);
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("p = 3", sparse(3, &[])),
            ("unsorted sparse", sparse(8, &[(5 << 6) | 1, (4 << 6) | 1])),
            ("sparse rank 41", sparse(8, &[(5 << 6) | 41])),
            ("offset above the min", dense(1.0, 1, &[0x11; 8], &[])),
            ("NaN HIP", dense(f64::NAN, 0, &[0; 8], &[])),
            ("token without exception", dense(1.0, 0, &[0xF0; 8], &[])),
            ("unsorted exceptions", dense(1.0, 0, &[0x0F; 8], &unsorted)),
            (
                "missing exception",
                dense(1.0, 0, &[0x0F; 8], &all_tokens[..7]),
            ),
            (
                "exception below offset + 15",
                dense(1.0, 0, &[0x0F; 8], &low_tokens),
            ),
            ("short registers", dense(1.0, 0, &[0; 7], &[])),
            ("book register 29 at p = 4", book(1, 2, &[29; 16])),
            ("book variant, sparse mode", book(1, 0, &[])),
            ("default variant, book mode", book(0, 2, &[0; 16])),
        ];
        for (what, bytes) in &cases {
            assert!(HyperLogLog::from_bytes(bytes).is_err(), "{what} decoded");
        }
        // and well-formed ones decode
        assert!(HyperLogLog::from_bytes(&book(1, 2, &[28; 16])).is_ok());
        assert!(HyperLogLog::from_bytes(&dense(1.0, 0, &[0x0F; 8], &all_tokens)).is_ok());
        assert!(HyperLogLog::from_bytes(&sparse(8, &[(4 << 6) | 39, (5 << 6) | 1])).is_ok());
    }
}
