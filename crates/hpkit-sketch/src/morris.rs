//! Morris's approximate counter (R. Morris, "Counting large numbers of events in small
//! registers", CACM 1978): count `n` events in a register `c` of `log2 log2 n` bits by
//! incrementing `c` with probability `2^-c`. `2^c - 1` is an unbiased estimate of `n`
//! (a martingale: each event raises its expectation by exactly 1) with variance
//! `n(n-1)/2`, so one counter is good to a factor of about 2, not to a percent.
//!
//! [`Variant::Default`]: estimate `2^c - 1`; the random stream is xoshiro256++ seeded by
//! SplitMix64. Instead of a coin flip per event the counter keeps the number of events
//! still to come before its next increment, drawn from the geometric distribution with
//! `p = 2^-c`; [`MorrisCounter::increment`] of `n` events therefore costs `O(c)` random
//! draws (`O(log n)`), not `n`, and `increment(a); increment(b)` equals `increment(a + b)`
//! and `a + b` single adds, bit for bit.
//!
//! [`Variant::Book`]: the book's listing replayed exactly - one `random.random()` per
//! event from CPython's Mersenne Twister (`random.Random(seed)`), increment when it is
//! below `2^-c`, estimate `2^c` (biased by +1; the book's quirk). `increment(n)` is a loop
//! of `n` draws. The generator is written out here (rather than taken from `rand_mt`)
//! because its state must be serialised so that a restored counter continues the same
//! stream, and because CPython's seeding (`init_by_array` over the 32-bit words of
//! `|seed|`) must be matched word for word.
//!
//! Limits: the register `c` is tiny, but the random generator's state is not (32 bytes,
//! 2.5 KB for the book's Mersenne Twister), and the default variant also stores the
//! pending geometric skip (a `u64`). Morris counters do not merge exactly; [`Merge`]
//! replays the other counter's estimate `2^c' - 1` as events into this one, which keeps
//! the estimate unbiased (the sum of two unbiased estimates) with a larger variance. Only
//! the default variant merges.

use crate::error::{incompatible, Result};
use crate::format::{ensure, Kind, Reader, Writer};
use crate::hash::Variant;
use crate::{Merge, Persist};

/// The largest counter value stored: `2^-c` underflows to 0 in `f64` beyond it, so the
/// counter could never move again anyway.
const MAX_COUNTER: u32 = 1074;

/// An approximate event counter; see the module docs.
#[derive(Clone, PartialEq, Debug)]
pub struct MorrisCounter {
    c: u32,
    rng: Rng,
}

#[derive(Clone, PartialEq, Debug)]
enum Rng {
    /// xoshiro256++ and the number of events left before the next increment (>= 1).
    Default { state: [u64; 4], skip: u64 },
    /// CPython's `random.Random`.
    Book(Box<Mt19937>),
}

impl MorrisCounter {
    /// A counter of `variant` seeded with `seed` (the book variant seeds like
    /// `random.Random(seed)` for a non-negative `seed`).
    pub fn new(variant: Variant, seed: u64) -> Self {
        match variant {
            Variant::Default => Self::with_default_seed(seed),
            Variant::Book => {
                let key = [seed as u32, (seed >> 32) as u32];
                // CPython drops the high zero words of |seed| (but keeps one word for 0).
                let words = if seed >> 32 == 0 { 1 } else { 2 };
                Self::with_book_key(&key[..words])
            }
        }
    }

    /// The default variant (xoshiro256++ seeded through SplitMix64).
    pub fn with_default_seed(seed: u64) -> Self {
        let mut sm = seed;
        let state = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        let mut state = state;
        let skip = geometric_skip(&mut state, 0);
        MorrisCounter {
            c: 0,
            rng: Rng::Default { state, skip },
        }
    }

    /// The book variant with CPython's `init_by_array(key)`: `random.Random(s)` for an int
    /// `s` uses the little-endian 32-bit words of `|s|` (one zero word for 0), and
    /// `random.Random()` 624 words of OS randomness.
    pub fn with_book_key(key: &[u32]) -> Self {
        MorrisCounter {
            c: 0,
            rng: Rng::Book(Box::new(Mt19937::from_key(key))),
        }
    }

