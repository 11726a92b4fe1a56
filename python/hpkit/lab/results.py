"""What a lab run produced: per implementation, per experiment, per run; and its JSON."""

from __future__ import annotations

import datetime
import enum
import json
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpkit.lab.model import Experiment, Implementation, Kind, ParamValue
from hpkit.lab.timing import Timing


class Status(enum.StrEnum):
    OK = "ok"  # checked correct, then timed
    FAILED = "FAILED"  # wrong answer or crashed: never timed
    SKIPPED = "skipped"  # could not run here (peer missing): no figure at all


@dataclass(frozen=True)
class ImplResult:
    """The outcome for one implementation. ``timing`` is set only when ``status`` is OK."""

    name: str
    kind: Kind
    status: Status
    detail: str
    note: str = ""
    first_call_s: float | None = None
    timing: Timing | None = None
    #: the experiment's :class:`~hpkit.lab.model.Metric` values by header (checked rows)
    metrics: Mapping[str, float | None] = field(default_factory=dict)


@dataclass
class ExperimentResult:
    """One experiment's rows, plus what the ratios and the limit column are taken against."""

    experiment: Experiment
    params: dict[str, ParamValue]
    quick: bool
    rows: list[ImplResult] = field(default_factory=list)
    #: canonical output of the reference implementation (not written to JSON)
    oracle: Any = None
    #: work of one run in the limit model's units, and the machine's limit
    work: float | None = None
    peak: float | None = None

    def baseline(self, kind: Kind) -> ImplResult | None:
        """The first timed row of ``kind``: the denominator of the "x vs" columns."""
        return next((r for r in self.rows if r.kind is kind and r.timing is not None), None)

    def speedup(self, row: ImplResult, kind: Kind) -> float | None:
        """How many times faster ``row`` is than the baseline of ``kind`` (best vs best)."""
        base = self.baseline(kind)
        if base is None or base.timing is None or row.timing is None:
            return None
        return base.timing.best / row.timing.best

    @property
    def case_suffix(self) -> str:
        """``"-<case>"`` for an experiment run at several cases (``""`` otherwise): keeps
        the report's file names and anchors of two cases apart."""
        return f"-{self.params['case']}" if self.experiment.cases else ""

    def best_per_unit(self, row: ImplResult) -> float | None:
        """Best time divided by the experiment's units of work (see ``Experiment.per``)."""
        per = self.experiment.per
        if per is None or row.timing is None:
            return None
        units = per.count(self.params)
        return row.timing.best / units if units else None

    def rate(self, row: ImplResult) -> float | None:
        """Achieved rate in the limit model's unit (e.g. GFLOP/s), from the best time."""
        if self.work is None or row.timing is None:
            return None
        return self.work / row.timing.best

    def fraction_of_peak(self, row: ImplResult) -> float | None:
        rate = self.rate(row)
        if rate is None or not self.peak:
            return None
        return rate / self.peak

    def workers(self, row: ImplResult) -> int | None:
        """Threads or processes the row's implementation declares (``None``: not said)."""
        implementation = self.implementation(row)
        return None if implementation is None else implementation.workers

    def scaling(self, row: ImplResult) -> float | None:
        """Parallel efficiency: speedup over the row's serial version divided by its
        workers (1.0 = linear); ``None`` unless both rows were timed."""
        implementation = self.implementation(row)
        if implementation is None or not implementation.workers or not implementation.serial:
            return None
        serial = next((r for r in self.rows if r.name == implementation.serial), None)
        if serial is None or serial.timing is None or row.timing is None:
            return None
        return serial.timing.best / row.timing.best / implementation.workers

    def implementation(self, row: ImplResult) -> Implementation | None:
        """The declared implementation behind ``row``."""
        return next((i for i in self.experiment.implementations if i.name == row.name), None)

    def unexpected_failures(self) -> list[ImplResult]:
        """FAILED rows, except those whose implementation declares a ``known_issue``."""
        return [
            row
            for row in self.rows
            if row.status is Status.FAILED
            and not getattr(self.implementation(row), "known_issue", None)
        ]

    def to_dict(self) -> dict[str, Any]:
        experiment = self.experiment
        limit = experiment.limit
        return {
            "name": experiment.name,
            "chapter": experiment.chapter,
            "title": experiment.title,
            "mode": "quick" if self.quick else "full",
            "params": dict(self.params),
            "notes": list(experiment.notes),
            "limit": None
            if limit is None
            else {
                "label": limit.label,
                "rate_unit": limit.rate_unit,
                "explanation": limit.explanation,
                "work": self.work,
                "peak": self.peak,
            },
            "implementations": [self._row_dict(row) for row in self.rows],
        }

    def _row_dict(self, row: ImplResult) -> dict[str, Any]:
        timing = row.timing
        return {
            "name": row.name,
            "kind": str(row.kind),
            "status": str(row.status),
            "validated": row.status is Status.OK,
            "detail": row.detail,
            "note": row.note,
            "first_call_s": row.first_call_s,
            "timing": None
            if timing is None
            else {
                "best_s": timing.best,
                "median_s": timing.median,
                "runs": timing.runs,
                "samples_s": list(timing.samples),
            },
            "best_per_unit_s": self.best_per_unit(row),
            "speedup_vs_reference": self.speedup(row, Kind.REFERENCE),
            "speedup_vs_numpy": self.speedup(row, Kind.NUMPY),
            "rate": self.rate(row),
            "fraction_of_peak": self.fraction_of_peak(row),
            "workers": self.workers(row),
            "scaling": self.scaling(row),
            "metrics": dict(row.metrics),
        }


@dataclass
class LabRun:
    """Everything one ``hpkit lab`` invocation measured, on which machine, when."""

    machine: Mapping[str, Any]
    experiments: list[ExperimentResult] = field(default_factory=list)
    created: str = field(
        default_factory=lambda: datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    )

    def to_dict(self) -> dict[str, Any]:
        from hpkit import __version__

        return {
            "hpkit_version": __version__,
            "python": platform.python_version(),
            "created": self.created,
            "machine": self.machine,
            "experiments": [e.to_dict() for e in self.experiments],
        }

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n")
