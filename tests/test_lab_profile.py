"""``hpkit lab profile`` (chapter 2's profilers) at tiny sizes: every installed tool's row is
checked and shown, hpkit's lines mode counts exactly, a missing tool is skipped and a
wrong answer fails its row untimed. Nothing here asserts a speed."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from hpkit import lab
from hpkit.lab import ch02_profile as profile
from hpkit.lab import runner, tables
from hpkit.lab.timing import TimingPolicy
from hpkit.reference import julia as book

STUB_MACHINE: dict[str, Any] = {"cpu": {"model": "Test CPU 9000", "logical_cores": 2}}
POLICY = TimingPolicy(repeats=1, budget_s=0.05)
#: no published answer at width 20: every row is checked against the unprofiled runs
TINY = {"width": "20", "max_iter": "300", "mprof_width": "10"}
TOOLS = {tool.name: tool for tool in profile.TOOLS}


def _run(experiment: lab.Experiment, overrides: dict[str, str] = TINY) -> lab.ExperimentResult:
    params = experiment.resolve(quick=True, overrides=overrides)
    return runner.run_experiment(
        experiment, params, quick=True, policy=POLICY, machine=STUB_MACHINE
    )


def _rows(result: lab.ExperimentResult) -> dict[str, lab.ImplResult]:
    return {row.name: row for row in result.rows}


def _only(*names: str) -> Sequence[profile.Tool]:
    return [TOOLS[name] for name in names]


def test_registered_as_profile() -> None:
    assert lab.get("profile") is profile.EXPERIMENT
    assert ("profile", 2) in {(e.name, e.chapter) for e in lab.experiments()}
    assert profile.EXPERIMENT in lab.select(["all"])


def test_inner_loop_lines_come_from_the_source() -> None:
    loop = profile.inner_loop()
    source = Path(loop.filename).read_text().splitlines()
    for line, text in zip(loop.lines, loop.texts, strict=True):
        assert source[line - 1].strip() == text
    assert loop.lines[1] == loop.lines[0] + 1 and loop.lines[2] == loop.lines[1] + 1
    # width 10: an 11 x 11 grid, Σ output = 3,098 (WORKLOADS.md)
    assert profile.expected_hits(10, 3_098) == dict(
        zip(loop.lines, (3_219, 3_098, 3_098), strict=True)
    )


def test_every_tool_at_a_tiny_size() -> None:
    """The whole table: rows of installed tools pass, hpkit's lines mode counts exactly."""
    result = _run(profile.EXPERIMENT)
    rows = _rows(result)
    assert list(rows) == ["unprofiled", *TOOLS]
    problems = [(r.name, r.detail) for r in result.rows if r.status is lab.Status.FAILED]
    assert problems == []
    skipped = {r.name for r in result.rows if r.status is lab.Status.SKIPPED}
    assert not skipped & {"unprofiled", "cProfile"} and not any("hpkit" in n for n in skipped)
    unprofiled = rows["unprofiled"]
    assert unprofiled.metrics["Overhead"] == pytest.approx(1.0)
    assert "unprofiled runs at width 20 interleaved with the tools" in unprofiled.detail
    assert "the unprofiled run's" in unprofiled.detail  # no published answer at width 20
    lines = rows["hpkit lines"]
    total = int(book.calc_pure_python(20, 300).sum())
    assert (
        "hits exact (" + ", ".join(f"{n:,}" for n in profile.expected_hits(20, total).values())
        in lines.detail
    )
    for row in result.rows:
        if row.status is lab.Status.OK:
            assert row.timing is not None and row.metrics["In-script s"] is not None
            assert row.metrics["Overhead"] is not None
    if rows["py-spy 1 kHz"].status is lab.Status.OK:
        assert rows["py-spy 1 kHz"].metrics["Δ py-spy pp"] is None  # the reference itself
    if rows["line_profiler"].status is lab.Status.OK:
        assert "hits exact" in rows["line_profiler"].detail
        shares = [rows["line_profiler"].metrics[label] for label in profile.LINE_LABELS]
        assert sum(s for s in shares if s is not None) == pytest.approx(100.0)
    headers = [c.header for c in tables.columns(result)]
    assert {"Overhead", "In-script s", "Wall s", "Δ py-spy pp", *profile.LINE_LABELS} <= set(
        headers
    )