    pub fn variant(&self) -> Variant {
        match self.rng {
            Rng::Default { .. } => Variant::Default,
            Rng::Book(_) => Variant::Book,
        }
    }

    /// The register `c`.
    pub fn counter(&self) -> u32 {
        self.c
    }

    /// `2^c - 1` (unbiased) for the default variant, `2^c` for the book's.
    pub fn estimate(&self) -> f64 {
        let p = 2f64.powi(self.c as i32);
        match self.rng {
            Rng::Default { .. } => p - 1.0,
            Rng::Book(_) => p,
        }
    }

    /// Count `n` events. Default variant: `O(log n)` random draws; book variant: `n`
    /// draws (the book's loop, replayed draw for draw).
    pub fn increment(&mut self, n: u64) {
        match &mut self.rng {
            Rng::Default { state, skip } => {
                let mut n = n;
                while n >= *skip {
                    n -= *skip;
                    if self.c < MAX_COUNTER {
                        self.c += 1;
                    }
                    *skip = geometric_skip(state, self.c);
                }
                *skip -= n;
            }
            Rng::Book(mt) => {
                let mut threshold = 2f64.powi(-(self.c as i32));
                for _ in 0..n {
                    if mt.random() < threshold && self.c < MAX_COUNTER {
                        self.c += 1;
                        threshold = 2f64.powi(-(self.c as i32));
                    }
                }
            }
        }
    }
}

