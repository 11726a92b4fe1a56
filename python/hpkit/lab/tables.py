"""One table layout for the terminal (rich) and the HTML report.

Cells carry a semantic style ("ok", "failed", ...) rather than colours, so the two
renderings cannot drift apart: the rich table and the report's ``<table>`` show the same
columns, units and ratios.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from hpkit.lab.host import cpu_line
from hpkit.lab.model import Kind
from hpkit.lab.results import ExperimentResult, ImplResult, Status

#: semantic cell style -> rich style
RICH_STYLES = {
    "ok": "green",
    "failed": "bold red",
    "skipped": "yellow",
    "hpkit": "bold cyan",
    "dim": "dim",
    "": "",
}

_STATUS_STYLES = {Status.OK: "ok", Status.FAILED: "failed", Status.SKIPPED: "skipped"}

#: a first call this much slower than the best run is worth pointing out (JIT, compile)
_SLOW_FIRST_CALL = 3.0


@dataclass(frozen=True)
class Cell:
    text: str
    style: str = ""


@dataclass(frozen=True)
class Column:
    header: str
    numeric: bool = True


def _three_digits(value: float) -> str:
    """``1.05``, ``34.0``, ``312`` - three significant digits, trailing zeros kept."""
    decimals = 2 if value < 10 else 1 if value < 100 else 0
    return f"{value:.{decimals}f}"


def format_seconds(seconds: float) -> str:
    """Three significant digits in the unit that keeps the number between 1 and 1000."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{_three_digits(seconds / scale)} {unit}"
    return f"{_three_digits(seconds / 1e-9)} ns"


def format_ratio(ratio: float) -> str:
    """``0.062×``, ``1.9×``, ``34.0×``, ``1,340×``."""
    if ratio >= 100:
        return f"{ratio:,.0f}×"
    if ratio >= 0.95:  # 0.99 reads "1.0×", not "1×" from two significant digits
        return f"{ratio:.1f}×"
    return f"{ratio:.2g}×"


def format_percent(fraction: float) -> str:
    """``23.4%``, and two decimals below 1% so slow rows do not all read 0.0%."""
    if fraction >= 0.01:
        return f"{fraction:.1%}"
    return f"{fraction:.2%}" if fraction >= 0.0001 else "<0.01%"


def columns(result: ExperimentResult) -> list[Column]:
    heads = [
        Column("Implementation", numeric=False),
        Column("Best"),
        Column("Median"),
        Column("Runs"),
        Column("vs Python"),
        Column("vs numpy"),
    ]
    per = result.experiment.per
    if per is not None:
        heads.insert(2, Column(f"Best per {per.unit}"))
    limit = result.experiment.limit
    if limit is not None:
        heads.append(Column(limit.rate_unit))
        if limit.peak is not None:
            heads.append(Column(limit.label))
    if _shows_scaling(result):
        heads += [Column("Workers"), Column("Scaling")]
    heads += [Column(metric.header) for metric in result.experiment.metrics]
    return [*heads, Column("Check", numeric=False), Column("Notes", numeric=False)]


def _shows_scaling(result: ExperimentResult) -> bool:
    return any(i.workers for i in result.experiment.implementations)


def rows(result: ExperimentResult) -> list[list[Cell]]:
    return [_row(result, row) for row in result.rows]


def _row(result: ExperimentResult, row: ImplResult) -> list[Cell]:
    name_style = "hpkit" if row.kind is Kind.HPKIT else ""
    cells = [Cell(row.name, name_style)]
    timing = row.timing
    dash = Cell("—", "dim")
    per = result.experiment.per
    if timing is None:
        cells += [dash] * (5 if per is None else 6)
    else:
        cells.append(Cell(format_seconds(timing.best)))
        if per is not None:
            units = per.count(result.params)
            cells.append(Cell(format_seconds(timing.best / units)) if units else dash)
        cells += [
            Cell(format_seconds(timing.median)),
            Cell(str(timing.runs)),
            _ratio_cell(result.speedup(row, Kind.REFERENCE)),
            _ratio_cell(result.speedup(row, Kind.NUMPY)),
        ]
    limit = result.experiment.limit
    if limit is not None:
        rate, fraction = result.rate(row), result.fraction_of_peak(row)
        cells.append(dash if rate is None else Cell(f"{rate:.3g}"))
        if limit.peak is not None:
            cells.append(dash if fraction is None else Cell(format_percent(fraction)))
    if _shows_scaling(result):
        workers, scaling = result.workers(row), result.scaling(row)
        cells.append(dash if workers is None else Cell(str(workers)))
        cells.append(dash if scaling is None else Cell(f"{scaling:.0%}"))
    for metric in result.experiment.metrics:
        value = row.metrics.get(metric.header)
        cells.append(dash if value is None else Cell(metric.format.format(value)))
    style = _STATUS_STYLES[row.status]
    cells.append(Cell(str(row.status), style))
    cells.append(Cell(_notes_cell(row), "" if row.status is Status.OK else style))
    return cells


