"""hpkit.machine: the schema of describe(), JSON round trip, render(), and bad input to the
native probes. Speed is never asserted here (the lab measures it)."""

from __future__ import annotations

import io
import json
import math
import warnings

import pytest
from rich.console import Console

from hpkit import _native, machine
from hpkit.errors import InvalidInputError, UnsupportedError


@pytest.fixture(scope="module")
def info() -> dict:
    steps: list[str] = []
    with warnings.catch_warnings():
        # "other processes used N% of the CPUs": depends on what else the machine runs.
        warnings.simplefilter("ignore", RuntimeWarning)
        result = machine.describe(quick=True, progress=steps.append)
    assert steps, "progress is called for each step"
    return result


def positive(x: object) -> bool:
    return isinstance(x, float) and math.isfinite(x) and x > 0


def test_schema_top_level(info: dict) -> None:
    assert set(info) == {"cpu", "software", "threads", "limits", "cross_check"}
    assert isinstance(info["threads"], int) and info["threads"] >= 1
    assert info["threads"] == _native.default_threads()


def test_schema_cpu(info: dict) -> None:
    cpu = info["cpu"]
    assert set(cpu) == {
        "model",
        "arch",
        "physical_cores",
        "logical_cores",
        "caches",
        "features",
        "simd_paths",
        "ram_bytes",
    }
    assert isinstance(cpu["model"], str) and cpu["model"]
    assert isinstance(cpu["arch"], str)
    assert isinstance(cpu["physical_cores"], int) and cpu["physical_cores"] >= 1
    assert isinstance(cpu["logical_cores"], int)
    assert cpu["logical_cores"] >= cpu["physical_cores"]
    assert set(cpu["caches"]) == {"L1d", "L2", "L3"}
    for size in cpu["caches"].values():
        assert size is None or (isinstance(size, int) and size > 0)
    assert cpu["features"] == _native.cpu_features()
    assert cpu["simd_paths"] == _native.simd_paths()
    assert "scalar" in cpu["simd_paths"]
    assert isinstance(cpu["ram_bytes"], int) and cpu["ram_bytes"] >= 0


def test_schema_software(info: dict) -> None:
    sw = info["software"]
    assert set(sw) == {"python", "implementation", "numpy", "blas"}
    for key in ("python", "implementation", "numpy"):
        assert isinstance(sw[key], str) and sw[key]
    assert sw["blas"] is None or isinstance(sw["blas"], str)


def test_schema_limits(info: dict) -> None:
    limits = info["limits"]
    assert set(limits) == {
        "bandwidth",
        "flops",
        "dram_bandwidth_gbs",
        "bandwidth_kernel",
        "peak_gflops",
        "peak_gflops_no_fma",
    }
    threads = info["threads"]
    seen = set()
    for row in limits["bandwidth"]:
        assert set(row) == {"kernel", "threads", "level", "bytes", "gb_per_s"}
        assert row["kernel"] in ("copy", "triad")
        assert row["level"] in ("cache", "dram")
        assert row["threads"] in (1, threads)
        assert isinstance(row["bytes"], int) and row["bytes"] > 0
        assert positive(row["gb_per_s"]), row
        seen.add((row["kernel"], row["level"], row["threads"]))
    # Every kernel, at both levels, with one thread and with all of them.
    assert seen == {
        (k, lv, t) for k in ("copy", "triad") for lv in ("cache", "dram") for t in (1, threads)
    }
    for row in limits["flops"]:
        assert set(row) == {"kind", "threads", "simd", "gflops"}
        assert row["kind"] in ("fma", "mul_add")
        assert row["simd"] in info["cpu"]["simd_paths"]
        assert row["threads"] in (1, threads)
        assert positive(row["gflops"]), row
    kinds = {(r["kind"], r["simd"]) for r in limits["flops"]}
    for simd in info["cpu"]["simd_paths"]:
        assert ("mul_add", simd) in kinds
    assert positive(limits["dram_bandwidth_gbs"])
    assert limits["bandwidth_kernel"] in ("copy", "triad")
    assert limits["dram_bandwidth_gbs"] == max(
        r["gb_per_s"]
        for r in limits["bandwidth"]
        if r["level"] == "dram" and r["threads"] == threads
    )
    assert positive(limits["peak_gflops"])
    assert positive(limits["peak_gflops_no_fma"])


