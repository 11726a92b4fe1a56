"""hpkit.kernels.count_in_circle / estimate_pi against the pure-Python SplitMix64
reference (bit for bit) and the book's seeded known answers (WORKLOADS.md W9.1).

hpkit's dart ``i`` is output ``i`` of SplitMix64(seed): x and y are its high and low 32
bits over 2**32, inside iff ``a*a + b*b <= 2**64`` exactly (crates/hpkit-kernels/src/pi.rs).
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from helpers import assert_releases_gil, assert_stops_on_ctrl_c

import hpkit
from hpkit import kernels
from hpkit.reference import pi as ref

PATHS = kernels.simd_paths()
THREADS = [1, 2, None]
#: the largest parallel task of crates/hpkit-kernels/src/pi.rs; smaller runs use chunks of
#: 2**16 .. 2**22 samples, so 2**22 is a chunk boundary for every thread count
CHUNK = 1 << 22


def test_book_known_answers() -> None:
    # WORKLOADS.md W9.1 (verified by oracles/ch9_pi.py)
    assert ref.count_stdlib(10_000, seed=0) == 7_838
    assert ref.count_numpy_legacy(10_000, seed=0) == 7_868
    assert ref.count_numpy_legacy(1_000_000, seed=0) == 784_549
    assert ref.count_numpy_blocks(10_000, seed=0) == 7_855


def test_splitmix_reference_matches_workloads_conventions() -> None:
    assert ref.splitmix64_output(0, 0) == 16_294_208_416_658_607_535
    assert ref.splitmix64_output(1, 0) == 10_451_216_379_200_822_465
    stream = ref.splitmix64(99)
    assert [next(stream) for _ in range(5)] == [ref.splitmix64_output(99, k) for k in range(5)]
    assert ref.count_splitmix(2_000, 3) == ref.count_splitmix_numpy(2_000, 3, block=77)
    assert ref.count_splitmix(500, 3, start=700) == sum(
        ref.splitmix_sample_inside(3, i) for i in range(700, 1200)
    )


TOP = 2**32 - 1
#: (a, b, inside): darts at the corners and right at the circle (a**2 + b**2 vs 2**64)
EDGE_DARTS = [
    (0, 0, True),
    (0, TOP, True),
    (TOP, 0, True),
    (TOP, 1, True),  # 2**64 - 2**33 + 2
    (TOP, 92_681, True),  # the last b inside for the largest a: 2**64 - 166,830
    (TOP, 92_682, False),  # 2**64 + 18,533
    (TOP, TOP, False),  # 2**65 - 2**34 + 2
    (2**31, 3_719_550_786, True),  # x = 1/2
    (2**31, 3_719_550_787, False),
    (3_037_000_500, 3_037_000_499, True),  # across the diagonal
    (3_037_000_500, 3_037_000_500, False),
]


def test_dart_definition_at_the_edges() -> None:
    outputs = np.array([a << 32 | b for a, b, _ in EDGE_DARTS], dtype=np.uint64)
    expected = [inside for _, _, inside in EDGE_DARTS]
    assert [ref.dart_inside(int(z)) for z in outputs] == expected
    assert ref.darts_inside_numpy(outputs).tolist() == expected
    for a, b, inside in EDGE_DARTS:
        assert (a * a + b * b <= 2**64) == inside
        # the circle itself holds no dart: a*a + b*b == 2**64 needs a or b == 2**32
        assert a * a + b * b != 2**64


def test_circle_passes_through_no_grid_point() -> None:
    for a in [*range(1, 5_000), *range(2**32 - 5_000, 2**32), 2**31, 3_037_000_500]:
        b = math.isqrt(2**64 - a * a)
        assert a * a + b * b != 2**64


def test_oracle_counts() -> None:
    # computed by the pure-Python and numpy oracles (they agree); pinned so that a change
    # of the dart definition in both at once cannot pass unnoticed
    assert ref.count_splitmix(10_000, 0) == 7_829
    assert ref.count_splitmix_numpy(1_000_000, 0) == 785_293
    assert kernels.count_in_circle(10_000, seed=0).inside == 7_829
    assert kernels.count_in_circle(1_000_000, seed=0).inside == 785_293


@pytest.mark.parametrize("seed", [0, 1, 42, 2**63 + 12_345, 2**64 - 1])
@pytest.mark.parametrize("n", [0, 1, 7, 31, 33, 1_000, 20_011])
def test_equals_pure_python_reference(seed: int, n: int) -> None:
    expected = ref.count_splitmix(n, seed)
    for simd in PATHS:
        for threads in THREADS:
            got = kernels.count_in_circle(n, seed=seed, threads=threads, simd=simd)
            assert got == (expected, n, seed), (simd, threads)


@pytest.mark.parametrize("simd", PATHS)
def test_chunk_boundaries_and_thread_counts(simd: str) -> None:
    """Counts around the parallel chunk size differ by exactly the reference's samples."""
    seed = 2024
    lo, hi = CHUNK - 37, CHUNK + 41
    below = kernels.count_in_circle(lo, seed=seed, threads=1, simd=simd).inside
    for threads in THREADS:
        assert kernels.count_in_circle(lo, seed=seed, threads=threads, simd=simd).inside == below
        above = kernels.count_in_circle(hi, seed=seed, threads=threads, simd=simd).inside
        assert above - below == sum(ref.splitmix_sample_inside(seed, i) for i in range(lo, hi))


