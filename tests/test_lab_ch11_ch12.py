"""The chapter 11 (ram, sketches) and chapter 12 (matching) experiments at tiny sizes,
and the lab's measured-figure columns (:class:`hpkit.lab.Metric`) they introduced.
Nothing here asserts a speed."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from hpkit import lab
from hpkit.lab import ch11_sketches, ch12_matching, runner, tables
from hpkit.lab.timing import TimingPolicy

pytest.importorskip("mmh3")
pytest.importorskip("wordfreq")

STUB_MACHINE: dict[str, Any] = {"cpu": {"model": "Test CPU 9000", "logical_cores": 2}}
POLICY = TimingPolicy(repeats=1, budget_s=0.05)


def _run_all(name: str, overrides: dict[str, str]) -> list[lab.ExperimentResult]:
    experiment = lab.get(name)
    return [
        runner.run_experiment(experiment, params, quick=True, policy=POLICY, machine=STUB_MACHINE)
        for params in experiment.resolve_cases(quick=True, overrides=overrides)
    ]


def _rows(result: lab.ExperimentResult) -> dict[str, lab.ImplResult]:
    return {row.name: row for row in result.rows}


def _assert_clean(results: list[lab.ExperimentResult]) -> None:
    for result in results:
        assert result.unexpected_failures() == [], [
            (r.name, r.detail) for r in result.unexpected_failures()
        ]
        assert any(r.status is lab.Status.OK for r in result.rows)


def test_groups_and_alias() -> None:
    assert {e.name for e in lab.select(["ram"])} == {"ram-numbers", "ram-tokens", "ram-lookups"}
    matching = {e.name for e in lab.select(["matching"])}
    assert matching == {"matching-overlapping", "matching-leftmost", "matching-tokens"}
    assert {e.name for e in lab.select(["match"])} == matching
    assert len(lab.select(["sketches"])) == 7


def test_ram_numbers() -> None:
    (result,) = _run_all("ram-numbers", {"n": "20000"})
    _assert_clean([result])
    rows = _rows(result)
    assert all(r.status is lab.Status.OK for r in result.rows)
    assert "199,990,000" in rows["list of int"].detail  # n(n-1)/2
    per_item = {name: row.metrics["Bytes/item"] for name, row in rows.items()}
    assert per_item["list of int"] == pytest.approx(8 + 28 * (20000 - 257) / 20000, rel=0.01)
    assert per_item["array('i')"] < per_item["array('l')"] < per_item["list of int"]
    headers = [c.header for c in tables.columns(result)]
    assert {"MiB", "Bytes/item", "Traced MiB"} <= set(headers)


def test_ram_tokens_and_lookups() -> None:
    (stores,) = _run_all("ram-tokens", {"tokens": "20000"})
    _assert_clean([stores])
    rows = _rows(stores)
    for name in ("list of str, every token", "set", "sorted list (bisect)"):
        assert rows[name].status is lab.Status.OK, (name, rows[name].detail)
        assert rows[name].metrics["RSS MiB"] is not None
    assert rows["set"].metrics["Own MiB"] > rows["list of str, distinct"].metrics["Own MiB"]
    (lookups,) = _run_all("ram-lookups", {"tokens": "20000", "lookups": "300"})
    _assert_clean([lookups])
    rows = _rows(lookups)
    assert rows["list of every token"].status is lab.Status.OK  # small enough to scan
    assert "300 hits, 300 misses" in rows["set"].detail
    assert rows["set"].metrics["M lookups/s"] > 0


def test_sketch_estimators() -> None:
    results = _run_all("sketches-hll", {"n": "3000", "p": "10"})
    results += _run_all("sketches-kmv", {"n": "3000", "k": "256"})
    results += _run_all("sketches-loglog", {"n": "3000", "p": "8"})
    _assert_clean(results)
    assert len(results) == 4  # hll: cases str and int64
    for result in results:
        reference = result.rows[0]
        assert reference.kind is lab.Kind.REFERENCE and reference.status is lab.Status.OK
        assert reference.metrics["Estimate"] is not None
        for row in result.rows:
            if row.name.startswith("hpkit") and "book" in row.name and row.timing:
                assert "identical to the book version" in row.detail


def test_sketch_filters() -> None:
    bloom = _run_all("sketches-bloom", {"n": "4000", "misses": "4000"})
    scaling = _run_all("sketches-scaling", {"n": "5000", "capacity": "1000", "misses": "3000"})
    _assert_clean(bloom + scaling)
    for result in bloom + scaling:
        assert "no false negatives" in result.rows[0].detail
    assert _rows(scaling[0])["book ScalingBloomFilter (pure Python)"].metrics["Filters"] > 1


def test_sketch_tokens_and_rmse() -> None:
    (tokens,) = _run_all("sketches-tokens", {"tokens": "5000"})
    rmse = _run_all("sketches-hll-rmse", {"case": "1e3", "n": "2000", "seeds": "3"})
    _assert_clean([tokens, *rmse])
    assert _rows(tokens)["Python set (exact)"].metrics["Error"] == 0.0


def test_sketch_validation_uses_known_answers() -> None:
    params = {"case": "str", "n": 1_000_000, "p": 16}
    known = ch11_sketches._known(params, "hll", 16)
    assert known == (1_002_796.3523436624, 0.0)
    right = ch11_sketches.Estimate(1_002_796.3523436624, 10**6, known=known, definition=True)
    wrong = ch11_sketches.Estimate(1_002_796.35234366, 10**6, known=known, definition=True)
    assert ch11_sketches._estimate_validate(params, right, right).ok
    assert not ch11_sketches._estimate_validate(params, wrong, right).ok
    hpkit = ch11_sketches.Estimate(1_002_796.3523436624, 10**6, exact_oracle=True, known=known)
    assert ch11_sketches._estimate_validate(params, hpkit, right).ok
    off = ch11_sketches.Estimate(1.1e6, 10**6, tolerance=0.02)
    assert not ch11_sketches._estimate_validate(params, off, None).ok
    bloom = ch11_sketches.Membership(0, 600, 100_000, 0.005)
    assert ch11_sketches._membership_validate({}, bloom, None).ok
    assert not ch11_sketches._membership_validate(
        {}, ch11_sketches.Membership(1, 0, 10, 0.005), None
    ).ok
    assert not math.isnan(bloom.fp_rate)


def test_matching() -> None:
    overrides = {"tokens": "3000", "patterns": "500"}
    results = []
    for name in ("matching-overlapping", "matching-leftmost", "matching-tokens"):
        results += _run_all(name, overrides)
    _assert_clean(results)
    for result in results:
        rows = _rows(result)
        counts = {r.metrics["Matches"] for r in result.rows if r.status is lab.Status.OK}
        assert len(counts) == 1  # every checked row found the same matches
        assert result.rows[0].status is lab.Status.OK
        assert "MiB/s" in rows[result.rows[0].name].metrics


def test_matching_validation() -> None:
    params = {"tokens": 200_000, "first_rank": 1_001, "patterns": 10_000}
    found = ch12_matching.Found(np.zeros((655_862, 3), dtype=np.int64), "overlapping")
    short = ch12_matching.Found(np.zeros((655_861, 3), dtype=np.int64), "overlapping")
    assert ch12_matching._validate(params, found, None).ok
    check = ch12_matching._validate(params, short, None)
    assert not check.ok and "655,862" in check.detail
    triples = ch12_matching._triples([(5, 7, 1), (1, 3, 2), (1, 2, 0)])
    assert triples.tolist() == [[1, 2, 0], [1, 3, 2], [5, 7, 1]]


def test_metric_columns_in_tables_and_json() -> None:
    (result,) = _run_all("ram-numbers", {"n": "1000"})
    row = result.rows[0]
    as_dict = result.to_dict()["implementations"][0]
    assert as_dict["metrics"] == dict(row.metrics)
    cells = tables.rows(result)[0]
    headers = [c.header for c in tables.columns(result)]
    assert cells[headers.index("MiB")].text == f"{row.metrics['MiB']:,.1f}"
