"""Chapter 2: the Julia set, from the book's pure-Python loop to hpkit's SIMD kernel.

Every implementation computes the escape counts on the book's grid (built by float
accumulation, so width 10 gives 11 x 11) and must equal the pure-Python counts pixel for
pixel; the sums are also checked against WORKLOADS.md's known answers where the
parameters are listed. All rows time the kernel only: start points are built in setup.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from hpkit import kernels
from hpkit.lab.host import dig
from hpkit.lab.model import (
    Check,
    Experiment,
    Figure,
    Implementation,
    Kind,
    LimitModel,
    Param,
    Params,
    Workload,
)
from hpkit.lab.peers import cython_module, require
from hpkit.reference import julia as book

Counts = npt.NDArray[np.int32]

#: 3 multiplications and 5 additions/subtractions per inner-loop iteration:
#: zr*zr, zi*zi, zr*zi, zr*zr - zi*zi, + cr, t + t, + ci and the |z|^2 sum.
FLOPS_PER_ITERATION = 8


@dataclass(frozen=True)
class KnownAnswer:
    shape: tuple[int, int]
    total: int
    at_max_iter: int


#: WORKLOADS.md, Ch2 "Known answers" (verified by oracles/ch2_julia.py): (width, max_iter).
KNOWN_ANSWERS = {
    (10, 300): KnownAnswer((11, 11), 3_098, 9),
    (100, 300): KnownAnswer((100, 100), 334_236, 1_011),
    (500, 300): KnownAnswer((500, 500), 8_306_884, 25_085),
    (1000, 300): KnownAnswer((1000, 1000), 33_219_980, 100_321),
}


def _sizes(params: Params) -> tuple[int, int]:
    return int(params["width"]), int(params["max_iter"])


def _start_points(width: int) -> npt.NDArray[np.complex128]:
    """The book's start points as a (rows, cols) complex array, from its own lists."""
    zs, _, rows, cols = book.build_zs_cs(width)
    return np.array(zs, dtype=np.complex128).reshape(rows, cols)


def _pure_python(params: Params) -> Workload:
    width, max_iter = _sizes(params)
    zs, cs, _, _ = book.build_zs_cs(width)
    return lambda: book.calculate_z_serial_purepython(max_iter, zs, cs)


def _numpy(params: Params) -> Workload:
    width, max_iter = _sizes(params)
    zs = _start_points(width)
    return lambda: book.calculate_z_numpy(max_iter, zs, kernels.BOOK_C)


def _numba_serial(params: Params) -> Workload:
    require("numba")
    from hpkit.lab import _julia_numba

    width, max_iter = _sizes(params)
    zs = _start_points(width).ravel()
    cs = np.full_like(zs, kernels.BOOK_C)
    return lambda: _julia_numba.calculate_z_serial(max_iter, zs, cs)


def _numba_prange(params: Params) -> Workload:
    require("numba")
    from hpkit.lab import _julia_numba

    width, max_iter = _sizes(params)
    zs = _start_points(width)
    return lambda: _julia_numba.calculate_z_rows(max_iter, zs, kernels.BOOK_C)


def _cython(params: Params) -> Workload:
    module = cython_module("_julia_cython")
    width, max_iter = _sizes(params)
    zs = _start_points(width).ravel()
    cs = np.full_like(zs, kernels.BOOK_C)
    return lambda: module.calculate_z(max_iter, zs, cs)


def _hpkit(name: str, *, threads: int | None, simd: str, note: str) -> Implementation:
    def setup(params: Params) -> Workload:
        width, max_iter = _sizes(params)
        return lambda: kernels.julia(width, max_iter, threads=threads, simd=simd)

    return Implementation(name, Kind.HPKIT, setup, note)


def _implementations() -> tuple[Implementation, ...]:
    vector_paths = [p for p in kernels.simd_paths() if p != "scalar"]
    return (
        Implementation(
            "pure Python", Kind.REFERENCE, _pure_python, "calculate_z_serial_purepython"
        ),
        Implementation("numpy", Kind.NUMPY, _numpy, "calculate_z_numpy"),
        Implementation("Numba @njit", Kind.PEER, _numba_serial, "1 thread, abs(z) < 2"),
        Implementation(
            "Numba prange", Kind.PEER, _numba_prange, "rows over all threads, abs(z) < 2"
        ),
        Implementation("Cython", Kind.PEER, _cython, "1 thread, |z|² < 4"),
        _hpkit("hpkit 1 thread scalar", threads=1, simd="scalar", note="threads=1, simd='scalar'"),
        *(
            _hpkit(f"hpkit 1 thread {path}", threads=1, simd=path, note=f"threads=1, simd='{path}'")
            for path in vector_paths
        ),
        _hpkit(
            "hpkit all threads",
            threads=None,
            simd="auto",
            note=f"{kernels.default_threads()} threads, {kernels.best_simd()}",
        ),
    )


