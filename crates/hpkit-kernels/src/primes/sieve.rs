//! Segmented sieve of Eratosthenes on a mod-30 wheel.
//!
//! Layout: one byte per 30 numbers, bit `j` of byte `i` standing for `30*i + RESIDUES[j]`,
//! the 8 residues coprime to 30; multiples of 2, 3 and 5 are never stored. A prime `p` and
//! its multiplier `k = 30*m + RESIDUES[w]` determine the byte and bit of `p*k`, so crossing
//! off walks a cycle of 8 multiples that advances exactly `p` bytes per cycle.
//!
//! The techniques are those of Kim Walisch's primesieve (<https://github.com/kimwalisch/primesieve>):
//! * **pre-sieving**: multiples of the primes 7..=[`PRESIEVE_MAX`] are not crossed off one by
//!   one; their combined pattern repeats every `p1*p2*...` bytes, so each segment starts as
//!   a copy/AND of a few precomputed buffers. Those primes alone account for over half of
//!   all crossings-off below 10^9.
//! * **cache blocking**: a segment is [`SEGMENT_BYTES`] (L2-sized); primes with many
//!   multiples per block cross off one L1-sized block at a time, the others the whole
//!   segment at once. The segment is pre-sieved whole first, so a small prime's last wheel
//!   cycle in a block may finish in the next block: primes then always leave a block at a
//!   cycle start and only the segment's last block pays for one-at-a-time head and tail
//!   steps (their mispredicted loop exits cost ~20% before this).
//! * **unrolled wheel cycles**: for each of the 8 residue classes of `p mod 30` a
//!   specialised loop (a const generic) does the 8 crossings of one wheel cycle with
//!   constant bit masks and offsets that are affine in `p / 30`.
//! * counting is a popcount of the finished segment.
//!
//! Not done (primesieve does): a bucket sieve for primes much larger than a segment. Here
//! every sieving prime is visited once per segment, which costs little while
//! `pi(sqrt(hi))` is small against a segment (hi up to ~1e14). Beyond [`SIEVING_PRIME_CAP`]
//! the sieve stops at that bound and confirms the (few) survivors with the deterministic
//! Miller-Rabin test instead; see [`Plan`].

use super::is_prime;
use crate::error::{KernelError, Result};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

/// The residues mod 30 coprime to 30, in the order of the bits of a sieve byte.
pub(crate) const RESIDUES: [u64; 8] = [1, 7, 11, 13, 17, 19, 23, 29];
/// Numbers per sieve byte.
const SPAN: u64 = 30;
/// Bytes per segment: numbers per segment / 30. Sized for L2 (256 KiB of bits = 7.8M numbers).
pub(crate) const SEGMENT_BYTES: usize = 1 << 18;
/// Bytes per cache block inside a segment, sized for L1.
pub(crate) const BLOCK_BYTES: usize = 1 << 15;
/// Primes below this cross off block by block (at least 8 hits per block); the larger
/// ones cross off the whole segment at once, which saves the per-prime cost of each block.
const SMALL_PRIME_MAX: u64 = BLOCK_BYTES as u64;
/// The largest prime removed by the pre-sieve patterns.
pub(crate) const PRESIEVE_MAX: u64 = 163;
/// Largest product of the primes sharing one pre-sieve buffer (its length in bytes).
const PRESIEVE_BUFFER_MAX: u64 = 1 << 16;
/// Sieving primes are stored as u32 with u32 offsets; beyond this bound the survivors of the
/// sieve are confirmed by Miller-Rabin instead (hi > 2^50, about 1.1e15).
pub(crate) const SIEVING_PRIME_CAP: u64 = 1 << 25;

/// `RESIDUES` followed by 31, the first residue of the next wheel cycle.
const RES9: [u64; 9] = [1, 7, 11, 13, 17, 19, 23, 29, 31];

