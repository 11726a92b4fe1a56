"""The vector norm as the book writes it (chapter 6's opening example, again in chapter 7).

The book squares and sums ``range(N)`` in a list loop, a generator, the ``array`` module
and numpy. Python ints make the first three exact; numpy's ``int64`` silently wraps
around once the sum passes 2**63 - 1 (``N = 10**7``: 1,291,890,006,563,070,912 instead of
333,333,283,333,335,000,000), and ``float64`` rounds above 2**53 (relative error about
5e-15). The exact answer has a closed form, :func:`closed_form`.
"""

from __future__ import annotations

import array
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt


def norm_square_list(vector: Iterable[Any]) -> Any:
    """The book's loop: ``norm += v * v`` (exact for Python ints)."""
    norm = 0
    for v in vector:
        norm += v * v
    return norm


def norm_square_list_comprehension(vector: Iterable[Any]) -> Any:
    """``sum([v * v for v in vector])``: builds the whole list of squares first."""
    return sum([v * v for v in vector])


def norm_square_generator(vector: Iterable[Any]) -> Any:
    """``sum(v * v for v in vector)``: the same without the intermediate list."""
    return sum(v * v for v in vector)


def norm_square_array(vector: array.array) -> int | float:
    """The loop over an ``array.array`` (typecode ``'q'`` or ``'d'``): compact storage,
    but every element is boxed into a Python object on access, so no faster."""
    norm = 0
    for v in vector:
        norm += v * v
    return norm


def norm_square_numpy(vector: npt.NDArray[Any]) -> Any:
    """``np.sum(vector * vector)``: a temporary array of squares, then pairwise summation.
    Wraps around for int64 past 2**63 - 1."""
    return np.sum(vector * vector)


def norm_square_numpy_dot(vector: npt.NDArray[Any]) -> Any:
    """``np.dot(vector, vector)``: BLAS for float64, a plain loop for int64 (which wraps)."""
    return np.dot(vector, vector)


def closed_form(n: int) -> int:
    """``sum(v * v for v in range(n))`` without the loop: (n - 1)·n·(2n - 1) / 6."""
    return (n - 1) * n * (2 * n - 1) // 6 if n > 0 else 0


def correctly_rounded_sqrt(n: int) -> float:
    """``sqrt(n)`` of a non-negative int, correctly rounded (``math.sqrt(n)`` converts
    ``n`` to float first and can be off by one ulp for n above 2**53).

    ``q = isqrt(n·4^k)`` with at least 55 bits; ``q | 1`` marks "something below" without
    changing how ``q`` rounds, and Python's int-to-float conversion rounds correctly.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if n == 0:
        return 0.0
    k = max(0, (110 - n.bit_length()) // 2 + 1)
    scaled = n << (2 * k)
    q = math.isqrt(scaled)
    if q * q != scaled:
        q |= 1
    return math.ldexp(float(q), -k)


def exact_sum_of_squares(values: Sequence[float] | Sequence[int]) -> int | float:
    """The exact sum of squares: an int for ints, else the float nearest the exact
    rational value (``fractions.Fraction``; slow, for tests)."""
    from fractions import Fraction

    if all(isinstance(v, int) for v in values):
        return sum(int(v) * int(v) for v in values)
    total = sum((Fraction(v) ** 2 for v in values), Fraction(0))
    return float(total)
