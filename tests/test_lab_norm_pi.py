"""The norm and pi experiments, and the lab features they added: parallel scaling
(``workers``/``serial``), workloads with ``close()``, rate-only limit models and rows with
a ``known_issue``. Sizes are tiny; nothing here asserts a speed."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from hpkit import lab
from hpkit.lab import ch06_norm, ch09_pi, runner, tables
from hpkit.lab.timing import TimingPolicy
from hpkit.reference import norm as book_norm

STUB_MACHINE: dict[str, Any] = {
    "cpu": {"model": "Test CPU 9000", "logical_cores": 2},
    "limits": {"dram_bandwidth_gbs": 20.0},
}
POLICY = TimingPolicy(repeats=2, budget_s=0.2)


def _run(experiment: lab.Experiment, overrides: dict[str, str]) -> lab.ExperimentResult:
    params = experiment.resolve(quick=True, overrides=overrides)
    return runner.run_experiment(
        experiment, params, quick=True, policy=POLICY, machine=STUB_MACHINE
    )


def _rows(result: lab.ExperimentResult) -> dict[str, lab.ImplResult]:
    return {row.name: row for row in result.rows}


def test_norm_experiment_small() -> None:
    result = _run(lab.get("norm"), {"n": "5000"})
    rows = _rows(result)
    assert all(r.status is not lab.Status.FAILED for r in result.rows), [
        (r.name, r.detail) for r in result.rows
    ]
    assert f"{book_norm.closed_form(5000):,}" in rows["pure Python list loop"].detail
    assert result.oracle == book_norm.closed_form(5000)
    assert result.work == pytest.approx(8 * 5000 / 1e9)
    headers = [c.header for c in tables.columns(result)]
    assert "% of DRAM bandwidth" in headers and "Scaling" in headers


def test_norm_validation_shows_the_int64_wrap() -> None:
    params = {"n": 10**7}
    wrapped = 1_291_890_006_563_070_912
    check = ch06_norm._validate(params, wrapped, None)
    assert not check.ok
    assert "1,291,890,006,563,070,912" in check.detail and "wrapped" in check.detail
    assert ch06_norm._validate(params, 333_333_283_333_335_000_000, None).ok
    assert ch06_norm._validate(params, 3.33333283333335e20, None).ok
    assert not ch06_norm._validate(params, 3.3333e20, None).ok
    # numpy's int64 rows are a documented limitation: FAILED, but not a failed run
    numpy_int = [i for i in lab.get("norm").implementations if i.known_issue]
    assert {i.name for i in numpy_int} == {"numpy np.dot(v, v) int64", "numpy np.sum(v * v) int64"}


def test_numpy_int64_rows_fail_only_as_known_issue() -> None:
    """Beyond ~3.04e6 the sum passes 2**63: numpy int64 wraps, hpkit stays exact."""
    experiment = lab.get("norm")
    keep = {"pure Python list loop", "numpy np.dot(v, v) int64", "hpkit int64 exact, all threads"}
    small = dataclasses.replace(
        experiment,
        name="norm-wrap",
        implementations=tuple(i for i in experiment.implementations if i.name in keep),
    )
    result = _run(small, {"n": "3100000"})
    rows = _rows(result)
    assert rows["numpy np.dot(v, v) int64"].status is lab.Status.FAILED
    assert "wrapped around" in rows["numpy np.dot(v, v) int64"].detail
    assert rows["hpkit int64 exact, all threads"].status is lab.Status.OK
    assert result.unexpected_failures() == []


def test_pi_experiment_small() -> None:
    experiment = lab.get("pi")
    keep = {"pure Python", "numpy default_rng blocks", "numpy RandomState (book)"}
    keep |= {i.name for i in experiment.implementations if i.kind is lab.Kind.HPKIT}
    small = dataclasses.replace(
        experiment,
        name="pi-small",
        implementations=tuple(i for i in experiment.implementations if i.name in keep),
    )
    result = _run(small, {"samples": "10000"})
    rows = _rows(result)
    assert all(r.status is lab.Status.OK for r in result.rows), [
        (r.name, r.detail) for r in result.rows
    ]
    # WORKLOADS.md W9.1 known answers at n = 10,000, seed 0
    assert "7,838 inside" in rows["pure Python"].detail
    assert "7,868 inside" in rows["numpy RandomState (book)"].detail
    assert "7,855 inside" in rows["numpy default_rng blocks"].detail
    hpkit_details = {rows[n].detail for n in rows if rows[n].kind is lab.Kind.HPKIT}
    assert len(hpkit_details) == 1  # same darts on every path and thread count
    assert "SplitMix64 reference" in hpkit_details.pop()
    headers = [c.header for c in tables.columns(result)]
    assert "Msamples/s" in headers and "samples/s" not in headers  # rate only, no peak
    assert result.rate(rows["pure Python"]) is not None


def test_pi_parallel_rows_run_and_close_their_pools() -> None:
    experiment = lab.get("pi")
    parallel = [i for i in experiment.implementations if i.serial == "pure Python"]
    threads = next(i for i in parallel if i.name.startswith("threads"))
    pools = [i for i in parallel if i.name == "multiprocessing Pool(2)"]
    keep = {"pure Python", threads.name, *(i.name for i in pools)}
    small = dataclasses.replace(
        experiment,
        name="pi-parallel",
        implementations=tuple(i for i in experiment.implementations if i.name in keep),
    )
    result = _run(small, {"samples": "20000", "seed": "3"})
    for row in result.rows:
        assert row.status is lab.Status.OK, (row.name, row.detail)
        if row.name != "pure Python":
            workers = result.workers(row)
            assert workers is not None and workers >= 1
            assert "worker seeds" in row.detail
            assert result.scaling(row) is not None


def test_pi_validation() -> None:
    params = {"samples": 10_000, "seed": 0}
    darts = ch09_pi.Darts(7_838, 10_000, "stdlib", (0,))
    assert ch09_pi._validate(params, darts, None).ok
    assert not ch09_pi._validate(params, dataclasses.replace(darts, inside=7_839), None).ok
    far = ch09_pi.Darts(7_000, 10_000, "stdlib", (1, 2))
    assert not ch09_pi._validate(params, far, None).ok
    wrong_split = ch09_pi.Darts(7_838, 9_999, "stdlib", (0,))
    assert not ch09_pi._validate(params, wrong_split, None).ok
    # hpkit rows: exactly the SplitMix64 oracle's count (7,829 for seed 0, n = 10,000)
    hpkit = ch09_pi.Darts(7_829, 10_000, "splitmix", (0,))
    assert ch09_pi._validate(params, hpkit, None).ok
    assert "SplitMix64 reference" in ch09_pi._validate(params, hpkit, None).detail
    off_by_one = dataclasses.replace(hpkit, inside=7_830)
    check = ch09_pi._validate(params, off_by_one, None)
    assert not check.ok and "7,829" in check.detail


class _Closing:
    closed = 0

    def __init__(self, answer: object) -> None:
        self.answer = answer

    def __call__(self) -> object:
        return self.answer

    def close(self) -> None:
        type(self).closed += 1


def test_workloads_are_closed_whether_right_or_wrong() -> None:
    base = lab.get("norm")
    n = 1000
    exact = book_norm.closed_form(n)
    experiment = dataclasses.replace(
        base,
        name="norm-closing",
        implementations=(
            base.implementations[0],
            lab.Implementation("right", lab.Kind.PEER, lambda p: _Closing(exact)),
            lab.Implementation("wrong", lab.Kind.PEER, lambda p: _Closing(exact + 1)),
            lab.Implementation("crash", lab.Kind.PEER, lambda p: _Closing(np.array([1, 2]))),
        ),
    )
    _Closing.closed = 0
    result = _run(experiment, {"n": str(n)})
    statuses = [r.status for r in result.rows]
    assert statuses == [lab.Status.OK, lab.Status.OK, lab.Status.FAILED, lab.Status.FAILED]
    assert _Closing.closed == 3
    assert len(result.unexpected_failures()) == 2