const fn bit_of(residue: u64) -> usize {
    let mut j = 0;
    while j < 8 {
        if RESIDUES[j] == residue {
            return j;
        }
        j += 1;
    }
    panic!("residue not coprime to 30")
}

/// The wheel index `w` of the smallest residue `>= r`, for `r` in `0..30`.
const NEXT_W: [u8; 30] = {
    let mut t = [0u8; 30];
    let mut r = 0;
    while r < 30 {
        let mut w = 0;
        while RESIDUES[w] < r as u64 {
            w += 1;
        }
        t[r] = w as u8;
        r += 1;
    }
    t
};

/// Per residue class `ri` of the prime (`p = 30q + RESIDUES[ri]`) and multiplier position
/// `w`: the bit mask clearing `p*k`, the byte step to the next multiple (`q * DELTA[w] +
/// STEP_C[ri][w]`) and the offset inside a wheel cycle (`q * (RESIDUES[w] - 1) + OFF_C[ri][w]`).
struct Wheel {
    mask: [[u8; 8]; 8],
    step_c: [[usize; 8]; 8],
    off_c: [[usize; 8]; 8],
    delta: [usize; 8],
}

const WHEEL: Wheel = {
    let mut mask = [[0u8; 8]; 8];
    let mut step_c = [[0usize; 8]; 8];
    let mut off_c = [[0usize; 8]; 8];
    let mut delta = [0usize; 8];
    let mut ri = 0;
    while ri < 8 {
        let r = RESIDUES[ri];
        let mut w = 0;
        while w < 8 {
            mask[ri][w] = !(1u8 << bit_of(r * RESIDUES[w] % SPAN));
            step_c[ri][w] = (r * RES9[w + 1] / SPAN - r * RES9[w] / SPAN) as usize;
            off_c[ri][w] = (r * RESIDUES[w] / SPAN) as usize;
            delta[w] = (RES9[w + 1] - RES9[w]) as usize;
            w += 1;
        }
        ri += 1;
    }
    Wheel {
        mask,
        step_c,
        off_c,
        delta,
    }
};

/// A prime's place in the sieve: `p = 30*q + RESIDUES[ri]` (ri is the list it sits in), its
/// next multiple `p*(30m + RESIDUES[w])` at byte `idx` of the current segment.
#[derive(Clone, Copy, Debug)]
struct Sieving {
    q: u32,
    idx: u32,
    w: u32,
}

/// Cross off the multiples of every prime of residue class `RI` in `seg[..len]`, leaving
/// each prime's state at its first multiple past `len`.
///
/// With `SPILL`, the last wheel cycle started before `len` is completed even where it runs
/// past `len` (into the next block of the segment, already pre-sieved: these are real
/// multiples), so a prime always leaves at a cycle start and the next block needs no
/// one-at-a-time head or tail loop. `seg` must then extend a cycle (< p bytes) past `len`.
#[inline(always)]
fn cross_off<const RI: usize, const SPILL: bool>(
    seg: &mut [u8],
    len: usize,
    primes: &mut [Sieving],
) {
    let mask = &WHEEL.mask[RI];
    let step_c = &WHEEL.step_c[RI];
    let off_c = &WHEEL.off_c[RI];
    let delta = &WHEEL.delta;
    let r = RESIDUES[RI] as usize;
    for sp in primes.iter_mut() {
        let q = sp.q as usize;
        let mut idx = sp.idx as usize;
        let mut w = sp.w as usize;
        // One multiple at a time up to the start of a wheel cycle...
        while w != 0 && idx < len {
            seg[idx] &= mask[w];
            idx += q * delta[w] + step_c[w];
            w = (w + 1) & 7;
        }
        if w == 0 {
            // ...then whole cycles: 8 multiples at constant offsets, p bytes per cycle.
            let p = 30 * q + r;
            let o1 = q * 6 + off_c[1];
            let o2 = q * 10 + off_c[2];
            let o3 = q * 12 + off_c[3];
            let o4 = q * 16 + off_c[4];
            let o5 = q * 18 + off_c[5];
            let o6 = q * 22 + off_c[6];
            let o7 = q * 28 + off_c[7];
            while if SPILL { idx < len } else { idx + o7 < len } {
                let cycle = &mut seg[idx..=idx + o7];
                cycle[0] &= mask[0];
                cycle[o1] &= mask[1];
                cycle[o2] &= mask[2];
                cycle[o3] &= mask[3];
                cycle[o4] &= mask[4];
                cycle[o5] &= mask[5];
                cycle[o6] &= mask[6];
                cycle[o7] &= mask[7];
                idx += p;
            }
            // ...and the rest of the segment one at a time again.
            while idx < len {
                seg[idx] &= mask[w];
                idx += q * delta[w] + step_c[w];
                w = (w + 1) & 7;
            }
        }
        sp.idx = (idx - len) as u32;
        sp.w = w as u32;
    }
}

