"""The ``hpkit`` command: listing, running with --json/--report, and clear errors.

Runs in-process with click's CliRunner (so an experiment injected through the registry is
visible) at tiny sizes; one subprocess test checks ``python -m hpkit`` itself.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

from hpkit import kernels, lab
from hpkit.cli import main
from hpkit.lab import host

TINY = ["--param", "width=20", "--param", "max_iter=50"]


@pytest.fixture(autouse=True)
def stub_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lab's machine description without running the machine probes."""

    def describe(*, quick: bool, progress: Any = None) -> dict[str, Any]:
        return {
            "cpu": {"model": "Test CPU 9000", "logical_cores": 2},
            "threads": 2,
            "limits": {"peak_gflops": 100.0, "peak_gflops_no_fma": 50.0},
            "software": {"numpy": np.__version__},
        }

    monkeypatch.setattr(host, "describe", describe)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def _off_by_one(params: lab.Params) -> lab.Workload:
    def run() -> np.ndarray:
        counts = kernels.julia(int(params["width"]), int(params["max_iter"]))
        counts[0, 0] += 7
        return counts

    return run


def _needs_missing_peer(params: lab.Params) -> lab.Workload:
    raise lab.Skip("frobnicate is not installed (pip install frobnicate)")


@pytest.fixture
def broken_julia() -> Iterator[str]:
    julia = lab.get("julia")
    experiment = dataclasses.replace(
        julia,
        name="julia-broken",
        implementations=(
            *(i for i in julia.implementations if i.kind in (lab.Kind.REFERENCE, lab.Kind.HPKIT)),
            lab.Implementation("off by one", lab.Kind.PEER, _off_by_one),
            lab.Implementation("frobnicate", lab.Kind.PEER, _needs_missing_peer),
        ),
    )
    lab.register(experiment)
    yield experiment.name
    lab.unregister(experiment.name)


def test_lab_without_names_lists_the_experiments() -> None:
    result = invoke("lab")
    assert result.exit_code == 0, result.output
    assert "julia" in result.output and "Julia set" in result.output


def test_lab_julia_writes_json_and_report(tmp_path: Path) -> None:
    json_path, report = tmp_path / "results.json", tmp_path / "report"
    result = invoke("lab", "julia", *TINY, "--json", str(json_path), "--report", str(report))
    assert result.exit_code == 0, result.output
    assert "Test CPU 9000, 2 logical cores" in result.output

    document = json.loads(json_path.read_text())
    (julia,) = document["experiments"]
    assert julia["params"] == {"width": 20, "max_iter": 50}
    hpkit_rows = [r for r in julia["implementations"] if r["kind"] == "hpkit"]
    assert len(hpkit_rows) == len(kernels.simd_paths()) + 1
    for row in hpkit_rows:
        assert row["validated"], row
        assert row["timing"]["best_s"] > 0
        assert row["speedup_vs_reference"] is not None

    page = (report / "index.html").read_text()
    assert "<table" in page and "hpkit all threads" in page
    assert "data:image/png;base64," in page
    assert (report / "julia.png").is_file()


def test_wrong_implementation_fails_and_missing_peer_is_skipped(
    broken_julia: str, tmp_path: Path
) -> None:
    json_path = tmp_path / "out.json"
    result = invoke("lab", broken_julia, *TINY, "--repeats", "2", "--json", str(json_path))
    assert result.exit_code == 1
    assert "FAILED" in result.output and "frobnicate is not installed" in result.output
    assert "1 FAILED: julia-broken: off by one" in result.output

    rows = {
        r["name"]: r for r in json.loads(json_path.read_text())["experiments"][0]["implementations"]
    }
    assert rows["off by one"]["status"] == "FAILED"
    assert rows["off by one"]["timing"] is None
    assert "1 of 441 pixels differ" in rows["off by one"]["detail"]
    assert rows["frobnicate"]["status"] == "skipped"
    assert rows["frobnicate"]["timing"] is None
    assert rows["hpkit all threads"]["timing"]["runs"] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lab", "juliaa"], "unknown experiment 'juliaa'; did you mean 'julia'?"),
        (["lab", "julia", "--param", "width"], "--param expects KEY=VALUE, got 'width'"),
        (["lab", "julia", "--param", "width=big"], "width must be an integer, got 'big'"),
        (["lab", "julia", "--param", "width=0"], "width must be >= 1"),
        (["lab", "julia", "--param", "depth=3"], "has no parameter 'depth'"),
        (["lab", "julia", "--repeats", "0"], "0 is not in the range x>=1"),
    ],
)
def test_bad_input_gives_a_clear_message_and_no_traceback(args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_machine_json() -> None:
    pytest.importorskip("hpkit.machine")
    result = invoke("machine", "--json", "--quick")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)  # warnings and the spinner go to stderr
    assert info["cpu"]["logical_cores"] >= 1


def test_python_dash_m_hpkit() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "hpkit", "lab"], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert "julia" in completed.stdout
