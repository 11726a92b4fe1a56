"""The book's chapter 9 prime checkers, and the numpy sieve the lab uses as its baseline.

``check_prime`` is the chapter's trial division with its exact rule: an even ``n`` is "not
prime" (so 2 is misreported) and the odd divisors run below ``int(math.sqrt(n) + 1)``, so
1 is reported prime; it is exact for every ``n >= 3``. :func:`is_prime_trial` is the
corrected version. :func:`create_range` is the chapter's range splitter for the
"early exit with a shared flag" version (W9.3), quirks included.

The numpy sieves are the vectorised baseline for counting primes: odd-only boolean arrays
with one slice assignment per sieving prime, segmented so that memory stays at a few MB
whatever the range (a plain sieve to 10**9 would need 500 MB).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

#: Odd numbers per segment of :func:`count_primes_numpy` (a 2 MB bool array: L2-sized,
#: the fastest on the 2-core dev machine - 1.5 s for 10**9 against 2.8 s at 4 MB).
NUMPY_SEGMENT_ODDS = 1 << 21


def check_prime(n: int) -> bool:
    """The chapter's checker, verbatim semantics: even -> False (also 2), 1 -> True."""
    if n % 2 == 0:
        return False
    from_i = 3
    to_i = math.sqrt(n) + 1
    # The book's loop as written (all() over a generator would be slower: the timed baseline).
    for i in range(from_i, int(to_i), 2):  # noqa: SIM110
        if n % i == 0:
            return False
    return True


def is_prime_trial(n: int) -> bool:
    """Trial division, corrected: 0 and 1 are not prime, 2 is; exact integer square root."""
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    for i in range(3, math.isqrt(n) + 1, 2):  # noqa: SIM110 - the book's loop, as timed
        if n % i == 0:
            return False
    return True


def check_range(bounds: tuple[int, int]) -> int:
    """How many numbers of ``range(*bounds)`` :func:`check_prime` calls prime (the Pool
    workers' task when a range is split into chunks)."""
    return sum(1 for n in range(*bounds) if check_prime(n))


def create_range(range_from: int, range_to: int, chunks: int) -> list[tuple[int, int]]:
    """The chapter's range splitter (W9.3), as the book writes it.

    ``step = int((to - from) / chunks)``; lower bounds every ``step`` from ``from``; every
    lower bound after the first made odd (+1 if even); the last dropped if there are more
    than ``chunks``; ranges are consecutive pairs, the last ending at ``to``. The chapter's
    own unit test expects ``create_range(1, 31, 4)`` to be
    ``[(1, 9), (9, 17), (17, 25), (25, 31)]`` but this rule gives
    ``[(1, 9), (9, 15), (15, 23), (23, 31)]``.
    """
    step = int((range_to - range_from) / float(chunks))
    lowers = list(range(range_from, range_to, step))
    lowers = [lowers[0]] + [v + 1 if v % 2 == 0 else v for v in lowers[1:]]
    if len(lowers) > chunks:
        lowers.pop()
    assert len(lowers) == chunks
    return list(zip(lowers, lowers[1:], strict=False)) + [(lowers[-1], range_to)]