fn cross_off_all<const SPILL: bool>(seg: &mut [u8], len: usize, lists: &mut [Vec<Sieving>; 8]) {
    cross_off::<0, SPILL>(seg, len, &mut lists[0]);
    cross_off::<1, SPILL>(seg, len, &mut lists[1]);
    cross_off::<2, SPILL>(seg, len, &mut lists[2]);
    cross_off::<3, SPILL>(seg, len, &mut lists[3]);
    cross_off::<4, SPILL>(seg, len, &mut lists[4]);
    cross_off::<5, SPILL>(seg, len, &mut lists[5]);
    cross_off::<6, SPILL>(seg, len, &mut lists[6]);
    cross_off::<7, SPILL>(seg, len, &mut lists[7]);
}

/// The primes 7..=PRESIEVE_MAX as repeating byte patterns, several primes per buffer.
/// Each buffer holds one period (the product of its primes) plus [`BLOCK_BYTES`] more of
/// the same pattern, so the window for any block at any phase is one contiguous slice.
struct Presieve {
    buffers: Vec<Vec<u8>>,
}

impl Presieve {
    fn get() -> &'static Presieve {
        static PRESIEVE: OnceLock<Presieve> = OnceLock::new();
        PRESIEVE.get_or_init(Presieve::build)
    }

    fn build() -> Presieve {
        // First-fit decreasing: each prime joins the first buffer it still fits in.
        let mut groups: Vec<(Vec<u64>, u64)> = Vec::new();
        for p in (7..=PRESIEVE_MAX).rev().filter(|&n| is_prime(n)) {
            match groups
                .iter_mut()
                .find(|(_, product)| product * p <= PRESIEVE_BUFFER_MAX)
            {
                Some((group, product)) => {
                    group.push(p);
                    *product *= p;
                }
                None => groups.push((vec![p], p)),
            }
        }
        let buffers = groups
            .into_iter()
            .map(|(group, product)| {
                let mut buf = vec![0xFFu8; product as usize];
                for &p in &group {
                    for (j, &res) in RESIDUES.iter().enumerate() {
                        // The first byte i with 30*i + res = 0 mod p, then every p-th byte.
                        let first = (0..p)
                            .find(|i| (SPAN * i + res).is_multiple_of(p))
                            .unwrap_or(0);
                        for i in (first..product).step_by(p as usize) {
                            buf[i as usize] &= !(1 << j);
                        }
                    }
                }
                // Continue the pattern for one more block: a block-long window at any
                // phase is then one contiguous slice.
                while buf.len() < product as usize + BLOCK_BYTES {
                    buf.extend_from_within(..product as usize);
                }
                buf.truncate(product as usize + BLOCK_BYTES);
                buf
            })
            .collect();
        Presieve { buffers }
    }

    /// Fill `seg` (whose first byte is absolute byte `b0`, at most [`BLOCK_BYTES`] long)
    /// with the pre-sieved pattern: the AND of every buffer at its phase, in one pass.
    fn apply(&self, seg: &mut [u8], b0: u64) {
        debug_assert!(seg.len() <= BLOCK_BYTES);
        let from: Vec<usize> = self
            .buffers
            .iter()
            .map(|b| (b0 % (b.len() - BLOCK_BYTES) as u64) as usize)
            .collect();
        and_of(seg, &self.buffers, &from);
    }
}

