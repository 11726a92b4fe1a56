"""What an experiment declares: its parameters, implementations, checker and limit model.

An experiment is data, not a script: the runner (:mod:`hpkit.lab.runner`) owns the order
of work (set up, run once and check, then time), so every chapter gets the same honesty
rules - a wrong answer is never timed, a missing peer is skipped with a note, never
replaced by an invented figure.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hpkit.errors import InvalidInputError

#: A parameter value as the command line can give it.
ParamValue = int | float | str | bool
#: The resolved parameters of one run, by name.
Params = Mapping[str, ParamValue]
#: A zero-argument callable doing the timed work once and returning its output.
Workload = Callable[[], object]


class Kind(enum.StrEnum):
    """Where an implementation comes from; the table's ratios are taken against these."""

    REFERENCE = "reference"  # the book's pure-Python version, the oracle
    NUMPY = "numpy"  # the book's vectorised numpy version
    PEER = "peer"  # another library (Numba, Cython, ...), skipped when missing
    HPKIT = "hpkit"  # this toolkit


class Skip(Exception):
    """Raised by a setup when an implementation cannot run here; the message says why."""


class ParamError(InvalidInputError):
    """A parameter given on the command line is unknown or out of its domain."""


@dataclass(frozen=True)
class Param:
    """One tunable size. The type of ``full`` is the type accepted from the command line."""

    name: str
    full: ParamValue
    quick: ParamValue
    help: str
    minimum: int | float | None = None

    def parse(self, text: str) -> ParamValue:
        """Convert a command-line string to this parameter's type and check its domain."""
        kind = type(self.full)
        value: ParamValue
        try:
            if kind is bool:
                value = _parse_bool(text)
            elif kind is int:
                value = int(text, 0)  # accepts 1_000_000 and 0x10 too
            else:
                value = kind(text)
        except ValueError:
            raise ParamError(
                f"parameter {self.name} must be {_TYPE_NAMES[kind]}, got {text!r}"
            ) from None
        self.check(value)
        return value

    def check(self, value: ParamValue) -> None:
        """Refuse a value outside the domain, naming the limit."""
        if self.minimum is not None and isinstance(value, int | float) and value < self.minimum:
            raise ParamError(f"parameter {self.name} must be >= {self.minimum}, got {value}")


_TYPE_NAMES: dict[type, str] = {
    int: "an integer",
    float: "a number",
    str: "a string",
    bool: "true or false",
}


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


@dataclass(frozen=True)
class Check:
    """The verdict on one output: ``ok`` and a short human explanation either way."""

    ok: bool
    detail: str


@dataclass(frozen=True)
class Implementation:
    """One way to compute the experiment's answer.

    ``setup(params)`` prepares inputs (not timed) and returns the workload to time. It
    raises :class:`Skip` (or ``ImportError``) when a peer is missing; the note is shown.
    A workload holding resources set up outside the timed region (a process pool, a
    server) may have a ``close()`` method: the runner calls it once the row is finished,
    whether the row passed, failed or raised.

    ``workers`` is how many threads or processes the implementation uses; with
    ``serial``, the name of the one-worker row it parallelises, the table shows its
    scaling (speedup over that row divided by ``workers``; 100% is linear).

    ``known_issue`` names a documented limitation that makes the row wrong at some sizes
    (numpy's int64 wrapping around): such a row is still shown FAILED and never timed,
    but it does not make the run fail.
    """

    name: str
    kind: Kind
    setup: Callable[[Params], Workload]
    note: str = ""
    workers: int | None = None
    serial: str | None = None
    known_issue: str | None = None


@dataclass(frozen=True)
class LimitModel:
    """How close an implementation gets to a machine limit (e.g. FLOP/s against peak).

    ``work(params, oracle)`` counts the work of one run in ``rate_unit`` times seconds
    (GFLOP for ``GFLOP/s``); ``peak(machine)`` reads the limit from
    :func:`hpkit.machine.describe`'s dictionary, or ``None`` when it is unknown.
    ``peak=None`` declares a rate without a machine limit (e.g. samples/s): the table then
    shows the rate column only.
    """

    label: str
    rate_unit: str
    work: Callable[[Params, Any], float]
    peak: Callable[[Mapping[str, Any]], float | None] | None
    explanation: str


@dataclass(frozen=True)
class Figure:
    """An experiment-specific picture for the report, drawn from the oracle's output.

    ``draw(axes, params, oracle)`` draws on a matplotlib ``Axes``; the report saves it as
    ``DIR/<name>.png`` and embeds it.
    """

    name: str
    caption: str
    draw: Callable[[Any, Params, Any], None]