def _canonical(params: Params, output: object) -> Counts:
    """Any implementation's output (flat list, flat or 2-D array) as the (rows, cols) grid."""
    width, _ = _sizes(params)
    xs, ys = book.build_axes(width)
    counts = np.asarray(output)
    if counts.size != len(ys) * len(xs):
        raise ValueError(
            f"output has {counts.size} values, the {len(ys)}x{len(xs)} grid has {len(ys) * len(xs)}"
        )
    return counts.reshape(len(ys), len(xs)).astype(np.int32, copy=False)


def _validate(params: Params, counts: Counts, oracle: Counts | None) -> Check:
    """Pixel-for-pixel equality with pure Python, and the known answers where listed."""
    width, max_iter = _sizes(params)
    problems = []
    compared = oracle is not None and oracle is not counts  # the oracle is not checked twice
    if compared:
        mismatched = int(np.count_nonzero(counts != oracle))
        if mismatched:
            problems.append(f"{mismatched:,} of {counts.size:,} pixels differ from pure Python")
    total = int(counts.sum(dtype=np.int64))
    at_max = int(np.count_nonzero(counts == max_iter))
    known = KNOWN_ANSWERS.get((width, max_iter))
    if known is not None:
        if counts.shape != known.shape:
            problems.append(f"grid {counts.shape} is not the book's {known.shape}")
        if total != known.total:
            problems.append(f"sum {total:,} is not the known answer {known.total:,}")
        if at_max != known.at_max_iter:
            problems.append(f"{at_max:,} pixels reach max_iter, not {known.at_max_iter:,}")
    if problems:
        return Check(False, "; ".join(problems))
    if oracle is None and known is None:
        return Check(False, "nothing to check against: pure Python failed, no known answer")
    against = ["equal to pure Python pixel for pixel"] if compared else []
    if known is not None:
        against.append(f"sum {total:,} = the known answer")
    else:
        against.append(f"sum {total:,} (no published answer for these parameters)")
    return Check(True, ", ".join(against))


def _gflop(params: Params, oracle: Counts) -> float:
    """Work of one run: every escape count is that many inner-loop iterations."""
    return FLOPS_PER_ITERATION * int(oracle.sum(dtype=np.int64)) / 1e9


def _peak_no_fma(machine: Mapping[str, Any]) -> float | None:
    peak = dig(machine, "limits.peak_gflops_no_fma")
    return float(peak) if isinstance(peak, int | float) else None


def _draw_set(axes: Any, params: Params, counts: Counts) -> None:
    """The escape counts as an image, brightest where points never escape."""
    from matplotlib.colors import PowerNorm

    x1, x2, y1, y2 = kernels.BOOK_BOUNDS
    _, max_iter = _sizes(params)
    image = axes.imshow(
        counts,
        cmap="magma",
        norm=PowerNorm(gamma=0.4, vmin=0, vmax=max(max_iter, 1)),
        extent=(x1, x2, y1, y2),
    )
    axes.set_xlabel("Re(z₀)")
    axes.set_ylabel("Im(z₀)")
    axes.figure.colorbar(image, ax=axes, label="escape count", shrink=0.85)


EXPERIMENT = Experiment(
    name="julia",
    chapter=2,
    title="Julia set (escape counts, c = -0.62772 - 0.42193i)",
    params=(
        Param("width", full=1000, quick=500, help="points per side of the grid", minimum=1),
        Param("max_iter", full=300, quick=300, help="most iterations per point", minimum=0),
    ),
    implementations=_implementations(),
    canonical=_canonical,
    validate=_validate,
    limit=LimitModel(
        label="% of peak (no FMA)",
        rate_unit="GFLOP/s",
        work=_gflop,
        peak=_peak_no_fma,
        explanation=(
            f"{FLOPS_PER_ITERATION} flops (3 mul + 5 add/sub) per inner-loop iteration, "
            "against the all-threads peak without FMA (fusing would change the rounding, "
            "so the kernel may not)"
        ),
    ),
    figures=(
        Figure(
            "julia",
            "The Julia set at these parameters (pure-Python counts; gamma-scaled colours).",
            _draw_set,
        ),
    ),
    notes=(
        "Every row must equal the pure-Python counts pixel for pixel before it is timed.",
        "All rows time the kernel only: the start points are built before timing "
        "(hpkit builds its two coordinate axes inside the call, microseconds). "
        "Numba and Cython are the book's chapter 7 versions: Numba keeps the book's "
        "abs(z) < 2 test (a hypot per iteration), Cython the expanded |z|² < 4.",
    ),
)
