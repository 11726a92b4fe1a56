"""Diffusion (the heat equation) as the book writes it (chapter 6), plus its numpy versions.

One explicit-Euler step on a periodic grid (dt = 0.1, D = 1 in the book)::

    new[i][j] = g[i][j] + D*dt * ((g[i+1][j] + g[i-1][j] - 2 g[i][j])
                                + (g[i][j+1] + g[i][j-1] - 2 g[i][j]))      indices mod N

Floating-point addition is not associative, so *how* the same formula is written decides
the last bits. WORKLOADS.md fixes the canonical "order S" (:func:`step_order_s`), which
``hpkit.kernels.diffusion_step`` / ``evolve`` reproduce bit for bit; the book's own numpy
versions (:func:`step_numpy_naive`, :func:`step_numpy_inplace`) and its list code
(:func:`evolve_python`) use other orders and agree with order S to about 1e-18 after 500
steps (WORKLOADS.md accepts ``abs 1e-15`` across orders).

The book's pure-Python 2-D list code has two bugs, reproduced here only behind explicitly
named functions so nobody picks them up by accident (see :func:`book_aliased_grid`,
:func:`evolve_book_returns_old_grid` and :func:`run_book_aliased`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

#: The book's constants.
DT = 0.1
D = 1.0

Grid = list[list[float]]
FloatArray = npt.NDArray[np.floating[Any]]


# --------------------------------------------------------------------------------------
# Initial conditions
# --------------------------------------------------------------------------------------


def block_bounds(n: int) -> tuple[int, int]:
    """The book's hot block ``[int(n*0.4), int(n*0.5))`` (n = 512: [204, 256))."""
    return int(n * 0.4), int(n * 0.5)


def initial_grid(
    n: int, dims: int = 2, dtype: npt.DTypeLike = np.float64, value: float = 0.005
) -> FloatArray:
    """Zeros with the block ``[lo:hi]`` (per axis) set to 0.005: the book's start."""
    if dims not in (1, 2):
        raise ValueError(f"dims must be 1 or 2, got {dims}")
    grid = np.zeros((n,) * dims, dtype=dtype)
    lo, hi = block_bounds(n)
    grid[(slice(lo, hi),) * dims] = value
    return grid


def initial_grid_lists(n: int, value: float = 0.005) -> Grid:
    """The book's 2-D start as a list of **independent** row lists (the corrected version)."""
    grid = [[0.0] * n for _ in range(n)]
    lo, hi = block_bounds(n)
    for i in range(lo, hi):
        for j in range(lo, hi):
            grid[i][j] = value
    return grid


# --------------------------------------------------------------------------------------
# Pure Python, lists (corrected)
# --------------------------------------------------------------------------------------


def evolve_python(grid: Grid, dt: float = DT, D: float = D, out: Grid | None = None) -> Grid:
    """One step of the book's list code, corrected: reads only ``grid``, writes a separate
    ``out`` (independent rows) and returns it. Op order "P":
    ``new = g + (D*(xx + yy))*dt`` with ``xx = (up + down) - 2g``, ``yy = (left + right) - 2g``
    (``up`` = row i-1)."""
    rows, cols = len(grid), len(grid[0])
    if out is None:
        out = [[0.0] * cols for _ in range(rows)]
    for i in range(rows):
        up, row, down = grid[i - 1], grid[i], grid[(i + 1) % rows]
        new = out[i]
        for j in range(cols):
            g = row[j]
            xx = up[j] + down[j] - 2.0 * g
            yy = row[j - 1] + row[(j + 1) % cols] - 2.0 * g
            new[j] = g + D * (xx + yy) * dt
    return out


def run_python(grid: Grid, steps: int, dt: float = DT, D: float = D) -> Grid:
    """``steps`` steps with two grids swapped (the book's "reduced allocation" loop, with
    independent rows). ``grid`` itself is not modified."""
    current = [row[:] for row in grid]
    scratch = [[0.0] * len(row) for row in grid]
    for _ in range(steps):
        scratch = evolve_python(current, dt, D, out=scratch)
        current, scratch = scratch, current
    return current


def evolve_python_1d(grid: list[float], dt: float = DT, D: float = D) -> list[float]:
    """The book's 1-D list version (it is correct): the Laplacian goes to a separate list
    first, then ``new = g + D*lap*dt``."""
    n = len(grid)
    lap = [grid[(i + 1) % n] + grid[i - 1] - 2.0 * grid[i] for i in range(n)]
    return [grid[i] + D * lap[i] * dt for i in range(n)]


