"""The summary printed when a profiled program ends: what ran and for how long, where the
wall time went (Python, native code, waiting), the top functions, and the source of the
hottest functions with each line's cost beside it, so the answer is on screen without
opening another tool.
"""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from hpkit.profile._model import STATES, LineKey, LineRow, Profile
from hpkit.profile.outputs._common import (
    MIB,
    command_line,
    fmt_bytes,
    fmt_seconds,
    frame_label,
    location,
)
from hpkit.profile.outputs._source import (
    alloc_sites,
    clip_span,
    function_span,
    hot_functions,
    line_metric,
    metric_total,
    source_lines,
    table_states,
)

STATE_STYLES = {"python": "yellow", "native": "cyan", "idle": "bright_black"}
_BAR = 10  # heat bar width, characters
_EIGHTHS = " ▏▎▍▌▋▊▉"
_MAX_FUNCTIONS = 2  # annotated functions


def _bar(fraction: float, width: int = _BAR) -> str:
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (_EIGHTHS[part] if part else "")).ljust(width)


def _heat_style(fraction: float) -> str:
    return "bold red" if fraction >= 0.25 else "red" if fraction >= 0.05 else "yellow"


def _header(profile: Profile) -> Text:
    text = Text()
    text.append("hpkit profile", style="bold")
    text.append(f"  {profile.mode} mode  ", style="magenta")
    text.append(command_line(profile), style="bold cyan")
    facts = [f"{profile.duration:.3f} s wall"]
    if profile.rate_hz:
        facts.append(f"{profile.rate_hz:g} Hz")
    if profile.samples:
        facts.append(f"{profile.total_samples:,} samples")
    if len(profile.processes) > 1:
        facts.append(f"{len(profile.processes)} processes merged")
    if profile.mode == "memory":
        facts.append(f"peak RSS {fmt_bytes(profile.peak_rss)}")
        facts.append(f"peak heap {fmt_bytes(profile.peak_heap)}")
    facts.append(f"exit {profile.exit_code}")
    text.append("  " + " · ".join(facts))
    if profile.dropped_samples:
        text.append(f"\n{profile.dropped_samples:,} samples dropped (stack table full)", "yellow")
    if profile.error:
        text.append(f"\nended with {profile.error}", style="bold red")
    return text


def _state_split(profile: Profile) -> Text:
    split = profile.seconds_by_state()
    total = sum(split.values()) or 1.0
    text = Text("time  ")
    for state in STATES:
        width = round(40 * split[state] / total)
        text.append("█" * width, style=STATE_STYLES[state])
    for state in STATES:
        text.append(f"  {state} ", style=STATE_STYLES[state])
        text.append(f"{fmt_seconds(split[state])} ({100 * split[state] / total:.0f}%)")
    return text


def _function_table(profile: Profile, top: int) -> Table:
    states = table_states(profile)
    rows = profile.function_table(states)
    total = sum(profile.seconds_by_state()[s] for s in states) or 1.0
    calls = {profile.frames[i]: n for i, n in profile.calls.items()}
    table = Table(
        title=f"Top functions by self time ({' + '.join(states)})",
        caption="self includes native calls the function made; idle time not counted"
        if "idle" not in states
        else None,
        title_justify="left",
    )
    table.add_column("Function", overflow="fold", ratio=3)
    table.add_column("Location", style="dim", overflow="fold", ratio=2)
    for name in ("Self", "Self %", "Incl", "Incl %", "Samples"):
        table.add_column(name, justify="right", no_wrap=True)
    if calls:
        table.add_column("Calls", justify="right", no_wrap=True)
    for frame, self_s, incl_s, samples in rows[:top]:
        cells = [
            frame.name,
            location(frame),
            fmt_seconds(self_s),
            f"{100 * self_s / total:.1f}%",
            fmt_seconds(incl_s),
            f"{100 * incl_s / total:.1f}%",
            f"{samples:,}",
        ]
        if calls:
            cells.append(f"{calls[frame]:,}" if frame in calls else "")
        table.add_row(*cells)
    return table


def _alloc_table(profile: Profile, top: int) -> Table:
    sites = alloc_sites(profile)
    total = sum(s.bytes for s in sites) or 1.0
    table = Table(title="Top allocation sites", title_justify="left")
    table.add_column("Site", overflow="fold")
    for name in ("Allocated", "%", "Allocations", "Freed here"):
        table.add_column(name, justify="right", no_wrap=True)
    for site in sites[:top]:
        freed = profile.freed.get((site.frame.filename, site.line), 0.0)
        table.add_row(
            frame_label(site.frame, site.line),
            fmt_bytes(site.bytes),
            f"{100 * site.bytes / total:.1f}%",
            f"{site.count:,.0f}",
            fmt_bytes(freed) if freed else "",
        )
    return table


