"""Chapter 9: primes - the book's trial division, serial and on a Pool, against hpkit.

Three workloads (``hpkit lab primes`` runs all three):

* ``primes-range`` (W9.2 ranges): test every number of ``[lo, lo + width)`` with the
  chapter's checker - serially, on a ``multiprocessing.Pool`` (``chunksize`` numbers per
  task, the book's sweep), and with hpkit's trial division (the same rule), its
  Miller-Rabin test and its sieve. Output: the primes found, checked number for number
  against the serial pure-Python run and against the counts of WORKLOADS.md (A-D).
* ``primes-numbers`` (W9.2 per-number table, W9.3): the five 18-digit numbers (full mode;
  12-digit stand-ins of the same shapes in --quick) - serially, with the W9.3 version
  (divisors split over a Pool whose workers poll a shared "factor found" flag), and with
  hpkit: trial division on one thread and split over all threads (an AtomicBool for the
  early exit), Miller-Rabin, Pollard-Brent's smallest factor.
* ``primes-count``: ``count_primes(0, N)`` by sieving - pure Python (bytearray), numpy,
  primesieve (the C++ reference for fast sieving) and hpkit, N = 10**9 in full mode.

primesieve's Python binding builds from source against the system library: on Debian
``apt-get install libprimesieve-dev`` then ``pip install primesieve``; without it its rows
are skipped with that note.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from hpkit import kernels
from hpkit.lab.model import (
    Check,
    Experiment,
    Implementation,
    Kind,
    LimitModel,
    Param,
    Params,
    Skip,
    Workload,
)
from hpkit.reference import primes as book

Primes = npt.NDArray[np.uint64]

#: WORKLOADS.md W9.2 ranges (verified by oracles/ch9_primes.py): (lo, hi) -> primes
KNOWN_RANGES = {
    (100_000_000, 100_010_000): 551,  # A
    (100_000_000, 100_100_000): 5_411,  # B
    (100_000_000, 101_000_000): 54_208,  # C
    (1_000_000_000, 1_000_100_000): 4_832,  # D
}
#: pi(N) for the counts (the last also in WORKLOADS.md W9.2's sieve check)
KNOWN_PI = {
    10**6: 78_498,
    10**7: 664_579,
    10**8: 5_761_455,
    10**9: 50_847_534,
    10**10: 455_052_511,
}
#: W9.2's per-number table: label, n, prime?, smallest factor
NUMBERS_18 = (
    ("trivial non-prime", 112_272_535_095_295, False, 5),
    ("expensive non-prime 1", 100_109_100_129_100_369, False, 95_362_951),
    ("expensive non-prime 2", 100_109_100_129_101_027, False, 171_656_941),
    ("prime 1", 100_109_100_129_100_151, True, None),
    ("prime 2", 100_109_100_129_162_907, True, None),
)
#: 12-digit stand-ins of the same shapes for --quick (checked by the pure-Python oracle)
NUMBERS_12 = (
    ("trivial non-prime", 112_272_535_095, False, 3),
    ("expensive non-prime 1", 100_102_435_669, False, 300_007),  # 300,007 x 333,667
    ("expensive non-prime 2", 100_096_289_759, False, 316_259),  # 316,259 x 316,501
    ("prime 1", 100_109_100_181, True, None),
    ("prime 2", 100_109_162_927, True, None),
)
NUMBER_SETS = {18: NUMBERS_18, 12: NUMBERS_12}


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


CORES = _cores()
ALL_THREADS = kernels.default_threads()
PRIMESIEVE_INSTALL = "apt-get install libprimesieve-dev, then pip install primesieve"


def _primesieve() -> Any:
    try:
        import primesieve
    except ImportError:
        raise Skip(f"primesieve is not installed ({PRIMESIEVE_INSTALL})") from None
    return primesieve


def _int_param(params: Params, name: str) -> int:
    value = params[name]
    assert isinstance(value, int)
    return value


class _SpawnPool:
    """A process pool created before timing (``spawn``: a clean interpreter per worker)
    and closed by the runner afterwards; ``run`` is the timed work."""

    def __init__(
        self, processes: int, run: Callable[[Any], object], initializer: Any = None, *args: Any
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self._pool = context.Pool(processes, initializer=initializer, initargs=args)
        self._run = run

    def __call__(self) -> object:
        return self._run(self._pool)

    def close(self) -> None:
        self._pool.terminate()
        self._pool.join()


# --- primes-range ----------------------------------------------------------------------------


def _range(params: Params) -> tuple[int, int]:
    lo = _int_param(params, "lo")
    return lo, lo + _int_param(params, "width")


def _primes_from_flags(lo: int, flags: Sequence[bool] | npt.NDArray[np.bool_]) -> Primes:
    return np.flatnonzero(np.asarray(flags, dtype=bool)).astype(np.uint64) + np.uint64(lo)


def _range_pure_python(params: Params) -> Workload:
    lo, hi = _range(params)
    return lambda: [n for n in range(lo, hi) if book.check_prime(n)]


def _range_pool(chunksize: int | None) -> Callable[[Params], Workload]:
    def setup(params: Params) -> Workload:
        lo, hi = _range(params)
        size = _int_param(params, "chunksize") if chunksize is None else chunksize

        def run(pool: Any) -> Primes:
            return _primes_from_flags(lo, pool.map(book.check_prime, range(lo, hi), size))

        return _SpawnPool(CORES, run)

    return setup


def _range_numpy(params: Params) -> Workload:
    lo, hi = _range(params)
    return lambda: book.primes_between_numpy(lo, hi)


def _range_primesieve(params: Params) -> Workload:
    primesieve = _primesieve()
    lo, hi = _range(params)

    def run() -> Primes:
        primesieve.set_num_threads(ALL_THREADS)
        return np.frombuffer(primesieve.primes(lo, hi - 1), dtype=np.uint64)  # inclusive

    return run


def _range_hpkit_flags(
    method: str, threads: int | None, book_rule: bool = False
) -> Callable[[Params], Workload]:
    def setup(params: Params) -> Workload:
        lo, hi = _range(params)
        numbers = np.arange(lo, hi, dtype=np.uint64)
        return lambda: _primes_from_flags(
            lo,
            kernels.is_prime_many(numbers, method=method, book_rule=book_rule, threads=threads),
        )

    return setup


def _range_hpkit_sieve(threads: int | None) -> Callable[[Params], Workload]:
    def setup(params: Params) -> Workload:
        lo, hi = _range(params)
        return lambda: kernels.primes_between(lo, hi, threads=threads)

    return setup


SERIAL_RANGE = "pure Python check_prime"
HPKIT_TRIAL_1 = "hpkit trial division (book rule), 1 thread"
HPKIT_SIEVE_1 = "hpkit sieve, 1 thread"


def _range_implementations() -> tuple[Implementation, ...]:
    return (
        Implementation(SERIAL_RANGE, Kind.REFERENCE, _range_pure_python, "the book's rule, serial"),
        Implementation(
            f"Pool({CORES}).map, chunksize=param",
            Kind.REFERENCE,
            _range_pool(None),
            "check_prime per number, spawn workers",
            workers=CORES,
            serial=SERIAL_RANGE,
        ),
        Implementation(
            f"Pool({CORES}).map, chunksize=1",
            Kind.REFERENCE,
            _range_pool(1),
            "one number per task: IPC-bound",
            workers=CORES,
            serial=SERIAL_RANGE,
        ),
        Implementation("numpy segmented sieve", Kind.NUMPY, _range_numpy, "hpkit.reference.primes"),
        Implementation(
            "primesieve", Kind.PEER, _range_primesieve, f"primes(lo, hi - 1), {ALL_THREADS} threads"
        ),
        Implementation(
            HPKIT_TRIAL_1,
            Kind.HPKIT,
            _range_hpkit_flags("trial", 1, book_rule=True),
            "is_prime_many(method='trial', book_rule=True)",
            workers=1,
        ),
        Implementation(
            "hpkit trial division (book rule), all threads",
            Kind.HPKIT,
            _range_hpkit_flags("trial", None, book_rule=True),
            f"{ALL_THREADS} threads",
            workers=ALL_THREADS,
            serial=HPKIT_TRIAL_1,
        ),
        Implementation(
            "hpkit Miller-Rabin, all threads",
            Kind.HPKIT,
            _range_hpkit_flags("miller-rabin", None),
            "is_prime_many, deterministic u64",
            workers=ALL_THREADS,
        ),
        Implementation(
            HPKIT_SIEVE_1, Kind.HPKIT, _range_hpkit_sieve(1), "primes_between", workers=1
        ),
        Implementation(
            "hpkit sieve, all threads",
            Kind.HPKIT,
            _range_hpkit_sieve(None),
            f"{ALL_THREADS} threads",
            workers=ALL_THREADS,
            serial=HPKIT_SIEVE_1,
        ),
    )


def _range_canonical(params: Params, output: object) -> Primes:
    return np.asarray(output, dtype=np.uint64)


def _range_validate(params: Params, found: Primes, oracle: Primes | None) -> Check:
    lo, hi = _range(params)
    problems = []
    compared = oracle is not None and oracle is not found
    if oracle is not None and compared and not np.array_equal(found, oracle):
        extra = np.setdiff1d(found, oracle)[:3].tolist()
        missing = np.setdiff1d(oracle, found)[:3].tolist()
        problems.append(f"differs from pure Python (extra {extra}, missing {missing})")
    known = KNOWN_RANGES.get((lo, hi))
    if known is not None and len(found) != known:
        problems.append(f"{len(found):,} primes, not the known {known:,}")
    if problems:
        return Check(False, "; ".join(problems))
    if oracle is None and known is None:
        return Check(False, "nothing to check against: pure Python failed, no known answer")
    said = ["the same primes as pure Python"] if compared else []
    said.append(f"{len(found):,} primes = the known answer" if known else f"{len(found):,} primes")
    return Check(True, ", ".join(said))


def _numbers_per_second(params: Params, oracle: object) -> float:
    return _int_param(params, "width") / 1e6


RANGE_EXPERIMENT = Experiment(
    name="primes-range",
    chapter=9,
    title="Primes in a range: the book's trial division, serial and on a Pool, vs hpkit",
    params=(
        Param("lo", full=100_000_000, quick=100_000_000, help="first number", minimum=0),
        Param(
            "width",
            full=100_000,
            quick=10_000,
            help="numbers tested (W9.2 ranges: A 10,000, B 100,000, C 1,000,000)",
            minimum=1,
        ),
        Param("chunksize", full=1_000, quick=500, help="numbers per Pool task", minimum=1),
    ),
    implementations=_range_implementations(),
    canonical=_range_canonical,
    validate=_range_validate,
    limit=LimitModel(
        label="",
        rate_unit="M numbers/s",
        work=_numbers_per_second,
        peak=None,
        explanation="numbers tested per second",
    ),
    notes=(
        "Every row must find exactly the primes the serial pure-Python run finds, and the "
        "count of WORKLOADS.md W9.2 for ranges A-D (A: lo=10**8, width=10,000 -> 551; "
        "B: width=100,000 -> 5,411; C: width=10**6 -> 54,208; D: lo=10**9, "
        "width=100,000 -> 4,832).",
        "The book's rule (even -> not prime, 1 -> prime) is exact for n >= 3, so all rows "
        "agree on these ranges. Pool rows time the work only: the pool is started before "
        "timing. The sieve rows are a different algorithm (whole range at once).",
        f"primesieve rows need the system library ({PRIMESIEVE_INSTALL}).",
    ),
)


# --- primes-numbers ------------------------------------------------------------------------


def _numbers(params: Params) -> tuple[int, ...]:
    digits = _int_param(params, "digits")
    if digits not in NUMBER_SETS:
        raise Skip(f"digits must be one of {sorted(NUMBER_SETS)}")
    return tuple(n for _, n, _, _ in NUMBER_SETS[digits])


def _each(test: Callable[[int], bool]) -> Callable[[Params], Workload]:
    def setup(params: Params) -> Workload:
        numbers = _numbers(params)
        return lambda: tuple(test(n) for n in numbers)

    return setup


def _flag_pool(params: Params) -> Workload:
    numbers = _numbers(params)
    flag = multiprocessing.get_context("spawn").Value("b", 0)
    book.set_found_flag(flag)  # the serial pre-check runs in this process

    def run(pool: Any) -> tuple[bool, ...]:
        return tuple(book.check_prime_pool(n, pool, CORES) for n in numbers)

    return _SpawnPool(CORES, run, book.set_found_flag, flag)


def _peer(module: str, function: str) -> Callable[[Params], Workload]:
    def setup(params: Params) -> Workload:
        try:
            test = getattr(__import__(module), function)
        except ImportError:
            raise Skip(f"{module} is not installed (pip install {module})") from None
        numbers = _numbers(params)
        return lambda: tuple(bool(test(n)) for n in numbers)

    return setup


SERIAL_NUMBERS = "pure Python check_prime"
HPKIT_TRIAL_NUMBERS_1 = "hpkit trial division (book rule), 1 thread"


def _numbers_implementations() -> tuple[Implementation, ...]:
    return (
        Implementation(
            SERIAL_NUMBERS, Kind.REFERENCE, _each(book.check_prime), "W9.2, one number at a time"
        ),
        Implementation(
            f"Pool({CORES}) + shared flag (W9.3)",
            Kind.REFERENCE,
            _flag_pool,
            "create_range split, Value polled every 1,000 trials",
            workers=CORES,
            serial=SERIAL_NUMBERS,
        ),
        Implementation(
            HPKIT_TRIAL_NUMBERS_1,
            Kind.HPKIT,
            _each(lambda n: kernels.is_prime(n, method="trial", book_rule=True, threads=1)),
            "is_prime(method='trial', book_rule=True)",
            workers=1,
        ),
        Implementation(
            "hpkit trial division (book rule), all threads",
            Kind.HPKIT,
            _each(lambda n: kernels.is_prime(n, method="trial", book_rule=True)),
            "divisor blocks over the threads, AtomicBool early exit",
            workers=ALL_THREADS,
            serial=HPKIT_TRIAL_NUMBERS_1,
        ),
        Implementation(
            "hpkit Miller-Rabin", Kind.HPKIT, _each(kernels.is_prime), "is_prime, deterministic"
        ),
        Implementation(
            "hpkit smallest_factor == n",
            Kind.HPKIT,
            _each(lambda n: kernels.smallest_factor(n) == n),
            "Pollard-Brent rho",
        ),
        Implementation("gmpy2 is_prime", Kind.PEER, _peer("gmpy2", "is_prime"), "GMP"),
        Implementation("sympy isprime", Kind.PEER, _peer("sympy", "isprime"), "BPSW"),
    )


def _numbers_canonical(params: Params, output: object) -> tuple[bool, ...]:
    assert isinstance(output, Sequence)
    return tuple(bool(v) for v in output)


def _numbers_validate(
    params: Params, answers: tuple[bool, ...], oracle: tuple[bool, ...] | None
) -> Check:
    digits = _int_param(params, "digits")
    table = NUMBER_SETS[digits]
    expected = tuple(prime for _, _, prime, _ in table)
    if answers != expected:
        wrong = [
            label for (label, *_), a, e in zip(table, answers, expected, strict=True) if a != e
        ]
        return Check(False, f"wrong for {', '.join(wrong)}")
    if oracle is not None and answers != oracle:
        return Check(False, "differs from pure Python")
    source = "WORKLOADS.md W9.2" if digits == 18 else "the stand-ins' factorisations"
    return Check(
        True, f"{sum(answers)} primes, {len(answers) - sum(answers)} composites = {source}"
    )


def _trial_divisions(params: Params, oracle: object) -> float:
    """Odd trial divisions of the serial book checker over the set, in millions."""
    total = 0
    for _, n, _, factor in NUMBER_SETS[_int_param(params, "digits")]:
        upper = int(math.sqrt(n) + 1) if factor is None else factor + 1
        total += len(range(3, upper, 2))
    return total / 1e6


NUMBERS_EXPERIMENT = Experiment(
    name="primes-numbers",
    chapter=9,
    title="Checking 18-digit primes and composites (W9.2) with an early-exit flag (W9.3)",
    params=(
        Param(
            "digits",
            full=18,
            quick=12,
            help="18: WORKLOADS.md's numbers; 12: stand-ins of the same shapes",
            minimum=12,
        ),
    ),
    implementations=_numbers_implementations(),
    canonical=_numbers_canonical,
    validate=_numbers_validate,
    limit=LimitModel(
        label="",
        rate_unit="M divisions/s",
        work=_trial_divisions,
        peak=None,
        explanation="the serial checker's odd trial divisions (158,200,110 per 18-digit "
        "prime) per second; faster rows do less work (early exit, Miller-Rabin)",
    ),
    notes=(
        "W9.2's numbers: 112,272,535,095,295 (= 5 x ...), 100,109,100,129,100,369 "
        "(95,362,951 x ...), 100,109,100,129,101,027 (171,656,941 x ...) and the primes "
        "100,109,100,129,100,151 and 100,109,100,129,162,907. Every row must say which "
        "are prime exactly as WORKLOADS.md does.",
        "The W9.3 rows split [21, int(sqrt(n)) + 1) over the workers; a factor's position "
        "decides the speedup (n1's factor is 8,131,441 trials into worker 1's range).",
        "gmpy2 and sympy are optional correctness peers (skipped when not installed).",
    ),
)


# --- primes-count --------------------------------------------------------------------------


def _limit(params: Params) -> int:
    return _int_param(params, "n")


def _count_pure_python(params: Params) -> Workload:
    n = _limit(params)
    if n > 2 * 10**9:
        raise Skip(f"a bytearray of {n // 2 / 1e9:.1f} GB; pure Python is shown up to 2e9")
    return lambda: book.count_primes_python(n)


def _count_numpy(params: Params) -> Workload:
    n = _limit(params)
    return lambda: book.count_primes_numpy(0, n)


def _count_primesieve(threads: int) -> Callable[[Params], Workload]:
    def setup(params: Params) -> Workload:
        primesieve = _primesieve()
        n = _limit(params)

        def run() -> int:
            primesieve.set_num_threads(threads)
            return int(primesieve.count_primes(n - 1)) if n > 0 else 0  # primes <= n - 1

        return run

    return setup


def _count_hpkit(threads: int | None) -> Callable[[Params], Workload]:
    def setup(params: Params) -> Workload:
        n = _limit(params)
        return lambda: kernels.count_primes(0, n, threads=threads)

    return setup


SERIAL_COUNT = "pure Python bytearray sieve"
PRIMESIEVE_1 = "primesieve, 1 thread"
HPKIT_COUNT_1 = "hpkit count_primes, 1 thread"


def _count_implementations() -> tuple[Implementation, ...]:
    return (
        Implementation(
            SERIAL_COUNT, Kind.REFERENCE, _count_pure_python, "odd-only, slice assignment"
        ),
        Implementation(
            "numpy segmented sieve",
            Kind.NUMPY,
            _count_numpy,
            "odd-only, 2 MB segments, hpkit.reference.primes",
        ),
        Implementation(
            PRIMESIEVE_1, Kind.PEER, _count_primesieve(1), "C++, L1/L2 segments", workers=1
        ),
        Implementation(
            "primesieve, all threads",
            Kind.PEER,
            _count_primesieve(ALL_THREADS),
            f"{ALL_THREADS} threads",
            workers=ALL_THREADS,
            serial=PRIMESIEVE_1,
        ),
        Implementation(
            HPKIT_COUNT_1, Kind.HPKIT, _count_hpkit(1), "mod-30 wheel, pre-sieve", workers=1
        ),
        Implementation(
            "hpkit count_primes, all threads",
            Kind.HPKIT,
            _count_hpkit(None),
            f"{ALL_THREADS} threads",
            workers=ALL_THREADS,
            serial=HPKIT_COUNT_1,
        ),
    )


def _count_canonical(params: Params, output: object) -> int:
    assert isinstance(output, int | np.integer)
    return int(output)


def _count_validate(params: Params, count: int, oracle: int | None) -> Check:
    n = _limit(params)
    known = KNOWN_PI.get(n)
    if known is not None and count != known:
        return Check(False, f"{count:,} primes below {n:,}, not the known {known:,}")
    compared = oracle is not None and oracle is not count
    if compared and count != oracle:
        return Check(False, f"{count:,} primes, pure Python found {oracle:,}")
    if known is None and oracle is None:
        return Check(False, "nothing to check against: no known pi(N), pure Python skipped")
    return Check(True, f"pi({n:,}) = {count:,}" + (" (known)" if known else " = pure Python"))


def _numbers_sieved(params: Params, oracle: object) -> float:
    return _limit(params) / 1e9


COUNT_EXPERIMENT = Experiment(
    name="primes-count",
    chapter=9,
    title="Counting the primes below N by sieving (pi(N))",
    params=(Param("n", full=10**9, quick=10**8, help="count the primes below n", minimum=0),),
    implementations=_count_implementations(),
    canonical=_count_canonical,
    validate=_count_validate,
    limit=LimitModel(
        label="",
        rate_unit="G numbers/s",
        work=_numbers_sieved,
        peak=None,
        explanation="numbers sieved per second",
    ),
    notes=(
        "Checked against pi(10**k) (pi(10**9) = 50,847,534) and the pure-Python sieve.",
        "hpkit: one byte per 30 numbers (residues coprime to 30), multiples of 7..163 "
        "pre-sieved from repeating patterns, 256 KiB segments in 32 KiB blocks, unrolled "
        "wheel loops, popcount; segments spread over the threads.",
        f"primesieve rows need the system library ({PRIMESIEVE_INSTALL}).",
    ),
)


GROUP = "primes"
EXPERIMENTS = (RANGE_EXPERIMENT, NUMBERS_EXPERIMENT, COUNT_EXPERIMENT)
