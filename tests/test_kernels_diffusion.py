"""hpkit.kernels.diffusion_step / evolve against the numpy order-S reference (bit for bit),
the known answers of WORKLOADS.md ch6, and the book's list code (including its quirks)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from helpers import assert_stops_on_ctrl_c
from hypothesis import given, settings
from hypothesis import strategies as st

import hpkit
from hpkit import kernels
from hpkit.reference import diffusion as ref

PATHS = kernels.simd_paths()
DTYPES = [np.float64, np.float32]


@functools.cache
def reference_run(n: int, dims: int, steps: int, dtype: type = np.float64) -> np.ndarray:
    """The order-S numpy answer for the book's start (cached: 512²x500 takes a second)."""
    out = ref.run_order_s(ref.initial_grid(n, dims, dtype), steps)
    out.flags.writeable = False
    return out


def noise(shape: tuple[int, ...], seed: int, dtype: type = np.float64) -> np.ndarray:
    return np.random.default_rng(seed).random(shape).astype(dtype)


# -- known answers (WORKLOADS.md ch6, verified by oracles/ch6_diffusion.py) ------------------


def test_known_answer_2d_512_500_steps() -> None:
    got = kernels.evolve(ref.initial_grid(512), 500)
    assert float(got.max()) == 0.004906177706325198
    assert float((got * got).sum()) == 0.04145759917767716
    assert float(got.sum()) == pytest.approx(13.52, abs=1e-12)  # mass: 52 * 52 * 0.005
    np.testing.assert_array_equal(got, reference_run(512, 2, 500))


def test_known_answer_2d_64_10_steps() -> None:
    got = kernels.evolve(ref.initial_grid(64), 10)
    assert float(got.sum()) == pytest.approx(0.245, abs=1e-15)
    assert float(got.max()) == pytest.approx(0.00486040176, abs=5e-12)
    assert float((got * got).sum()) == 0.000740625557869339
    np.testing.assert_array_equal(got, reference_run(64, 2, 10))


def test_known_answer_1d_512_500_steps() -> None:
    got = kernels.evolve(ref.initial_grid(512, dims=1), 500)
    assert float(got.max()) == 0.004952872988890272
    assert float(got.sum()) == 0.25999999999999995
    assert float((got * got).sum()) == 0.001018066724193033
    np.testing.assert_array_equal(got, reference_run(512, 1, 500))


@pytest.mark.parametrize("simd", PATHS)
@pytest.mark.parametrize("threads", [1, 2, None])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dims", [1, 2])
def test_bit_exact_against_order_s(dims: int, dtype: type, threads: int | None, simd: str) -> None:
    n, steps = (512, 500) if dims == 1 else (256, 120)
    got = kernels.evolve(ref.initial_grid(n, dims, dtype), steps, threads=threads, simd=simd)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, reference_run(n, dims, steps, dtype))


def test_float32_factor_is_rounded_once() -> None:
    """D*dt is computed in float64 and rounded to float32 once (numpy's rule for Python
    floats with float32 arrays); a coefficient that rounds differently shows it."""
    g = noise((40, 33), 1, np.float32)
    for dt, D in [(0.1, 1.0), (0.07, 0.3), (1 / 3, 0.7)]:
        expected = ref.step_order_s(g, dt, D)
        np.testing.assert_array_equal(kernels.diffusion_step(g, dt=dt, D=D), expected)
        assert expected.dtype == np.float32


# -- evolve(k) == k x diffusion_step, whatever the tiling --------------------------------------