def test_missing_tool_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> Any:
        return None if name == "pyinstrument" else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    result = _run(profile.build(_only("cProfile", "pyinstrument"), name="profile-test"))
    rows = _rows(result)
    assert rows["pyinstrument"].status is lab.Status.SKIPPED
    assert "pip install pyinstrument" in rows["pyinstrument"].detail
    assert rows["cProfile"].status is lab.Status.OK, rows["cProfile"].detail


def _liar(out: Path, target: Sequence[str]) -> list[str]:
    """Writes a wrong sum in the target's answer file."""
    code = "import json, sys; json.dump({'seconds': 0.01, 'sum': 1}, open(sys.argv[1], 'w'))"
    return [sys.executable, "-c", code, *target[1:]]


def test_wrong_sum_fails_untimed() -> None:
    liar = profile.Tool("liar", lab.Kind.PEER, _liar, "writes sum 1")
    result = _run(profile.build([liar, TOOLS["cProfile"]], name="profile-test"))
    rows = _rows(result)
    assert rows["liar"].status is lab.Status.FAILED
    assert rows["liar"].timing is None and rows["liar"].metrics == {}
    assert "sum 1 at width 20" in rows["liar"].detail
    assert rows["cProfile"].status is lab.Status.OK, rows["cProfile"].detail
    assert result.unexpected_failures() == [rows["liar"]]


def _outcome(hits: dict[int, int] | None, exact_hits: bool = True) -> profile.Outcome:
    run = profile.Run(0.001, 3_098, 10, 0.1)
    measured = profile.Measured(
        "hpkit lines", 10, runs=(run,), baseline=(run,), reading=profile.Reading(hits=hits)
    )
    return profile.Outcome(measured, None, exact_hits)


def test_hit_counts_are_checked_exactly() -> None:
    params = {"width": 10, "max_iter": 300, "mprof_width": 10}
    right = profile.expected_hits(10, 3_098)
    assert profile._validate(params, _outcome(right), None).ok
    off = {line: n + (line == profile.inner_loop().lines[0]) for line, n in right.items()}
    check = profile._validate(params, _outcome(off), None)
    assert not check.ok and "not exact" in check.detail
    assert not profile._validate(params, _outcome(None), None).ok  # lines mode gave none
    assert profile._validate(params, _outcome(None, exact_hits=False), None).ok


def test_py_spy_reader(tmp_path: Path) -> None:
    loop = profile.inner_loop()
    where = f"calculate_z_serial_purepython ({loop.filename}:{{}})"
    raw = tmp_path / "raw.txt"
    raw.write_text(
        f"<module> (t.py:1);main (t.py:9);{where.format(loop.lines[0])} 30\n"
        f"<module> (t.py:1);{where.format(loop.lines[1])} 50\n"
        f"<module> (t.py:1);{where.format(loop.lines[2])} 20\n"
        "<module> (t.py:1);build_zs_cs (other.py:3) 7\n"
    )
    reading = profile._read_py_spy(raw, loop)
    assert reading.samples == 107 and reading.line_samples == 100
    measured = profile.Measured("x", 10, reading=reading)
    assert measured.shares == pytest.approx((0.3, 0.5, 0.2))
    other = dataclasses.replace(measured, reading=profile.Reading(per_line={loop.lines[0]: 1.0}),
                                reference=reading)  # fmt: skip
    assert other.delta == pytest.approx(70.0)
    assert other.delta_se is None  # unknown samples on one side
