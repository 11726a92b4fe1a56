//! Smallest prime factor of any u64: trial division by the small primes, then Pollard's
//! rho in Brent's form (R. P. Brent, "An improved Monte Carlo factorization algorithm",
//! BIT 20, 1980) on Montgomery residues, splitting until every factor is prime.
//!
//! Rho finds a factor `p` after about `sqrt(p)` steps, so even the worst case for u64 (a
//! product of two primes near 2^32) takes ~10^5 multiplications: microseconds to a few
//! milliseconds, against 10^9 divisions for trial division.

use super::is_prime;

/// Arithmetic modulo an odd `n` in Montgomery form (`x` is held as `x * 2^64 mod n`), so a
/// modular product costs three integer multiplications and no division.
/// P. L. Montgomery, "Modular multiplication without trial division", Math. Comp. 44, 1985.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Montgomery {
    n: u64,
    /// `n^-1 mod 2^64`
    n_inv: u64,
    /// `2^64 mod n`: the Montgomery form of 1
    one: u64,
    /// `2^128 mod n`: converts into Montgomery form
    r2: u64,
}

impl Montgomery {
    /// `n` must be odd (and > 1).
    pub(crate) fn new(n: u64) -> Montgomery {
        debug_assert!(n % 2 == 1 && n > 1);
        // Newton's iteration doubles the correct low bits: n*n = 1 mod 8 gives 3 bits.
        let mut n_inv = n;
        for _ in 0..5 {
            n_inv = n_inv.wrapping_mul(2u64.wrapping_sub(n.wrapping_mul(n_inv)));
        }
        let one = n.wrapping_neg() % n;
        let r2 = ((u128::from(one) * u128::from(one)) % u128::from(n)) as u64;
        Montgomery { n, n_inv, one, r2 }
    }

    /// `t / 2^64 mod n` for `t < n * 2^64`, fully reduced into `[0, n)`.
    #[inline(always)]
    fn reduce(&self, t: u128) -> u64 {
        let (lo, hi) = (t as u64, (t >> 64) as u64);
        let m = lo.wrapping_mul(self.n_inv);
        let mn_hi = ((u128::from(m) * u128::from(self.n)) >> 64) as u64;
        // lo - low(m*n) is 0 by construction, so only the high words are subtracted.
        let (d, borrow) = hi.overflowing_sub(mn_hi);
        if borrow {
            d.wrapping_add(self.n)
        } else {
            d
        }
    }

    #[inline(always)]
    pub(crate) fn mul(&self, a: u64, b: u64) -> u64 {
        self.reduce(u128::from(a) * u128::from(b))
    }

    #[inline(always)]
    fn add(&self, a: u64, b: u64) -> u64 {
        let (s, carry) = a.overflowing_add(b);
        if carry || s >= self.n {
            s.wrapping_sub(self.n)
        } else {
            s
        }
    }

    /// The Montgomery form of `a` (any u64).
    pub(crate) fn residue(&self, a: u64) -> u64 {
        self.mul(a % self.n, self.r2)
    }

    pub(crate) fn one(&self) -> u64 {
        self.one
    }