def _odd_sieve(n: int) -> npt.NDArray[np.bool_]:
    """``sieve[i]`` is True iff ``2i + 1`` is prime, for ``2i + 1 < n`` (odd-only)."""
    sieve = np.ones(n // 2, dtype=bool)
    if sieve.size:
        sieve[0] = False  # 1
    for i in range(1, (math.isqrt(max(n - 1, 0)) - 1) // 2 + 1):
        if sieve[i]:
            p = 2 * i + 1
            sieve[p * p // 2 :: p] = False
    return sieve


def primes_below_numpy(n: int) -> npt.NDArray[np.uint64]:
    """The primes below ``n`` as ``uint64``: an odd-only numpy sieve (``n // 2`` bytes)."""
    if n <= 2:
        return np.zeros(0, dtype=np.uint64)
    odd = np.flatnonzero(_odd_sieve(n)).astype(np.uint64) * 2 + 1
    return np.concatenate([np.array([2], dtype=np.uint64), odd[odd < n]])


def count_primes_numpy(lo: int, hi: int, *, segment: int = NUMPY_SEGMENT_ODDS) -> int:
    """The number of primes in ``[lo, hi)``: a segmented odd-only numpy sieve.

    Each segment is a bool array of ``segment`` odd numbers; every odd sieving prime
    ``p <= sqrt(hi)`` clears its odd multiples from ``max(p*p, first in segment)`` with one
    slice assignment (the start offsets of all primes are computed in one vector step).
    """
    if lo >= hi:
        return 0
    count = 1 if lo <= 2 < hi else 0
    for _, seg in _numpy_segments(lo, hi, segment):
        count += int(np.count_nonzero(seg))
    return count


def _numpy_segments(lo: int, hi: int, segment: int) -> Iterator[tuple[int, npt.NDArray[np.bool_]]]:
    """``(a, seg)`` per segment: ``seg[i]`` is True iff the odd ``a + 2i`` (< hi) is prime."""
    base = primes_below_numpy(math.isqrt(max(hi - 1, 0)) + 1)[1:].astype(np.int64)
    for a in range(max(lo, 3) | 1, hi, 2 * segment):  # 1 is not prime: start at 3
        b = min(a + 2 * segment, hi)  # odd numbers a, a+2, ... < b
        seg = np.ones((b - a + 1) // 2, dtype=bool)
        active = base[base * base < b]
        # first odd multiple of p at or after max(p*p, a)
        start = np.maximum(active * active, (a + active - 1) // active * active)
        start += np.where(start % 2 == 0, active, 0)
        for p, s in zip(active.tolist(), ((start - a) // 2).tolist(), strict=True):
            seg[s::p] = False
        yield a, seg


def primes_between_numpy(
    lo: int, hi: int, *, segment: int = NUMPY_SEGMENT_ODDS
) -> npt.NDArray[np.uint64]:
    """The primes in ``[lo, hi)`` as ``uint64``: the segmented numpy sieve."""
    parts = [np.array([2] if lo <= 2 < hi else [], dtype=np.uint64)]
    for a, seg in _numpy_segments(lo, hi, segment):
        parts.append(np.flatnonzero(seg).astype(np.uint64) * 2 + a)
    return np.concatenate(parts)


def count_primes_python(n: int) -> int:
    """The number of primes below ``n``: a pure-Python odd-only ``bytearray`` sieve (one
    slice assignment per prime; ``n // 2`` bytes of memory)."""
    if n <= 2:
        return 0
    sieve = bytearray([1]) * (n // 2)  # sieve[i] stands for 2i + 1
    sieve[0] = 0
    for i in range(1, (math.isqrt(n - 1) - 1) // 2 + 1):
        if sieve[i]:
            p = 2 * i + 1
            start = p * p // 2
            sieve[start::p] = bytes(len(range(start, len(sieve), p)))
    return sieve.count(1) + 1  # and 2


# --- W9.3: one number, its divisors split over a Pool, a shared "factor found" flag --------

#: divisors 3..19 are tried serially first (most composites have a small factor)
SERIAL_CHECK_CUTOFF = 21
#: trials between two looks at the shared flag
CHECK_EVERY = 1000

_found_flag: Any = None  # multiprocessing.Value in every process: set once a factor is found


def set_found_flag(flag: Any) -> None:
    """Pool initializer (and main process): the shared ``multiprocessing.Value('b')``."""
    global _found_flag
    _found_flag = flag


def check_prime_in_range(task: tuple[int, tuple[int, int]]) -> bool:
    """The W9.3 worker: no divisor of ``n`` among the odd numbers of ``[from, to)``?
    Gives up (False) as soon as another worker has set the shared flag."""
    n, (from_i, to_i) = task
    if n % 2 == 0:
        return False
    assert from_i % 2 != 0
    check_every = CHECK_EVERY
    for i in range(from_i, int(to_i), 2):
        check_every -= 1
        if not check_every:
            if _found_flag.value:
                return False
            check_every = CHECK_EVERY
        if n % i == 0:
            _found_flag.value = 1
            return False
    return True


def check_prime_pool(n: int, pool: Any, processes: int) -> bool:
    """The chapter's W9.3 checker: serial pre-check below ``SERIAL_CHECK_CUTOFF``, then
    ``[21, int(sqrt(n)) + 1)`` split by :func:`create_range` over ``processes`` workers of
    ``pool`` (initialised with :func:`set_found_flag`, as is this process)."""
    _found_flag.value = 0
    if not check_prime_in_range((n, (3, SERIAL_CHECK_CUTOFF))):
        return False
    ranges = create_range(SERIAL_CHECK_CUTOFF, int(math.sqrt(n)) + 1, processes)
    return all(pool.map(check_prime_in_range, [(n, r) for r in ranges]))


def smallest_factors_numpy(n: int) -> npt.NDArray[np.int64]:
    """``spf[k]`` = the smallest prime factor of the composite ``k < n``, 0 for primes, 0
    and 1 (a sieve of smallest factors: the census of W9.2 reads it)."""
    spf = np.zeros(n, dtype=np.int64)
    for p in range(2, math.isqrt(max(n - 1, 0)) + 1):
        if spf[p] == 0:
            multiples = spf[p * p :: p]
            multiples[multiples == 0] = p
    return spf
