use super::factor::Montgomery;
use super::*;
use proptest::prelude::*;

fn no_cancel() -> AtomicBool {
    AtomicBool::new(false)
}

fn naive_is_prime(n: u64) -> bool {
    n >= 2
        && (2..)
            .take_while(|d| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

/// An independent deterministic Miller-Rabin (Jim Sinclair's 7 bases, exact below 2^64)
/// on our own Montgomery arithmetic: the cross-check for `machine-prime`.
fn sinclair_is_prime(n: u64) -> bool {
    const BASES: [u64; 7] = [2, 325, 9375, 28178, 450_775, 9_780_504, 1_795_265_022];
    if n < 2 {
        return false;
    }
    for p in [2, 3, 5, 7, 11, 13] {
        if n.is_multiple_of(p) {
            return n == p;
        }
    }
    let m = Montgomery::new(n);
    let s = (n - 1).trailing_zeros();
    let d = (n - 1) >> s;
    let minus_one = n - m.one();
    'bases: for a in BASES {
        if a % n == 0 {
            continue;
        }
        let mut x = m.pow(m.residue(a), d);
        if x == m.one() || x == minus_one {
            continue;
        }
        for _ in 1..s {
            x = m.mul(x, x);
            if x == minus_one {
                continue 'bases;
            }
        }
        return false;
    }
    true
}

fn reference_primes(lo: u64, hi: u64) -> Vec<u64> {
    (lo..hi).filter(|&n| is_prime(n)).collect()
}

#[test]
fn is_prime_small_numbers_match_naive() {
    for n in 0..200_000 {
        assert_eq!(is_prime(n), naive_is_prime(n), "{n}");
    }
}

#[test]
fn is_prime_known_hard_cases() {
    // Carmichael numbers and strong pseudoprimes to the first few prime bases.
    let composites = [
        561u64,
        1105,
        1729,
        2465,
        2821,
        6601,
        8911,
        2047,
        1_373_653,
        25_326_001,
        3_215_031_751,
        2_152_302_898_747,
        3_474_749_660_383,
        341_550_071_728_321,
        3_825_123_056_546_413_051,
        u64::MAX,
        (1 << 62) + 1,
        4_294_967_291 * 4_294_967_279,
        100_109_100_129_100_369,
        100_109_100_129_101_027,
        112_272_535_095_295,
    ];
    for n in composites {
        assert!(!is_prime(n), "{n} is composite");
        assert!(!sinclair_is_prime(n), "{n} is composite");
    }
    let primes = [
        2u64,
        3,
        5,
        1_000_000_007,
        4_294_967_291,
        100_109_100_129_100_151,
        100_109_100_129_162_907,
        18_446_744_073_709_551_557, // the largest prime below 2^64
        18_446_744_073_709_551_533,
    ];
    for n in primes {
        assert!(is_prime(n), "{n} is prime");
        assert!(sinclair_is_prime(n), "{n} is prime");
    }
    assert_eq!(
        reference_primes(u64::MAX - 58, u64::MAX),
        vec![18_446_744_073_709_551_557]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]
    #[test]
    fn is_prime_agrees_with_sinclair(n in any::<u64>()) {
        prop_assert_eq!(is_prime(n), sinclair_is_prime(n));
    }

    #[test]
    fn is_prime_agrees_on_odd_semiprimes(a in 3u32.., b in 3u32..) {
        let n = u64::from(a | 1) * u64::from(b | 1);
        prop_assert!(!is_prime(n) || a | 1 == 1 || b | 1 == 1);
        prop_assert_eq!(is_prime(n), sinclair_is_prime(n));
    }
}

#[test]
fn smallest_factor_known_answers() {
    // WORKLOADS.md ch9 W9.2.
    assert_eq!(smallest_factor(112_272_535_095_295), Ok(5));
    assert_eq!(smallest_factor(100_109_100_129_100_369), Ok(95_362_951));
    assert_eq!(smallest_factor(100_109_100_129_101_027), Ok(171_656_941));
    assert_eq!(
        smallest_factor(100_109_100_129_162_907),
        Ok(100_109_100_129_162_907)
    );
    assert!(smallest_factor(0).is_err());
    assert!(smallest_factor(1).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3_000))]
    #[test]
    fn smallest_factor_divides_and_is_prime(n in 2u64..) {
        let f = smallest_factor(n).unwrap();
        prop_assert_eq!(n % f, 0);
        prop_assert!(is_prime(f));
        // no smaller factor: checked fully where that is cheap
        if f < 1 << 20 {
            prop_assert!((2..f).all(|d| n % d != 0));
        }
    }

    #[test]
    fn smallest_factor_of_products(a in 2u64..1 << 32, b in 2u64..1 << 32) {
        let n = a * b;
        let expected = smallest_factor(a).unwrap().min(smallest_factor(b).unwrap());
        prop_assert_eq!(smallest_factor(n).unwrap(), expected);
    }

    #[test]
    fn small_smallest_factor_matches_naive(n in 2u64..1_000_000) {
        let naive = (2..).find(|d| n % d == 0).unwrap();
        prop_assert_eq!(smallest_factor(n).unwrap(), naive);
    }
}

