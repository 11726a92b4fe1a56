"""hpkit.kernels.sum_of_squares / norm against the book's pure-Python loop, the exact
closed form and the known answers of WORKLOADS.md ("Vector norm")."""

from __future__ import annotations

import array
import math
from decimal import Context, Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hpkit
from hpkit import kernels
from hpkit.reference import norm as ref

PATHS = kernels.simd_paths()
THREADS = [1, 2, None]

# WORKLOADS.md, "Vector norm (ch6)", verified by oracles/ch7_norm.py
EXACT = {10**6: 333_332_833_333_500_000, 10**7: 333_333_283_333_335_000_000}
NUMPY_INT64_WRAP_1E7 = 1_291_890_006_563_070_912


@pytest.mark.parametrize("n", sorted(EXACT))
def test_known_answers_exact(n: int) -> None:
    assert ref.closed_form(n) == EXACT[n]
    got = kernels.sum_of_squares(range(n))
    assert type(got) is int and got == EXACT[n]
    assert kernels.sum_of_squares(np.arange(n, dtype=np.int64)) == EXACT[n]
    assert kernels.norm(range(n)) == ref.correctly_rounded_sqrt(EXACT[n])


def test_numpy_int64_wraps_where_hpkit_does_not() -> None:
    a = np.arange(10**7, dtype=np.int64)
    wrapped = int(np.dot(a, a))
    assert wrapped == NUMPY_INT64_WRAP_1E7 != EXACT[10**7]
    assert kernels.sum_of_squares(a) == EXACT[10**7]
    assert EXACT[10**7] > 2**63 - 1  # beyond int64: only an exact accumulator gets it


@pytest.mark.parametrize("simd", PATHS)
@pytest.mark.parametrize("threads", THREADS)
def test_every_path_and_thread_count(simd: str, threads: int | None) -> None:
    rng = np.random.default_rng(5)
    # values beyond 2**32 take the kernel's full three-product pass; the extremes too
    ints = rng.integers(-(2**50), 2**50, 100_003, dtype=np.int64, endpoint=True)
    ints[:3] = [-(2**63), 2**63 - 1, 0]
    assert kernels.sum_of_squares(ints, simd=simd, threads=threads) == sum(
        int(v) * int(v) for v in ints.tolist()
    )
    floats = rng.standard_normal(100_003) * 1e3
    expected = kernels.sum_of_squares(floats, simd="scalar", threads=1)
    got = kernels.sum_of_squares(floats, simd=simd, threads=threads)
    assert got == expected  # bit for bit: fixed summation order on every path
    assert got == pytest.approx(ref.exact_sum_of_squares(floats.tolist()), rel=2**-52)


def test_book_versions_agree() -> None:
    n = 10_000
    vector = list(range(n))
    exact = ref.closed_form(n)
    assert ref.norm_square_list(vector) == exact
    assert ref.norm_square_list_comprehension(vector) == exact
    assert ref.norm_square_generator(vector) == exact
    assert ref.norm_square_array(array.array("q", vector)) == exact
    assert int(ref.norm_square_numpy(np.arange(n))) == exact
    assert int(ref.norm_square_numpy_dot(np.arange(n))) == exact
    assert kernels.sum_of_squares(vector) == exact
    assert kernels.sum_of_squares(array.array("q", vector)) == exact


# --- accuracy of the float path ---------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e150, max_value=1e150)


@settings(max_examples=200, deadline=None)
@given(st.lists(finite, max_size=300))
def test_float_sum_within_one_rounding_of_exact(values: list[float]) -> None:
    exact = ref.exact_sum_of_squares(values) if values else 0.0
    got = kernels.sum_of_squares(np.array(values, dtype=np.float64))
    # Dot2 bound: u·S + γ_n²·S, u = 2**-53 (one rounding; the second term is negligible)
    assert abs(got - exact) <= exact * 2**-52
    # math.fsum of the rounded squares is off by up to n/2 ulps of the squares; hpkit
    # computes the squares exactly, so it is never worse than that bound
    fsum = math.fsum(v * v for v in values)
    assert abs(got - fsum) <= exact * (len(values) + 2) * 2**-53


