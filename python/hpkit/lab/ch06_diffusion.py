"""Chapter 6: diffusion (the heat equation) - from the book's lists to hpkit's blocked kernel.

Every implementation runs ``steps`` explicit-Euler steps of the periodic 2-D heat equation
(dt = 0.1, D = 1) from the book's start (a block of 0.005 at ``[int(n*.4):int(n*.5)]``
per axis) and is checked before it is timed against numpy in WORKLOADS.md's canonical
operation order S: bit for bit where the implementation computes in that order (hpkit,
numpy order S, Cython), within WORKLOADS.md's ``abs 1e-15`` where it has its own order
(the book's list code and numpy versions, numexpr, scipy, Numba), plus mass conservation
and the published known answers where the parameters match.

Two grids (:class:`~hpkit.lab.model.Case`): ``cache``, the book's 512 x 512 (2 MiB, it
fits in this machine's caches), and ``memory``, 12288 x 12288 (1.13 GiB per grid, more
than 4x the 260 MiB L3 of the reference machine - pass ``--param n=...`` where the L3 is
larger) and only 4 steps (numpy's steps take seconds there). The bandwidth floor - 2 x
the grid's bytes per step at the measured DRAM bandwidth - is the 100% line. Pure Python
is not run on the big grid (it would take hours); there the expected answer is numpy
order S, computed on the block's neighbourhood only (diffusion spreads one cell per
step, so every other cell stays exactly 0.0 - the window gives the same bits as the
whole grid, in a fraction of the time and memory).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hpkit import kernels
from hpkit.lab.host import dig
from hpkit.lab.model import (
    Case,
    Check,
    Experiment,
    Figure,
    Implementation,
    Kind,
    LimitModel,
    Param,
    Params,
    Per,
    Skip,
    Workload,
)
from hpkit.lab.peers import require
from hpkit.reference import diffusion as book

Grid = book.FloatArray

DT, D = book.DT, book.D
#: WORKLOADS.md's tolerance between implementations that use different operation orders
TOLERANCE = 1e-15
#: bytes per cell (float64)
CELL_BYTES = 8
#: pure Python does about 3 million cell updates per second here; beyond this many it
#: is skipped (a full-size run would take hours)
PURE_PYTHON_MAX_UPDATES = 60_000_000
PURE_PYTHON_SECONDS_PER_UPDATE = 360e-9
#: rows compared at a time, so checking a 1 GiB grid needs no 1 GiB temporary
_CHUNK_ROWS = 512


@dataclass(frozen=True)
class KnownAnswer:
    total: float
    peak: float
    squares: float
    #: digits WORKLOADS.md gives for the maximum (absolute)
    peak_tolerance: float


#: WORKLOADS.md, Ch6 "Known answers" (verified by oracles/ch6_diffusion.py), order S:
#: (n, steps) -> sum, max, sum of squares.
KNOWN_ANSWERS = {
    (64, 10): KnownAnswer(0.245, 0.00486040176, 0.000740625557869339, 5e-12),
    (512, 500): KnownAnswer(13.52, 0.004906177706325198, 0.04145759917767716, 0.0),
}


@dataclass(frozen=True)
class Run:
    """What every workload returns: the final grid and the operation order it used
    ("S" for WORKLOADS.md's canonical order; anything else is held to ``TOLERANCE``)."""

    grid: Any
    order: str


@dataclass(frozen=True)
class Outcome:
    """A run's grid as float64, with what the check needs to know about how it was made."""

    grid: Grid
    order: str
    aliased_rows: bool


def sizes(params: Params) -> tuple[int, int]:
    n, steps = params["n"], params["steps"]
    assert isinstance(n, int) and isinstance(steps, int)
    return n, steps


@functools.lru_cache(maxsize=2)
def expected_grid(n: int, steps: int) -> Grid:
    """The order-S answer for the book's start. When the block plus ``steps + 1`` cells
    of margin fits inside the grid, only that window is simulated (every cell farther
    than ``steps`` from the block is still exactly 0.0, and the window's own wrap-around
    only ever meets zeros), then placed into a zero grid - whose untouched pages cost no
    memory."""
    lo, hi = book.block_bounds(n)
    margin = steps + 1
    if lo - margin < 0 or hi + margin > n:
        result = book.run_order_s(book.initial_grid(n), steps)
    else:
        side = hi - lo + 2 * margin
        window = np.zeros((side, side))
        window[margin : margin + hi - lo, margin : margin + hi - lo] = 0.005
        result = np.zeros((n, n))
        result[lo - margin : hi + margin, lo - margin : hi + margin] = book.run_order_s(
            window, steps
        )
    result.flags.writeable = False
    return result


# -- implementations ------------------------------------------------------------------------


def _start(params: Params) -> Grid:
    n, _ = sizes(params)
    return book.initial_grid(n)


def _pure_python_fits(params: Params) -> None:
    n, steps = sizes(params)
    updates = n * n * steps
    if updates > PURE_PYTHON_MAX_UPDATES:
        minutes = updates * PURE_PYTHON_SECONDS_PER_UPDATE / 60
        raise Skip(
            f"not run at {n}x{n}: {steps} steps would take about {minutes:,.0f} minutes "
            "(it is timed on the cache-sized grid)"
        )


def _pure_python(params: Params) -> Workload:
    _pure_python_fits(params)
    _, steps = sizes(params)
    grid = book.initial_grid_lists(int(params["n"]))
    return lambda: Run(book.run_python(grid, steps), "P")


def _numpy(run: Callable[..., Grid], order: str) -> Callable[[Params], Workload]:
    def setup(params: Params) -> Workload:
        grid = _start(params)
        _, steps = sizes(params)
        return lambda: Run(run(grid, steps), order)

    return setup


def run_numexpr(grid: Grid, steps: int, dt: float = DT, D: float = D) -> Grid:
    """The book's numexpr version: the in-place numpy Laplacian, then
    ``evaluate("next_grid*D*dt+grid", out=next_grid)``, two grids swapped."""
    import numexpr

    grid = grid.copy()
    next_grid = np.empty_like(grid)
    for _ in range(steps):
        book.laplacian_inplace(grid, next_grid)
        numexpr.evaluate(
            "next_grid*D*dt+grid",
            local_dict={"next_grid": next_grid, "D": D, "dt": dt, "grid": grid},
            out=next_grid,
        )
        grid, next_grid = next_grid, grid
    return grid


def _numexpr(params: Params) -> Workload:
    numexpr = require("numexpr")
    grid = _start(params)
    _, steps = sizes(params)
    numexpr.set_num_threads(kernels.default_threads())
    return lambda: Run(run_numexpr(grid, steps), "numexpr")


def run_scipy(grid: Grid, steps: int, dt: float = DT, D: float = D) -> Grid:
    """The book's scipy version: ``laplace(grid, out, mode="wrap")`` into a scratch grid,
    scaled, then added to ``grid`` in place (safe: the Laplacian is already complete)."""
    from scipy.ndimage import laplace

    grid = grid.copy()
    lap = np.empty_like(grid)
    for _ in range(steps):
        laplace(grid, output=lap, mode="wrap")
        lap *= D * dt
        grid += lap
    return grid


def _scipy(params: Params) -> Workload:
    require("scipy")
    grid = _start(params)
    _, steps = sizes(params)
    return lambda: Run(run_scipy(grid, steps), "scipy")


def _numba(name: str) -> Callable[[Params], Workload]:
    def setup(params: Params) -> Workload:
        require("numba")
        from hpkit.lab import _diffusion_numba

        run = getattr(_diffusion_numba, name)
        grid = _start(params)
        _, steps = sizes(params)
        return lambda: Run(run(grid, steps, DT, D), "P")

    return setup


def _hpkit(
    threads: int | None, blocking: Callable[[Params], tuple[int, int, int]] | None = None
) -> Callable[[Params], Workload]:
    def setup(params: Params) -> Workload:
        grid = _start(params)
        _, steps = sizes(params)
        tiling = None if blocking is None else blocking(params)
        out = np.empty_like(grid)
        return lambda: Run(
            kernels.evolve(grid, steps, out=out, threads=threads, blocking=tiling), "S"
        )

    return setup


def _one_step_per_pass(params: Params) -> tuple[int, int, int]:
    """Temporal blocking off: one step per pass over whole rows (what
    ``diffusion_step`` does), bands giving each worker two."""
    n, _ = sizes(params)
    return 1, max(8, n // (2 * kernels.default_threads())), n


def implementations() -> tuple[Implementation, ...]:
    """Every row, in the book's order; ch07_compile picks some of them by name."""
    threads = kernels.default_threads()
    return (
        Implementation(
            "pure Python",
            Kind.REFERENCE,
            _pure_python,
            "lists, the book's loop corrected (independent rows, separate output)",
        ),
        Implementation(
            "numpy np.roll",
            Kind.NUMPY,
            _numpy(book.run_numpy_naive, "N"),
            "the book's first numpy version: new arrays every step",
        ),
        Implementation(
            "numpy in-place",
            Kind.NUMPY,
            _numpy(book.run_numpy_inplace, "I"),
            "the book's in-place version: +=, *= into two reused grids",
        ),
        Implementation(
            "numpy roll_add",
            Kind.NUMPY,
            _numpy(book.run_numpy_roll_add, "I"),
            "the book's fastest numpy: in-place slice additions, no temporaries",
        ),
        Implementation(
            "numpy order S",
            Kind.NUMPY,
            _numpy(book.run_order_s, "S"),
            "WORKLOADS.md's canonical op order (what hpkit matches bit for bit)",
        ),
        Implementation(
            "numexpr",
            Kind.PEER,
            _numexpr,
            f"the book's evaluate('next_grid*D*dt+grid'), {threads} threads",
            workers=threads,
        ),
        Implementation(
            "scipy.ndimage.laplace",
            Kind.PEER,
            _scipy,
            "laplace(mode='wrap') into scratch, added in place",
        ),
        Implementation(
            "Numba @njit",
            Kind.PEER,
            _numba("run_book"),
            "the book's loop with % for the wrap, 1 thread",
            workers=1,
        ),
        Implementation(
            "Numba prange",
            Kind.PEER,
            _numba("run_rows"),
            "rows over all threads, wrap hoisted out of the inner loop",
            workers=threads,
            serial="Numba @njit",
        ),
        Implementation(
            "hpkit 1 thread",
            Kind.HPKIT,
            _hpkit(1),
            f"evolve(threads=1), {kernels.best_simd()}, steps fused per pass",
            workers=1,
        ),
        Implementation(
            "hpkit all threads",
            Kind.HPKIT,
            _hpkit(None),
            f"evolve(), {threads} threads, {kernels.best_simd()}, steps fused per pass",
            workers=threads,
            serial="hpkit 1 thread",
        ),
        Implementation(
            "hpkit, 1 step per pass",
            Kind.HPKIT,
            _hpkit(None, _one_step_per_pass),
            "temporal blocking off (blocking=(1, band, n)): the grid streams through "
            "memory every step",
            workers=threads,
        ),
    )


# -- checking ---------------------------------------------------------------------------------


def canonical(params: Params, output: object) -> Outcome:
    """Any row's output (a :class:`Run` of lists or an array) as a float64 grid."""
    run = output if isinstance(output, Run) else Run(output, "?")
    grid = run.grid
    aliased = isinstance(grid, list) and len(grid) > 1 and all(row is grid[0] for row in grid)
    return Outcome(np.asarray(grid, dtype=np.float64), run.order, aliased)


def _differences(grid: Grid, expected: Grid) -> tuple[int, float]:
    """(cells that differ, largest absolute difference), a block of rows at a time."""
    differ, worst = 0, 0.0
    for start in range(0, len(grid), _CHUNK_ROWS):
        a, b = grid[start : start + _CHUNK_ROWS], expected[start : start + _CHUNK_ROWS]
        differ += int(np.count_nonzero(a != b))
        worst = max(worst, float(np.max(np.abs(a - b))))
    return differ, worst


def validate(params: Params, outcome: Outcome, oracle: Outcome | None) -> Check:
    """Against numpy order S: bit for bit for order-S rows, within 1e-15 otherwise; the
    mass must be conserved; the known answers where WORKLOADS.md lists these sizes."""
    n, steps = sizes(params)
    grid = outcome.grid
    lo, hi = book.block_bounds(n)
    mass = (hi - lo) ** 2 * 0.005
    if outcome.aliased_rows:
        return Check(
            False,
            "every row is the same list (the book's [[0.0] * n] * n): writing grid[i][j] "
            f"writes column j of all rows, so the 'block' is {hi - lo} whole columns "
            f"(sum {float(grid.sum()):.4g}, not {mass:.4g}) and each step smears one "
            "shared row - not 2-D diffusion",
        )
    if grid.shape != (n, n):
        return Check(False, f"shape {grid.shape}, expected {(n, n)}")
    differ, worst = _differences(grid, expected_grid(n, steps))
    problems = []
    if outcome.order == "S" and differ:
        problems.append(f"{differ:,} cells differ from numpy order S (max |Δ| {worst:.2g})")
    elif worst > TOLERANCE or not np.isfinite(worst):
        problems.append(f"max |Δ| {worst:.2g} from numpy order S (allowed {TOLERANCE:g})")
    total = float(grid.sum())
    if abs(total - mass) > 1e-12 * mass:
        problems.append(f"sum {total!r} is not the initial mass {mass:.6g}")
    known = KNOWN_ANSWERS.get((n, steps))
    if known is not None:
        exact = outcome.order == "S"
        peak, squares = float(grid.max()), float((grid * grid).sum())
        if abs(peak - known.peak) > max(known.peak_tolerance, 0.0 if exact else TOLERANCE):
            problems.append(f"max {peak!r} is not the known {known.peak!r}")
        if (exact and squares != known.squares) or abs(squares - known.squares) > 1e-13:
            problems.append(f"sum of squares {squares!r} is not the known {known.squares!r}")
    if problems:
        return Check(False, "; ".join(problems))
    if outcome.order == "S":
        verdict = "bit-identical to numpy order S"
    else:
        verdict = f"max |Δ| {worst:.1e} from order S (own op order {outcome.order})"
    verdict += f", mass {total:.6g} conserved"
    if known is not None:
        verdict += ", known answers match"
    return Check(True, verdict)


def expected_run(params: Params) -> Run:
    """The oracle where pure Python is not run (the big grid): numpy order S."""
    n, steps = sizes(params)
    return Run(expected_grid(n, steps), "S")


# -- limit and pictures -----------------------------------------------------------------------


def _bytes_moved_gb(params: Params, oracle: object) -> float:
    """The memory floor's traffic: every step reads and writes the grid once."""
    n, steps = sizes(params)
    return 2 * n * n * CELL_BYTES * steps / 1e9


def _dram_bandwidth(machine: Mapping[str, Any]) -> float | None:
    bandwidth = dig(machine, "limits.dram_bandwidth_gbs")
    return float(bandwidth) if isinstance(bandwidth, int | float) else None


def _draw_grid(axes: Any, params: Params, oracle: Outcome) -> None:
    """The temperature after the last step, cropped to the warm region on big grids."""
    n, steps = sizes(params)
    lo, hi = book.block_bounds(n)
    reach = min(n // 2, hi - lo + 3 * steps)
    window = slice(max(0, lo - reach), min(n, hi + reach))
    image = axes.imshow(
        oracle.grid[window, window],
        cmap="inferno",
        extent=(window.start, window.stop, window.stop, window.start),
    )
    axes.set_xlabel("column")
    axes.set_ylabel("row")
    axes.figure.colorbar(image, ax=axes, label="u", shrink=0.85)


EXPERIMENT = Experiment(
    name="diffusion",
    chapter=6,
    title="2-D diffusion, explicit Euler, periodic (dt = 0.1, D = 1)",
    params=(
        Param(
            "case",
            full="all",
            quick="all",
            help="grid: 'cache' (512², the book's), 'memory' (beyond the L3) or 'all'",
        ),
        Param("n", full=512, quick=256, help="grid points per side", minimum=3),
        Param("steps", full=100, quick=20, help="time steps", minimum=0),
    ),
    cases=(
        Case("cache", full={"n": 512, "steps": 100}, quick={"n": 256, "steps": 20}),
        Case("memory", full={"n": 12288, "steps": 4}, quick={"n": 1024, "steps": 8}),
    ),
    implementations=implementations(),
    canonical=canonical,
    validate=validate,
    fallback_oracle=expected_run,
    per=Per("step", lambda params: sizes(params)[1]),
    limit=LimitModel(
        label="% of BW floor",
        rate_unit="GB/s",
        work=_bytes_moved_gb,
        peak=_dram_bandwidth,
        explanation=(
            "the memory floor: a step reads and writes the grid once (2 x 8 bytes per cell) "
            "at the measured DRAM bandwidth, 100% = that floor's time; more than 100% means "
            "the grid was served from cache (the 512² grid fits) or several steps were "
            "fused per pass over memory (hpkit's temporal blocking)"
        ),
    ),
    figures=(
        Figure(
            "diffusion",
            "The temperature after the last step (the expected answer; big grids cropped "
            "to the warm region).",
            _draw_grid,
        ),
    ),
    notes=(
        "Every row is checked before timing against numpy in WORKLOADS.md's order S: bit "
        "for bit where it computes in that order (hpkit, numpy order S), within abs 1e-15 "
        "where it uses its own (list code and Numba: order P; numpy np.roll: N; in-place, "
        "numexpr, scipy: their own); the mass must stay 52² x 0.005 for n = 512.",
        "The pure-Python row is the book's list code corrected. As printed, its grid is "
        "[[0.0] * n] * n - n references to ONE row list - so grid[i][j] = 0.005 writes "
        "column j of every row: at n = 64 the 'block' is 448 cells, not 49 (sum 2.24, not "
        "0.245), and every step smears that single shared row (10 steps: max "
        "0.004930069168 instead of 0.00486040176) - a wrong answer, not 2-D diffusion. Its "
        "allocating evolve also returns the old grid, so the simulation never moves. Both "
        "bugs are reproduced, and tested, in hpkit.reference.diffusion (book_aliased_grid, "
        "run_book_aliased, evolve_book_returns_old_grid).",
        "All rows time the whole run (steps steps, inputs built before timing); 'Best per "
        "step' divides by the steps. The big grid runs only 4 steps: each numpy step there "
        "allocates (and page-faults) several 1 GiB temporaries and takes seconds. Pure "
        "Python is skipped there and the oracle is numpy order S on the block's "
        "neighbourhood (bit-identical to the full grid).",
        "hpkit fuses several steps per pass over memory (temporal blocking: tiles with a "
        "halo of one cell per fused step, a wavefront of three rows per level kept in L1), "
        "which is why it can beat the one-pass-per-step floor; the '1 step per pass' row "
        "turns that off.",
    ),
)