/// `dst[k] = AND of buffers[i][from[i] + k]`, 64 bytes at a time (vectorised).
fn and_of(dst: &mut [u8], buffers: &[Vec<u8>], from: &[usize]) {
    const LANES: usize = 64;
    let mut chunks = dst.chunks_exact_mut(LANES);
    let mut k = 0;
    for out in chunks.by_ref() {
        let mut acc = [0xFFu8; LANES];
        for (b, &f) in buffers.iter().zip(from) {
            let src = &b[f + k..f + k + LANES];
            for (a, s) in acc.iter_mut().zip(src) {
                *a &= s;
            }
        }
        out.copy_from_slice(&acc);
        k += LANES;
    }
    for (t, out) in chunks.into_remainder().iter_mut().enumerate() {
        *out = buffers
            .iter()
            .zip(from)
            .fold(0xFF, |a, (b, &f)| a & b[f + k + t]);
    }
}

/// What to sieve: the numbers `[lo, hi)`, i.e. bytes `[b_lo, b_hi)`, with the sieving
/// primes above [`PRESIEVE_MAX`] up to the bound, and whether survivors still need the
/// Miller-Rabin test (when the bound stops short of `sqrt(hi)`).
pub(crate) struct Plan {
    lo: u64,
    hi: u64,
    pub(crate) bytes: Range<u64>,
    primes: Vec<u32>,
    confirm: bool,
}

impl Plan {
    /// `lo < hi` required. The sieving bound is `isqrt(hi - 1)`, capped at
    /// [`SIEVING_PRIME_CAP`] and, for a short range far out, at about its width: the
    /// survivors of a partial sieve are confirmed by Miller-Rabin (~0.5 µs each, 4% of the
    /// numbers at a bound of 10^6), which is cheaper than sieving with primes that mostly
    /// never hit the range.
    pub(crate) fn new(lo: u64, hi: u64, cancel: &AtomicBool) -> Result<Plan> {
        debug_assert!(lo < hi);
        let limit = (hi - 1).isqrt();
        let width = hi - lo;
        let bound = limit.min(SIEVING_PRIME_CAP).min(width.max(1 << 12));
        let primes = primes_up_to(bound as u32, cancel)?
            .into_iter()
            .filter(|&p| u64::from(p) > PRESIEVE_MAX)
            .collect();
        Ok(Plan {
            lo,
            hi,
            bytes: lo / SPAN..(hi - 1) / SPAN + 1,
            primes,
            confirm: bound < limit,
        })
    }

    /// The byte ranges worked on independently: whole segments, at least `min_chunks` of
    /// them when there is enough work, each long enough that placing the sieving primes
    /// at its start (one division each) is small beside sieving it.
    pub(crate) fn chunks(&self, parts: usize) -> Vec<Range<u64>> {
        let total = self.bytes.end - self.bytes.start;
        let seg = SEGMENT_BYTES as u64;
        let min_len = seg.max(16 * self.primes.len() as u64);
        let parts = (parts as u64).clamp(1, total.div_ceil(min_len).max(1));
        let per = total.div_ceil(parts).div_ceil(seg) * seg;
        (0..parts)
            .map(|i| {
                let start = self.bytes.start + (i * per).min(total);
                start..(start + per).min(self.bytes.end)
            })
            .filter(|r| !r.is_empty())
            .collect()
    }