# adversarial: huge dynamic range, many tiny terms after a big one, values whose squares
# round badly (odd 27-bit mantissas), sums that cancel nothing but accumulate error
adversarial = st.one_of(
    st.lists(st.sampled_from([1e100, 1.0, 1e-100, 3.0, 1e50]), min_size=1, max_size=500),
    st.lists(
        st.integers(1, 2**27 - 1).map(lambda m: (2 * m + 1) * 2.0**-27), min_size=1, max_size=500
    ),
    st.builds(lambda big, n: [big] + [1.0] * n, finite, st.integers(1, 3000)),
)


@settings(max_examples=100, deadline=None)
@given(adversarial)
def test_float_sum_adversarial(values: list[float]) -> None:
    exact = ref.exact_sum_of_squares(values)
    got = kernels.sum_of_squares(values)
    assert abs(got - exact) <= exact * 2**-52
    naive = 0.0
    for v in values:
        naive += v * v
    assert abs(got - exact) <= abs(naive - exact) + exact * 2**-53


def test_ones_after_a_big_value_are_not_lost() -> None:
    # 2**27 squared is 2**54: adding 1.0 to it one at a time is lost in naive summation
    values = [2.0**27] + [1.0] * 10_000
    assert kernels.sum_of_squares(values) == 2.0**54 + 10_000
    assert sum(v * v for v in values) == 2.0**54  # the naive loop loses all of them


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=60))
def test_int_sum_and_norm_exact(values: list[int]) -> None:
    exact = sum(v * v for v in values)
    vector = np.array(values, dtype=np.int64)
    if exact > 2**128 - 1:  # beyond the u128 accumulator: an error, never a wrong number
        with pytest.raises(hpkit.HpkitOverflowError):
            kernels.sum_of_squares(vector)
        return
    assert kernels.sum_of_squares(vector) == exact
    assert kernels.norm(vector) == ref.correctly_rounded_sqrt(exact)


def test_int_norm_is_correctly_rounded_where_math_sqrt_is_not() -> None:
    # math.sqrt rounds the int to a float first, then rounds the root: twice
    v = np.array([2_624_990_630_713_340_405, 140_719_340_484], dtype=np.int64)
    s = sum(int(x) ** 2 for x in v)
    exact = float(Decimal(s).sqrt(Context(prec=100)))
    assert math.sqrt(s) != exact
    assert ref.correctly_rounded_sqrt(s) == exact
    assert kernels.norm(v) == exact


def test_norm_special_values() -> None:
    assert kernels.norm([3.0, 4.0]) == 5.0
    assert kernels.norm([1e200, 1e200]) == 1e200 * math.sqrt(2)  # no overflow in between
    assert kernels.norm([3e-200, 4e-200]) == pytest.approx(5e-200, rel=2**-52)
    assert kernels.norm([5e-324]) == 5e-324  # the smallest subnormal survives
    assert kernels.norm([math.inf, 1.0]) == math.inf
    assert math.isnan(kernels.norm([1.0, math.nan]))
    assert math.isnan(kernels.sum_of_squares([1.0, math.nan, math.inf]))
    assert kernels.sum_of_squares([math.inf, 1.0]) == math.inf
    assert kernels.sum_of_squares([1e300, 1e300]) == math.inf  # the sum overflows


# --- inputs: dtypes, shapes, containers ---------------------------------------------------


@pytest.mark.parametrize(
    "dtype", ["int8", "int16", "int32", "uint8", "uint16", "uint32", "uint64", ">i8", "<i4"]
)
def test_integer_dtypes_are_converted_exactly(dtype: str) -> None:
    values = np.array([0, 1, 7, 100, 127], dtype=dtype)
    result = kernels.sum_of_squares(values)
    assert type(result) is int and result == 1 + 49 + 10_000 + 127 * 127


