"""Fast numeric kernels (Rust core, GIL released, every core, runtime SIMD).

Each kernel gives exactly what the book's pure-Python version in :mod:`hpkit.reference`
gives; see the function docs for the precise guarantee.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from hpkit import _native
from hpkit.errors import InvalidInputError, InvalidTypeError

#: The book's constant and region for the chapter 2 Julia set.
BOOK_C = complex(-0.62772, -0.42193)
BOOK_BOUNDS = (-1.8, 1.8, -1.8, 1.8)

__all__ = [
    "BOOK_BOUNDS",
    "BOOK_C",
    "MAX_SAMPLES",
    "CircleCount",
    "best_simd",
    "count_in_circle",
    "default_threads",
    "diffusion_step",
    "escape_time",
    "estimate_pi",
    "evolve",
    "julia",
    "julia_axes",
    "norm",
    "numeric_simd",
    "simd_paths",
    "sum_of_squares",
    "PRIME_METHODS",
    "count_primes",
    "is_prime",
    "is_prime_many",
    "primes_below",
    "primes_between",
    "smallest_factor",
]


def _int(name: str, value: Any) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise InvalidTypeError(f"{name} must be an integer, got {type(value).__name__}") from None


def _complex(name: str, value: Any) -> complex:
    if isinstance(value, numbers.Number):
        try:
            return complex(value)  # type: ignore[call-overload]
        except TypeError:
            pass
    raise InvalidTypeError(f"{name} must be a complex number, got {type(value).__name__}")


def _threads(threads: Any) -> int | None:
    return None if threads is None else _int("threads", threads)


def _simd(simd: Any) -> str:
    if not isinstance(simd, str):
        raise InvalidTypeError(f"simd must be a string, got {type(simd).__name__}")
    return simd


def _output(out: Any, shape: tuple[int, ...], dtype: npt.DTypeLike) -> npt.NDArray[Any]:
    """Validate a caller's ``out`` array (the kernels write it in place, so it must be a
    writeable, C-contiguous, aligned array of exactly this dtype and shape), or allocate
    one (numpy raises MemoryError)."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray):
        raise InvalidTypeError(f"out must be a numpy array, got {type(out).__name__}")
    if out.dtype != dtype:
        raise InvalidTypeError(f"out must have dtype {np.dtype(dtype)}, got {out.dtype}")
    if out.shape != shape:
        raise InvalidInputError(f"out must have shape {shape}, got {out.shape}")
    if not (out.flags.c_contiguous and out.flags.aligned):
        raise InvalidInputError("out must be C-contiguous (and aligned)")
    if not out.flags.writeable:
        raise InvalidInputError("out must be writeable")
    return out