def _annotated(profile: Profile, n_lines: int) -> list[RenderableType]:
    """The hottest functions' source, each line with its cost: exact hits when counted,
    inclusive time, or allocated and freed MiB in memory mode."""
    memory = profile.mode == "memory" and bool(profile.allocations)
    table_rows = profile.line_table(table_states(profile))
    rows: dict[LineKey, LineRow] = {(r.filename, r.lineno): r for r in table_rows}
    total = metric_total(profile, table_rows)
    with_hits = any(r.hits is not None for r in rows.values())
    timed = bool(profile.samples)
    out: list[RenderableType] = []
    shown: list[tuple[str, int, int]] = []
    for frame, _ in hot_functions(profile)[: _MAX_FUNCTIONS + 2]:
        if len(shown) == _MAX_FUNCTIONS:
            break
        span = function_span(frame, n_lines)
        lines = source_lines(frame.filename)
        if span is None or lines is None:
            out.append(Text(f"{frame_label(frame)}: (source not available)", style="dim"))
            continue
        if any(f == frame.filename and a <= span[1] and span[0] <= b for f, a, b in shown):
            continue  # overlaps a function already on screen (nested, or <module>)
        own = [
            (line_metric(profile, r), r.lineno)
            for (fn, ln), r in rows.items()
            if fn == frame.filename and span[0] <= ln <= span[1]
        ]
        hot = [ln for m, ln in sorted(own, reverse=True) if m > 0]
        first, last = clip_span(span, hot, n_lines)
        shown.append((frame.filename, *span))
        table = Table(
            title=f"{frame_label(frame)}  {frame.filename}",
            title_justify="left",
            box=None,
            padding=(0, 1),
            expand=False,
        )
        table.add_column("Line", justify="right", min_width=5, style="dim", no_wrap=True)
        if with_hits and not memory:
            table.add_column("Hits", justify="right", min_width=11, no_wrap=True)
        if memory:
            table.add_column("Alloc MiB", justify="right", min_width=9, no_wrap=True)
            table.add_column("Freed MiB", justify="right", min_width=9, no_wrap=True)
        elif timed:
            table.add_column("Time", justify="right", min_width=9, no_wrap=True)
        table.add_column("%", justify="right", min_width=6, no_wrap=True)
        table.add_column("Heat", no_wrap=True, min_width=10)
        table.add_column("Source", no_wrap=True, overflow="ellipsis", ratio=1)
        for lineno in range(first, last + 1):
            row = rows.get((frame.filename, lineno))
            metric = line_metric(profile, row) if row is not None else 0.0
            share = metric / total if total > 0 else 0.0
            cells: list[RenderableType] = [str(lineno)]
            if with_hits and not memory:
                cells.append(f"{row.hits:,}" if row is not None and row.hits is not None else "")
            if memory:
                alloc = row.alloc_bytes if row is not None else 0.0
                freed = row.freed_bytes if row is not None else 0.0
                cells += [
                    f"{alloc / MIB:.2f}" if alloc else "",
                    f"{freed / MIB:.2f}" if freed else "",
                ]
            elif timed:
                cells.append(fmt_seconds(row.seconds) if row is not None and row.seconds else "")
            cells.append(f"{100 * share:.1f}%" if share > 0 else "")
            cells.append(Text(_bar(share), style=_heat_style(share)))
            source = lines[lineno - 1].expandtabs(4) if lineno <= len(lines) else ""
            cells.append(Text(source, style="" if share > 0 else "dim"))
            table.add_row(*cells)
        out.append(table)
    return out


def render_terminal(
    profile: Profile, console: Console, *, top: int = 15, source_lines: int = 40
) -> None:
    """Print the summary of ``profile`` on ``console``; ``top`` functions and at most
    ``source_lines`` lines of each annotated function."""
    console.print(_header(profile))
    parts: list[RenderableType] = []
    if profile.samples:
        parts += [_state_split(profile), _function_table(profile, top)]
    elif profile.hits:
        parts.append(Text("No time samples; exact line hits below.", style="yellow"))
    elif not profile.allocations:
        parts.append(
            Text(
                "No samples were recorded: the program may have ended before the first sample.",
                style="yellow",
            )
        )
    if profile.allocations:
        parts.append(_alloc_table(profile, top))
    if profile.samples or profile.allocations or profile.hits:
        parts += _annotated(profile, source_lines)
    console.print(Group(*parts))
