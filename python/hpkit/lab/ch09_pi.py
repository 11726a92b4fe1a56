"""Chapter 9: Monte Carlo π, serial and parallel - threads, processes, numpy, hpkit.

The book throws darts in pure Python (one process, threads - held back by the GIL - and a
``multiprocessing.Pool``), then in numpy blocks. Here every row throws ``samples`` darts
and reports samples per second and, for parallel rows, the scaling per worker (speedup
over the same code on one worker, divided by the workers).

Different generators throw different darts, so each row is checked its own way:

* seeded rows with a known answer in WORKLOADS.md W9.1 (stdlib ``random`` seed 0,
  numpy's ``RandomState(0)`` and ``default_rng(0)`` at the listed sizes) must match it
  exactly;
* hpkit must equal, dart for dart, the SplitMix64 reference
  (:func:`hpkit.reference.pi.count_splitmix_numpy`, itself tested against the pure-Python
  loop), and so be identical on one thread and on all. Its dart ``i`` is one SplitMix64
  output: x and y are the high and low 32 bits over 2**32, inside iff
  ``a*a + b*b <= 2**64`` exactly (a 2**-32 grid: a bias of about 1e-9 on π, far below
  the statistical error);
* every other row - parallel workers each with their own seeded stream (the seeds are
  shown), sizes without a published answer - must land within 5 standard errors of π.
"""

from __future__ import annotations

import functools
import math
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

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
from hpkit.reference import pi as book

#: |estimate - π| allowed for rows without an exact answer, in standard errors
SIGMAS = 5.0

#: WORKLOADS.md W9.1 (verified by oracles/ch9_pi.py): (stream, seed, samples) -> inside
KNOWN_ANSWERS = {
    ("stdlib", 0, 10_000): 7_838,
    ("stdlib", 0, 1_000_000): 785_610,
    ("numpy-legacy", 0, 10_000): 7_868,
    ("numpy-legacy", 0, 1_000_000): 784_549,
    ("numpy-legacy", 0, 10_000_000): 7_856_815,
    ("numpy-pcg64", 0, 10_000): 7_855,  # one block: all x's, then all y's
}

STREAMS = {
    "stdlib": "Python's random (Mersenne Twister)",
    "numpy-legacy": "numpy RandomState (Mersenne Twister)",
    "numpy-pcg64": "numpy default_rng (PCG64)",
    "splitmix": "hpkit's counter-based SplitMix64, one output per dart",
}


@dataclass(frozen=True)
class Darts:
    """What a row threw: darts inside, darts thrown, the generator and its seed(s)."""

    inside: int
    samples: int
    stream: str
    seeds: tuple[int, ...]

    @property
    def estimate(self) -> float:
        return 4 * self.inside / self.samples if self.samples else math.nan


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


CORES = _cores()
ALL_THREADS = kernels.default_threads()
#: process counts for the Pool rows: 1, 2, 4, ... up to the cores, and the cores
PROCESS_COUNTS = sorted({*(2**k for k in range(CORES.bit_length()) if 2**k <= CORES), CORES})


def _sizes(params: Params) -> tuple[int, int]:
    samples, seed = params["samples"], params["seed"]
    assert isinstance(samples, int) and isinstance(seed, int)
    return samples, seed


# --- pure Python: serial, threads, processes ---------------------------------------------


def _pure_python(params: Params) -> Workload:
    samples, seed = _sizes(params)
    return lambda: Darts(book.count_stdlib(samples, seed), samples, "stdlib", (seed,))


class _Parallel:
    """The book's worker run on ``workers`` threads or processes, each with its own seeded
    stream; the pool is created before timing and closed by the runner afterwards."""

    def __init__(self, samples: int, seed: int, workers: int, processes: bool) -> None:
        seeds = book.worker_seeds(seed, workers)
        self.tasks = list(zip(book.split(samples, workers), seeds, strict=True))
        self.samples, self.seeds = samples, tuple(seeds)
        if processes:
            # spawn: a clean interpreter per worker (no fork of a process running threads)
            self._pool = multiprocessing.get_context("spawn").Pool(workers)
            self._map: Callable[..., list[int]] = self._pool.map
        else:
            self._threads = ThreadPoolExecutor(workers, thread_name_prefix="pi-worker")
            self._map = lambda f, tasks: list(self._threads.map(f, tasks))
        self._processes = processes

    def __call__(self) -> Darts:
        inside = sum(self._map(book.count_stdlib_task, self.tasks))
        return Darts(inside, self.samples, "stdlib", self.seeds)

    def close(self) -> None:
        if self._processes:
            self._pool.terminate()
            self._pool.join()
        else:
            self._threads.shutdown(wait=True)


def _parallel(workers: int, processes: bool) -> Callable[[Params], Workload]:
    def setup(params: Params) -> Workload:
        samples, seed = _sizes(params)
        return _Parallel(samples, seed, workers, processes)

    return setup


# --- numpy ---------------------------------------------------------------------------------


def _numpy_blocks(params: Params) -> Workload:
    samples, seed = _sizes(params)
    return lambda: Darts(book.count_numpy_blocks(samples, seed), samples, "numpy-pcg64", (seed,))


def _numpy_legacy(params: Params) -> Workload:
    samples, seed = _sizes(params)
    needed = 48 * samples  # x's, y's and two temporaries of float64
    available = (
        os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") if os.name == "posix" else 0
    )
    if available and needed > available // 2:
        raise Skip(f"drawing all {samples:,} x's at once needs {needed / 1e9:.1f} GB")
    return lambda: Darts(book.count_numpy_legacy(samples, seed), samples, "numpy-legacy", (seed,))


# --- hpkit ---------------------------------------------------------------------------------