    /// `base^e` with `base` in Montgomery form.
    #[cfg(test)]
    pub(crate) fn pow(&self, base: u64, mut e: u64) -> u64 {
        let (mut acc, mut b) = (self.one, base);
        while e > 0 {
            if e & 1 == 1 {
                acc = self.mul(acc, b);
            }
            b = self.mul(b, b);
            e >>= 1;
        }
        acc
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    // Binary gcd: no division.
    if a == 0 || b == 0 {
        return a | b;
    }
    let shift = (a | b).trailing_zeros();
    a >>= a.trailing_zeros();
    loop {
        b >>= b.trailing_zeros();
        if a > b {
            std::mem::swap(&mut a, &mut b);
        }
        b -= a;
        if b == 0 {
            return a << shift;
        }
    }
}

/// A non-trivial factor of the odd composite `n` (not necessarily prime).
fn pollard_brent(n: u64) -> u64 {
    let mont = Montgomery::new(n);
    // Products of |x - y| are accumulated and one gcd taken per batch.
    const BATCH: u64 = 128;
    for c in 1.. {
        let c = mont.residue(c);
        let f = |x: u64| mont.add(mont.mul(x, x), c);
        let mut y = mont.residue(2);
        let (mut x, mut ys) = (y, y);
        let mut q = mont.one();
        let mut g = 1;
        let mut r = 1u64;
        while g == 1 {
            x = y;
            for _ in 0..r {
                y = f(y);
            }
            let mut k = 0;
            while k < r && g == 1 {
                ys = y;
                for _ in 0..BATCH.min(r - k) {
                    y = f(y);
                    q = mont.mul(q, x.abs_diff(y));
                }
                g = gcd(q, n);
                k += BATCH;
            }
            r *= 2;
        }
        if g == n {
            // The batch overshot: step one at a time from the batch's start.
            loop {
                ys = f(ys);
                g = gcd(x.abs_diff(ys), n);
                if g > 1 {
                    break;
                }
            }
        }
        if g != n {
            return g;
        }
        // x == y mod n: this polynomial cycled without splitting n; try the next c.
    }
    unreachable!("the loop over c only ends by returning")
}

/// Primes below this are found by trial division before rho is tried.
const TRIAL_LIMIT: u64 = 1 << 10;

/// The smallest prime factor of `n >= 2` (`n` itself when `n` is prime).
pub(crate) fn smallest_prime_factor(n: u64) -> u64 {
    debug_assert!(n >= 2);
    if n.is_multiple_of(2) {
        return 2;
    }
    let mut d = 3;
    while d < TRIAL_LIMIT {
        if d * d > n {
            return n;
        }
        if n.is_multiple_of(d) {
            return d;
        }
        d += 2;
    }
    smallest_of_rough(n)
}

/// The smallest prime factor of an odd `n` with no factor below [`TRIAL_LIMIT`].
fn smallest_of_rough(n: u64) -> u64 {
    if is_prime(n) {
        return n;
    }
    let d = pollard_brent(n);
    smallest_of_rough(d).min(smallest_of_rough(n / d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn montgomery_matches_u128() {
        for &n in &[
            3u64,
            5,
            1_000_000_007,
            (1 << 63) + 1,
            u64::MAX,
            u64::MAX - 2,
        ] {
            let m = Montgomery::new(n);
            for &(a, b) in &[(2u64, 3u64), (n - 1, n - 1), (123_456_789, 987_654_321)] {
                let expected = (u128::from(a % n) * u128::from(b % n) % u128::from(n)) as u64;
                let got = m.mul(m.residue(a), m.residue(b));
                assert_eq!(m.mul(got, 1), expected, "{a} * {b} mod {n}");
            }
        }
    }

    #[test]
    fn known_smallest_factors() {
        // WORKLOADS.md ch9 W9.2 (verified by the oracle).
        assert_eq!(smallest_prime_factor(112_272_535_095_295), 5);
        assert_eq!(smallest_prime_factor(100_109_100_129_100_369), 95_362_951);
        assert_eq!(smallest_prime_factor(100_109_100_129_101_027), 171_656_941);
        assert_eq!(
            smallest_prime_factor(100_109_100_129_100_151),
            100_109_100_129_100_151
        );
        // Squares and cubes of primes, the hardest shapes for rho.
        let p = 4_294_967_291u64; // largest prime below 2^32
        assert_eq!(smallest_prime_factor(p * p), p);
        assert_eq!(smallest_prime_factor(2_642_245 * 2_642_245 * 2_642_245), 5);
        let q = 2_642_239u64; // the largest prime whose cube is below 2^64
        assert_eq!(smallest_prime_factor(q * q * q), q);
        assert_eq!(
            smallest_prime_factor(4_294_967_279 * 4_294_967_291),
            4_294_967_279
        );
        assert_eq!(smallest_prime_factor(u64::MAX), 3);
        assert_eq!(smallest_prime_factor(2), 2);
        assert_eq!(smallest_prime_factor(3), 3);
        assert_eq!(smallest_prime_factor(1_018_081), 1_009); // 1009^2, just past trial division
    }

    #[test]
    fn gcd_is_euclid() {
        for &(a, b) in &[
            (0u64, 5u64),
            (12, 18),
            (17, 5),
            (u64::MAX, 3),
            (1 << 40, 1 << 20),
        ] {
            let (mut x, mut y) = (a, b);
            while y != 0 {
                (x, y) = (y, x % y);
            }
            assert_eq!(gcd(a, b), x);
        }
    }
}