def steps_one_by_one(g: np.ndarray, k: int) -> np.ndarray:
    for _ in range(k):
        g = kernels.diffusion_step(g, threads=1, simd="scalar")
    return g


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape", [(3, 3), (3, 17), (17, 3), (37, 53), (64, 64), (5, 200), (3,), (4,), (1000,)]
)
def test_evolve_equals_repeated_steps(shape: tuple[int, ...], dtype: type) -> None:
    g = noise(shape, len(shape) * 1000 + shape[0], dtype)
    expected = [g]
    for _ in range(17):
        expected.append(steps_one_by_one(expected[-1], 1))
    for k in (0, 1, 2, 5, 8, 17):
        for blocking in (None, (1, 1, 1), (3, 2, 5), (8, 7, 16), (16, 64, 1000), (256, 1, 3)):
            for threads in (1, 2, 3):
                got = kernels.evolve(g, k, threads=threads, blocking=blocking)
                assert np.array_equal(got, expected[k]), (k, blocking, threads)
    np.testing.assert_array_equal(expected[17], ref.run_order_s(g, 17))


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(3, 40),
    cols=st.integers(3, 70),
    steps=st.integers(0, 12),
    k=st.integers(1, 12),
    band=st.integers(1, 45),
    strip=st.integers(1, 80),
    threads=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_tiling_is_bit_exact(
    rows: int, cols: int, steps: int, k: int, band: int, strip: int, threads: int, seed: int
) -> None:
    g = noise((rows, cols), seed)
    got = kernels.evolve(g, steps, threads=threads, blocking=(k, band, strip))
    np.testing.assert_array_equal(got, ref.run_order_s(g, steps))


def test_mass_is_conserved() -> None:
    g = noise((300, 211), 7)
    out = kernels.evolve(g, 300)
    assert float(out.sum()) == pytest.approx(float(g.sum()), rel=1e-12)
    line = noise((10_001,), 8)
    assert float(kernels.evolve(line, 1000).sum()) == pytest.approx(float(line.sum()), rel=1e-12)


def test_large_grid_uses_blocking_and_stays_exact() -> None:
    """A grid beyond L2 (8 MiB) with several passes: the path the lab's big grid takes."""
    g = noise((1024, 1024), 9)
    got = kernels.evolve(g, 20)
    np.testing.assert_array_equal(got, ref.run_order_s(g, 20))


# -- the API's contract ----------------------------------------------------------------------


def test_input_is_never_modified_and_out_is_used() -> None:
    g = noise((50, 60), 3)
    before = g.copy()
    out = np.empty_like(g)
    assert kernels.evolve(g, 7, out=out) is out
    assert kernels.diffusion_step(g, out=out) is out
    kernels.evolve(g, 0)
    np.testing.assert_array_equal(g, before)
    np.testing.assert_array_equal(out, ref.step_order_s(g))


def test_zero_steps_is_a_copy() -> None:
    g = noise((10, 10), 4)
    got = kernels.evolve(g, 0)
    assert got is not g
    np.testing.assert_array_equal(got, g)


def test_evolve_in_place() -> None:
    g = noise((40, 40), 5)
    expected = ref.run_order_s(g, 9)
    assert kernels.evolve(g, 9, out=g) is g
    np.testing.assert_array_equal(g, expected)


def test_non_contiguous_grid_is_copied_once() -> None:
    big = noise((80, 90), 6)
    view = big[::2, 1::3]
    assert not view.flags.c_contiguous
    before = big.copy()
    np.testing.assert_array_equal(
        kernels.evolve(view, 5), ref.run_order_s(np.ascontiguousarray(view), 5)
    )
    np.testing.assert_array_equal(big, before)
    fortran = np.asfortranarray(noise((30, 20), 7))
    np.testing.assert_array_equal(kernels.diffusion_step(fortran), ref.step_order_s(fortran))


def test_dt_and_d_change_the_answer_like_the_reference() -> None:
    g = noise((33, 31), 10)
    np.testing.assert_array_equal(
        kernels.evolve(g, 6, dt=0.05, D=2.5), ref.run_order_s(g, 6, dt=0.05, D=2.5)
    )


def test_lists_are_accepted() -> None:
    g = ref.initial_grid_lists(16)
    np.testing.assert_array_equal(kernels.diffusion_step(g), ref.step_order_s(np.array(g)))


