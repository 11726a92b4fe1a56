"""Monte Carlo π as the book writes it (chapter 9), and hpkit's stream in pure Python.

Throw ``n`` darts at the unit square, count those with ``x*x + y*y <= 1.0``; the estimate
is ``4 * count / n``. Which darts are thrown depends on the generator and the order the
numbers are drawn in, so each version has its own known answers (WORKLOADS.md, W9.1):

* :func:`count_stdlib` - the book's pure-Python loop, ``random`` seeded with 0, x then y
  per sample: n = 10,000 -> 7,838; n = 1,000,000 -> 785,610.
* :func:`count_numpy_legacy` - the book's numpy version, legacy ``RandomState(0)``, all n
  x's first, then all n y's: 10,000 -> 7,868; 1,000,000 -> 784,549; 10**7 -> 7,856,815.
* :func:`count_numpy_blocks` - modern numpy (``default_rng``, PCG64), in blocks so memory
  stays small: 10,000 -> 7,855 (one block).
* :func:`count_splitmix` - hpkit's counter-based SplitMix64 stream, the oracle of
  :func:`hpkit.kernels.count_in_circle`: dart ``i`` is output ``i`` of WORKLOADS.md's
  SplitMix64 seeded with ``seed``, split into ``x = (z >> 32) / 2**32`` and
  ``y = (z & (2**32 - 1)) / 2**32``, inside iff ``a*a + b*b <= 2**64`` for the two 32-bit
  halves ``a``, ``b`` - exact integers, no rounding. :func:`count_splitmix_numpy`
  computes the same count with numpy's wrapping uint64 arithmetic, fast enough to check
  hpkit at 10**8 samples.

The book reseeds every worker process from entropy, so its parallel runs cannot be
repeated; :func:`worker_seeds` gives each worker its own seeded stream instead.
"""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np

from hpkit.reference.splitmix import GAMMA, MASK64, splitmix64, splitmix64_output
from hpkit.reference.splitmix import mix_numpy as _mix

#: the low 32 bits of an output: a dart's y (its x is the high 32)
MASK32 = (1 << 32) - 1
#: the quarter circle's radius squared in units of 2**-32 per coordinate
RADIUS2 = 1 << 64
#: numpy's blocks for count_numpy_blocks: 64 Ki samples = 1 MiB of float64 per coordinate
BLOCK = 1 << 16


def estimate_nbr_points_in_quarter_circle(nbr_estimates: int, rng: Any = random) -> int:
    """The book's worker: draw x then y, count the darts in the quarter circle.

    ``rng`` is the ``random`` module itself (the book) or a ``random.Random`` instance
    (one independent stream per worker thread or process).
    """
    nbr_trials_in_quarter_unit_circle = 0
    for _ in range(int(nbr_estimates)):
        x = rng.uniform(0, 1)
        y = rng.uniform(0, 1)
        is_in_unit_circle = x * x + y * y <= 1.0
        nbr_trials_in_quarter_unit_circle += is_in_unit_circle
    return nbr_trials_in_quarter_unit_circle


def count_stdlib(n: int, seed: int = 0) -> int:
    """The book's serial loop on ``random`` seeded with ``seed`` (a private
    ``random.Random(seed)``: the same stream as ``random.seed(seed)``, no global state)."""
    return estimate_nbr_points_in_quarter_circle(n, random.Random(seed))


def count_stdlib_task(task: tuple[int, int]) -> int:
    """``(n, seed)`` -> darts inside: one worker's share, picklable for process pools."""
    n, seed = task
    return count_stdlib(n, seed)


def count_numpy_legacy(n: int, seed: int = 0) -> int:
    """The book's numpy version: ``RandomState(seed)``, all x's then all y's."""
    state = np.random.RandomState(seed)
    xs = state.uniform(0, 1, n)
    ys = state.uniform(0, 1, n)
    return int(np.count_nonzero(xs * xs + ys * ys <= 1.0))


def count_numpy_blocks(n: int, seed: int | None = 0, block: int = BLOCK) -> int:
    """``default_rng(seed)`` (PCG64): per block of ``block`` samples, the x's then the y's,
    ``(x*x + y*y <= 1).sum()``. Memory stays at a few MiB for any ``n``."""
    rng = np.random.default_rng(seed)
    inside = 0
    for start in range(0, n, block):
        m = min(block, n - start)
        xs = rng.random(m)
        ys = rng.random(m)
        inside += int(np.count_nonzero(xs * xs + ys * ys <= 1.0))
    return inside


def dart_inside(z: int) -> bool:
    """Whether the dart made from output ``z`` lands in the quarter circle:
    ``x = a / 2**32``, ``y = b / 2**32`` with ``a`` the high and ``b`` the low 32 bits, so
    ``x*x + y*y <= 1`` is exactly ``a*a + b*b <= 2**64`` (Python ints: no rounding)."""
    a, b = z >> 32, z & MASK32
    return a * a + b * b <= RADIUS2


def count_splitmix(n: int, seed: int, start: int = 0) -> int:
    """Darts inside among samples ``start .. start + n - 1`` of hpkit's stream: dart i is
    output i, i.e. the sequential stream one value per dart."""
    stream = splitmix64((seed + start * GAMMA) & MASK64)
    inside = 0
    for _ in range(n):
        inside += dart_inside(next(stream))
    return inside


def splitmix_sample_inside(seed: int, i: int) -> bool:
    """Whether sample ``i`` of hpkit's stream lands inside (random access)."""
    return dart_inside(splitmix64_output(seed, i))


def count_splitmix_numpy(n: int, seed: int, block: int = 1 << 20) -> int:
    """:func:`count_splitmix` with numpy's uint64 arithmetic (which wraps modulo 2**64
    like the definition): the same count, fast enough for checking large runs.

    Each square is below 2**64, so ``a*a + b*b <= 2**64`` is ``b*b <= 2**64 - a*a``; as
    ``a*a + b*b == 2**64`` has no solution with both halves below 2**32 (see
    crates/hpkit-kernels/src/pi.rs), that is ``b*b <= (2**64 - 1) - a*a``, which does
    not wrap."""
    gamma = np.uint64(GAMMA)
    inside = 0
    for start in range(0, n, block):
        i = np.arange(start, min(start + block, n), dtype=np.uint64)
        z = _mix(np.uint64(seed & MASK64) + (i + np.uint64(1)) * gamma)
        inside += int(np.count_nonzero(darts_inside_numpy(z)))
    return inside


def darts_inside_numpy(z: np.ndarray) -> np.ndarray:
    """:func:`dart_inside` for a uint64 array of outputs, in uint64 arithmetic."""
    a, b = z >> np.uint64(32), z & np.uint64(MASK32)
    return b * b <= np.uint64(MASK64) - a * a


def worker_seeds(seed: int, workers: int) -> list[int]:
    """One seed per worker, the first outputs of SplitMix64(``seed``): distinct,
    well-mixed and reproducible (the book's ``np.random.seed()`` per worker is neither)."""
    return [splitmix64_output(seed, w) for w in range(workers)]


def split(n: int, workers: int) -> list[int]:
    """``n`` samples over ``workers`` as evenly as possible (the first get one more)."""
    share, extra = divmod(n, workers)
    return [share + (w < extra) for w in range(workers)]


def standard_error(n: int) -> float:
    """The standard deviation of ``4 * count / n`` for ``n`` independent darts."""
    p = math.pi / 4
    return 4 * math.sqrt(p * (1 - p) / n)
