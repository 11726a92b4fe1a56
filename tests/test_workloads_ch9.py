"""The chapter 9 known answers of WORKLOADS.md not covered by the kernel test files:
the trial-division work of W9.2, its smallest-factor census, where W9.3's workers find
the factors, and the shared-state experiments W9.4 (locking) and W9.5 (shared array)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hpkit import kernels
from hpkit.reference import primes as ref
from hpkit.reference import sharing

PRIME_1 = 100_109_100_129_100_151
COMPOSITE_1 = 100_109_100_129_100_369  # 95,362,951 x 1,049,769,319
COMPOSITE_2 = 100_109_100_129_101_027  # 171,656,941 x 583,192,847


def odd_trials(lo: int, last: int) -> int:
    """How many odd divisors the book's loop tries from ``lo`` up to ``last`` included."""
    return len(range(lo, last + 1, 2))


def test_trial_division_work() -> None:
    bound = int(math.sqrt(PRIME_1) + 1)
    assert math.isqrt(PRIME_1) == 316_400_221 and bound == 316_400_222
    assert len(range(3, bound, 2)) == 158_200_110  # the book's loop for a prime
    f1 = kernels.smallest_factor(COMPOSITE_1)
    f2 = kernels.smallest_factor(COMPOSITE_2)
    assert (f1, f2) == (95_362_951, 171_656_941)
    assert COMPOSITE_1 // f1 == 1_049_769_319 and COMPOSITE_2 // f2 == 583_192_847
    assert odd_trials(3, f1) == 47_681_475
    assert odd_trials(3, f2) == 85_828_470


def test_early_exit_workers_find_the_factors() -> None:
    ranges = ref.create_range(ref.SERIAL_CHECK_CUTOFF, int(math.sqrt(PRIME_1)) + 1, 4)
    found = []
    for n in (COMPOSITE_1, COMPOSITE_2):
        f = kernels.smallest_factor(n)
        worker = next(w for w, (lo, hi) in enumerate(ranges) if lo <= f < hi)
        found.append((worker, odd_trials(ranges[worker][0], f)))
    assert found == [(1, 8_131_441), (2, 6_728_411)]


def test_smallest_factor_census() -> None:
    n = 10_000_000
    spf = ref.smallest_factors_numpy(n)[3:]
    composite = spf > 0
    assert int(composite.sum()) == 9_335_419
    factors, counts = np.unique(spf[composite], return_counts=True)
    assert len(factors) == 446 and factors[-1] == 3_137 and counts[-1] == 6
    assert factors[-1] == max(p for p in range(3_163) if kernels.is_prime(p))
    by_factor = dict(zip(factors.tolist(), counts.tolist(), strict=True))
    assert (by_factor[2], by_factor[3]) == (4_999_998, 1_666_666)
    odd = composite & (np.arange(3, n) % 2 == 1)
    assert int(odd.sum()) == 4_335_421
    assert len(np.unique(spf[odd])) == 445
    # hpkit's smallest_factor agrees with the census on a sample of composites
    sample = np.random.default_rng(9).choice(np.flatnonzero(composite), 2_000) + 3
    assert [kernels.smallest_factor(int(k)) for k in sample] == spf[sample - 3].tolist()


def test_locked_counter_is_exact() -> None:
    for _ in range(3):
        assert sharing.count_with_processes(4, 1_000, lock=True) == 4_000


def test_unlocked_counter_never_overcounts() -> None:
    assert 0 < sharing.count_with_processes(4, 1_000, lock=False) <= 4_000


@pytest.mark.parametrize("workers", [4, 3])
def test_shared_numpy_array(workers: int) -> None:
    grid, zero_copy = sharing.fill_shared_rows(2_000, 2_000, workers)
    assert zero_copy
    assert not (grid == 42).any()
    expected = 2_000 * sum(r % workers for r in range(2_000))
    assert grid.sum() == expected
    if workers == 4:
        assert expected == 6_000_000
