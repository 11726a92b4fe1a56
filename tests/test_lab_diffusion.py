"""The chapter 6/7 lab experiments (diffusion, compile, ffi) at tiny sizes, and the lab
features they brought: cases (several parameter sets, one table each), a per-unit time
column and a fallback oracle. Nothing here asserts a speed."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hpkit import lab
from hpkit.lab import ch06_diffusion, runner, tables
from hpkit.lab.report import write_report
from hpkit.lab.timing import TimingPolicy
from hpkit.reference import diffusion as ref

STUB_MACHINE: dict[str, Any] = {
    "cpu": {"model": "Test CPU 9000", "logical_cores": 2, "caches": {"L3": 1 << 20}},
    "threads": 2,
    "limits": {"dram_bandwidth_gbs": 20.0},
}
POLICY = TimingPolicy(repeats=1, budget_s=0.05)


def _run(experiment: lab.Experiment, overrides: dict[str, str]) -> list[lab.ExperimentResult]:
    planned = runner.plan([experiment], quick=True, overrides=overrides)
    run = runner.run_lab(planned, quick=True, policy=POLICY, machine=STUB_MACHINE)
    return run.experiments


def _rows(result: lab.ExperimentResult) -> dict[str, lab.ImplResult]:
    return {row.name: row for row in result.rows}


def test_diffusion_runs_both_cases_and_checks_every_row() -> None:
    results = _run(lab.get("diffusion"), {"n": "24", "steps": "5"})
    assert [r.params["case"] for r in results] == ["cache", "memory"]
    for result in results:
        rows = _rows(result)
        assert rows["pure Python"].status is lab.Status.OK
        for name in ("hpkit 1 thread", "hpkit all threads", "hpkit, 1 step per pass"):
            assert rows[name].status is lab.Status.OK, rows[name].detail
            assert rows[name].detail.startswith("bit-identical to numpy order S")
        for row in result.rows:
            assert row.status is not lab.Status.FAILED, (row.name, row.detail)
        assert result.work == pytest.approx(2 * 24 * 24 * 8 * 5 / 1e9)
        assert result.peak == 20.0
        per_step = result.best_per_unit(rows["hpkit all threads"])
        timing = rows["hpkit all threads"].timing
        assert timing is not None and per_step == pytest.approx(timing.best / 5)
        assert "Best per step" in [c.header for c in tables.columns(result)]
        assert all(len(cells) == len(tables.columns(result)) for cells in tables.rows(result))


def test_case_selection_and_overrides() -> None:
    experiment = lab.get("diffusion")
    cases = experiment.resolve_cases(quick=False, overrides={})
    assert [(c["case"], c["n"], c["steps"]) for c in cases] == [
        ("cache", 512, 100),
        ("memory", 12288, 4),
    ]
    only = experiment.resolve_cases(quick=True, overrides={"case": "memory", "steps": "3"})
    assert only == [{"case": "memory", "n": 1024, "steps": 3}]
    with pytest.raises(lab.ParamError, match="no case 'huge'"):
        experiment.resolve_cases(quick=True, overrides={"case": "huge"})
    with pytest.raises(ValueError, match="no 'case' parameter"):
        dataclasses.replace(experiment, params=experiment.params[1:])


def _subset(*names: str) -> lab.Experiment:
    experiment = lab.get("diffusion")
    chosen = [i for i in experiment.implementations if i.name in names]
    return dataclasses.replace(experiment, implementations=chosen)


def test_pure_python_is_skipped_on_the_big_grid_and_the_fallback_is_the_oracle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ch06_diffusion, "PURE_PYTHON_MAX_UPDATES", 1000)
    params = {"case": "memory", "n": 48, "steps": 16}
    result = runner.run_experiment(
        _subset("pure Python", "hpkit all threads", "numpy in-place"),
        params,
        quick=True,
        policy=POLICY,
        machine=STUB_MACHINE,
    )
    rows = _rows(result)
    assert rows["pure Python"].status is lab.Status.SKIPPED
    assert "minutes" in rows["pure Python"].detail
    assert rows["hpkit all threads"].status is lab.Status.OK
    assert rows["numpy in-place"].status is lab.Status.OK
    assert result.oracle is not None and result.work is not None


def test_expected_grid_window_is_bit_identical_to_the_whole_grid() -> None:
    for n, steps in [(64, 10), (100, 7), (128, 20), (40, 30)]:
        whole = ref.run_order_s(ref.initial_grid(n), steps)
        np.testing.assert_array_equal(ch06_diffusion.expected_grid(n, steps), whole)


def test_diffusion_validation_catches_wrong_answers() -> None:
    params = {"case": "cache", "n": 32, "steps": 4}
    expected = ch06_diffusion.expected_grid(32, 4)
    check = ch06_diffusion.EXPERIMENT.validate
    canonical = ch06_diffusion.canonical

    def verdict(grid: Any, order: str) -> lab.Check:
        return check(params, canonical(params, ch06_diffusion.Run(grid, order)), None)

    assert verdict(expected.copy(), "S").ok
    off = expected.copy()
    off[3, 4] = np.nextafter(off[3, 4], 1.0)  # one ulp: fine for another order, not for S
    assert not verdict(off, "S").ok
    assert verdict(off, "N").ok
    off[3, 4] += 1e-9
    assert not verdict(off, "N").ok
    aliased = verdict(ref.book_aliased_grid(32), "P")
    assert not aliased.ok and "same list" in aliased.detail


def test_known_answers_are_checked_when_the_sizes_match() -> None:
    params = {"case": "cache", "n": 64, "steps": 10}
    run = ch06_diffusion.Run(ref.run_order_s(ref.initial_grid(64), 10), "S")
    verdict = ch06_diffusion.validate(params, ch06_diffusion.canonical(params, run), None)
    assert verdict.ok and "known answers match" in verdict.detail


def test_compile_has_one_table_per_workload() -> None:
    overrides = {"width": "20", "max_iter": "30", "n": "16", "steps": "3"}
    julia, diffusion = _run(lab.get("compile"), overrides)
    assert (julia.params["case"], diffusion.params["case"]) == ("julia", "diffusion")
    assert _rows(julia)["numexpr"].status is lab.Status.SKIPPED
    has_numexpr = importlib.util.find_spec("numexpr") is not None
    expected = lab.Status.OK if has_numexpr else lab.Status.SKIPPED
    assert _rows(diffusion)["numexpr"].status is expected
    for result in (julia, diffusion):
        rows = _rows(result)
        assert rows["PyPy"].status is lab.Status.SKIPPED
        assert "interpreter" in rows["PyPy"].detail
        for name in ("pure Python", "numpy", "hpkit 1 thread", "hpkit all threads"):
            assert rows[name].status is lab.Status.OK, (name, rows[name].detail)
        assert all(row.status is not lab.Status.FAILED for row in result.rows)
    cython = _rows(diffusion)["Cython"]
    if cython.status is lab.Status.OK:
        assert cython.detail.startswith("bit-identical")


def test_ffi_routes_all_return_the_sum() -> None:
    (result,) = _run(lab.get("ffi"), {"calls": "1000"})
    for row in result.rows:
        assert row.status is not lab.Status.FAILED, (row.name, row.detail)
    assert _rows(result)["PyO3 (hpkit._native)"].status is lab.Status.OK
    assert _rows(result)["ctypes"].status is lab.Status.OK


def test_report_keeps_the_cases_apart(tmp_path: Path) -> None:
    results = _run(_subset("pure Python", "hpkit all threads"), {"n": "16", "steps": "2"})
    index = write_report(lab.LabRun(STUB_MACHINE, results), tmp_path)
    page = index.read_text()
    assert 'id="diffusion-cache"' in page and 'id="diffusion-memory"' in page
    if "Plots unavailable" not in page:
        assert (tmp_path / "diffusion-cache.png").exists()
        assert (tmp_path / "diffusion-memory.png").exists()