#[test]
fn trial_division_correct_and_book_rule() {
    let c = no_cancel();
    for n in 0..20_000 {
        assert_eq!(
            is_prime_trial(n, false, 1, &c),
            Ok(naive_is_prime(n)),
            "{n}"
        );
        // The book's rule: even -> composite (also 2), 1 -> prime, exact for n >= 3.
        let book = is_prime_trial(n, true, 1, &c).unwrap();
        let expected = match n {
            0 | 2 => false,
            1 => true,
            _ => naive_is_prime(n),
        };
        assert_eq!(book, expected, "book rule, {n}");
    }
    // W10.1: numbers 1..=10,000 -> 1,229 "prime" under the book's rule (1 in, 2 out).
    let book_count = (1..=10_000)
        .filter(|&n| is_prime_trial(n, true, 1, &c).unwrap())
        .count();
    assert_eq!(book_count, 1_229);
}

#[test]
fn trial_division_bound_follows_the_float_sqrt() {
    // Squares of primes: the bound must include the square root itself.
    let c = no_cancel();
    for p in [3u64, 5, 7, 1_000_003, 4_294_967_291] {
        assert_eq!(is_prime_trial(p * p, false, 1, &c), Ok(false), "{p}^2");
        assert_eq!(is_prime_trial(p * p, true, 1, &c), Ok(false), "{p}^2 book");
    }
    assert_eq!(trial_upper(100_109_100_129_100_151, true), 316_400_222);
    assert_eq!(trial_upper(100_109_100_129_100_151, false), 316_400_222);
}

#[test]
fn parallel_trial_division_agrees() {
    let c = no_cancel();
    // ~10^12: the divisor range is split into several blocks.
    let p = (1_000_000_000_000u64..).find(|&n| is_prime(n)).unwrap();
    let composite = 1_000_003u64 * 999_983;
    for threads in [1, 2, 3] {
        for book in [false, true] {
            assert_eq!(is_prime_trial(p, book, threads, &c), Ok(true));
            assert_eq!(is_prime_trial(composite, book, threads, &c), Ok(false));
            assert_eq!(is_prime_trial(p * 3, book, threads, &c), Ok(false));
        }
    }
}

#[test]
fn trial_division_stops_when_cancelled() {
    let cancel = AtomicBool::new(true);
    let p = 100_109_100_129_100_151;
    for threads in [1, 2] {
        assert_eq!(
            is_prime_trial(p, false, threads, &cancel),
            Err(KernelError::Interrupted)
        );
    }
}

