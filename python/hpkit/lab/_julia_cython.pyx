# cython: language_level=3, boundscheck=False, wraparound=False
# distutils: extra_compile_args = -O3 -ffp-contract=off
"""The book's chapter 7 Cython Julia kernel: typed loop over flat complex memoryviews.

Compiled on first use by pyximport (see hpkit.lab.peers.cython_module). The escape test is
the book's expanded |z|^2 < 4, which gives exactly the pure-Python counts (WORKLOADS.md,
Ch2). ``-ffp-contract=off`` keeps the C compiler from fusing multiply-adds (FMA rounds
once, not twice), which would change counts on some pixels.
"""

import numpy as np


def calculate_z(int maxiter, double complex[:] zs, double complex[:] cs):
    """Escape count of every start point in ``zs`` (constants ``cs``), as an int32 array."""
    cdef Py_ssize_t i
    cdef int n
    cdef double complex z, c
    output_array = np.empty(zs.shape[0], dtype=np.int32)
    cdef int[:] output = output_array
    for i in range(zs.shape[0]):
        n = 0
        z = zs[i]
        c = cs[i]
        while n < maxiter and (z.real * z.real + z.imag * z.imag) < 4:
            z = z * z + c
            n += 1
        output[i] = n
    return output_array
