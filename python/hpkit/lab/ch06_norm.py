"""Chapter 6 (and 7): the vector norm ``sum(v * v for v in range(N))``.

The book's opening example for vectorisation: a list loop, a generator, the ``array``
module, numpy, numexpr. Every row is checked against the exact closed form
``(N-1)·N·(2N-1)/6`` before it is timed. Integer results must be exact: at N = 10**7 the
sum (3.3e20) no longer fits int64, so numpy's int64 versions wrap around and are shown
FAILED with the wrong value. Float results cannot be exact (the sum is above 2**53); they
are accepted within ``max(1e-12, (N-1)·2**-53)`` relative - WORKLOADS.md's default, or the
worst-case bound of any float64 summation order, whichever is looser - and each row shows
its actual error (numpy's pairwise sum and BLAS ``dot`` about 1e-15, numexpr's running
sum about 1e-12, hpkit's compensated sum below 1e-16). Inputs are built before timing.
"""

from __future__ import annotations

import array
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from hpkit import kernels
from hpkit.lab.host import dig
from hpkit.lab.model import (
    Check,
    Experiment,
    Implementation,
    Kind,
    LimitModel,
    Param,
    Params,
    Workload,
)
from hpkit.lab.peers import require
from hpkit.reference import norm as book

#: WORKLOADS.md's default tolerance for float results against the exact integer sum
FLOAT_REL_TOLERANCE = 1e-12
#: bytes of input per element (int64 or float64)
BYTES_PER_ELEMENT = 8


def _n(params: Params) -> int:
    n = params["n"]
    assert isinstance(n, int)
    return n


def _list(params: Params) -> Workload:
    vector = list(range(_n(params)))
    return lambda: book.norm_square_list(vector)


def _generator(params: Params) -> Workload:
    vector = list(range(_n(params)))
    return lambda: book.norm_square_generator(vector)


def _array_module(params: Params) -> Workload:
    vector = array.array("q", range(_n(params)))
    return lambda: book.norm_square_array(vector)


def _numpy(kind: str, dtype: type) -> Implementation:
    function = book.norm_square_numpy_dot if kind == "dot" else book.norm_square_numpy
    label = "np.dot(v, v)" if kind == "dot" else "np.sum(v * v)"

    def setup(params: Params) -> Workload:
        vector: npt.NDArray[Any] = np.arange(_n(params), dtype=dtype)
        return lambda: function(vector)

    name = f"numpy {label} {np.dtype(dtype).name}"
    note = f"book's norm_square_numpy{'_dot' * (kind == 'dot')}"
    wraps = "int64 wraps around past 2**63 - 1" if np.dtype(dtype) == np.int64 else None
    return Implementation(name, Kind.NUMPY, setup, note, known_issue=wraps)


def _numexpr(params: Params) -> Workload:
    numexpr = require("numexpr")
    vector = np.arange(_n(params), dtype=np.float64)
    return lambda: numexpr.evaluate("sum(vector * vector)", local_dict={"vector": vector})


def _hpkit_int(threads: int | None) -> Callable[[Params], Workload]:
    def setup(params: Params) -> Workload:
        vector = np.arange(_n(params), dtype=np.int64)
        return lambda: kernels.sum_of_squares(vector, threads=threads)

    return setup


def _hpkit_float(params: Params) -> Workload:
    vector = np.arange(_n(params), dtype=np.float64)
    return lambda: kernels.sum_of_squares(vector)


def _hpkit_range(params: Params) -> Workload:
    n = _n(params)
    return lambda: kernels.sum_of_squares(range(n))


ALL_THREADS = kernels.default_threads()
ONE_THREAD_INT = "hpkit int64 exact, 1 thread"