#[test]
fn bulk_tests_match_scalar() {
    let c = no_cancel();
    let values: Vec<u64> = (0..10_000u64)
        .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (i % 40))
        .collect();
    let expected: Vec<bool> = values.iter().map(|&v| is_prime(v)).collect();
    for threads in [1, 2, 3] {
        assert_eq!(is_prime_many(&values, threads, &c).unwrap(), expected);
    }
    let small: Vec<u64> = (0..5_000).collect();
    for threads in [1, 2] {
        let got = is_prime_trial_many(&small, false, threads, &c).unwrap();
        assert_eq!(got, small.iter().map(|&v| is_prime(v)).collect::<Vec<_>>());
    }
    assert_eq!(
        is_prime_many(&values, 2, &AtomicBool::new(true)),
        Err(KernelError::Interrupted)
    );
}

/// pi(10^k), k = 0..=9.
const PI_POWERS_OF_TEN: [u64; 10] = [
    0, 4, 25, 168, 1_229, 9_592, 78_498, 664_579, 5_761_455, 50_847_534,
];

#[test]
fn counts_known_answers() {
    let c = no_cancel();
    for (k, &pi) in PI_POWERS_OF_TEN.iter().enumerate() {
        for threads in [1, 2, 3] {
            if k == 9 && threads == 3 {
                continue;
            }
            assert_eq!(
                count_primes(0, 10u64.pow(k as u32), threads, &c),
                Ok(pi),
                "pi(10^{k}), {threads} threads"
            );
        }
    }
    // WORKLOADS.md ch9 W9.2 ranges A-D.
    for (lo, hi, expected) in [
        (100_000_000, 100_010_000, 551),
        (100_000_000, 100_100_000, 5_411),
        (100_000_000, 101_000_000, 54_208),
        (1_000_000_000, 1_000_100_000, 4_832),
    ] {
        for threads in [1, 2] {
            assert_eq!(count_primes(lo, hi, threads, &c), Ok(expected));
            assert_eq!(
                primes_between(lo, hi, threads, &c).unwrap().len() as u64,
                expected
            );
        }
    }
}

#[test]
fn listing_matches_the_reference() {
    let c = no_cancel();
    let below = primes_below(1_000_000, 2, &c).unwrap();
    assert_eq!(below, reference_primes(0, 1_000_000));
    assert_eq!(&below[..5], &[2, 3, 5, 7, 11]);
    // Segment and chunk boundaries: several segments, several chunks per thread.
    let lo = 3 * sieve::SEGMENT_BYTES as u64 * 30 - 1_000;
    let hi = lo + 40 * sieve::SEGMENT_BYTES as u64 * 30 + 777;
    let expected = count_primes(lo, hi, 1, &c).unwrap();
    for threads in [2, 3, 5] {
        let got = primes_between(lo, hi, threads, &c).unwrap();
        assert_eq!(got.len() as u64, expected);
        assert!(got.windows(2).all(|w| w[0] < w[1]));
        assert!(got.iter().all(|&p| (lo..hi).contains(&p)));
        assert_eq!(count_primes(lo, hi, threads, &c), Ok(expected));
    }
}

#[test]
fn top_of_the_u64_range() {
    // The sieve stops at SIEVING_PRIME_CAP or the width and Miller-Rabin confirms the rest.
    let c = no_cancel();
    for width in [1u64, 30, 1_000, 100_000] {
        let lo = u64::MAX - width;
        let expected = reference_primes(lo, u64::MAX);
        assert_eq!(primes_between(lo, u64::MAX, 2, &c).unwrap(), expected);
        assert_eq!(count_primes(lo, u64::MAX, 2, &c), Ok(expected.len() as u64));
    }
    // Around 2^50 the full sieve hands over to the partial one.
    for lo in [(1u64 << 50) - 50_000, 1 << 50, (1 << 52) + 12_345] {
        let hi = lo + 200_000;
        assert_eq!(
            primes_between(lo, hi, 2, &c).unwrap(),
            reference_primes(lo, hi)
        );
    }
}