# --------------------------------------------------------------------------------------
# The book's buggy list code: reproduced only on explicit request
# --------------------------------------------------------------------------------------


def book_aliased_grid(n: int, value: float = 0.005) -> Grid:
    """BOOK BUG 1, reproduced: ``[[0.0] * n] * n`` makes n references to **one** row list.

    Writing ``grid[i][j]`` therefore writes column ``j`` of every row: the "block"
    initialisation sets columns ``[lo, hi)`` in all rows, n x (hi - lo) cells instead of
    (hi - lo)^2 (n = 64: 448 non-zero cells instead of 49, sum 2.24 instead of 0.245).
    Use :func:`initial_grid_lists` for the intended grid.
    """
    row = [0.0] * n
    grid = [row] * n  # the bug: every row is the same list object
    lo, hi = block_bounds(n)
    for i in range(lo, hi):
        for j in range(lo, hi):
            grid[i][j] = value
    return grid


def evolve_book_returns_old_grid(grid: Grid, dt: float = DT, D: float = D) -> Grid:
    """BOOK BUG 2, reproduced: the allocating version builds ``new_grid`` and then
    ``return grid`` - the old one - so a simulation built on it never changes.
    (The corrected version is :func:`evolve_python`.)"""
    rows, cols = len(grid), len(grid[0])
    new_grid = [[0.0] * cols for _ in range(rows)]
    for i in range(rows):
        for j in range(cols):
            xx = grid[(i + 1) % rows][j] + grid[i - 1][j] - 2.0 * grid[i][j]
            yy = grid[i][(j + 1) % cols] + grid[i][j - 1] - 2.0 * grid[i][j]
            new_grid[i][j] = grid[i][j] + D * (xx + yy) * dt
    return grid  # the bug: should be new_grid


def run_book_aliased(n: int = 64, steps: int = 10, dt: float = DT, D: float = D) -> Grid:
    """BOOK BUG 1 + 3, reproduced: the "reduced allocation" loop on aliased grids.

    Both the grid and the scratch grid are n references to one row each (bug 1), so every
    write of a step lands in one shared row that is also being read: each step is a 1-D
    smear of that single row, not 2-D diffusion. WORKLOADS.md: n = 64, 10 steps gives
    sum 2.24 (unchanged) and max 0.004930069168 - against the correct 0.245 and
    0.00486040176 (:func:`run_python` on :func:`initial_grid_lists`).
    """
    grid = book_aliased_grid(n)
    scratch = [[0.0] * n] * n  # aliased too
    for _ in range(steps):
        for i in range(n):
            for j in range(n):
                xx = grid[(i + 1) % n][j] + grid[(i - 1) % n][j] - 2.0 * grid[i][j]
                yy = grid[i][(j + 1) % n] + grid[i][(j - 1) % n] - 2.0 * grid[i][j]
                scratch[i][j] = grid[i][j] + D * (xx + yy) * dt
        grid, scratch = scratch, grid
    return grid


# --------------------------------------------------------------------------------------
# numpy
# --------------------------------------------------------------------------------------


def _factor(grid: FloatArray, dt: float, D: float) -> Any:
    """``D*dt`` rounded once in float64, then to the grid's dtype (float32 grids)."""
    return grid.dtype.type(D * dt)


def step_order_s(grid: FloatArray, dt: float = DT, D: float = D) -> FloatArray:
    """One step in the canonical order S, for float64 and float32 1-D/2-D grids - the
    operation order ``hpkit.kernels`` reproduces bit for bit::

        xx = (up + down) - 2g;  yy = (left + right) - 2g;  new = g + (D*dt) * (xx + yy)
        1-D: new = g + (D*dt) * ((left + right) - 2g)

    ``D*dt`` is computed once in float64 and then rounded to the grid's dtype."""
    f = _factor(grid, dt, D)
    two = grid.dtype.type(2.0)
    two_g = two * grid
    if grid.ndim == 1:
        return grid + f * ((np.roll(grid, 1) + np.roll(grid, -1)) - two_g)
    xx = (np.roll(grid, 1, 0) + np.roll(grid, -1, 0)) - two_g
    yy = (np.roll(grid, 1, 1) + np.roll(grid, -1, 1)) - two_g
    return grid + f * (xx + yy)


