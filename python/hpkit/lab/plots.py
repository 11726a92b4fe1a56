"""PNG pictures for the report: the speedup bars and each experiment's own figures.

matplotlib is optional (``pip install 'hpkit[lab]'``): without it the report still has
every table and says the plots are unavailable. We draw on ``matplotlib.figure.Figure``
directly, never pyplot, so no GUI backend or global state is touched.
"""

from __future__ import annotations

import io
from typing import Any

from hpkit.lab.model import Figure, Kind
from hpkit.lab.results import ExperimentResult
from hpkit.lab.tables import format_ratio, format_seconds

#: bar colour per kind of implementation (colour-blind-safe Okabe-Ito hues)
KIND_COLOURS = {
    Kind.REFERENCE: "#999999",
    Kind.NUMPY: "#0072B2",
    Kind.PEER: "#E69F00",
    Kind.HPKIT: "#009E73",
}


def unavailable_reason() -> str | None:
    """Why plots cannot be drawn here, or ``None`` when they can."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return "matplotlib is not installed (pip install 'hpkit[lab]')"
    return None


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=144, bbox_inches="tight")
    return buffer.getvalue()


def speedup_chart(result: ExperimentResult) -> bytes | None:
    """Horizontal bars of speedup over pure Python on a log scale; ``None`` without a
    timed reference (there is nothing to be faster than)."""
    from matplotlib.figure import Figure as MplFigure
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    timed = [row for row in result.rows if row.timing is not None]
    speedups = [result.speedup(row, Kind.REFERENCE) for row in timed]
    if not timed or any(s is None for s in speedups):
        return None
    values = [s for s in speedups if s is not None]
    figure = MplFigure(figsize=(8, 0.45 * len(timed) + 1.2), layout="constrained")
    axes = figure.subplots()
    positions = range(len(timed))
    axes.barh(
        positions,
        values,
        color=[KIND_COLOURS[row.kind] for row in timed],
        height=0.65,
    )
    for y, (row, value) in enumerate(zip(timed, values, strict=True)):
        assert row.timing is not None
        label = f" {format_ratio(value)}  ({format_seconds(row.timing.best)})"
        axes.text(value, y, label, va="center", fontsize=9)
    axes.set_yticks(list(positions), [row.name for row in timed])
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.set_xlim(0.5, max(values) * 12)
    axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}×"))
    axes.set_xlabel("times faster than pure Python (log scale, best run)")
    axes.grid(axis="x", which="major", alpha=0.3)
    axes.spines[["top", "right"]].set_visible(False)
    kinds = dict.fromkeys(row.kind for row in timed)
    handles = [Patch(color=KIND_COLOURS[kind], label=str(kind)) for kind in kinds]
    axes.legend(handles=handles, loc="upper right", frameon=False, fontsize=8)
    return _png(figure)


def experiment_figure(figure: Figure, result: ExperimentResult) -> bytes:
    """One of the experiment's own pictures, drawn from the oracle's output."""
    from matplotlib.figure import Figure as MplFigure

    canvas = MplFigure(figsize=(6.4, 5.4), layout="constrained")
    figure.draw(canvas.subplots(), result.params, result.oracle)
    return _png(canvas)