    /// Sieve the bytes `chunk` segment by segment; `visit(segment, first_byte)` sees each
    /// finished segment (bits set exactly for the primes in `[lo, hi)` other than 2, 3, 5).
    pub(crate) fn run(
        &self,
        chunk: Range<u64>,
        cancel: &AtomicBool,
        mut visit: impl FnMut(&[u8], u64),
    ) -> Result<()> {
        let longest = (chunk.end - chunk.start).min(SEGMENT_BYTES as u64) as usize;
        let mut engine = Engine::new(&self.primes, longest);
        let mut b0 = chunk.start;
        while b0 < chunk.end {
            if cancel.load(Ordering::Relaxed) {
                return Err(KernelError::Interrupted);
            }
            let len = (chunk.end - b0).min(SEGMENT_BYTES as u64) as usize;
            let seg = engine.sieve(b0, len);
            self.finish(seg, b0);
            visit(seg, b0);
            b0 += len as u64;
        }
        Ok(())
    }

    /// Fix what the wheel and pre-sieve get wrong, cut to `[lo, hi)`, confirm if needed.
    fn finish(&self, seg: &mut [u8], b0: u64) {
        let seg_lo = b0 * SPAN;
        if b0 == 0 {
            seg[0] &= !1; // 1 is not prime
        }
        if seg_lo <= PRESIEVE_MAX {
            // The pre-sieve removed the primes 7..=PRESIEVE_MAX themselves.
            for p in (7..=PRESIEVE_MAX).filter(|&n| is_prime(n)) {
                let i = (p / SPAN - b0) as usize;
                if i < seg.len() {
                    seg[i] |= 1 << bit_of(p % SPAN);
                }
            }
        }
        let last = seg.len() - 1;
        for (j, &res) in RESIDUES.iter().enumerate() {
            if b0 == self.bytes.start && seg_lo + res < self.lo {
                seg[0] &= !(1 << j);
            }
            if b0 + last as u64 + 1 == self.bytes.end
                && (b0 + last as u64).saturating_mul(SPAN).saturating_add(res) >= self.hi
            {
                seg[last] &= !(1 << j);
            }
        }
        if self.confirm {
            for (i, byte) in seg.iter_mut().enumerate() {
                let mut bits = *byte;
                while bits != 0 {
                    let j = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    if !is_prime((b0 + i as u64) * SPAN + RESIDUES[j]) {
                        *byte &= !(1 << j);
                    }
                }
            }
        }
    }
}

/// The per-thread sieving state: a segment buffer and every sieving prime's next multiple.
struct Engine<'a> {
    primes: &'a [u32],
    /// `primes[next..]` have their square beyond the segments sieved so far.
    next: usize,
    small: [Vec<Sieving>; 8],
    large: [Vec<Sieving>; 8],
    buf: Vec<u8>,
}