@pytest.mark.parametrize(
    "grid, error",
    [
        (np.zeros((8, 8), dtype=np.int64), hpkit.InvalidTypeError),
        (np.zeros((8, 8), dtype=np.complex128), hpkit.InvalidTypeError),
        (np.zeros((8, 8), dtype=np.float16), hpkit.InvalidTypeError),
        (np.zeros((8, 8), dtype=">f8"), hpkit.InvalidTypeError),
        (np.zeros((8, 8, 8)), hpkit.InvalidInputError),
        (np.float64(1.0), hpkit.InvalidInputError),
        (np.zeros((2, 8)), hpkit.InvalidInputError),
        (np.zeros((8, 1)), hpkit.InvalidInputError),
        (np.zeros((0,)), hpkit.InvalidInputError),
        (np.zeros((2,)), hpkit.InvalidInputError),
    ],
)
def test_bad_grids(grid: np.ndarray, error: type[Exception]) -> None:
    with pytest.raises(error):
        kernels.diffusion_step(grid)
    with pytest.raises(error):
        kernels.evolve(grid, 3)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("steps", [0, 1, 3, 40])
@pytest.mark.parametrize("shape", [(20, 30), (500,)])
def test_non_finite_grid_is_refused(bad: float, steps: int, shape: tuple[int, ...]) -> None:
    g = np.zeros(shape)
    g.flat[g.size - 7] = bad
    with pytest.raises(hpkit.InvalidInputError, match="finite"):
        kernels.evolve(g, steps)
    with pytest.raises(hpkit.InvalidInputError, match="finite"):
        kernels.diffusion_step(g.astype(np.float32))


def test_bad_arguments() -> None:
    g = noise((10, 10), 11)
    with pytest.raises(hpkit.InvalidInputError, match="steps"):
        kernels.evolve(g, -1)
    with pytest.raises(hpkit.InvalidTypeError):
        kernels.evolve(g, 1.5)  # type: ignore[arg-type]
    for dt in (np.nan, np.inf):
        with pytest.raises(hpkit.InvalidInputError):
            kernels.evolve(g, 2, dt=dt)
        with pytest.raises(hpkit.InvalidInputError):
            kernels.diffusion_step(g, D=dt)
    with pytest.raises(hpkit.InvalidInputError):
        kernels.evolve(g, 2, dt=1e200, D=1e200)  # D*dt overflows
    with pytest.raises(hpkit.InvalidTypeError):
        kernels.evolve(g, 2, dt=1j)  # type: ignore[arg-type]
    with pytest.raises(hpkit.InvalidInputError):
        kernels.evolve(g, 2, threads=0)
    with pytest.raises(hpkit.InvalidInputError):
        kernels.evolve(g, 2, simd="sse9")
    for blocking in [(0, 4, 4), (1, 0, 4), (1, 4, 0), (10_000, 4, 4)]:
        with pytest.raises(hpkit.InvalidInputError):
            kernels.evolve(g, 2, blocking=blocking)
    with pytest.raises(hpkit.InvalidTypeError):
        kernels.evolve(g, 2, blocking=(1, 2))  # type: ignore[arg-type]


def test_bad_out() -> None:
    g = noise((10, 12), 12)
    cases: list[tuple[object, type[Exception]]] = [
        ([0.0] * 120, hpkit.InvalidTypeError),
        (np.empty((10, 12), dtype=np.float32), hpkit.InvalidTypeError),
        (np.empty((12, 10)), hpkit.InvalidInputError),
        (np.empty(120), hpkit.InvalidInputError),
        (np.empty((12, 10)).T, hpkit.InvalidInputError),  # right shape, not C-contiguous
    ]
    readonly = np.empty_like(g)
    readonly.flags.writeable = False
    cases.append((readonly, hpkit.InvalidInputError))
    for out, error in cases:
        with pytest.raises(error):
            kernels.evolve(g, 2, out=out)  # type: ignore[arg-type]
        with pytest.raises(error):
            kernels.diffusion_step(g, out=out)  # type: ignore[arg-type]