def _implementations() -> tuple[Implementation, ...]:
    path = kernels.numeric_simd("norm")
    return (
        Implementation("pure Python list loop", Kind.REFERENCE, _list, "norm += v * v"),
        Implementation(
            "pure Python generator", Kind.REFERENCE, _generator, "sum(v * v for v in vector)"
        ),
        Implementation("array module loop", Kind.REFERENCE, _array_module, "array('q'), same loop"),
        _numpy("dot", np.int64),
        _numpy("sum", np.int64),
        _numpy("dot", np.float64),
        _numpy("sum", np.float64),
        Implementation("numexpr float64", Kind.PEER, _numexpr, "evaluate('sum(vector * vector)')"),
        Implementation(
            ONE_THREAD_INT, Kind.HPKIT, _hpkit_int(1), f"u128 accumulator, {path}", workers=1
        ),
        Implementation(
            "hpkit int64 exact, all threads",
            Kind.HPKIT,
            _hpkit_int(None),
            f"{ALL_THREADS} threads, {path}",
            workers=ALL_THREADS,
            serial=ONE_THREAD_INT,
        ),
        Implementation(
            "hpkit float64 Dot2, all threads",
            Kind.HPKIT,
            _hpkit_float,
            f"compensated, {ALL_THREADS} threads",
        ),
        Implementation(
            "hpkit from range(N)",
            Kind.HPKIT,
            _hpkit_range,
            "sum_of_squares(range(N)): includes numpy.arange",
        ),
    )


def _canonical(params: Params, output: object) -> int | float:
    """numpy scalars (and numexpr's 0-d arrays) to Python numbers; ints stay exact."""
    if isinstance(output, np.ndarray) and output.shape == ():
        output = output[()]
    if isinstance(output, np.integer | int):
        return int(output)
    if isinstance(output, np.floating | float):
        return float(output)
    raise TypeError(f"expected a number, got {type(output).__name__}")


def float_tolerance(n: int) -> float:
    """Relative error allowed for a float64 result: WORKLOADS.md's 1e-12, or (n-1)·2**-53,
    the a-priori bound of summing n non-negative terms in any order, if looser."""
    return max(FLOAT_REL_TOLERANCE, (n - 1) * 2.0**-53)


def _validate(params: Params, value: int | float, oracle: int | float | None) -> Check:
    n = _n(params)
    exact = book.closed_form(n)
    if isinstance(value, int):
        if value == exact:
            return Check(True, f"{value:,} = (N-1)N(2N-1)/6 exactly")
        wrapped = (exact + 2**63) % 2**64 - 2**63
        why = " (int64 wrapped around: the exact sum exceeds 2**63 - 1)" if value == wrapped else ""
        return Check(False, f"got {value:,}, exact is {exact:,}{why}")
    relative = abs(value - exact) / exact if exact else abs(value)
    tolerance = float_tolerance(n)
    if relative <= tolerance:
        return Check(True, f"{value!r}, rel. error {relative:.1e} (tolerance {tolerance:.1e})")
    return Check(False, f"{value!r} is off by {relative:.1e} relative (tolerance {tolerance:.1e})")


def _gigabytes(params: Params, oracle: object) -> float:
    return BYTES_PER_ELEMENT * _n(params) / 1e9


def _dram_bandwidth(machine: Mapping[str, Any]) -> float | None:
    bandwidth = dig(machine, "limits.dram_bandwidth_gbs")
    return float(bandwidth) if isinstance(bandwidth, int | float) else None


EXPERIMENT = Experiment(
    name="norm",
    chapter=6,
    title="Vector norm: Σ v·v for v in range(N), exact",
    params=(Param("n", full=10_000_000, quick=1_000_000, help="vector length N", minimum=0),),
    implementations=_implementations(),
    canonical=_canonical,
    validate=_validate,
    limit=LimitModel(
        label="% of DRAM bandwidth",
        rate_unit="GB/s",
        work=_gigabytes,
        peak=_dram_bandwidth,
        explanation=(
            "8 bytes of input per element, read once, against the machine's measured DRAM "
            "bandwidth (vectors that fit in cache can go beyond 100%; for Python containers "
            "the figure is nominal, their objects are larger)"
        ),
    ),
    notes=(
        "Checked against the closed form (N-1)N(2N-1)/6: integers exactly, floats within "
        "max(1e-12, (N-1)·2**-53) relative (the looser of WORKLOADS.md's default and the "
        "worst-case bound of float64 summation); each row shows its actual error. numpy "
        "int64 wraps around silently beyond 2**63 - 1 (N = 10**7), so those rows fail there.",
        "hpkit: int64 summed exactly in a u128 (an overflow is an error, never a wrap); "
        "float64 by Ogita-Rump-Oishi Dot2 (exact products, compensated sums). Inputs are "
        "built before timing, except 'from range(N)', which includes numpy.arange.",
    ),
)