#[test]
fn empty_and_invalid_ranges() {
    let c = no_cancel();
    assert_eq!(count_primes(5, 5, 1, &c), Ok(0));
    assert_eq!(primes_between(0, 0, 1, &c), Ok(vec![]));
    assert_eq!(primes_below(3, 1, &c), Ok(vec![2]));
    assert_eq!(primes_between(2, 6, 1, &c), Ok(vec![2, 3, 5]));
    assert_eq!(primes_between(7, 8, 1, &c), Ok(vec![7]));
    assert!(matches!(
        count_primes(10, 9, 1, &c),
        Err(KernelError::InvalidArgument(_))
    ));
    assert!(matches!(
        primes_between(10, 9, 1, &c),
        Err(KernelError::InvalidArgument(_))
    ));
    assert!(matches!(
        primes_below(u64::MAX, 1, &c),
        Err(KernelError::TooLarge { .. })
    ));
}

#[test]
fn sieve_stops_when_cancelled() {
    let cancel = AtomicBool::new(true);
    assert_eq!(
        count_primes(0, 1 << 40, 2, &cancel),
        Err(KernelError::Interrupted)
    );
    assert_eq!(
        primes_between(0, 1 << 30, 2, &cancel),
        Err(KernelError::Interrupted)
    );
}

#[test]
fn upper_bound_holds() {
    let c = no_cancel();
    for (lo, hi) in [
        (0u64, 2u64),
        (0, 100),
        (0, 1_000_000),
        (1_000_000, 1_000_100),
        (1 << 40, (1 << 40) + 100_000),
        (0, 30),
        (7, 8),
    ] {
        let n = count_primes(lo, hi, 1, &c).unwrap();
        assert!(u128::from(n) <= count_upper_bound(lo, hi), "[{lo}, {hi})");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn sieve_matches_is_prime_and_naive(lo in 0u64..3_000_000, width in 0u64..20_000) {
        let c = no_cancel();
        let hi = lo + width;
        let expected: Vec<u64> = (lo..hi).filter(|&n| naive_is_prime(n)).collect();
        prop_assert_eq!(&primes_between(lo, hi, 1, &c).unwrap(), &expected);
        prop_assert_eq!(count_primes(lo, hi, 2, &c).unwrap(), expected.len() as u64);
    }

    #[test]
    fn sieve_matches_is_prime_anywhere(lo in any::<u64>(), width in 0u64..5_000) {
        let c = no_cancel();
        let hi = lo.saturating_add(width);
        prop_assert_eq!(primes_between(lo, hi, 2, &c).unwrap(), reference_primes(lo, hi));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn wide_ranges_agree_across_threads(lo in 0u64..1 << 40, width in 0u64..50_000_000) {
        let c = no_cancel();
        let hi = lo + width;
        let one = count_primes(lo, hi, 1, &c).unwrap();
        prop_assert_eq!(count_primes(lo, hi, 2, &c).unwrap(), one);
        prop_assert_eq!(primes_between(lo, hi, 3, &c).unwrap().len() as u64, one);
    }
}

#[test]
fn engine_matches_the_plain_sieve_at_block_and_segment_edges() {
    // The plain odd-only sieve shares no code with the segmented engine.
    let c = no_cancel();
    let bound = 120_000_000u32;
    let plain: Vec<u64> = sieve::simple_sieve(bound)
        .into_iter()
        .map(u64::from)
        .collect();
    let seg = sieve::SEGMENT_BYTES as u64 * 30;
    let block = sieve::BLOCK_BYTES as u64 * 30;
    let edges = [
        (0, u64::from(bound)),
        (7, seg + block + 1),
        (seg - 1, 2 * seg + block / 2),
        (3 * seg + block - 29, 5 * seg - 31),
        (4 * seg + 7 * block + 13, 9 * seg + block + 40_000),
        (u64::from(bound) - seg - 12_345, u64::from(bound)),
    ];
    for (lo, hi) in edges {
        let from = plain.partition_point(|&p| p < lo);
        let to = plain.partition_point(|&p| p < hi);
        for threads in [1, 2] {
            let got = primes_between(lo, hi, threads, &c).unwrap();
            assert!(got == plain[from..to], "[{lo}, {hi}), {threads} threads");
        }
    }
}