def _ratio_cell(ratio: float | None) -> Cell:
    return Cell("—", "dim") if ratio is None else Cell(format_ratio(ratio))


def _notes_cell(row: ImplResult) -> str:
    """What a reader needs beside the numbers: why a row failed or was skipped, or the
    implementation's own note and a first call much slower than the rest (JIT/compile)."""
    if row.status is not Status.OK:
        return row.detail
    parts = [row.note] if row.note else []
    if row.timing and row.first_call_s and row.first_call_s > _SLOW_FIRST_CALL * row.timing.best:
        parts.append(f"first call {format_seconds(row.first_call_s)}")
    return "; ".join(parts)


def title(result: ExperimentResult) -> str:
    experiment = result.experiment
    mode = "quick" if result.quick else "full"
    return (
        f"Ch{experiment.chapter} · {experiment.name} — {experiment.title} "
        f"({experiment.describe_params(result.params)}; {mode})"
    )


def footnotes(result: ExperimentResult) -> list[str]:
    """The table's fine print: what was timed, how it was checked, what the limit is."""
    notes = list(result.experiment.notes)
    reference = result.baseline(Kind.REFERENCE)
    if reference is not None:
        notes.append(f"{reference.name} (the oracle): {reference.detail}.")
    notes.append(
        "Best and median of the timed runs after one checked warm-up run (which absorbs "
        "JIT compilation); slow implementations get fewer runs. vs Python / vs numpy: "
        "times faster than those rows, best against best."
    )
    if _shows_scaling(result):
        notes.append(
            "Scaling: speedup over the row's one-worker version divided by its workers "
            "(100% = linear)."
        )
    limit = result.experiment.limit
    if limit is not None and limit.peak is None:
        if result.work is not None:
            work_unit = limit.rate_unit.removesuffix("/s")
            notes.append(
                f"{limit.rate_unit}: {limit.explanation}; one run = {result.work:.4g} {work_unit}."
            )
    elif limit is not None:
        work_unit = limit.rate_unit.removesuffix("/s")
        if result.work is None:
            notes.append(f"{limit.label}: unavailable (no checked reference output).")
        elif not result.peak:
            notes.append(f"{limit.label}: {limit.explanation}; this machine's peak is unknown.")
        else:
            notes.append(
                f"{limit.label}: {limit.explanation}; one run = {result.work:.4g} {work_unit}, "
                f"peak {result.peak:.4g} {limit.rate_unit}."
            )
    return notes


#: The narrowest the Notes column may get; below that, notes go under the table.
NOTES_MIN_WIDTH = 24


def rich_table(
    result: ExperimentResult, machine: Mapping[str, Any], width: int | None = None
) -> RenderableType:
    """The terminal table, captioned with the CPU the timings come from. Numbers and names
    never wrap (a header may); when ``width`` leaves the Notes column too narrow to read,
    the notes are listed under the table instead."""
    heads, body = columns(result), rows(result)
    widest = [
        max([len(head.header)] + [len(cells[i].text) for cells in body])
        for i, head in enumerate(heads)
    ]
    fixed = sum(widest[:-1]) + 3 * len(heads) + 1  # every column but Notes, with borders
    notes_below = width is not None and width - fixed < NOTES_MIN_WIDTH
    if notes_below:
        heads = heads[:-1]
    table = Table(
        title=title(result),
        caption=cpu_line(machine),
        title_style="bold",
        caption_justify="right",
        header_style="bold",
    )
    for index, column in enumerate(heads):
        keep_whole = column.numeric or index == 0
        table.add_column(
            column.header,
            justify="right" if column.numeric else "left",
            overflow="fold",
            min_width=widest[index] if keep_whole else min(widest[index], NOTES_MIN_WIDTH),
        )
    for cells in body:
        shown = cells[: len(heads)]
        table.add_row(*(Text(c.text, style=RICH_STYLES[c.style]) for c in shown))
    if not notes_below:
        return table
    notes = [
        Text.assemble(
            (f"{cells[0].text}: ", "bold"), (cells[-1].text, RICH_STYLES[cells[-1].style])
        )
        for cells in body
        if cells[-1].text
    ]
    return Group(table, *notes)