/// The next value of a SplitMix64 stream (Steele, Lea & Flood 2014), used to expand a
/// 64-bit seed into xoshiro's state.
fn splitmix64(s: &mut u64) -> u64 {
    *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *s;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256++ (Blackman & Vigna 2018).
fn xoshiro_next(s: &mut [u64; 4]) -> u64 {
    let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
    let t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s[3].rotate_left(45);
    result
}

/// Events until (and including) the next increment when each succeeds with `p = 2^-c`:
/// `K = floor(ln U / ln(1 - p)) + 1` with `U` uniform on `(0, 1]`, so
/// `P(K > j) = (1 - p)^j`. Saturates at `u64::MAX` (never, in practice).
fn geometric_skip(s: &mut [u64; 4], c: u32) -> u64 {
    if c == 0 {
        return 1;
    }
    let u = ((xoshiro_next(s) >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64);
    let ln_q = (-(2f64.powi(-(c as i32)))).ln_1p();
    let k = (u.ln() / ln_q).floor();
    // `as` saturates: a float beyond u64's range becomes u64::MAX.
    (k as u64).saturating_add(1)
}

const MT_N: usize = 624;
const MT_M: usize = 397;

/// MT19937 (Matsumoto & Nishimura 1998) exactly as CPython's `_randommodule.c` seeds and
/// uses it.
#[derive(Clone, PartialEq, Debug)]
struct Mt19937 {
    mt: [u32; MT_N],
    index: usize,
}

impl Mt19937 {
    fn from_seed(s: u32) -> Self {
        let mut mt = [0u32; MT_N];
        mt[0] = s;
        for i in 1..MT_N {
            mt[i] = 1_812_433_253u32
                .wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { mt, index: MT_N }
    }

    /// CPython's `init_by_array`.
    fn from_key(key: &[u32]) -> Self {
        let key: &[u32] = if key.is_empty() { &[0] } else { key };
        let mut g = Self::from_seed(19_650_218);
        let mt = &mut g.mt;
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..MT_N.max(key.len()) {
            let prev = mt[i - 1] ^ (mt[i - 1] >> 30);
            mt[i] = (mt[i] ^ prev.wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= MT_N {
                mt[0] = mt[MT_N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..MT_N - 1 {
            let prev = mt[i - 1] ^ (mt[i - 1] >> 30);
            mt[i] = (mt[i] ^ prev.wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= MT_N {
                mt[0] = mt[MT_N - 1];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
        g
    }

    fn regenerate(&mut self) {
        const UPPER: u32 = 0x8000_0000;
        const LOWER: u32 = 0x7FFF_FFFF;
        const MATRIX_A: u32 = 0x9908_B0DF;
        let mt = &mut self.mt;
        for k in 0..MT_N {
            let y = (mt[k] & UPPER) | (mt[(k + 1) % MT_N] & LOWER);
            let mag = if y & 1 == 1 { MATRIX_A } else { 0 };
            mt[k] = mt[(k + MT_M) % MT_N] ^ (y >> 1) ^ mag;
        }
        self.index = 0;
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= MT_N {
            self.regenerate();
        }
        let mut y = self.mt[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9D2C_5680;
        y ^= (y << 15) & 0xEFC6_0000;
        y ^ (y >> 18)
    }

    /// `random.random()`: 53 random bits from two draws.
    fn random(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) * (1.0 / 9_007_199_254_740_992.0)
    }
}

impl Persist for MorrisCounter {
    fn nbytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + match self.rng {
                Rng::Default { .. } => 0,
                Rng::Book(_) => std::mem::size_of::<Mt19937>(),
            }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(Kind::Morris);
        w.u8(self.variant() as u8).u32(self.c);
        match &self.rng {
            Rng::Default { state, skip } => {
                w.u64s(state).u64(*skip);
            }
            Rng::Book(mt) => {
                w.u32s(&mt.mt).u32(mt.index as u32);
            }
        }
        w.finish()
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, Kind::Morris)?;
        let variant = Variant::from_u8(r.u8()?)?;
        let c = r.u32()?;
        ensure(c <= MAX_COUNTER, "Morris counter out of range")?;
        let rng = match variant {
            Variant::Default => {
                let state = r.u64s()?;
                ensure(state.len() == 4, "xoshiro256++ state must hold 4 words")?;
                let state: [u64; 4] = [state[0], state[1], state[2], state[3]];
                ensure(state != [0; 4], "xoshiro256++ state is all zero")?;
                let skip = r.u64()?;
                ensure(skip >= 1, "pending Morris skip must be at least 1")?;
                Rng::Default { state, skip }
            }
            Variant::Book => {
                let words = r.u32s()?;
                ensure(
                    words.len() == MT_N,
                    "Mersenne Twister state must hold 624 words",
                )?;
                let index = r.u32()? as usize;
                ensure(index <= MT_N, "Mersenne Twister index out of range")?;
                let mut mt = [0u32; MT_N];
                mt.copy_from_slice(&words);
                ensure(
                    mt.iter().any(|&x| x != 0),
                    "Mersenne Twister state is all zero",
                )?;
                Rng::Book(Box::new(Mt19937 { mt, index }))
            }
        };
        r.finish()?;
        Ok(MorrisCounter { c, rng })
    }
}

impl Merge for MorrisCounter {
    /// Replay `other`'s unbiased estimate `2^c' - 1` as events: the merged estimate stays
    /// unbiased for the total (a martingale sum), with a larger variance than one counter
    /// that saw every event. Only the default variant merges (the book's counter is
    /// biased and its increments cost one draw per event).
    fn merge(&mut self, other: &Self) -> Result<()> {
        if self.variant() != Variant::Default || other.variant() != Variant::Default {
            return incompatible("only default-variant Morris counters merge");
        }
        let events = if other.c >= 64 {
            u64::MAX
        } else {
            (1u64 << other.c) - 1
        };
        self.increment(events);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn book_seed_0_matches_python() {
        // random.Random(0): the first random() values CPython prints.
        let mut mt = Mt19937::from_key(&[0]);
        assert_eq!(mt.random(), 0.8444218515250481);
        assert_eq!(mt.random(), 0.7579544029403025);
        assert_eq!(mt.random(), 0.420571580830845);
        // random.Random(2**40 + 5).random()
        let mut mt = Mt19937::from_key(&[5, 256]);
        assert_eq!(mt.random(), 0.5043802970418443);
    }

    #[test]
    fn book_known_answer_million_adds() {
        // WORKLOADS.md ch11: random.Random(0), 1,000,000 adds -> c = 20, estimate 2^20.
        let mut m = MorrisCounter::new(Variant::Book, 0);
        m.increment(1_000_000);
        assert_eq!(m.counter(), 20);
        assert_eq!(m.estimate(), 1_048_576.0);
    }

    #[test]
    fn book_increment_equals_single_adds() {
        let mut a = MorrisCounter::new(Variant::Book, 7);
        let mut b = a.clone();
        a.increment(5000);
        for _ in 0..5000 {
            b.increment(1);
        }
        assert_eq!(a, b);
    }

    #[test]
    fn default_is_fast_for_huge_counts_and_roughly_right() {
        let mut m = MorrisCounter::new(Variant::Default, 1);
        m.increment(1_000_000_000_000);
        let c = m.counter();
        assert!((30..=50).contains(&c), "c = {c}");
    }

    #[test]
    fn default_estimate_is_unbiased() {
        // Mean of 2^c - 1 over many counters, n = 1000: sd of one is ~707, so the mean of
        // 4000 counters is within ~11 (1 sd); allow 5 sd.
        let n = 1000u64;
        let runs = 4000u64;
        let total: f64 = (0..runs)
            .map(|s| {
                let mut m = MorrisCounter::new(Variant::Default, s);
                m.increment(n);
                m.estimate()
            })
            .sum();
        let mean = total / runs as f64;
        assert!((mean - n as f64).abs() < 56.0, "mean {mean}");
    }

    #[test]
    fn merge_is_unbiased() {
        let runs = 4000u64;
        let total: f64 = (0..runs)
            .map(|s| {
                let mut a = MorrisCounter::new(Variant::Default, s);
                let mut b = MorrisCounter::new(Variant::Default, s + 1_000_000);
                a.increment(600);
                b.increment(400);
                a.merge(&b).unwrap();
                a.estimate()
            })
            .sum();
        let mean = total / runs as f64;
        // Var(merged) <= Var(600 + 400 events) + Var(b) ~ 5e5 + 8e4 -> sd of mean ~ 12.
        assert!((mean - 1000.0).abs() < 60.0, "mean {mean}");
        let book = MorrisCounter::new(Variant::Book, 0);
        assert!(MorrisCounter::new(Variant::Default, 0)
            .merge(&book)
            .is_err());
    }

    #[test]
    fn corrupt_bytes_are_errors() {
        for v in [Variant::Default, Variant::Book] {
            let mut m = MorrisCounter::new(v, 3);
            m.increment(100);
            let data = m.to_bytes();
            for n in 0..data.len() {
                assert!(MorrisCounter::from_bytes(&data[..n]).is_err());
            }
        }
    }

    proptest! {
        #[test]
        fn split_increments_equal_one(seed: u64, a in 0u64..100_000, b in 0u64..100_000) {
            let mut x = MorrisCounter::new(Variant::Default, seed);
            let mut y = x.clone();
            x.increment(a);
            x.increment(b);
            y.increment(a + b);
            prop_assert_eq!(x, y);
        }

        #[test]
        fn round_trip_continues_the_stream(seed: u64, book: bool, a in 0u64..3000, b in 0u64..3000) {
            let v = if book { Variant::Book } else { Variant::Default };
            let mut x = MorrisCounter::new(v, seed);
            x.increment(a);
            let mut y = MorrisCounter::from_bytes(&x.to_bytes()).unwrap();
            prop_assert_eq!(&x, &y);
            x.increment(b);
            y.increment(b);
            prop_assert_eq!(x, y);
        }

        #[test]
        fn random_corruption_is_an_error(seed: u64, pos: usize, bit in 0u8..8) {
            let mut x = MorrisCounter::new(Variant::Default, seed);
            x.increment(1000);
            let mut data = x.to_bytes();
            let i = pos % data.len();
            data[i] ^= 1 << bit;
            prop_assert!(MorrisCounter::from_bytes(&data).is_err());
        }
    }
}
