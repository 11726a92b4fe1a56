# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# distutils: extra_compile_args = -O3 -ffp-contract=off
"""The book's chapter 7 Cython treatment of the diffusion step: typed memoryviews, bounds
and wrap-around checks off, the periodic neighbours computed once per row and column
instead of ``%`` in the inner loop, two grids swapped.

Compiled on first use by pyximport (see hpkit.lab.peers.cython_module). Written in
WORKLOADS.md's order S (``xx = (up + down) - 2g``, ``yy = (left + right) - 2g``,
``new = g + (D*dt)*(xx + yy)``), so it gives hpkit's and numpy's order-S answer bit for
bit; ``-ffp-contract=off`` keeps the C compiler from fusing the multiply-add (an FMA
rounds once, not twice, and would change the last bits).
"""

import numpy as np


def evolve(double[:, ::1] grid, Py_ssize_t steps, double dt, double D):
    """``grid`` advanced ``steps`` explicit-Euler steps (a new array)."""
    cdef Py_ssize_t rows = grid.shape[0], cols = grid.shape[1]
    cdef Py_ssize_t s, i, j, up, down, left, right
    cdef double f = D * dt
    cdef double g, two_g, xx, yy
    first = np.array(grid, dtype=np.float64, copy=True)
    second = np.empty_like(first)
    cdef double[:, ::1] cur = first
    cdef double[:, ::1] nxt = second
    cdef double[:, ::1] tmp
    for s in range(steps):
        for i in range(rows):
            up = i - 1 if i > 0 else rows - 1
            down = i + 1 if i < rows - 1 else 0
            for j in range(cols):
                left = j - 1 if j > 0 else cols - 1
                right = j + 1 if j < cols - 1 else 0
                g = cur[i, j]
                two_g = 2.0 * g
                xx = (cur[up, j] + cur[down, j]) - two_g
                yy = (cur[i, left] + cur[i, right]) - two_g
                nxt[i, j] = g + f * (xx + yy)
        tmp = cur
        cur = nxt
        nxt = tmp
    return np.asarray(cur)