def test_schema_cross_check(info: dict) -> None:
    cross = info["cross_check"]
    assert set(cross) == {"numpy_copy_gbs", "numpy_matmul_gflops"}
    assert positive(cross["numpy_copy_gbs"])
    assert positive(cross["numpy_matmul_gflops"])


def test_json_round_trip(info: dict) -> None:
    text = json.dumps(info, allow_nan=False)
    assert json.loads(text) == info


def test_render(info: dict) -> None:
    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(machine.render(info))
    text = out.getvalue()
    for expected in ("GB/s", "GFLOP/s", "triad", "copy", "mul_add", "numpy", "hpkit / numpy"):
        assert expected in text
    assert info["cpu"]["model"] in text


def test_render_record() -> None:
    # render() takes any dict of the schema (e.g. read back from --json), not only a live one.
    fake = {
        "cpu": {
            "model": "Test CPU",
            "arch": "x86_64",
            "physical_cores": 1,
            "logical_cores": 2,
            "caches": {"L1d": None, "L2": 1 << 20, "L3": None},
            "features": [],
            "simd_paths": ["scalar"],
            "ram_bytes": 1 << 30,
        },
        "software": {"python": "3.11", "implementation": "CPython", "numpy": "2", "blas": None},
        "threads": 1,
        "limits": {
            "bandwidth": [
                {
                    "kernel": "copy",
                    "threads": 1,
                    "level": "dram",
                    "bytes": 1 << 27,
                    "gb_per_s": 10.0,
                }
            ],
            "flops": [{"kind": "mul_add", "threads": 1, "simd": "scalar", "gflops": 2.0}],
            "dram_bandwidth_gbs": 10.0,
            "bandwidth_kernel": "copy",
            "peak_gflops": 2.0,
            "peak_gflops_no_fma": 2.0,
        },
        "cross_check": {"numpy_copy_gbs": 20.0, "numpy_matmul_gflops": 4.0},
    }
    console = Console(record=True, width=120, file=io.StringIO())
    console.print(machine.render(fake))
    text = console.export_text()
    assert "Test CPU" in text and "0.50x" in text


@pytest.mark.parametrize(
    ("length", "threads"),
    [(0, [1]), (-5, [1]), (1024, [0]), (1024, [-1]), (1024, [1, 0]), (1024, [])],
)
def test_stream_bandwidth_bad_input(length: int, threads: list[int]) -> None:
    assert issubclass(InvalidInputError, ValueError)
    with pytest.raises(InvalidInputError):
        _native.stream_bandwidth(length, threads, ["copy"], 0.0)


@pytest.mark.parametrize(
    ("kernels", "seconds"),
    [(["scale"], 0.0), (["copy"], -1.0), (["copy"], math.nan), (["copy"], 1e9)],
)
def test_stream_bandwidth_bad_options(kernels: list[str], seconds: float) -> None:
    with pytest.raises(InvalidInputError):
        _native.stream_bandwidth(1024, [1], kernels, seconds)


def test_stream_bandwidth_small() -> None:
    rows = _native.stream_bandwidth(1000, [1, 2], ["copy", "triad"], 0.0)
    assert [(k, t) for k, t, _, _ in rows] == [(k, t) for t in (1, 2) for k in ("copy", "triad")]
    assert [b for _, _, b, _ in rows] == [16_000, 24_000, 16_000, 24_000]
    assert all(positive(g) for _, _, _, g in rows)


@pytest.mark.parametrize(
    ("kind", "simd", "threads", "seconds"),
    [
        ("fma", "auto", 0, 0.0),
        ("fma", "auto", -2, 0.0),
        ("fused", "auto", 1, 0.0),
        ("mul_add", "sse9", 1, 0.0),
        ("mul_add", "auto", 1, -0.5),
    ],
)
def test_peak_flops_bad_input(kind: str, simd: str, threads: int, seconds: float) -> None:
    with pytest.raises(InvalidInputError):
        _native.peak_flops(kind, simd, threads, seconds)


def test_peak_flops_unsupported_path() -> None:
    missing = [s for s in ("avx2", "avx512") if s not in _native.simd_paths()]
    if not missing:
        pytest.skip("this CPU has every path")
    with pytest.raises(UnsupportedError):
        _native.peak_flops("mul_add", missing[0], 1, 0.0)


def test_peak_flops_every_path() -> None:
    for simd in _native.simd_paths():
        kinds = _native.flop_kinds(simd)
        assert "mul_add" in kinds
        for kind in kinds:
            assert positive(_native.peak_flops(kind, simd, 1, 0.0))