impl<'a> Engine<'a> {
    /// An engine for segments of at most `longest` bytes (short ranges need little memory).
    fn new(primes: &'a [u32], longest: usize) -> Engine<'a> {
        Engine {
            primes,
            next: 0,
            small: Default::default(),
            large: Default::default(),
            buf: vec![0; longest],
        }
    }

    /// Sieve the `len` bytes from absolute byte `b0`; segments must come in order.
    fn sieve(&mut self, b0: u64, len: usize) -> &mut [u8] {
        let end = u128::from(b0 + len as u64) * u128::from(SPAN);
        while let Some(&p) = self.primes.get(self.next) {
            let p = u64::from(p);
            if u128::from(p * p) >= end {
                break;
            }
            self.activate(p, b0);
            self.next += 1;
        }
        let seg = &mut self.buf[..len];
        let presieve = Presieve::get();
        for (i, block) in seg.chunks_mut(BLOCK_BYTES).enumerate() {
            presieve.apply(block, b0 + (i * BLOCK_BYTES) as u64);
        }
        // Small primes block by block (L1). A block followed by room for a whole wheel cycle
        // of the largest small prime lets its last cycles spill into it (see `cross_off`);
        // the rest of the segment ends exactly, so nothing is written past it.
        let mut start = 0;
        while start + BLOCK_BYTES + SMALL_PRIME_MAX as usize <= len {
            cross_off_all::<true>(&mut seg[start..], BLOCK_BYTES, &mut self.small);
            start += BLOCK_BYTES;
        }
        for block in seg[start..].chunks_mut(BLOCK_BYTES) {
            let block_len = block.len();
            cross_off_all::<false>(block, block_len, &mut self.small);
        }
        cross_off_all::<false>(seg, len, &mut self.large);
        seg
    }

    /// Start `p` at its first multiple `p*k >= max(p*p, 30*b0)` with `k` coprime to 30.
    fn activate(&mut self, p: u64, b0: u64) {
        let start = b0 * SPAN; // < 2^64: b0 <= (2^64 - 1) / 30
        let k0 = p.max(start.div_ceil(p));
        let (m, w) = (k0 / SPAN, usize::from(NEXT_W[(k0 % SPAN) as usize]));
        // byte of p*(30m + RESIDUES[w]) without overflow: p*m + p*RESIDUES[w]/30
        let byte = p * m + p * RESIDUES[w] / SPAN;
        let sp = Sieving {
            q: (p / SPAN) as u32,
            idx: (byte - b0) as u32,
            w: w as u32,
        };
        let ri = bit_of(p % SPAN);
        if p < SMALL_PRIME_MAX {
            self.small[ri].push(sp);
        } else {
            self.large[ri].push(sp);
        }
    }
}

/// Bits set in a segment: the primes it holds.
pub(crate) fn count_bits(seg: &[u8]) -> u64 {
    let mut words = seg.chunks_exact(8);
    let full: u64 = words
        .by_ref()
        .map(|w| u64::from(u64::from_le_bytes(w.try_into().unwrap_or([0; 8])).count_ones()))
        .sum();
    full + words
        .remainder()
        .iter()
        .map(|b| u64::from(b.count_ones()))
        .sum::<u64>()
}

/// Call `f` with every prime of a finished segment, ascending.
pub(crate) fn for_each_prime(seg: &[u8], b0: u64, mut f: impl FnMut(u64)) {
    for (wi, word) in seg.chunks(8).enumerate() {
        let mut bytes = [0u8; 8];
        bytes[..word.len()].copy_from_slice(word);
        let mut bits = u64::from_le_bytes(bytes);
        let base = b0 + 8 * wi as u64;
        while bits != 0 {
            let t = bits.trailing_zeros() as u64;
            bits &= bits - 1;
            f((base + t / 8) * SPAN + RESIDUES[(t % 8) as usize]);
        }
    }
}

/// All primes `<= bound` (`bound` at most [`SIEVING_PRIME_CAP`]), ascending.
pub(crate) fn primes_up_to(bound: u32, cancel: &AtomicBool) -> Result<Vec<u32>> {
    if bound < 1 << 16 {
        return Ok(simple_sieve(bound));
    }
    let plan = Plan::new(0, u64::from(bound) + 1, cancel)?;
    let mut out = vec![2, 3, 5];
    let bytes = plan.bytes.clone();
    plan.run(bytes, cancel, |seg, b0| {
        for_each_prime(seg, b0, |p| out.push(p as u32))
    })?;
    Ok(out)
}

/// Odd-only sieve of Eratosthenes for the small bounds the segmented sieve starts from.
pub(crate) fn simple_sieve(bound: u32) -> Vec<u32> {
    let n = bound as usize;
    if n < 2 {
        return Vec::new();
    }
    // odd[i] stands for 2i + 1
    let mut odd = vec![true; n / 2 + 1];
    odd[0] = false;
    let mut i = 1;
    while (2 * i + 1) * (2 * i + 1) <= n {
        if odd[i] {
            let p = 2 * i + 1;
            let mut j = p * p / 2;
            while j < odd.len() {
                odd[j] = false;
                j += p;
            }
        }
        i += 1;
    }
    std::iter::once(2)
        .chain(
            odd.iter()
                .enumerate()
                .filter(|&(i, &is)| is && 2 * i < n)
                .map(|(i, _)| (2 * i + 1) as u32),
        )
        .collect()
}
