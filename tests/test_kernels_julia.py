"""hpkit.kernels.julia / escape_time against the book's pure-Python reference and the
known answers of WORKLOADS.md ch2."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from helpers import assert_releases_gil, assert_stops_on_ctrl_c
from hypothesis import given, settings
from hypothesis import strategies as st

import hpkit
from hpkit import kernels
from hpkit.reference import julia as ref

PATHS = kernels.simd_paths()
THREADS = [1, 2, None]

# WORKLOADS.md ch2 (verified by the oracle): width, max_iter -> (rows, cols, sum, pixels at max)
KNOWN = {
    (10, 300): (11, 11, 3_098, 9),
    (100, 300): (100, 100, 334_236, 1_011),
    (500, 300): (500, 500, 8_306_884, 25_085),
    (1000, 300): (1000, 1000, 33_219_980, 100_321),
}


def python_escape(z: complex, c: complex, maxiter: int) -> int:
    """The book's inner loop for one point, with Python's own complex arithmetic."""
    n = 0
    while abs(z) < 2 and n < maxiter:
        z = z * z + c
        n += 1
    return n


@pytest.mark.parametrize("simd", PATHS)
@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("width,max_iter", [(10, 300), (100, 300), (500, 300)])
def test_known_answers(width: int, max_iter: int, simd: str, threads: int | None) -> None:
    rows, cols, total, at_max = KNOWN[(width, max_iter)]
    out = kernels.julia(width, max_iter, simd=simd, threads=threads)
    assert out.shape == (rows, cols)
    assert out.dtype == np.int32
    assert int(out.sum(dtype=np.int64)) == total
    assert int((out == max_iter).sum()) == at_max


@pytest.mark.parametrize("simd", PATHS)
def test_known_answer_book_size(simd: str) -> None:
    out = kernels.julia(1000, 300, simd=simd)
    assert out.shape == (1000, 1000)
    assert int(out.sum(dtype=np.int64)) == 33_219_980
    assert int((out == 300).sum()) == 100_321
    assert out[0, 0] == 0
    assert int(out[0].sum()) == 485


@pytest.mark.parametrize("width,max_iter", [(10, 300), (37, 100), (64, 300), (101, 40)])
def test_equals_pure_python_point_for_point(width: int, max_iter: int) -> None:
    expected = ref.calc_pure_python(width, max_iter)
    for simd in PATHS:
        for threads in (1, 2):
            got = kernels.julia(width, max_iter, simd=simd, threads=threads)
            np.testing.assert_array_equal(got, expected)


def test_other_constant_and_bounds_match_python() -> None:
    c = complex(0.285, 0.01)
    bounds = (-1.5, 1.2, -1.1, 1.3)
    xs, ys = kernels.julia_axes(45, bounds)
    bx, by = ref.build_axes(45, bounds)
    assert list(xs) == bx and list(ys) == by
    expected = np.array([[python_escape(complex(x, y), c, 200) for x in bx] for y in by])
    for simd in PATHS:
        got = kernels.julia(45, 200, c, bounds, simd=simd)
        np.testing.assert_array_equal(got, expected)


def test_book_grid_quirk_and_linspace() -> None:
    xs, ys = kernels.julia_axes(10)
    assert (len(ys), len(xs)) == (11, 11)
    lx, ly = kernels.julia_axes(10, grid="linspace")
    np.testing.assert_array_equal(lx, np.linspace(-1.8, 1.8, 10, endpoint=False))
    np.testing.assert_array_equal(ly, np.linspace(1.8, -1.8, 10, endpoint=False))
    assert kernels.julia(10, 300, grid="linspace").shape == (10, 10)


def test_out_is_written_and_returned() -> None:
    out = np.full((100, 100), -1, dtype=np.int32)
    got = kernels.julia(100, 300, out=out)
    assert got is out
    assert int(out.sum()) == 334_236


def test_max_iter_zero_gives_zeros() -> None:
    assert not kernels.julia(20, 0).any()


def test_escape_time_any_shape_matches_python() -> None:
    rng = np.random.default_rng(7)
    zs = rng.uniform(-2, 2, (3, 4, 5)) + 1j * rng.uniform(-2, 2, (3, 4, 5))
    c = kernels.BOOK_C
    expected = np.vectorize(lambda z: python_escape(complex(z), c, 100))(zs)
    for simd in PATHS:
        got = kernels.escape_time(zs, c, 100, simd=simd)
        assert got.shape == zs.shape and got.dtype == np.int32
        np.testing.assert_array_equal(got, expected)
    # 0-d, empty, non-contiguous and plain-list inputs
    assert kernels.escape_time(np.complex128(0.1 + 0.1j), c, 50).shape == ()
    assert kernels.escape_time(np.zeros(0, np.complex128), c, 50).shape == (0,)
    strided = zs[:, ::2, :]
    np.testing.assert_array_equal(kernels.escape_time(strided, c, 100), expected[:, ::2, :])
    assert kernels.escape_time([0.1 + 0.2j, 3 + 0j], c, 10).tolist() == [
        python_escape(0.1 + 0.2j, c, 10),
        0,
    ]


def test_escape_time_non_finite_points_follow_python() -> None:
    zs = np.array([complex(math.nan, 0), complex(math.inf, 0), complex(0, -math.inf)])
    assert kernels.escape_time(zs, 0.1, 10).tolist() == [0, 0, 0]


# Points whose |z|^2 lands next to 4, where the squared test and hypot could disagree.
near_circle = st.tuples(
    st.floats(0, 2 * math.pi, allow_nan=False),
    st.integers(-64, 64),
).map(lambda t: complex(2 * math.cos(t[0]), 2 * math.sin(t[0])) * (1 + t[1] * 2.0**-52))


@settings(max_examples=300, deadline=None)
@given(st.lists(near_circle, min_size=1, max_size=40), st.complex_numbers(max_magnitude=1.0))
def test_near_the_escape_radius(zs: list[complex], c: complex) -> None:
    expected = [python_escape(z, c, 5) for z in zs]
    arr = np.array(zs, dtype=np.complex128)
    for simd in PATHS:
        assert kernels.escape_time(arr, c, 5, simd=simd).tolist() == expected


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.complex_numbers(max_magnitude=2.5), min_size=1, max_size=70),
    st.complex_numbers(max_magnitude=1.0),
    st.integers(0, 60),
)
def test_random_points_match_python(zs: list[complex], c: complex, maxiter: int) -> None:
    expected = [python_escape(z, c, maxiter) for z in zs]
    for simd in PATHS:
        assert kernels.escape_time(np.array(zs), c, maxiter, simd=simd).tolist() == expected


# --- bad input: a clear Python exception, never a crash ---------------------------------


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"width": 0}, ValueError, "width must be positive"),
        ({"width": -3}, ValueError, "width must be positive"),
        ({"width": 2.5}, TypeError, "width must be an integer"),
        ({"max_iter": -1}, ValueError, "max_iter"),
        ({"max_iter": 2**40}, ValueError, "max_iter"),
        ({"c": complex(math.nan, 0)}, ValueError, "c must be finite"),
        ({"c": complex(0, math.inf)}, ValueError, "c must be finite"),
        ({"c": "0.1"}, TypeError, "complex"),
        ({"bounds": (-1.8, math.nan, -1.8, 1.8)}, ValueError, "finite"),
        ({"bounds": (-1.8, 1.8, -1.8, math.inf)}, ValueError, "finite"),
        ({"bounds": (1.8, -1.8, -1.8, 1.8)}, ValueError, "x1 < x2"),
        ({"bounds": (1, 2, 3)}, TypeError, "four numbers"),
        ({"grid": "square"}, ValueError, "unknown grid"),
        ({"threads": 0}, ValueError, "threads"),
        ({"threads": -2}, ValueError, "threads"),
        ({"simd": "neon9"}, ValueError, "unknown simd"),
        ({"width": 10**6}, MemoryError, "more than this machine"),
    ],
)
def test_julia_bad_input(kwargs: dict, exc: type[Exception], match: str) -> None:
    kwargs.setdefault("width", 10)
    with pytest.raises(exc, match=match) as info:
        kernels.julia(**kwargs)
    assert isinstance(info.value, hpkit.HpkitError)


@pytest.mark.parametrize(
    "out,exc,match",
    [
        (np.zeros((11, 10), np.int32), ValueError, "shape"),
        (np.zeros((11, 11), np.int64), TypeError, "int32"),
        (np.zeros((11, 11), np.float64), TypeError, "int32"),
        (np.zeros((11, 22), np.int32)[:, ::2], ValueError, "C-contiguous"),
        ([[0] * 11] * 11, TypeError, "numpy array"),
    ],
)
def test_julia_bad_out(out: object, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        kernels.julia(10, 300, out=out)  # type: ignore[arg-type]


def test_julia_readonly_out() -> None:
    out = np.zeros((11, 11), np.int32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        kernels.julia(10, 300, out=out)


@pytest.mark.parametrize(
    "zs", [np.zeros(4), np.zeros(4, np.complex64), np.zeros(4, np.int64), ["a", "b"]]
)
def test_escape_time_wrong_dtype(zs: object) -> None:
    with pytest.raises(TypeError, match="complex128"):
        kernels.escape_time(zs, 0.1, 10)  # type: ignore[arg-type]


def test_escape_time_bad_out_and_params() -> None:
    zs = np.zeros((2, 3), np.complex128)
    with pytest.raises(ValueError, match="shape"):
        kernels.escape_time(zs, 0.1, 10, out=np.zeros(6, np.int32))
    with pytest.raises(ValueError, match="c must be finite"):
        kernels.escape_time(zs, complex(math.nan, 0), 10)
    with pytest.raises(ValueError, match="max_iter"):
        kernels.escape_time(zs, 0.1, -5)


# --- the GIL is released and Ctrl-C stops a long call ------------------------------------


def test_gil_released_during_call() -> None:
    assert_releases_gil(lambda: kernels.julia(400, 50_000, threads=1))


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
def test_ctrl_c_stops_a_long_call() -> None:
    assert_stops_on_ctrl_c("kernels.julia(3000, 10**7)")
