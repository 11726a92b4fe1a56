"""The chapter 7 Numba versions of the diffusion step (imported only when Numba is installed).

``run_book`` is the book's ``@jit`` loop: the list code's formula on a numpy grid, periodic
neighbours by ``%`` in the inner loop, one thread, two grids swapped. ``run_rows`` is the
natural parallel version: rows spread over every thread with ``prange``, the wrap-around
taken out of the inner loop. Both keep the list code's operation order (order "P",
``g + (D*(xx + yy))*dt``), which WORKLOADS.md accepts within ``abs 1e-15`` of order S.
``fastmath`` stays off: it would allow re-association and FMA.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit, prange

Grid = npt.NDArray[np.float64]


@njit(cache=False)
def evolve_book(grid: Grid, dt: float, out: Grid, D: float) -> None:
    rows, cols = grid.shape
    for i in range(rows):
        for j in range(cols):
            xx = grid[(i + 1) % rows, j] + grid[(i - 1) % rows, j] - 2.0 * grid[i, j]
            yy = grid[i, (j + 1) % cols] + grid[i, (j - 1) % cols] - 2.0 * grid[i, j]
            out[i, j] = grid[i, j] + D * (xx + yy) * dt


@njit(cache=False)
def run_book(grid: Grid, steps: int, dt: float, D: float) -> Grid:
    current = grid.copy()
    scratch = np.empty_like(grid)
    for _ in range(steps):
        evolve_book(current, dt, scratch, D)
        current, scratch = scratch, current
    return current


@njit(parallel=True, cache=False)
def evolve_rows(grid: Grid, dt: float, out: Grid, D: float) -> None:
    rows, cols = grid.shape
    for i in prange(rows):
        up = grid[i - 1] if i > 0 else grid[rows - 1]
        down = grid[i + 1] if i < rows - 1 else grid[0]
        row = grid[i]
        new = out[i]
        for j in range(cols):
            left = row[j - 1] if j > 0 else row[cols - 1]
            right = row[j + 1] if j < cols - 1 else row[0]
            g = row[j]
            xx = up[j] + down[j] - 2.0 * g
            yy = left + right - 2.0 * g
            new[j] = g + D * (xx + yy) * dt


@njit(cache=False)
def run_rows(grid: Grid, steps: int, dt: float, D: float) -> Grid:
    current = grid.copy()
    scratch = np.empty_like(grid)
    for _ in range(steps):
        evolve_rows(current, dt, scratch, D)
        current, scratch = scratch, current
    return current
