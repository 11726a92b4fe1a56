"""Fast numeric kernels (Rust core, GIL released, every core, runtime SIMD).

Each kernel gives exactly what the book's pure-Python version in :mod:`hpkit.reference`
gives; see the function docs for the precise guarantee.
"""

from __future__ import annotations

import numbers
import operator
from collections.abc import Sequence
from typing import Any

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
    "best_simd",
    "default_threads",
    "escape_time",
    "julia",
    "julia_axes",
    "simd_paths",
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


def _output(out: Any, shape: tuple[int, ...]) -> npt.NDArray[np.int32]:
    """Validate a caller's ``out`` array, or allocate one (numpy raises MemoryError)."""
    if out is None:
        return np.empty(shape, dtype=np.int32)
    if not isinstance(out, np.ndarray):
        raise InvalidTypeError(f"out must be a numpy array, got {type(out).__name__}")
    if out.dtype != np.int32:
        raise InvalidTypeError(f"out must have dtype int32, got {out.dtype}")
    if out.shape != shape:
        raise InvalidInputError(f"out must have shape {shape}, got {out.shape}")
    if not out.flags.c_contiguous:
        raise InvalidInputError("out must be C-contiguous")
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
    result = _output(out, (len(ys), len(xs)))
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
    result = _output(out, arr.shape)
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
