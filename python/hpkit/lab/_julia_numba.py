"""The chapter 7 Numba versions of the Julia kernel (imported only when Numba is installed).

``calculate_z_serial`` is the book's pure-Python loop over a flat complex array under
``@njit``; ``calculate_z_rows`` spreads the rows over every thread with ``prange``, the
natural parallel version. Both keep the book's ``abs(z) < 2`` test and Python's complex
arithmetic, so they give exactly the pure-Python counts. ``fastmath`` stays off: it
would allow re-association and FMA, which change counts on some pixels.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit, prange


@njit(cache=False)
def calculate_z_serial(
    maxiter: int, zs: npt.NDArray[np.complex128], cs: npt.NDArray[np.complex128]
) -> npt.NDArray[np.int32]:
    output = np.empty(len(zs), dtype=np.int32)
    for i in range(len(zs)):
        n = 0
        z = zs[i]
        c = cs[i]
        while n < maxiter and abs(z) < 2:
            z = z * z + c
            n += 1
        output[i] = n
    return output


@njit(parallel=True, cache=False)
def calculate_z_rows(
    maxiter: int, zs: npt.NDArray[np.complex128], c: complex
) -> npt.NDArray[np.int32]:
    rows, cols = zs.shape
    output = np.empty((rows, cols), dtype=np.int32)
    for j in prange(rows):
        for i in range(cols):
            n = 0
            z = zs[j, i]
            while n < maxiter and abs(z) < 2:
                z = z * z + c
                n += 1
            output[j, i] = n
    return output