def julia_axes(
    width: int = 1000,
    bounds: Sequence[float] = BOOK_BOUNDS,
    *,
    grid: str = "book",
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The real axis (left to right) and imaginary axis (top to bottom) of the Julia grid.

    ``grid="book"`` builds them by repeated float addition as the book does (width 10
    gives 11 points); ``grid="linspace"`` gives exactly ``width`` points,
    ``numpy.linspace(x1, x2, width, endpoint=False)`` and likewise from y2 down to y1.
    """
    if not isinstance(grid, str):
        raise InvalidTypeError(f"grid must be a string, got {type(grid).__name__}")
    try:
        x1, x2, y1, y2 = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise InvalidTypeError(
            f"bounds must be four numbers (x1, x2, y1, y2), got {bounds!r}"
        ) from None
    return _native.julia_axes(_int("width", width), (x1, x2, y1, y2), grid)


def julia(
    width: int = 1000,
    max_iter: int = 300,
    c: complex = BOOK_C,
    bounds: Sequence[float] = BOOK_BOUNDS,
    *,
    grid: str = "book",
    threads: int | None = None,
    out: npt.NDArray[np.int32] | None = None,
    simd: str = "auto",
) -> npt.NDArray[np.int32]:
    """Escape counts of the Julia set for ``c`` over ``bounds``, as an ``int32`` array.

    Row ``j``, column ``i`` holds the count for the start point
    ``complex(xs[i], ys[j])`` (see :func:`julia_axes`); the counts are exactly what the
    book's pure-Python loop (``hpkit.reference.julia``) returns, point for point, on every
    SIMD path and thread count.

    ``threads``: worker threads (default ``HPKIT_NUM_THREADS`` or every core).
    ``simd``: ``"auto"`` (the widest this CPU has), ``"scalar"``, ``"avx2"`` or ``"avx512"``.
    ``out``: a C-contiguous ``int32`` array of the grid's shape to write into.
    The GIL is released; Ctrl-C stops the call with KeyboardInterrupt.
    """
    max_iter = _int("max_iter", max_iter)
    c = _complex("c", c)
    threads = _threads(threads)
    simd = _simd(simd)
    xs, ys = julia_axes(width, bounds, grid=grid)
    result = _output(out, (len(ys), len(xs)), np.int32)
    _native.julia_into(xs, ys, c, max_iter, result, threads, simd)
    return result


def escape_time(
    zs: npt.ArrayLike,
    c: complex,
    max_iter: int,
    *,
    out: npt.NDArray[np.int32] | None = None,
    threads: int | None = None,
    simd: str = "auto",
) -> npt.NDArray[np.int32]:
    """Escape count of every start point in ``zs`` (``complex128``, any shape).

    The count of ``z`` is the number of updates ``z = z*z + c`` made while ``abs(z) < 2``,
    at most ``max_iter``, computed with exactly Python's complex arithmetic (so NaN start
    points give 0, as ``abs(nan) < 2`` is false). A non-contiguous ``zs`` is copied once.
    Returns an ``int32`` array of the same shape (or writes into ``out``).
    """
    arr = np.asarray(zs)
    if arr.dtype != np.complex128:
        raise InvalidTypeError(
            f"zs must have dtype complex128, got {arr.dtype}; "
            "convert with numpy.asarray(zs, dtype=numpy.complex128)"
        )
    if not arr.flags.c_contiguous:
        arr = arr.copy(order="C")
    max_iter = _int("max_iter", max_iter)
    c = _complex("c", c)
    threads = _threads(threads)
    simd = _simd(simd)
    result = _output(out, arr.shape, np.int32)
    _native.escape_time_into(arr, c, max_iter, result, threads, simd)
    return result


def simd_paths() -> list[str]:
    """The SIMD paths this CPU can run (detected at run time), narrowest first."""
    return _native.simd_paths()


def best_simd() -> str:
    """The path ``simd="auto"`` uses on this CPU."""
    return _native.best_simd()


def default_threads() -> int:
    """Worker threads used when ``threads=None``."""
    return _native.default_threads()


# --- chapter 6: the vector norm -----------------------------------------------------------

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _range_array(r: range) -> npt.NDArray[np.int64]:
    if len(r) and (min(r[0], r[-1]) < _INT64_MIN or max(r[0], r[-1]) > _INT64_MAX):
        raise InvalidInputError(f"{r!r} has values outside int64; hpkit squares int64 values")
    try:
        return np.arange(r.start, r.stop, r.step, dtype=np.int64)
    except (OverflowError, ValueError):  # a start/stop/step beyond int64, values inside
        return np.fromiter(r, dtype=np.int64, count=len(r))


def _vector(x: Any) -> npt.NDArray[Any]:
    """``x`` as a C-contiguous 1-D int64 or float64 array (see :func:`sum_of_squares`)."""
    if isinstance(x, range):
        return _range_array(x)
    if isinstance(x, str | bytes):
        raise InvalidTypeError(f"x must be numbers, got {type(x).__name__}")
    if not isinstance(x, np.ndarray) and not hasattr(x, "__len__") and hasattr(x, "__iter__"):
        x = list(x)  # a generator or other one-shot iterable
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError, OverflowError) as error:
        raise InvalidTypeError(f"x must be a vector of numbers: {error}") from None
    kind, size = arr.dtype.kind, arr.dtype.itemsize
    # lossless conversions (no copy for native int64/float64; other widths, unsigned and
    # byte-swapped arrays are converted once)
    if kind == "u" and size == 8:
        if arr.size and int(arr.max()) > _INT64_MAX:
            raise InvalidInputError("uint64 values above 2**63 - 1 do not fit int64")
        arr = arr.astype(np.int64)
    elif kind == "i" or (kind == "u" and size <= 4):
        arr = arr.astype(np.int64, copy=False)
    elif kind == "f" and size <= 8:
        arr = arr.astype(np.float64, copy=False)
    elif kind == "O" and arr.size and all(isinstance(v, int) for v in arr.flat):
        raise InvalidInputError("integers must fit in int64 (|v| < 2**63)")
    else:
        raise InvalidTypeError(
            f"x must have an integer or float dtype of at most 64 bits, got {arr.dtype}; "
            "convert bool, complex, object or text values first"
        )
    return np.ascontiguousarray(arr.reshape(-1))


def sum_of_squares(
    x: npt.ArrayLike | Iterable[Any],
    *,
    threads: int | None = None,
    simd: str = "auto",
) -> int | float:
    """``sum(v * v for v in x)``: exact for integers, compensated for floats.

    ``x``: a numpy array (any shape: all its elements, as ``numpy.linalg.norm`` does with
    no ``ord``), a list or other iterable, or a ``range`` (converted with
    ``numpy.arange``). int8..int64 and uint8..uint32 become int64, float16/32 become
    float64 (exact conversions, one copy); uint64 is accepted when its values fit int64;
    bool, complex, object and text raise :class:`~hpkit.errors.InvalidTypeError`. A
    non-contiguous array is copied once; a contiguous int64/float64 array is read in place.

    Integers: the exact sum as a Python ``int`` - ``sum_of_squares(range(10**7))`` is
    333,333,283,333,335,000,000, where numpy's int64 ``dot`` wraps around. Sums beyond
    2**128 - 1 raise :class:`~hpkit.errors.HpkitOverflowError`.
    Floats: Ogita-Rump-Oishi Dot2 (exact products, compensated sums): the error is at most
    about one rounding of the exact sum for n < 2**26 (``u·S + γ_n²·S``, ``u = 2**-53``).
    NaN propagates (the result is NaN), an infinity gives ``inf``, an overflowing sum
    ``inf``. Empty input gives ``0`` (``0.0`` for a float dtype, e.g. an empty list).

    The float result is the same bit for bit on every SIMD path and thread count.
    ``threads``: worker threads (default ``HPKIT_NUM_THREADS`` or every core); ``simd``:
    ``"auto"``, ``"scalar"``, ``"avx2"`` or ``"avx512"``. The GIL is released; Ctrl-C
    stops a long call with KeyboardInterrupt.
    """
    arr = _vector(x)
    threads, simd = _threads(threads), _simd(simd)
    if arr.dtype == np.int64:
        return _native.sum_of_squares_i64(arr, threads, simd)
    return _native.sum_of_squares_f64(arr, threads, simd)


def norm(
    x: npt.ArrayLike | Iterable[Any],
    *,
    threads: int | None = None,
    simd: str = "auto",
) -> float:
    """The Euclidean norm ``sqrt(sum(v * v for v in x))`` as a float.

    Accepts what :func:`sum_of_squares` accepts. For integers it is the correctly
    rounded square root of the exact integer sum (``math.sqrt`` of the same int can be one
    ulp off above 2**53). For floats it is ``sqrt`` of the compensated sum (within about
    one ulp), rescaled when the squares would overflow or underflow, so
    ``norm([1e200, 1e200])`` is ``1.4142135623730951e200``, not ``inf``. NaN propagates.
    """
    arr = _vector(x)
    threads, simd = _threads(threads), _simd(simd)
    if arr.dtype == np.int64:
        return _native.norm_i64(arr, threads, simd)
    return _native.norm_f64(arr, threads, simd)


# --- chapter 9: Monte Carlo pi ----------------------------------------------------------------

#: At most 2**63 - 1 samples (the kernel counts in int64; the SplitMix64 stream has 2**64
#: outputs, one per dart).
MAX_SAMPLES = 2**63 - 1


class CircleCount(NamedTuple):
    """A Monte Carlo π run: darts inside the quarter circle, darts thrown, and the seed
    that repeats the run exactly (``count_in_circle(samples, seed=seed)``)."""

    inside: int
    samples: int
    seed: int

    @property
    def estimate(self) -> float:
        """``4 * inside / samples``, correctly rounded (NaN for no samples)."""
        return 4 * self.inside / self.samples if self.samples else math.nan


def _samples(n_samples: Any) -> int:
    n = _int("n_samples", n_samples)
    if n > MAX_SAMPLES:
        raise InvalidInputError(f"n_samples must be at most 2**63 - 1, got {n}")
    return n


def _seed(seed: Any) -> int | None:
    if seed is None:
        return None
    value = _int("seed", seed)
    if not 0 <= value < 2**64:
        raise InvalidInputError(f"seed must be between 0 and 2**64 - 1, got {value}")
    return value


def count_in_circle(
    n_samples: int,
    *,
    seed: int | None = None,
    threads: int | None = None,
    simd: str = "auto",
) -> CircleCount:
    """Throw ``n_samples`` darts at the unit square; count those with ``x² + y² <= 1``.

    The darts come from a counter-based SplitMix64 stream (WORKLOADS.md's generator):
    dart ``i`` is output ``i`` of SplitMix64 seeded with ``seed``, its high 32 bits ``a``
    and low 32 bits ``b`` giving ``x = a / 2**32`` and ``y = b / 2**32``. The test is
    exact, in integers: inside iff ``a*a + b*b <= 2**64``. (A grid of 2**-32 per
    coordinate biases the estimate by about 1e-9, far below the statistical error of any
    feasible run: 1.6e-6 at 10**12 darts.) Each dart depends only on ``(seed, i)``, so
    the count is identical for every thread count and SIMD path, and equals the
    pure-Python :func:`hpkit.reference.pi.count_splitmix`. ``seed=None`` draws a seed
    from the OS's entropy; it is returned, so the run can be repeated.

    Returns ``CircleCount(inside, samples, seed)``; ``.estimate`` is ``4·inside/samples``.
    Raises :class:`~hpkit.errors.InvalidInputError` for ``n_samples < 0``, above
    2**63 - 1 or a seed outside [0, 2**64). The GIL is released; Ctrl-C stops the call.
    """
    n = _samples(n_samples)
    inside, samples, used = _native.count_in_circle(n, _seed(seed), _threads(threads), _simd(simd))
    return CircleCount(inside, samples, used)


def estimate_pi(
    n_samples: int,
    *,
    seed: int | None = None,
    threads: int | None = None,
    simd: str = "auto",
) -> float:
    """π estimated from ``n_samples`` darts: ``count_in_circle(...).estimate``.

    ``n_samples`` must be positive. For the seed that was used (when ``seed=None``), call
    :func:`count_in_circle` instead.
    """
    n = _samples(n_samples)
    if n == 0:
        raise InvalidInputError("n_samples must be positive to estimate pi")
    return count_in_circle(n, seed=seed, threads=threads, simd=simd).estimate


def numeric_simd(kernel: str, simd: str = "auto") -> str:
    """The SIMD path ``kernel`` (``"norm"`` or ``"pi"``) runs with for ``simd`` here: the
    π kernel's AVX-512 path also needs AVX-512DQ, the norms' AVX2 path needs FMA."""
    return _native.numeric_simd(kernel, _simd(simd))


# --------------------------------------------------------------------------------------
# Chapter 6: diffusion (the heat equation), explicit Euler on a periodic grid
# --------------------------------------------------------------------------------------

#: The grid dtypes the diffusion kernels take.
DIFFUSION_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


def _real(name: str, value: Any) -> float:
    if isinstance(value, numbers.Real):
        return float(value)
    raise InvalidTypeError(f"{name} must be a real number, got {type(value).__name__}")


def _diffusion_grid(grid: Any) -> npt.NDArray[np.floating[Any]]:
    """The grid as a float32/float64 1-D or 2-D C-contiguous, aligned array: no copy when
    it already is one; a non-contiguous or unaligned array is copied once."""
    arr = np.asarray(grid)
    if arr.dtype not in DIFFUSION_DTYPES or not arr.dtype.isnative:
        raise InvalidTypeError(
            f"grid must have dtype float64 or float32 (native byte order), got {arr.dtype}; "
            "convert with numpy.asarray(grid, dtype=numpy.float64)"
        )
    if arr.ndim not in (1, 2):
        raise InvalidInputError(f"grid must be 1-D or 2-D, got {arr.ndim} dimensions")
    if not (arr.flags.c_contiguous and arr.flags.aligned):
        arr = arr.copy(order="C")
    return arr


def _blocking(blocking: Any) -> tuple[int, int, int] | None:
    if blocking is None:
        return None
    try:
        steps_per_pass, band, strip = (_int("blocking", b) for b in blocking)
    except (TypeError, ValueError):
        raise InvalidTypeError(
            f"blocking must be None or three integers (steps_per_pass, band, strip), "
            f"got {blocking!r}"
        ) from None
    return steps_per_pass, band, strip


def diffusion_step(
    grid: npt.ArrayLike,
    *,
    dt: float = 0.1,
    D: float = 1.0,
    out: npt.NDArray[np.floating[Any]] | None = None,
    threads: int | None = None,
    simd: str = "auto",
) -> npt.NDArray[np.floating[Any]]:
    """One explicit-Euler step of the heat equation on a periodic 1-D or 2-D grid.

    ``new = g + (D*dt) * laplacian(g)`` with the 5-point (2-D) or 3-point (1-D) stencil,
    every read from the old grid, indices wrapping around. The result is bit for bit
    :func:`hpkit.reference.diffusion.step_order_s` (WORKLOADS.md's "order S"), for
    float64 and float32, on every SIMD path and thread count.

    ``grid``: float64 or float32, at least 3 points per axis, finite (NaN or infinity
    raises :class:`~hpkit.errors.InvalidInputError`). It is never modified; a
    non-contiguous grid is copied once. Returns a new array, or writes into ``out``
    (C-contiguous, same dtype and shape), which must not share memory with ``grid``
    (use ``evolve(grid, 1, out=grid)`` to update in place).
    """
    scalars = (_real("dt", dt), _real("D", D), _threads(threads), _simd(simd))
    arr = _diffusion_grid(grid)
    result = _output(out, arr.shape, arr.dtype)
    if out is not None and np.shares_memory(result, arr):
        raise InvalidInputError(
            "out shares memory with grid: a step reads every old value after writing new "
            "ones; pass another array, or use evolve(grid, 1, out=grid) for an in-place update"
        )
    _native.diffusion_evolve_into(arr, result, 1, *scalars, None)
    return result


def evolve(
    grid: npt.ArrayLike,
    steps: int,
    *,
    dt: float = 0.1,
    D: float = 1.0,
    out: npt.NDArray[np.floating[Any]] | None = None,
    threads: int | None = None,
    simd: str = "auto",
    blocking: tuple[int, int, int] | None = None,
) -> npt.NDArray[np.floating[Any]]:
    """``steps`` explicit-Euler steps of :func:`diffusion_step`, bit for bit the same as
    calling it ``steps`` times (and as :func:`hpkit.reference.diffusion.run_order_s`).

    Fast for many steps: two buffers swapped (one scratch grid allocated per call), every
    core (``threads``, default ``HPKIT_NUM_THREADS`` or all), and several steps fused per
    pass over memory (temporal blocking), so grids far larger than the caches run well
    below the one-step-per-pass memory-bandwidth floor. ``blocking=(steps_per_pass, band,
    strip)`` overrides the automatic tiling (tiles of ``band`` rows x ``strip`` columns;
    1-D: chunks of ``band`` points); it never changes the result.

    ``out`` may be ``grid`` itself (the input is then copied once first); otherwise the
    rules of :func:`diffusion_step` apply. ``steps=0`` returns a copy. The GIL is
    released; Ctrl-C stops the call with KeyboardInterrupt (``out`` is then unspecified).
    """
    steps = _int("steps", steps)
    if steps < 0:
        raise InvalidInputError(f"steps must be >= 0, got {steps}")
    scalars = (_real("dt", dt), _real("D", D), _threads(threads), _simd(simd))
    tiling = _blocking(blocking)
    arr = _diffusion_grid(grid)
    result = _output(out, arr.shape, arr.dtype)
    if out is not None and np.shares_memory(result, arr):
        arr = arr.copy()  # the first pass reads the old grid while writing the new one
    _native.diffusion_evolve_into(arr, result, steps, *scalars, tiling)
    return result


# --- primes (book chapter 9) --------------------------------------------------------------

#: Methods of :func:`is_prime` and :func:`is_prime_many`.
PRIME_METHODS = ("miller-rabin", "trial")
_U64_END = 1 << 64


def _trial_method(method: Any, book_rule: Any) -> bool:
    """Whether ``method`` is trial division; validates ``book_rule`` against it."""
    if not isinstance(book_rule, bool):
        raise InvalidTypeError(f"book_rule must be True or False, got {type(book_rule).__name__}")
    if method == "trial":
        return True
    if method == "miller-rabin":
        if book_rule:
            raise InvalidInputError(
                "book_rule=True is the book's trial division: use method='trial'"
            )
        return False
    raise InvalidInputError(f"unknown method {method!r}; expected one of {PRIME_METHODS}")


def is_prime(
    n: int, *, method: str = "miller-rabin", book_rule: bool = False, threads: int | None = None
) -> bool:
    """Whether ``n`` (``0 <= n < 2**64``) is prime.

    ``method="miller-rabin"`` (default): deterministic for every 64-bit ``n`` - trial
    division by small primes, then strong probable-prime tests whose witnesses are proven
    sufficient below 2**64 (no false answers); about half a microsecond for 18 digits.

    ``method="trial"``: the book's chapter 9 algorithm, odd divisors up to the square root
    (up to 2**31 divisions: seconds near 2**64; Ctrl-C stops it). ``threads`` splits the
    divisors across workers that stop as soon as one finds a divisor. ``book_rule=True``
    reproduces the chapter's checker exactly, including its two wrong answers: even ``n``
    is "not prime" (so 2 is reported composite) and 1 is reported prime.
    """
    trial = _trial_method(method, book_rule)
    n = _int("n", n)
    if not trial:
        return _native.is_prime(n)
    return _native.is_prime_trial(n, book_rule, _threads(threads))


def smallest_factor(n: int) -> int:
    """The smallest prime factor of ``n`` (``2 <= n < 2**64``; ``n`` itself when prime).

    Trial division by the small primes, then Pollard-Brent rho with primality tests for a
    complete factorisation: milliseconds even when the factor has 9 or 10 digits, e.g.
    ``smallest_factor(100109100129100369) == 95362951``.
    """
    return _native.smallest_factor(_int("n", n))


def count_primes(lo: int, hi: int, *, threads: int | None = None) -> int:
    """The number of primes ``p`` with ``lo <= p < hi`` (``0 <= lo <= hi <= 2**64``).

    A segmented sieve of Eratosthenes on a mod-30 wheel (pre-sieved small primes,
    cache-sized segments spread over ``threads``, popcount), e.g.
    ``count_primes(0, 10**9) == 50847534``. Far out (beyond about 10**15) or in a short
    range far from 0, the sieve stops early and Miller-Rabin confirms the survivors.
    The GIL is released; Ctrl-C stops the call.
    """
    return _native.count_primes(_int("lo", lo), _int("hi", hi), _threads(threads))


def primes_between(lo: int, hi: int, *, threads: int | None = None) -> npt.NDArray[np.uint64]:
    """The primes ``p`` with ``lo <= p < hi`` in ascending order, as a ``uint64`` array.

    Same sieve as :func:`count_primes`; ``hi`` may be ``2**64``. An output that could not
    fit in this machine's memory raises :class:`~hpkit.errors.TooLargeError` up front.
    """
    return _native.primes_between(_int("lo", lo), _int("hi", hi), _threads(threads))


def primes_below(n: int, *, threads: int | None = None) -> npt.NDArray[np.uint64]:
    """The primes below ``n`` (``0 <= n <= 2**64``), ascending, as a ``uint64`` array."""
    return primes_between(0, n, threads=threads)


def _u64_values(values: Any) -> npt.NDArray[np.uint64]:
    """``values`` (any integer array or nested list) as a ``uint64`` array of the same
    shape, copying only when the dtype or layout requires it."""
    arr = values if isinstance(values, np.ndarray) else None
    if arr is None:
        try:
            arr = np.asarray(values)
        except (ValueError, TypeError, OverflowError):
            arr = None
        if arr is None or (arr.dtype.kind not in "iu" and arr.size > 0):
            # numpy turns [-1, 2**63] into float64 and [1, 2**64] into objects: check
            # Python lists element by element instead, for precise errors.
            return _u64_from_python(values)
        if arr.size == 0:
            return np.zeros(arr.shape, dtype=np.uint64)
    if arr.dtype == object:
        return _u64_from_python(arr)
    if arr.dtype.kind not in "iu":
        raise InvalidTypeError(f"values must be integers, got an array of dtype {arr.dtype}")
    if arr.dtype.kind == "i" and arr.size and int(arr.min()) < 0:
        raise InvalidInputError(f"values must be >= 0, got {int(arr.min())}")
    if arr.dtype == np.int64:
        return arr.view(np.uint64)  # same bits for non-negative values: no copy
    return arr.astype(np.uint64, copy=False)


def _u64_from_python(values: Any) -> npt.NDArray[np.uint64]:
    try:
        objects = np.asarray(values, dtype=object)
    except ValueError:
        raise InvalidInputError("values must be a rectangular array of integers") from None
    flat = []
    for v in objects.flat:
        if isinstance(v, list | tuple | np.ndarray):  # numpy keeps ragged rows as objects
            raise InvalidInputError("values must be a rectangular array of integers")
        i = _int("values", v)
        if not 0 <= i < _U64_END:
            raise InvalidInputError(f"values must be in [0, 2**64), got {i}")
        flat.append(i)
    return np.array(flat, dtype=np.uint64).reshape(objects.shape)


def is_prime_many(
    values: npt.ArrayLike,
    *,
    method: str = "miller-rabin",
    book_rule: bool = False,
    threads: int | None = None,
) -> npt.NDArray[np.bool_]:
    """:func:`is_prime` of every value, in parallel; a ``bool`` array of the same shape.

    ``values``: a numpy array of any integer dtype or a (nested) list of ints, each in
    ``[0, 2**64)`` (negative or too large: :class:`~hpkit.errors.InvalidInputError`;
    floats: :class:`~hpkit.errors.InvalidTypeError`). ``int64`` and ``uint64`` contiguous
    arrays are read in place. ``method`` and ``book_rule`` as for :func:`is_prime`; with
    ``method="trial"`` each value is divided on one thread, values spread over ``threads``.
    """
    trial = _trial_method(method, book_rule)
    threads = _threads(threads)
    arr = _u64_values(values)
    flat = np.ascontiguousarray(arr).reshape(-1)
    if trial:
        flags = _native.is_prime_trial_many(flat, book_rule, threads)
    else:
        flags = _native.is_prime_many(flat, threads)
    return flags.reshape(arr.shape)
