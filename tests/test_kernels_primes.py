"""hpkit.kernels primes against the known answers of WORKLOADS.md ch9 (W9.2, W9.3, W10.1)
and the book-style references in hpkit.reference.primes."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from helpers import assert_releases_gil, assert_stops_on_ctrl_c
from hypothesis import given, settings
from hypothesis import strategies as st

import hpkit
from hpkit import kernels
from hpkit.reference import primes as ref

# WORKLOADS.md ch9 W9.2, per-number cases: n -> smallest prime factor (None: prime).
W92_NUMBERS = {
    112_272_535_095_295: 5,
    100_109_100_129_100_369: 95_362_951,
    100_109_100_129_101_027: 171_656_941,
    100_109_100_129_100_151: None,
    100_109_100_129_162_907: None,
}
# W9.2 ranges A-D, [from, to) -> primes.
W92_RANGES = {
    (100_000_000, 100_010_000): 551,
    (100_000_000, 100_100_000): 5_411,
    (100_000_000, 101_000_000): 54_208,
    (1_000_000_000, 1_000_100_000): 4_832,
}
LARGEST_PRIME_BELOW_2_64 = 18_446_744_073_709_551_557
# Carmichael numbers and strong pseudoprimes to the first prime bases.
HARD_COMPOSITES = [
    561,
    1105,
    1729,
    41041,
    825265,
    2047,
    1_373_653,
    25_326_001,
    3_215_031_751,
    2_152_302_898_747,
    3_474_749_660_383,
    341_550_071_728_321,
    3_825_123_056_546_413_051,
    2**64 - 1,
]


@pytest.mark.parametrize("n,factor", W92_NUMBERS.items())
def test_w92_numbers(n: int, factor: int | None) -> None:
    assert kernels.is_prime(n) is (factor is None)
    assert kernels.smallest_factor(n) == (n if factor is None else factor)


@pytest.mark.parametrize("n", [100_109_100_129_100_369, 100_109_100_129_101_027])
def test_w92_expensive_composites_by_trial_division(n: int) -> None:
    for book_rule in (False, True):
        assert kernels.is_prime(n, method="trial", book_rule=book_rule) is False


def test_w92_prime_by_trial_division_in_parallel() -> None:
    # 158,200,110 odd divisions; the divisor range is split over the threads.
    assert kernels.is_prime(100_109_100_129_100_151, method="trial", book_rule=True)


@pytest.mark.parametrize("bounds,expected", W92_RANGES.items())
def test_w92_ranges(bounds: tuple[int, int], expected: int) -> None:
    lo, hi = bounds
    for threads in (1, None):
        assert kernels.count_primes(lo, hi, threads=threads) == expected
        found = kernels.primes_between(lo, hi, threads=threads)
        assert found.dtype == np.uint64 and len(found) == expected
    if hi - lo <= 100_000:
        assert ref.count_primes_numpy(lo, hi) == expected


def test_w92_range_a_book_rule_per_number() -> None:
    lo, hi = 100_000_000, 100_010_000
    flags = kernels.is_prime_many(np.arange(lo, hi), method="trial", book_rule=True)
    assert int(flags.sum()) == 551
    np.testing.assert_array_equal(np.flatnonzero(flags) + lo, kernels.primes_between(lo, hi))


def test_pi_of_powers_of_ten() -> None:
    assert kernels.count_primes(0, 10**7) == 664_579
    assert len(kernels.primes_below(10**7)) == 664_579
    assert kernels.count_primes(0, 10**9) == 50_847_534  # about 0.1 s


def test_w101_book_rule_quirks() -> None:
    # Numbers 1..10,000 under the chapter's rule: 1,229 "prime" because 1 is in and 2 out.
    numbers = np.arange(1, 10_001)
    flags = kernels.is_prime_many(numbers, method="trial", book_rule=True)
    assert int(flags.sum()) == 1_229
    assert int(numbers[flags].sum()) == 5_736_395
    assert kernels.is_prime(1, method="trial", book_rule=True) is True
    assert kernels.is_prime(2, method="trial", book_rule=True) is False
    assert kernels.is_prime(0, method="trial", book_rule=True) is False
    correct = kernels.is_prime_many(numbers, method="trial")
    assert int(correct.sum()) == 1_229
    assert int(numbers[correct].sum()) == 5_736_396
    assert ref.check_prime(1) and not ref.check_prime(2)
    assert not ref.is_prime_trial(1) and ref.is_prime_trial(2)


def test_book_rule_matches_the_reference() -> None:
    numbers = list(range(0, 5_000))
    book = kernels.is_prime_many(numbers, method="trial", book_rule=True)
    assert book.tolist() == [ref.check_prime(n) for n in numbers]
    for method in kernels.PRIME_METHODS:
        got = kernels.is_prime_many(numbers, method=method)
        assert got.tolist() == [ref.is_prime_trial(n) for n in numbers]


def test_w93_range_splitter() -> None:
    assert ref.create_range(1, 31, 4) == [(1, 9), (9, 15), (15, 23), (23, 31)]
    assert ref.create_range(2, 11, 2) == [(2, 7), (7, 11)]
    assert ref.create_range(1, 31, 3) == [(1, 11), (11, 21), (21, 31)]
    upper = int(math.sqrt(100_109_100_129_100_369)) + 1
    assert ref.create_range(21, upper, 4) == [
        (21, 79_100_071),
        (79_100_071, 158_200_121),
        (158_200_121, 237_300_171),
        (237_300_171, 316_400_222),
    ]


def test_top_of_the_u64_range() -> None:
    top = 2**64
    assert kernels.is_prime(LARGEST_PRIME_BELOW_2_64)
    assert not kernels.is_prime(top - 1)
    assert kernels.primes_between(top - 100, top).tolist()[-1] == LARGEST_PRIME_BELOW_2_64
    assert kernels.count_primes(LARGEST_PRIME_BELOW_2_64 + 1, top) == 0
    assert kernels.count_primes(top - 1_000, top) == len(kernels.primes_between(top - 1_000, top))
    assert kernels.smallest_factor(top - 1) == 3
    assert kernels.smallest_factor(LARGEST_PRIME_BELOW_2_64) == LARGEST_PRIME_BELOW_2_64
    assert kernels.count_primes(top, top) == 0


@pytest.mark.parametrize("n", HARD_COMPOSITES)
def test_pseudoprimes_are_composite(n: int) -> None:
    assert kernels.is_prime(n) is False
    f = kernels.smallest_factor(n)
    assert 1 < f < n and n % f == 0 and kernels.is_prime(f)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 3_000_000), st.integers(0, 3_000))
def test_sieve_equals_the_reference(lo: int, width: int) -> None:
    hi = lo + width
    expected = [n for n in range(lo, hi) if ref.is_prime_trial(n)]
    assert kernels.primes_between(lo, hi).tolist() == expected
    assert kernels.count_primes(lo, hi, threads=2) == len(expected)
    assert ref.count_primes_numpy(lo, hi) == len(expected)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**64 - 1), st.integers(0, 400))
def test_sieve_equals_is_prime_anywhere(lo: int, width: int) -> None:
    hi = min(lo + width, 2**64)
    expected = [n for n in range(lo, hi) if kernels.is_prime(n)]
    assert kernels.primes_between(lo, hi).tolist() == expected


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**9))
def test_is_prime_equals_trial_division(n: int) -> None:
    expected = ref.is_prime_trial(n)
    assert kernels.is_prime(n) is expected
    assert kernels.is_prime(n, method="trial") is expected


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 2**64 - 1))
def test_smallest_factor_is_a_prime_divisor(n: int) -> None:
    f = kernels.smallest_factor(n)
    assert n % f == 0 and kernels.is_prime(f)
    if f < 10_000:
        assert all(n % d for d in range(2, f))


@pytest.mark.parametrize(
    "dtype", [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]
)
def test_is_prime_many_any_integer_dtype(dtype: type) -> None:
    values = np.arange(0, 120, dtype=dtype).reshape(4, 30)
    got = kernels.is_prime_many(values)
    assert got.shape == (4, 30) and got.dtype == np.bool_
    assert got.ravel().tolist() == [ref.is_prime_trial(n) for n in range(120)]


def test_is_prime_many_inputs() -> None:
    assert kernels.is_prime_many([[2, 4], [7, 9]]).tolist() == [
        [True, False],
        [True, False],
    ]
    assert kernels.is_prime_many([2**64 - 59, 2**63, 0]).tolist() == [True, False, False]
    assert kernels.is_prime_many([]).shape == (0,)
    assert kernels.is_prime_many(np.array(LARGEST_PRIME_BELOW_2_64, dtype=np.uint64)).shape == ()
    strided = np.arange(100, dtype=np.int64)[::3]
    assert kernels.is_prime_many(strided).tolist() == [
        ref.is_prime_trial(n) for n in range(0, 100, 3)
    ]
    big = np.arange(10**6, 10**6 + 50_000, dtype=np.uint64)
    assert int(kernels.is_prime_many(big, threads=2).sum()) == kernels.count_primes(
        10**6, 10**6 + 50_000
    )


# --- bad input: clear Python exceptions, all hpkit errors ---------------------------------


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: kernels.is_prime(2**64), ValueError, "n must be < 2\\*\\*64"),
        (lambda: kernels.is_prime(2**100), ValueError, "n must be < 2\\*\\*64"),
        (lambda: kernels.is_prime(-7), ValueError, "n must be >= 0"),
        (lambda: kernels.is_prime(-7, method="trial"), ValueError, "n must be >= 0"),
        (lambda: kernels.is_prime(7.0), TypeError, "n must be an integer"),
        (lambda: kernels.is_prime(math.nan), TypeError, "n must be an integer"),
        (lambda: kernels.is_prime("7"), TypeError, "n must be an integer"),
        (lambda: kernels.is_prime(7, method="aks"), ValueError, "unknown method"),
        (lambda: kernels.is_prime(7, book_rule=True), ValueError, "method='trial'"),
        (lambda: kernels.is_prime(7, method="trial", book_rule=1), TypeError, "book_rule"),
        (lambda: kernels.is_prime(7, method="trial", threads=0), ValueError, "threads"),
        (lambda: kernels.smallest_factor(1), ValueError, "at least 2"),
        (lambda: kernels.smallest_factor(0), ValueError, "at least 2"),
        (lambda: kernels.smallest_factor(2**64), ValueError, "< 2\\*\\*64"),
        (lambda: kernels.smallest_factor(12.5), TypeError, "integer"),
        (lambda: kernels.count_primes(10, 9), ValueError, "lo <= hi"),
        (lambda: kernels.count_primes(-1, 9), ValueError, "lo must be >= 0"),
        (lambda: kernels.count_primes(0, 2**64 + 1), ValueError, "hi must be < 2\\*\\*64"),
        (lambda: kernels.count_primes(0, 1e9), TypeError, "hi must be an integer"),
        (lambda: kernels.count_primes(0, math.nan), TypeError, "hi must be an integer"),
        (lambda: kernels.count_primes(0, 10, threads=-1), ValueError, "threads"),
        (lambda: kernels.primes_between(5, 2), ValueError, "lo <= hi"),
        (lambda: kernels.primes_below(-5), ValueError, "hi must be >= 0"),
        (lambda: kernels.primes_below(2**64), MemoryError, "more than this machine"),
        (lambda: kernels.is_prime_many([1, -2]), ValueError, "values must be >= 0"),
        (lambda: kernels.is_prime_many([1, 2**64]), ValueError, "values must be in"),
        (lambda: kernels.is_prime_many([-1, 2**63]), ValueError, "values must be in"),
        (lambda: kernels.is_prime_many(np.array([3, -3])), ValueError, "values must be >= 0"),
        (lambda: kernels.is_prime_many([1.5, 2]), TypeError, "values must be an integer"),
        (lambda: kernels.is_prime_many([math.nan]), TypeError, "values must be an integer"),
        (lambda: kernels.is_prime_many(np.zeros(3)), TypeError, "dtype float64"),
        (lambda: kernels.is_prime_many(np.zeros(3, bool)), TypeError, "dtype bool"),
        (lambda: kernels.is_prime_many(["7"]), TypeError, "values must be an integer"),
        (lambda: kernels.is_prime_many([[1, 2], [3]]), ValueError, "rectangular"),
        (lambda: kernels.is_prime_many([3], method="nope"), ValueError, "unknown method"),
    ],
)
def test_bad_input(call: object, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match) as info:
        call()  # type: ignore[operator]
    assert isinstance(info.value, hpkit.HpkitError)


def test_range_end_may_be_2_64() -> None:
    assert kernels.count_primes(2**64, 2**64) == 0
    assert kernels.primes_between(2**64 - 60, 2**64).tolist() == [LARGEST_PRIME_BELOW_2_64]


# --- the GIL is released and Ctrl-C stops a long call ------------------------------------


def test_gil_released_during_count() -> None:
    assert_releases_gil(lambda: kernels.count_primes(0, 2 * 10**9, threads=1))


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
@pytest.mark.parametrize(
    "call",
    [
        "kernels.count_primes(0, 10**12)",
        "kernels.is_prime(18446744073709551557, method='trial', threads=1)",
    ],
)
def test_ctrl_c_stops_a_long_call(call: str) -> None:
    assert_stops_on_ctrl_c(call)