def _hpkit(threads: int | None, simd: str) -> Callable[[Params], Workload]:
    def setup(params: Params) -> Workload:
        samples, seed = _sizes(params)

        def run() -> Darts:
            count = kernels.count_in_circle(samples, seed=seed, threads=threads, simd=simd)
            return Darts(count.inside, count.samples, "splitmix", (count.seed,))

        return run

    return setup


BEST_PATH = kernels.numeric_simd("pi")
ONE_THREAD_BEST = f"hpkit 1 thread {BEST_PATH}"


def _implementations() -> tuple[Implementation, ...]:
    processes = tuple(
        Implementation(
            f"multiprocessing Pool({k})",
            Kind.REFERENCE,
            _parallel(k, processes=True),
            f"{k} process{'es' * (k > 1)}; worker w: random.Random(SplitMix64(seed) output w)",
            workers=k,
            serial="pure Python",
        )
        for k in PROCESS_COUNTS
    )
    hpkit_one_thread = tuple(
        Implementation(
            f"hpkit 1 thread {path}",
            Kind.HPKIT,
            _hpkit(1, path),
            f"simd='{path}'",
            workers=1,
        )
        for path in kernels.simd_paths()
        if _runs_pi(path)
    )
    return (
        Implementation(
            "pure Python", Kind.REFERENCE, _pure_python, "the book's loop, random seeded", workers=1
        ),
        Implementation(
            f"threads ({ALL_THREADS})",
            Kind.REFERENCE,
            _parallel(ALL_THREADS, processes=False),
            "seeded like the Pool rows; the GIL lets one thread run Python at a time",
            workers=ALL_THREADS,
            serial="pure Python",
        ),
        *processes,
        Implementation(
            "numpy default_rng blocks",
            Kind.NUMPY,
            _numpy_blocks,
            f"PCG64, {book.BLOCK:,}-sample blocks: rng.random x's, y's, (x*x + y*y <= 1).sum()",
        ),
        Implementation(
            "numpy RandomState (book)",
            Kind.NUMPY,
            _numpy_legacy,
            "seed(s), all x's then all y's in one go",
        ),
        *hpkit_one_thread,
        Implementation(
            "hpkit all threads",
            Kind.HPKIT,
            _hpkit(None, "auto"),
            f"{ALL_THREADS} threads, {BEST_PATH}",
            workers=ALL_THREADS,
            serial=ONE_THREAD_BEST,
        ),
    )


def _runs_pi(path: str) -> bool:
    try:
        kernels.numeric_simd("pi", path)
    except ValueError:  # e.g. AVX-512F without DQ
        return False
    return True


@functools.lru_cache(maxsize=4)
def _splitmix_reference(samples: int, seed: int) -> int:
    """hpkit's answer computed independently (numpy uint64), once per run."""
    return book.count_splitmix_numpy(samples, seed)


def _validate(params: Params, darts: Darts, oracle: Darts | None) -> Check:
    samples, seed = _sizes(params)
    if darts.samples != samples:
        return Check(False, f"threw {darts.samples:,} darts, not {samples:,}")
    summary = f"{darts.inside:,} inside, π ≈ {darts.estimate:.6f}"
    if darts.stream == "splitmix":
        expected = _splitmix_reference(samples, darts.seeds[0])
        if darts.inside != expected:
            return Check(False, f"{summary}; the SplitMix64 reference counts {expected:,}")
        return Check(True, f"{summary} = the SplitMix64 reference, dart for dart")
    known = KNOWN_ANSWERS.get((darts.stream, seed, samples))
    if known is not None and darts.seeds == (seed,):
        if darts.inside != known:
            return Check(False, f"{summary}; WORKLOADS.md's known answer is {known:,}")
        return Check(True, f"{summary} = WORKLOADS.md's known answer")
    sigma = book.standard_error(samples)
    off = abs(darts.estimate - math.pi) / sigma
    seeds = ""
    if darts.seeds != (seed,):  # parallel workers: their own streams
        seeds = "; worker seeds " + ", ".join(f"{s:#x}" for s in darts.seeds)
    if off > SIGMAS:
        return Check(False, f"{summary} is {off:.1f} standard errors from π{seeds}")
    return Check(True, f"{summary}, {off:.1f} standard errors from π{seeds}")


def _megasamples(params: Params, oracle: object) -> float:
    samples, _ = _sizes(params)
    return samples / 1e6


EXPERIMENT = Experiment(
    name="pi",
    chapter=9,
    title="Monte Carlo π: serial, threads, processes, numpy, hpkit",
    params=(
        Param("samples", full=10_000_000, quick=1_000_000, help="darts thrown", minimum=1),
        Param("seed", full=0, quick=0, help="seed of every generator (workers derive theirs)"),
    ),
    implementations=_implementations(),
    validate=_validate,
    limit=LimitModel(
        label="samples/s",
        rate_unit="Msamples/s",
        work=_megasamples,
        peak=None,
        explanation="millions of darts thrown per second (best run)",
    ),
    notes=(
        "Seeded rows with a WORKLOADS.md answer must match it exactly; hpkit must equal the "
        "SplitMix64 reference dart for dart (so one thread and all threads count the same; "
        "a dart is one SplitMix64 output, its 32-bit halves x and y, inside iff "
        "a*a + b*b <= 2**64 exactly); "
        f"every other row must be within {SIGMAS:g} standard errors of π. Parallel workers "
        "each get their own seeded stream (SplitMix64 outputs of the seed), not the book's "
        "unrepeatable reseeding from entropy.",
        "Pools and threads are started before timing (as in the book) and closed after. "
        "The book used 10**8 darts: --param samples=100000000 (the pure-Python rows then "
        "take minutes).",
    ),
)