def test_step_refuses_out_sharing_memory_with_grid() -> None:
    g = noise((10, 12), 13)
    before = g.copy()
    with pytest.raises(hpkit.InvalidInputError, match="shares memory"):
        kernels.diffusion_step(g, out=g)
    buffer = noise((2, 10, 12), 14)
    with pytest.raises(hpkit.InvalidInputError, match="shares memory"):
        kernels.diffusion_step(buffer[0], out=buffer.reshape(20, 12)[5:15])
    np.testing.assert_array_equal(g, before)


def test_binding_refuses_aliased_out_too() -> None:
    """The Python layer catches aliasing first; the extension's borrow check is the
    backstop that keeps the Rust slices sound if someone calls it directly."""
    from hpkit import _native

    g = noise((10, 12), 15)
    with pytest.raises(hpkit.InvalidInputError):
        _native.diffusion_evolve_into(g, g, 1, 0.1, 1.0)
    with pytest.raises(hpkit.InvalidTypeError):
        _native.diffusion_evolve_into(g, g.astype(np.float32), 1, 0.1, 1.0)


# -- the book's list code: corrected version and reproduced quirks ----------------------------


def test_pure_python_lists_match_the_known_answer() -> None:
    got = np.array(ref.run_python(ref.initial_grid_lists(64), 10))
    total, peak, squares = ref.stats(got)
    assert total == pytest.approx(0.245, abs=1e-15)
    assert peak == pytest.approx(0.00486040176, abs=5e-12)
    assert squares == pytest.approx(0.000740625557869339, rel=1e-14)
    # its own op order (P) against order S: WORKLOADS.md's abs 1e-15
    np.testing.assert_allclose(got, reference_run(64, 2, 10), rtol=0, atol=1e-15)


def test_pure_python_1d_list_version() -> None:
    g = ref.initial_grid(512, dims=1).tolist()
    for _ in range(500):
        g = ref.evolve_python_1d(g)
    assert max(g) == 0.004952872988890272  # the list order gives the same bits here


def test_book_quirk_aliased_rows() -> None:
    grid = ref.book_aliased_grid(64)
    assert all(row is grid[0] for row in grid)
    assert sum(1 for row in grid for v in row if v != 0.0) == 448  # not 7 x 7 = 49
    assert sum(map(sum, grid)) == pytest.approx(2.24, abs=1e-12)
    assert sum(1 for row in ref.initial_grid_lists(64) for v in row if v != 0.0) == 49


def test_book_quirk_aliased_simulation() -> None:
    grid = ref.run_book_aliased(64, 10)
    assert all(row is grid[0] for row in grid)
    assert sum(map(sum, grid)) == pytest.approx(2.24, abs=1e-12)
    assert max(map(max, grid)) == pytest.approx(0.004930069168, abs=5e-13)


def test_book_quirk_returns_old_grid() -> None:
    grid = ref.initial_grid_lists(16)
    snapshot = [row[:] for row in grid]
    assert ref.evolve_book_returns_old_grid(grid) is grid
    assert grid == snapshot


def test_numpy_book_versions_agree_within_workloads_tolerance() -> None:
    g = ref.initial_grid(128)
    expected = ref.run_order_s(g, 50)
    for run in (ref.run_numpy_naive, ref.run_numpy_inplace, ref.run_numpy_roll_add):
        np.testing.assert_allclose(run(g, 50), expected, rtol=0, atol=1e-15)
    # roll_add does the in-place version's additions in the same order: the same bits
    np.testing.assert_array_equal(ref.run_numpy_roll_add(g, 50), ref.run_numpy_inplace(g, 50))


# -- Ctrl-C ----------------------------------------------------------------------------------


def test_ctrl_c_stops_a_long_evolve() -> None:
    assert_stops_on_ctrl_c(
        "kernels.evolve(grid, 10**7)",
        setup="grid = np.zeros((2048, 2048)); grid[800:1000, 800:1000] = 0.005",
    )