def test_large_run_same_for_one_and_all_threads_and_numpy_reference() -> None:
    n, seed = 3 * CHUNK + 1_001, 7
    one = kernels.count_in_circle(n, seed=seed, threads=1)
    assert kernels.count_in_circle(n, seed=seed) == one
    assert kernels.count_in_circle(n, seed=seed, threads=2) == one
    assert one.inside == ref.count_splitmix_numpy(n, seed)
    assert abs(one.estimate - math.pi) < 5 * ref.standard_error(n)


def test_entropy_seed_is_reported_and_repeats_the_run() -> None:
    first = kernels.count_in_circle(10_000)
    second = kernels.count_in_circle(10_000)
    assert first.seed != second.seed
    assert 0 <= first.seed < 2**64
    assert kernels.count_in_circle(10_000, seed=first.seed) == first
    assert first.inside == ref.count_splitmix(10_000, first.seed)


def test_estimate() -> None:
    count = kernels.count_in_circle(100_000, seed=5)
    assert kernels.estimate_pi(100_000, seed=5) == 4 * count.inside / 100_000 == count.estimate
    assert abs(kernels.estimate_pi(10**7, seed=1) - math.pi) < 5 * ref.standard_error(10**7)
    assert math.isnan(kernels.count_in_circle(0, seed=1).estimate)
    assert isinstance(kernels.count_in_circle(10, seed=1), tuple)


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: kernels.estimate_pi(-1), ValueError, "n_samples must be >= 0"),
        (lambda: kernels.count_in_circle(-5, seed=1), ValueError, "n_samples must be >= 0"),
        (lambda: kernels.estimate_pi(0), ValueError, "positive"),
        (lambda: kernels.estimate_pi(2**63), ValueError, "2\\*\\*63"),
        (lambda: kernels.estimate_pi(1e6), TypeError, "n_samples must be an integer"),  # type: ignore[arg-type]
        (lambda: kernels.estimate_pi("10"), TypeError, "n_samples must be an integer"),  # type: ignore[arg-type]
        (lambda: kernels.estimate_pi(10, seed=-1), ValueError, "seed"),
        (lambda: kernels.estimate_pi(10, seed=2**64), ValueError, "seed"),
        (lambda: kernels.estimate_pi(10, seed=1.5), TypeError, "seed must be an integer"),  # type: ignore[arg-type]
        (lambda: kernels.estimate_pi(10, threads=0), ValueError, "threads"),
        (lambda: kernels.estimate_pi(10, simd="sse9"), ValueError, "unknown simd"),
    ],
)
def test_bad_input(call: object, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match) as info:
        call()  # type: ignore[operator]
    assert isinstance(info.value, hpkit.HpkitError)


def test_simd_path_names() -> None:
    assert kernels.numeric_simd("pi") in PATHS
    assert kernels.numeric_simd("pi", "scalar") == "scalar"
    with pytest.raises(ValueError, match="unknown kernel"):
        kernels.numeric_simd("fft")


# --- the GIL is released and Ctrl-C stops a long call ------------------------------------


def test_gil_released_during_call() -> None:
    assert_releases_gil(lambda: kernels.count_in_circle(400_000_000, seed=1, threads=1))


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
def test_ctrl_c_stops_a_long_call() -> None:
    assert_stops_on_ctrl_c("kernels.estimate_pi(10**13)")