def run_order_s(grid: FloatArray, steps: int, dt: float = DT, D: float = D) -> FloatArray:
    """``steps`` steps of :func:`step_order_s` (a new array; ``grid`` is untouched)."""
    for _ in range(steps):
        grid = step_order_s(grid, dt, D)
    return np.array(grid, copy=True) if steps == 0 else grid


def laplacian_naive(grid: FloatArray) -> FloatArray:
    """The book's first numpy Laplacian (``np.roll`` on each axis and direction)."""
    return (
        np.roll(grid, +1, 0)
        + np.roll(grid, -1, 0)
        + np.roll(grid, +1, 1)
        + np.roll(grid, -1, 1)
        - 4 * grid
    )


def step_numpy_naive(grid: FloatArray, dt: float = DT, D: float = D) -> FloatArray:
    """The book's first numpy version: new arrays every step (order N)."""
    return grid + dt * D * laplacian_naive(grid)


def run_numpy_naive(grid: FloatArray, steps: int, dt: float = DT, D: float = D) -> FloatArray:
    for _ in range(steps):
        grid = step_numpy_naive(grid, dt, D)
    return grid


def laplacian_inplace(grid: FloatArray, out: FloatArray) -> None:
    """The book's in-place Laplacian: ``np.roll`` results added into one ``out`` array."""
    np.copyto(out, grid)
    out *= -4
    out += np.roll(grid, +1, 0)
    out += np.roll(grid, -1, 0)
    out += np.roll(grid, +1, 1)
    out += np.roll(grid, -1, 1)


def run_numpy_inplace(
    grid: FloatArray,
    steps: int,
    dt: float = DT,
    D: float = D,
    laplacian: Callable[[FloatArray, FloatArray], None] | None = None,
) -> FloatArray:
    """The book's in-place numpy version (order I): two arrays reused for every step,
    ``next = lap*(D*dt) + grid`` then swapped, the Laplacian written by ``laplacian``
    (default :func:`laplacian_inplace`). ``grid`` itself is not modified."""
    laplacian = laplacian or laplacian_inplace
    grid = grid.copy()
    scratch = np.empty_like(grid)
    for _ in range(steps):
        laplacian(grid, scratch)
        scratch *= D * dt
        scratch += grid
        grid, scratch = scratch, grid
    return grid


def roll_add(rollee: FloatArray, shift: int, axis: int, out: FloatArray) -> None:
    """The book's ``roll_add``: ``out += np.roll(rollee, shift, axis)`` without the
    temporary array, as two slice additions (2-D grids, shift +1 or -1)."""
    if shift == 1 and axis == 0:
        out[1:, :] += rollee[:-1, :]
        out[0, :] += rollee[-1, :]
    elif shift == -1 and axis == 0:
        out[:-1, :] += rollee[1:, :]
        out[-1, :] += rollee[0, :]
    elif shift == 1 and axis == 1:
        out[:, 1:] += rollee[:, :-1]
        out[:, 0] += rollee[:, -1]
    elif shift == -1 and axis == 1:
        out[:, :-1] += rollee[:, 1:]
        out[:, -1] += rollee[:, 0]
    else:
        raise ValueError(f"shift must be +1 or -1 and axis 0 or 1, got {shift}, {axis}")


def laplacian_roll_add(grid: FloatArray, out: FloatArray) -> None:
    """The in-place Laplacian with :func:`roll_add`: the same additions in the same order
    as :func:`laplacian_inplace`, so the same bits, and no temporaries."""
    np.copyto(out, grid)
    out *= -4
    roll_add(grid, +1, 0, out)
    roll_add(grid, -1, 0, out)
    roll_add(grid, +1, 1, out)
    roll_add(grid, -1, 1, out)


def run_numpy_roll_add(grid: FloatArray, steps: int, dt: float = DT, D: float = D) -> FloatArray:
    """The book's fastest pure-numpy version: :func:`run_numpy_inplace` with
    :func:`laplacian_roll_add` (order I, no allocation per step)."""
    return run_numpy_inplace(grid, steps, dt, D, laplacian=laplacian_roll_add)


def stats(grid: Any) -> tuple[float, float, float]:
    """(sum, max, sum of squares) - the figures WORKLOADS.md lists, for any grid."""
    arr = np.asarray(grid, dtype=np.float64)
    return float(arr.sum()), float(arr.max()), float((arr * arr).sum())
