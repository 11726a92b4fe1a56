"""The Julia set as the book writes it (chapter 2), plus the numpy vectorised version.

The coordinate lists are built by repeated float addition exactly as in the book, which
is why width 10 gives an 11 x 11 grid; the known answer at width 1000, 300 iterations is
``sum(output) == 33219980``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

X1, X2, Y1, Y2 = -1.8, 1.8, -1.8, 1.8
C_REAL, C_IMAG = -0.62772, -0.42193


def build_axes(
    desired_width: int, bounds: tuple[float, float, float, float] = (X1, X2, Y1, Y2)
) -> tuple[list[float], list[float]]:
    """The book's x and y coordinate lists (float accumulation)."""
    x1, x2, y1, y2 = bounds
    x_step = (x2 - x1) / desired_width
    y_step = (y1 - y2) / desired_width
    x = []
    y = []
    ycoord = y2
    while ycoord > y1:
        y.append(ycoord)
        ycoord += y_step
    xcoord = x1
    while xcoord < x2:
        x.append(xcoord)
        xcoord += x_step
    return x, y


def build_zs_cs(
    desired_width: int, c: complex = complex(C_REAL, C_IMAG)
) -> tuple[list[complex], list[complex], int, int]:
    """The book's flat lists of start points and constants, y as the outer loop."""
    x, y = build_axes(desired_width)
    zs = []
    cs = []
    for ycoord in y:
        for xcoord in x:
            zs.append(complex(xcoord, ycoord))
            cs.append(c)
    return zs, cs, len(y), len(x)


def calculate_z_serial_purepython(maxiter: int, zs: list[complex], cs: list[complex]) -> list[int]:
    """Calculate output list using the Julia update rule (the book's inner loop)."""
    output = [0] * len(zs)
    for i in range(len(zs)):
        n = 0
        z = zs[i]
        c = cs[i]
        while abs(z) < 2 and n < maxiter:
            z = z * z + c
            n += 1
        output[i] = n
    return output


def calc_pure_python(desired_width: int, max_iterations: int) -> npt.NDArray[np.int32]:
    """The whole pure-Python computation; the escape counts as a (rows, cols) array."""
    zs, cs, rows, cols = build_zs_cs(desired_width)
    output = calculate_z_serial_purepython(max_iterations, zs, cs)
    return np.array(output, dtype=np.int32).reshape(rows, cols)


def calculate_z_numpy(
    maxiter: int, zs: npt.NDArray[np.complex128], c: complex
) -> npt.NDArray[np.int32]:
    """Vectorised: update only the points still inside, and shrink that set as they escape.

    Keeping the active points (and their indices) in compact arrays makes each iteration
    cost what is left, not the whole grid - the fastest plain-numpy formulation.
    """
    flat = zs.ravel()
    output = np.zeros(flat.shape, dtype=np.int32)
    idx = np.flatnonzero(np.abs(flat) < 2)
    z = flat[idx]
    for _ in range(maxiter):
        if idx.size == 0:
            break
        z = z * z + c
        output[idx] += 1
        keep = np.abs(z) < 2
        idx = idx[keep]
        z = z[keep]
    return output.reshape(zs.shape)


def calc_numpy(desired_width: int, max_iterations: int) -> npt.NDArray[np.int32]:
    """The numpy version on the book's grid; the escape counts as a (rows, cols) array."""
    x, y = build_axes(desired_width)
    zs = np.array(x)[np.newaxis, :] + 1j * np.array(y)[:, np.newaxis]
    return calculate_z_numpy(max_iterations, zs, complex(C_REAL, C_IMAG))
