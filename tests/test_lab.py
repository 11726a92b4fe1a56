"""The lab framework: registry, parameters, timing policy, checking before timing, report.

Sizes are tiny (width 20, 50 iterations) so the whole file runs in seconds; nothing here
asserts a speed, only that the numbers shown are the checked ones.
"""

from __future__ import annotations

import dataclasses
import io
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console
from rich.table import Table

from hpkit import kernels, lab
from hpkit.lab import ch02_julia, peers, runner, tables
from hpkit.lab.report import write_report
from hpkit.lab.timing import TimingPolicy, measure

TINY = {"width": "20", "max_iter": "50"}
STUB_MACHINE: dict[str, Any] = {
    "cpu": {"model": "Test CPU 9000", "logical_cores": 2},
    "threads": 2,
    "limits": {"peak_gflops": 100.0, "peak_gflops_no_fma": 50.0, "dram_bandwidth_gbs": 20.0},
    "software": {"numpy": np.__version__},
}


def _impl(name: str) -> lab.Implementation:
    return next(i for i in lab.get("julia").implementations if i.name == name)


def _wrong(params: lab.Params) -> lab.Workload:
    """The hpkit answer with one pixel off: must be caught, never timed."""

    def run() -> np.ndarray:
        counts = kernels.julia(int(params["width"]), int(params["max_iter"]))
        counts[3, 4] += 1
        return counts

    return run


def _missing_peer(params: lab.Params) -> lab.Workload:
    raise ImportError("No module named 'not_a_real_peer'", name="not_a_real_peer")


@pytest.fixture
def small_julia() -> Iterator[lab.Experiment]:
    """julia with a reference, one good hpkit row, a wrong one and a missing peer."""
    experiment = dataclasses.replace(
        lab.get("julia"),
        name="julia-injected",
        implementations=(
            _impl("pure Python"),
            _impl("hpkit all threads"),
            lab.Implementation("off by one", lab.Kind.PEER, _wrong),
            lab.Implementation("missing peer", lab.Kind.PEER, _missing_peer),
        ),
    )
    lab.register(experiment)
    yield experiment
    lab.unregister(experiment.name)


def _run(experiment: lab.Experiment, overrides: dict[str, str] = TINY) -> lab.ExperimentResult:
    params = experiment.resolve(quick=True, overrides=overrides)
    return runner.run_experiment(
        experiment,
        params,
        quick=True,
        policy=TimingPolicy(repeats=2, budget_s=0.2),
        machine=STUB_MACHINE,
    )


def test_registry_finds_the_chapter_modules() -> None:
    names = {(e.name, e.chapter) for e in lab.experiments()}
    assert ("julia", 2) in names
    assert lab.select(["all"]) == lab.experiments()


def test_unknown_experiment_suggests_the_close_name() -> None:
    with pytest.raises(lab.UnknownExperimentError, match="did you mean 'julia'"):
        lab.get("jula")