@pytest.mark.parametrize("dtype", ["float16", "float32", ">f8"])
def test_float_dtypes_are_converted_exactly(dtype: str) -> None:
    values = np.array([0.5, 1.25, -3.0], dtype=dtype)
    assert kernels.sum_of_squares(values) == 0.25 + 1.5625 + 9.0


def test_shapes_containers_and_empty() -> None:
    grid = np.arange(12, dtype=np.float64).reshape(3, 4)
    assert kernels.norm(grid) == pytest.approx(float(np.linalg.norm(grid)), rel=1e-15)
    assert kernels.sum_of_squares(grid[:, ::2]) == float((grid[:, ::2] ** 2).sum())
    assert kernels.sum_of_squares(np.arange(20)[::3]) == sum(v * v for v in range(0, 20, 3))
    assert kernels.sum_of_squares(range(-5, 50, 7)) == sum(v * v for v in range(-5, 50, 7))
    assert kernels.sum_of_squares(v for v in range(10)) == 285
    assert kernels.sum_of_squares((1, 2, 3)) == 14
    assert kernels.sum_of_squares([1, 2.5]) == 7.25
    assert kernels.sum_of_squares(range(0)) == 0
    assert kernels.sum_of_squares(np.zeros(0, np.int64)) == 0
    assert kernels.sum_of_squares([]) == 0.0
    assert kernels.norm([]) == 0.0
    assert kernels.sum_of_squares(range(2**63 - 3, 2**63)) == sum(
        v * v for v in range(2**63 - 3, 2**63)
    )
    assert kernels.sum_of_squares([2**63 - 1, 2**63 - 1]) == 2 * (2**63 - 1) ** 2


@pytest.mark.parametrize(
    "x,exc,match",
    [
        (np.array([True, False]), TypeError, "dtype"),
        (np.array([1 + 2j]), TypeError, "dtype"),
        (["a", "b"], TypeError, "dtype"),
        ("abc", TypeError, "numbers"),
        ([object()], TypeError, "dtype"),
        (np.array([1.0], dtype=np.longdouble), TypeError, "dtype"),
        ([2**64], ValueError, "int64"),
        (np.array([2**63], dtype=np.uint64), ValueError, "int64"),
        (range(2**63 - 1, 2**63 + 1), ValueError, "int64"),
        ([[1, 2], [3]], TypeError, "vector"),
    ],
)
def test_bad_input(x: object, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match) as info:
        kernels.sum_of_squares(x)  # type: ignore[arg-type]
    assert isinstance(info.value, hpkit.HpkitError)


def test_overflow_is_an_error_not_a_wrap() -> None:
    assert kernels.sum_of_squares([-(2**63)] * 3) == 3 * 2**126
    with pytest.raises(hpkit.HpkitOverflowError, match="2\\*\\*128") as info:
        kernels.sum_of_squares([-(2**63)] * 4)
    assert isinstance(info.value, OverflowError)
    # the float norm of such values is fine
    assert kernels.norm(np.array([-(2**63)] * 4, dtype=np.float64)) == 2.0**64


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"threads": 0}, ValueError, "threads"),
        ({"threads": 1.5}, TypeError, "threads"),
        ({"simd": "neon9"}, ValueError, "unknown simd"),
        ({"simd": 3}, TypeError, "simd"),
    ],
)
def test_bad_options(kwargs: dict, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match) as info:
        kernels.norm([1.0, 2.0], **kwargs)
    assert isinstance(info.value, hpkit.HpkitError)


def test_zero_copy_and_readonly_input() -> None:
    a = np.arange(1000, dtype=np.int64)
    a.flags.writeable = False
    assert kernels.sum_of_squares(a) == ref.closed_form(1000)
    assert kernels.numeric_simd("norm") in PATHS
