"""Run an experiment: set up, run once and check the answer, and only then time.

The order is the point. The first run of every implementation is checked against the
oracle (the book's pure-Python output at the same parameters, computed once) and the
experiment's known answers; a wrong answer is reported FAILED with what was wrong and is
never timed, so no table can show a fast wrong result. That checked run is also the
warm-up. A peer that cannot be imported or compiled is reported skipped with a note.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rich.progress import Progress, TaskID

from hpkit.lab.model import (
    Experiment,
    Implementation,
    Kind,
    ParamError,
    Params,
    ParamValue,
    Skip,
    Workload,
)
from hpkit.lab.results import ExperimentResult, ImplResult, LabRun, Status
from hpkit.lab.timing import Timing, TimingPolicy, measure, time_once


def policy_for(*, quick: bool, repeats: int | None) -> TimingPolicy:
    """Default repeats and time budget per implementation; ``--repeats N`` is exact.

    Fast implementations get many runs (the best of many is robust to a neighbour
    stealing the CPU for a moment), slow ones as many as fit the budget, at least one.
    """
    if repeats is not None:
        return TimingPolicy(repeats=repeats, budget_s=float("inf"), exact=True)
    if quick:
        return TimingPolicy(repeats=10, budget_s=0.3)
    return TimingPolicy(repeats=30, budget_s=2.0)


class _Reporter:
    """Progress for one experiment: a bar per implementation, a line for the phase."""

    def __init__(self, progress: Progress | None, experiment: Experiment) -> None:
        self._progress = progress
        self._prefix = experiment.name
        self._task: TaskID | None = None
        if progress is not None:
            self._task = progress.add_task(self._prefix, total=len(experiment.implementations))

    def phase(self, implementation: Implementation, what: str) -> None:
        if self._progress is not None and self._task is not None:
            label = f"{self._prefix}: {implementation.name} - {what}"
            self._progress.update(self._task, description=label)

    def done(self) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)

    def close(self) -> None:
        """Remove the bar, so the results printed next are not interleaved with it."""
        if self._progress is not None and self._task is not None:
            self._progress.remove_task(self._task)


def run_experiment(
    experiment: Experiment,
    params: Params,
    *,
    quick: bool,
    policy: TimingPolicy,
    machine: Mapping[str, Any],
    progress: Progress | None = None,
) -> ExperimentResult:
    """Every implementation of ``experiment`` at ``params``, reference (oracle) first."""
    result = ExperimentResult(experiment, dict(params), quick)
    reporter = _Reporter(progress, experiment)
    references = [i for i in experiment.implementations if i.kind is Kind.REFERENCE]
    oracle_impl = references[0] if references else None
    ordered = [*references[:1], *(i for i in experiment.implementations if i is not oracle_impl)]
    outcomes: dict[str, ImplResult] = {}
    fallback = experiment.fallback_oracle
    for implementation in ordered:
        is_oracle = implementation is oracle_impl
        if not is_oracle and result.oracle is None and fallback is not None:
            reporter.phase(implementation, "computing the expected answer")
            expected = fallback(params)  # None: no expected answer at these parameters
            result.oracle = None if expected is None else experiment.canonical(params, expected)
            fallback = None  # once
        row, canonical = _run_one(
            experiment, implementation, params, result.oracle, is_oracle, policy, reporter
        )
        if is_oracle and row.status is Status.OK:
            result.oracle = canonical
        outcomes[implementation.name] = row
        reporter.done()
    reporter.close()
    result.rows = [outcomes[i.name] for i in experiment.implementations]
    if experiment.limit is not None and result.oracle is not None:
        result.work = experiment.limit.work(params, result.oracle)
        peak = experiment.limit.peak
        result.peak = None if peak is None else peak(machine)
    return result


def _run_one(
    experiment: Experiment,
    implementation: Implementation,
    params: Params,
    oracle: Any,
    is_oracle: bool,
    policy: TimingPolicy,
    reporter: _Reporter,
) -> tuple[ImplResult, Any]:
    """One implementation's row, and its canonical output when it was correct.

    The oracle implementation is checked against its own output, which leaves only the
    experiment's known answers to catch it - by definition it cannot disagree with itself.
    """

    def row(
        status: Status,
        detail: str,
        first_call_s: float | None = None,
        timing: Timing | None = None,
        metrics: Mapping[str, float | None] | None = None,
    ) -> ImplResult:
        return ImplResult(
            implementation.name,
            implementation.kind,
            status,
            detail,
            implementation.note,
            first_call_s,
            timing,
            dict(metrics or {}),
        )

    reporter.phase(implementation, "setting up")
    try:
        workload = implementation.setup(params)
    except Skip as why:
        return row(Status.SKIPPED, str(why)), None
    except ImportError as missing:
        return row(Status.SKIPPED, f"{missing.name or missing} is not installed"), None
    except Exception as error:  # any setup failure becomes a FAILED row
        return row(Status.FAILED, f"setup raised {_describe(error)}"), None
    try:
        return _check_and_time(
            experiment, implementation, params, oracle, is_oracle, policy, reporter, workload, row
        )
    finally:
        close = getattr(workload, "close", None)
        if callable(close):
            close()


def _check_and_time(
    experiment: Experiment,
    implementation: Implementation,
    params: Params,
    oracle: Any,
    is_oracle: bool,
    policy: TimingPolicy,
    reporter: _Reporter,
    workload: Workload,
    row: Callable[..., ImplResult],
) -> tuple[ImplResult, Any]:
    """Run ``workload`` once, check its answer, and time it only if it is right."""
    reporter.phase(implementation, "first run (checked, warm-up)")
    try:
        first_call_s, output = time_once(workload)
    except Exception as error:  # a crash is a wrong answer, shown not raised
        return row(Status.FAILED, f"raised {_describe(error)}"), None
    try:
        canonical = experiment.canonical(params, output)
        check = experiment.validate(params, canonical, canonical if is_oracle else oracle)
    except Exception as error:  # an unreadable output is a wrong answer
        return row(Status.FAILED, f"output could not be checked: {_describe(error)}"), None
    if not check.ok:
        return row(Status.FAILED, check.detail, first_call_s), None

    def on_run(done: int, planned: int) -> None:
        reporter.phase(implementation, f"timing {done}/{planned}")

    timing = measure(workload, policy, on_run)
    metrics = _metrics(experiment, params, canonical, timing.best)
    return row(Status.OK, check.detail, first_call_s, timing, metrics), canonical


def _metrics(
    experiment: Experiment, params: Params, canonical: Any, best_s: float | None
) -> dict[str, float | None]:
    """The experiment's measured figures for one checked row; one that cannot be read
    shows as a dash rather than failing the row."""
    values: dict[str, float | None] = {}
    for metric in experiment.metrics:
        try:
            values[metric.header] = metric.value(params, canonical, best_s)
        except Exception:  # a figure that does not apply to this row
            values[metric.header] = None
    return values


def _describe(error: BaseException) -> str:
    message = str(error).strip().splitlines()
    return f"{type(error).__name__}: {message[0]}" if message else type(error).__name__


def plan(
    selected: Sequence[Experiment], *, quick: bool, overrides: Mapping[str, str]
) -> list[tuple[Experiment, dict[str, ParamValue]]]:
    """Resolve every experiment's parameters before anything runs, so a typo in
    ``--param`` fails at once instead of after minutes of timing.

    With several experiments a parameter goes to those that declare it, and must be
    declared by at least one of them.
    """
    if len(selected) == 1:
        experiment = selected[0]
        return [
            (experiment, params)
            for params in experiment.resolve_cases(quick=quick, overrides=overrides)
        ]
    declared = {p.name for experiment in selected for p in experiment.params}
    unknown = sorted(set(overrides) - declared)
    if unknown:
        raise ParamError(f"no selected experiment has a parameter {unknown[0]!r}")
    resolved = []
    for experiment in selected:
        names = {p.name for p in experiment.params}
        mine = {k: v for k, v in overrides.items() if k in names}
        for params in experiment.resolve_cases(quick=quick, overrides=mine):
            resolved.append((experiment, params))
    return resolved


def run_lab(
    planned: Sequence[tuple[Experiment, Params]],
    *,
    quick: bool,
    policy: TimingPolicy,
    machine: Mapping[str, Any],
    progress: Progress | None = None,
    on_result: Callable[[ExperimentResult], None] | None = None,
) -> LabRun:
    """Run the planned experiments in order; ``on_result`` sees each as it finishes."""
    run = LabRun(machine)
    for experiment, params in planned:
        result = run_experiment(
            experiment, params, quick=quick, policy=policy, machine=machine, progress=progress
        )
        run.experiments.append(result)
        if on_result is not None:
            on_result(result)
    return run