@dataclass(frozen=True)
class Case:
    """One named parameter set of an experiment that runs at several (a grid that fits
    in cache and one far beyond it, say); every case is run and shown as its own table.

    ``full`` and ``quick`` override the parameters' defaults in that mode; ``--param``
    values override both. An experiment with cases declares a ``case`` parameter (a
    string): ``all`` runs every case, a case's name runs only that one.
    """

    name: str
    full: Mapping[str, ParamValue]
    quick: Mapping[str, ParamValue]


@dataclass(frozen=True)
class Metric:
    """A measured figure shown as its own column beside the times, for experiments whose
    answer is a quantity to compare rather than only a time: memory, an estimate's
    relative error, a false-positive rate, lookups per second.

    ``value(params, output, best_s)`` reads it from a row's checked canonical output (and
    the row's best time in seconds, ``None`` if untimed); ``None`` shows a dash. It is
    computed outside the timed region, only for rows whose answer passed the check.
    """

    header: str
    value: Callable[[Params, Any, float | None], float | None]
    format: str = "{:.3g}"


@dataclass(frozen=True)
class Per:
    """Time per unit of work (per step, per item): the table adds a column with the best
    time divided by ``count(params)`` units, e.g. ``Per("step", lambda p: p["steps"])``."""

    unit: str
    count: Callable[[Params], float]


def _identity(params: Params, output: object) -> object:
    return output


@dataclass(frozen=True)
class Experiment:
    """A book chapter's workload, reproduced by several implementations and timed.

    ``canonical(params, output)`` turns any implementation's raw output into the form
    ``validate`` and the figures use (outside the timed region). The first implementation
    of kind :attr:`Kind.REFERENCE` is the oracle: its canonical output is computed once and
    passed to ``validate(params, output, oracle)`` for every implementation (``None`` if
    the reference itself failed).
    """

    name: str
    chapter: int
    title: str
    params: Sequence[Param]
    implementations: Sequence[Implementation]
    validate: Callable[[Params, Any, Any], Check]
    canonical: Callable[[Params, object], Any] = _identity
    limit: LimitModel | None = None
    figures: Sequence[Figure] = ()
    notes: Sequence[str] = ()
    #: several parameter sets, one table each (see :class:`Case`)
    cases: Sequence[Case] = ()
    #: a "time per unit" column (see :class:`Per`)
    per: Per | None = None
    #: measured figures shown as extra columns (see :class:`Metric`)
    metrics: Sequence[Metric] = ()
    #: the expected output computed directly (untimed; ``canonical`` is applied), used as
    #: the oracle when the reference implementation gives none - e.g. skipped as too slow
    #: at these sizes; it may return ``None`` where it has no answer either
    fallback_oracle: Callable[[Params], Any] | None = None

    def __post_init__(self) -> None:
        names = [i.name for i in self.implementations]
        if len(set(names)) != len(names):
            raise ValueError(f"experiment {self.name!r}: implementation names must be unique")
        declared = {p.name for p in self.params}
        if self.cases and "case" not in declared:
            raise ValueError(f"experiment {self.name!r} has cases but no 'case' parameter")
        for case in self.cases:
            unknown = (set(case.full) | set(case.quick)) - declared
            if unknown:
                first = sorted(unknown)[0]
                raise ValueError(
                    f"experiment {self.name!r}, case {case.name!r}: no parameter {first!r}"
                )

    def resolve(self, *, quick: bool, overrides: Mapping[str, str]) -> dict[str, ParamValue]:
        """The parameters of a run: quick or full defaults, with command-line overrides."""
        by_name = {p.name: p for p in self.params}
        unknown = sorted(set(overrides) - set(by_name))
        if unknown:
            known = ", ".join(by_name) or "none"
            raise ParamError(
                f"experiment {self.name!r} has no parameter {unknown[0]!r} (parameters: {known})"
            )
        values = {p.name: p.quick if quick else p.full for p in self.params}
        for name, text in overrides.items():
            values[name] = by_name[name].parse(text)
        return values

    def resolve_cases(
        self, *, quick: bool, overrides: Mapping[str, str]
    ) -> list[dict[str, ParamValue]]:
        """The parameter sets to run: one per selected :class:`Case` (just the resolved
        parameters for an experiment without cases)."""
        values = self.resolve(quick=quick, overrides=overrides)
        if not self.cases:
            return [values]
        chosen = values["case"]
        names = [case.name for case in self.cases]
        if chosen != "all" and chosen not in names:
            raise ParamError(
                f"experiment {self.name!r} has no case {chosen!r} (cases: {', '.join(names)}, all)"
            )
        runs = []
        for case in self.cases:
            if chosen in ("all", case.name):
                run = dict(values, case=case.name)
                defaults = case.quick if quick else case.full
                run.update({k: v for k, v in defaults.items() if k not in overrides})
                runs.append(run)
        return runs

    def describe_params(self, params: Params) -> str:
        """``width=1000, max_iter=300`` - for titles and captions."""
        return ", ".join(f"{name}={value}" for name, value in params.items())