def test_register_refuses_duplicates_and_the_reserved_name(small_julia: lab.Experiment) -> None:
    with pytest.raises(ValueError, match="already registered"):
        lab.register(small_julia)
    with pytest.raises(ValueError, match="reserved"):
        lab.register(dataclasses.replace(small_julia, name="all"))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, {"width": 500, "max_iter": 300}),
        ({"width": "2000", "max_iter": "100"}, {"width": 2000, "max_iter": 100}),
        ({"width": "1_000"}, {"width": 1000, "max_iter": 300}),
    ],
)
def test_parameters_resolve_with_types(overrides: dict[str, str], expected: dict[str, int]) -> None:
    assert lab.get("julia").resolve(quick=True, overrides=overrides) == expected


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"width": "wide"}, "width must be an integer, got 'wide'"),
        ({"width": "0"}, "width must be >= 1"),
        ({"max_iter": "-1"}, "max_iter must be >= 0"),
        ({"height": "3"}, "has no parameter 'height'"),
    ],
)
def test_bad_parameters_are_refused_clearly(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(lab.ParamError, match=message):
        lab.get("julia").resolve(quick=False, overrides=overrides)


def test_plan_with_several_experiments_routes_parameters(small_julia: lab.Experiment) -> None:
    both = [lab.get("julia"), small_julia]
    planned = runner.plan(both, quick=True, overrides={"width": "30"})
    assert [params["width"] for _, params in planned] == [30, 30]
    with pytest.raises(lab.ParamError, match="no selected experiment has a parameter 'depth'"):
        runner.plan(both, quick=True, overrides={"depth": "3"})


def test_timing_is_adaptive_unless_repeats_are_exact() -> None:
    def nap() -> None:
        time.sleep(0.02)

    adaptive = measure(nap, TimingPolicy(repeats=50, budget_s=0.05))
    assert 1 <= adaptive.runs <= 3
    exact = measure(nap, TimingPolicy(repeats=4, budget_s=0.0, exact=True))
    assert exact.runs == 4
    assert exact.best <= exact.median


def test_wrong_answer_is_failed_untimed_and_missing_peer_skipped(
    small_julia: lab.Experiment,
) -> None:
    result = _run(small_julia)
    rows = {row.name: row for row in result.rows}
    assert [row.name for row in result.rows] == [i.name for i in small_julia.implementations]

    assert rows["pure Python"].status is lab.Status.OK
    assert rows["hpkit all threads"].status is lab.Status.OK
    assert rows["hpkit all threads"].timing is not None
    assert "equal to pure Python pixel for pixel" in rows["hpkit all threads"].detail

    wrong = rows["off by one"]
    assert wrong.status is lab.Status.FAILED
    assert wrong.timing is None
    assert "1 of 441 pixels differ from pure Python"  # width 20 -> 21x21 in wrong.detail

    missing = rows["missing peer"]
    assert missing.status is lab.Status.SKIPPED
    assert missing.timing is None
    assert "not_a_real_peer is not installed" in missing.detail

    # the ratio and limit columns come from checked rows only
    assert result.speedup(wrong, lab.Kind.REFERENCE) is None
    assert result.work == pytest.approx(8 * int(result.oracle.sum()) / 1e9)
    assert result.peak == 50.0


def test_known_answer_catches_a_wrong_reference() -> None:
    """At a listed point (10, 300) the sum is checked even with no oracle to compare."""
    params = {"width": 10, "max_iter": 300}
    wrong = np.zeros((11, 11), dtype=np.int32)
    check = ch02_julia._validate(params, wrong, None)
    assert not check.ok
    assert "sum 0 is not the known answer 3,098" in check.detail
    right = ch02_julia._canonical(params, kernels.julia(10, 300))
    assert ch02_julia._validate(params, right, right).ok


def test_output_of_the_wrong_size_is_failed() -> None:
    experiment = dataclasses.replace(
        lab.get("julia"),
        implementations=(
            _impl("pure Python"),
            lab.Implementation("short", lab.Kind.PEER, lambda params: lambda: [0, 1, 2]),
        ),
    )
    short = _run(experiment).rows[1]
    assert short.status is lab.Status.FAILED
    assert "output has 3 values, the 21x21 grid has 441" in short.detail


def test_every_julia_implementation_agrees_with_pure_python() -> None:
    result = _run(lab.get("julia"))
    for row in result.rows:
        if row.kind is lab.Kind.PEER and row.status is lab.Status.SKIPPED:
            continue  # Numba or Cython not installed here: the note says so
        assert row.status is lab.Status.OK, (row.name, row.detail)
    hpkit_rows = [r for r in result.rows if r.kind is lab.Kind.HPKIT]
    assert len(hpkit_rows) == len(kernels.simd_paths()) + 1


def test_cython_without_a_compiler_is_skipped_with_a_note(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("Cython")
    monkeypatch.setenv("CC", "no-such-compiler")
    with pytest.raises(lab.Skip, match="needs a C compiler; 'no-such-compiler' was not found"):
        peers.cython_module("_julia_cython")


def test_missing_peer_is_named_with_its_install_command() -> None:
    with pytest.raises(lab.Skip, match=r"not_a_peer is not installed \(pip install not-a-peer\)"):
        peers.require("not_a_peer", install="not-a-peer")


def test_tables_and_json_show_only_checked_numbers(
    small_julia: lab.Experiment, tmp_path: Path
) -> None:
    result = _run(small_julia)
    cells = {row[0].text: row for row in tables.rows(result)}
    assert cells["off by one"][-2].text == "FAILED"
    assert all(c.text == "—" for c in cells["off by one"][1:8])
    assert any("% of peak (no FMA)" in note for note in tables.footnotes(result))

    run = lab.LabRun(STUB_MACHINE, [result])
    run.write_json(tmp_path / "out.json")
    document = json.loads((tmp_path / "out.json").read_text())
    rows = {r["name"]: r for r in document["experiments"][0]["implementations"]}
    assert rows["off by one"]["timing"] is None
    assert rows["hpkit all threads"]["validated"] is True
    assert document["machine"]["cpu"]["model"] == "Test CPU 9000"


def test_report_embeds_pictures(small_julia: lab.Experiment, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    index = write_report(lab.LabRun(STUB_MACHINE, [_run(small_julia)]), tmp_path)
    page = index.read_text()
    assert "<table" in page and "data:image/png;base64," in page
    assert "Test CPU 9000" in page
    assert (tmp_path / "julia.png").stat().st_size > 0
    assert json.loads((tmp_path / "results.json").read_text())["experiments"][0]["params"]
    assert "<script" not in page and "http" not in page.split("<body>")[1]


def test_report_without_matplotlib_still_has_the_tables(
    small_julia: lab.Experiment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import now raises ImportError
    index = write_report(lab.LabRun(STUB_MACHINE, [_run(small_julia)]), tmp_path)
    page = index.read_text()
    assert "Plots unavailable: matplotlib is not installed" in page
    assert "<table" in page and "data:image/png" not in page


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5.62, "5.62 s"),
        (0.034, "34.0 ms"),
        (0.312, "312 ms"),
        (1.2e-5, "12.0 µs"),
        (3e-9, "3.00 ns"),
    ],
)
def test_times_keep_three_significant_digits(seconds: float, text: str) -> None:
    assert tables.format_seconds(seconds) == text


@pytest.mark.parametrize(
    ("ratio", "text"), [(0.062, "0.062×"), (7, "7.0×"), (34.04, "34.0×"), (1340, "1,340×")]
)
def test_ratios_read_naturally(ratio: float, text: str) -> None:
    assert tables.format_ratio(ratio) == text


def test_narrow_terminal_lists_notes_under_the_table(small_julia: lab.Experiment) -> None:
    result = _run(small_julia)
    wide = tables.rich_table(result, STUB_MACHINE, 400)
    narrow = tables.rich_table(result, STUB_MACHINE, 100)
    assert isinstance(wide, Table)
    assert not isinstance(narrow, Table)
    console = Console(file=io.StringIO(), width=100, record=True)
    console.print(narrow)
    text = console.export_text()
    assert "Notes" not in text
    assert "hpkit all threads: " in text
    assert max(len(line) for line in text.splitlines()) <= 100
