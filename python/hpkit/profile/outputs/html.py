"""One self-contained HTML page per profile: it opens anywhere, offline, and can be
mailed or attached to an issue as it is. CSS is inline, pictures are inline SVG, and the
only script is the flame graphs' few lines of click-to-zoom.

The page shows what ran, where the wall time went (Python, native code, waiting), the
flame graph(s), the top functions, the memory timeline and heap by type when recorded,
and the annotated source of the hottest files. Its size is bounded whatever the profile:
tables keep their top rows, flame graphs drop invisible boxes, the timeline is thinned
and only windows around hot lines of the hottest files are shown.
"""

from __future__ import annotations

import datetime
import math
from html import escape

from hpkit import __version__
from hpkit.profile._model import STATES, LineRow, MemoryPoint, Profile
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
    hot_files,
    line_metric,
    metric_total,
    source_lines,
    table_states,
    windows,
)
from hpkit.profile.outputs.flamegraph import flamegraph_svg, state_colour

_CSS = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --band: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1320px; padding: 2rem 1.5rem 4rem; color: var(--ink);
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
h1 { font-size: 1.7rem; margin: 0; }
h2 { font-size: 1.25rem; margin: 2.2rem 0 0.5rem; border-bottom: 1px solid var(--line);
     padding-bottom: 0.3rem; }
h3 { font-size: 1rem; margin: 1.5rem 0 0.3rem; word-break: break-all; }
code, .src, td.loc { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.15rem 1.2rem;
           margin: 0.8rem 0 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; word-break: break-all; }
.error { color: #cf222e; font-weight: 600; }
.muted, caption, .na { color: var(--muted); }
.split { display: flex; height: 1.2rem; border-radius: 3px; overflow: hidden;
         border: 1px solid var(--line); max-width: 900px; }
.legend span { margin-right: 1.5rem; }
.swatch { display: inline-block; width: 0.8rem; height: 0.8rem; border-radius: 2px;
          margin-right: 0.3rem; vertical-align: -0.1rem; }
.wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.82rem; }
th, td { padding: 0.2rem 0.6rem; border-bottom: 1px solid var(--line); text-align: left; }
th { background: var(--band); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
caption { caption-side: bottom; text-align: left; font-size: 0.8rem; padding-top: 0.3rem; }
table.source { width: 100%; }
table.source td { border: 0; padding: 0 0.6rem; line-height: 1.35; }
table.source td.src { white-space: pre; width: 100%; }
table.source tr.gap td { color: var(--muted); text-align: center; }
footer { margin-top: 3rem; font-size: 0.8rem; color: var(--muted); }
"""


def _table(headers: list[str], rows: list[list[str]], numeric: set[int], caption: str = "") -> str:
    """A table of already-escaped cells; columns in ``numeric`` align right."""
    head = "".join(
        f'<th class="num">{h}</th>' if i in numeric else f"<th>{h}</th>"
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    cap = f"<caption>{caption}</caption>" if caption else ""
    table = f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="wrap">{table}</div>'


def _header(profile: Profile) -> str:
    facts: list[tuple[str, str]] = [
        ("command", f"<code>{escape(command_line(profile))}</code>"),
        ("mode", escape(profile.mode)),
    ]
    if profile.started:
        started = datetime.datetime.fromtimestamp(profile.started).isoformat(sep=" ")
        facts.append(("started", escape(started[:19])))
    facts.append(("duration", f"{profile.duration:.3f} s"))
    if profile.rate_hz:
        facts.append(("sampling rate", f"{profile.rate_hz:g} Hz"))
    if profile.samples or not profile.allocations:
        facts.append(("samples", f"{profile.total_samples:,}"))
    if profile.allocations:
        facts.append(("allocation stacks", f"{len(profile.allocations):,}"))
    if profile.dropped_samples:
        facts.append(("dropped samples", f"{profile.dropped_samples:,} (stack table full)"))
    if profile.mode == "memory":
        facts.append(("peak RSS", fmt_bytes(profile.peak_rss)))
        facts.append(("peak heap", fmt_bytes(profile.peak_heap)))
    if profile.processes:
        pids = ", ".join(str(p) for p in profile.processes[:12])
        more = f" and {len(profile.processes) - 12} more" if len(profile.processes) > 12 else ""
        label = "processes merged" if len(profile.processes) > 1 else "process"
        facts.append((label, pids + more))
    facts.append(("exit code", str(profile.exit_code)))
    if profile.error:
        facts.append(("error", f'<span class="error">{escape(profile.error)}</span>'))
    items = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    return f'<h1>hpkit profile</h1><dl class="facts">{items}</dl>'


def _states(profile: Profile) -> str:
    split = profile.seconds_by_state()
    total = sum(split.values())
    if total <= 0:
        return ""
    bar = "".join(
        f'<div title="{state}" style="width:{100 * split[state] / total:.2f}%;'
        f'background:{state_colour(state)}"></div>'
        for state in STATES
        if split[state] > 0
    )
    legend = "".join(
        f'<span><i class="swatch" style="background:{state_colour(state)}"></i>'
        f"{state} {fmt_seconds(split[state])} ({100 * split[state] / total:.1f}%)</span>"
        for state in STATES
    )
    return (
        "<h2>Where the time went</h2>"
        f'<div class="split">{bar}</div><p class="legend">{legend}</p>'
        '<p class="muted">python: running bytecode; native: in C/Rust code called from'
        " Python, on a CPU; idle: sleeping, blocked on I/O or a lock, or waiting for the"
        " GIL.</p>"
    )


def _functions(profile: Profile, top: int) -> str:
    states = table_states(profile)
    rows = profile.function_table(states)
    if not rows:
        return ""
    total = sum(profile.seconds_by_state()[s] for s in states) or 1.0
    calls = {profile.frames[i]: n for i, n in profile.calls.items()}
    headers = ["Function", "Location", "Self", "Self %", "Inclusive", "Incl. %", "Samples"]
    if calls:
        headers.append("Calls")
    body: list[list[str]] = []
    for frame, self_s, incl_s, samples in rows[:top]:
        row = [
            f"<code>{escape(frame.name)}</code>",
            f'<span title="{escape(frame.filename)}">{escape(location(frame))}</span>',
            fmt_seconds(self_s),
            f"{100 * self_s / total:.1f}%",
            fmt_seconds(incl_s),
            f"{100 * incl_s / total:.1f}%",
            f"{samples:,}",
        ]
        if calls:
            row.append(f"{calls[frame]:,}" if frame in calls else "")
        body.append(row)
    caption = (
        f"Top {len(body)} of {len(rows)} functions by self time ({' + '.join(states)});"
        " self includes the native calls a function made."
    )
    return "<h2>Top functions</h2>" + _table(headers, body, {2, 3, 4, 5, 6, 7}, caption)


def _allocations(profile: Profile, top: int) -> str:
    sites = alloc_sites(profile)
    if not sites:
        return ""
    total = sum(s.bytes for s in sites) or 1.0
    body = [
        [
            f"<code>{escape(frame_label(s.frame, s.line))}</code>",
            fmt_bytes(s.bytes),
            f"{100 * s.bytes / total:.1f}%",
            f"{s.count:,.0f}",
            fmt_bytes(freed) if (freed := profile.freed.get((s.frame.filename, s.line))) else "",
        ]
        for s in sites[:top]
    ]
    headers = ["Site", "Allocated", "%", "Allocations", "Freed here"]
    caption = f"Top {len(body)} of {len(sites)} allocation sites (estimated from sampling)."
    return "<h2>Top allocation sites</h2>" + _table(headers, body, {1, 2, 3, 4}, caption)


def _nice_ticks(hi: float, n: int = 6) -> list[float]:
    """Round tick values from 0 to at least ``hi``: steps of 1, 2 or 5 times a power of 10."""
    if hi <= 0:
        return [0.0, 1.0]
    step = 10 ** math.floor(math.log10(hi / n))
    for m in (1, 2, 5, 10):
        if hi / (step * m) <= n:
            step *= m
            break
    return [i * step for i in range(math.ceil(hi / step - 1e-9) + 1)]


def timeline_svg(points: list[MemoryPoint], width: int = 900, height: int = 280) -> str:
    """RSS and the estimated Python heap over time, MiB against seconds, as inline SVG;
    long timelines are thinned to at most 1000 points."""
    left, right, top, bottom = 64, 110, 12, 42
    stride = max(1, math.ceil(len(points) / 1000))
    pts = points[::stride]
    if pts[-1] is not points[-1]:
        pts.append(points[-1])
    xs = _nice_ticks(max(p.t for p in pts))
    ys = _nice_ticks(max(max(p.rss, p.heap) for p in pts) / MIB)
    pw, ph = width - left - right, height - top - bottom

    def x(t: float) -> float:
        return left + pw * t / xs[-1]

    def y(mib: float) -> float:
        return top + ph * (1 - mib / ys[-1])

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fbfcfd" stroke="#d1d9e0"/>',
    ]
    for v in ys:
        out.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eee"/>'
            f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:g}</text>'
        )
    for t in xs:
        out.append(
            f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top + ph}" y2="{top + ph + 4}"'
            ' stroke="#888"/>'
            f'<text x="{x(t):.1f}" y="{top + ph + 16}" text-anchor="middle">{t:g}</text>'
        )
    out.append(
        f'<text x="{left + pw / 2}" y="{height - 6}" text-anchor="middle">seconds</text>'
        f'<text transform="translate(14 {top + ph / 2}) rotate(-90)" text-anchor="middle">'
        "MiB</text>"
    )
    for i, (name, colour, value) in enumerate(
        (("RSS", "#1f6feb", lambda p: p.rss), ("heap", "#e8590c", lambda p: p.heap))
    ):
        line = " ".join(f"{x(p.t):.1f},{y(value(p) / MIB):.1f}" for p in pts)
        out.append(
            f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="1.6"/>'
            f'<rect x="{left + pw + 12}" y="{top + 8 + 18 * i}" width="12" height="3"'
            f' fill="{colour}"/><text x="{left + pw + 30}" y="{top + 13 + 18 * i}">{name}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _memory(profile: Profile) -> str:
    if not profile.timeline:
        return ""
    return (
        "<h2>Memory over time</h2>"
        f'<div class="wrap">{timeline_svg(profile.timeline)}</div>'
        f'<p class="muted">peak RSS {fmt_bytes(profile.peak_rss)}, peak estimated Python heap'
        f" {fmt_bytes(profile.peak_heap)}.</p>"
    )


def _heap(profile: Profile, n_types: int = 15, n_times: int = 8) -> str:
    """The largest types (by their largest size) at up to ``n_times`` moments, the last
    one included."""
    records = profile.heap_timeline
    if not records:
        return ""
    picks = sorted({round(i * (len(records) - 1) / max(1, n_times - 1)) for i in range(n_times)})
    chosen = [records[i] for i in picks]
    largest: dict[str, int] = {}
    for record in records:
        for h in record.rows:
            largest[h.type] = max(largest.get(h.type, 0), h.size)
    types = sorted(largest, key=lambda t: -largest[t])[:n_types]
    at = [{h.type: h for h in record.rows} for record in chosen]
    body: list[list[str]] = []
    for name in types:
        cells = [f"<code>{escape(name)}</code>"]
        for by_type in at:
            found = by_type.get(name)
            cells.append(
                f"{fmt_bytes(found.size)}<br><small>{found.count:,}</small>" if found else ""
            )
        body.append(cells)
    headers = ["Type", *(f"{r.t:.1f} s" for r in chosen)]
    caption = f"Live objects by type: total size and count; top {len(types)} types."
    return "<h2>Heap by type</h2>" + _table(headers, body, set(range(1, len(headers))), caption)


def _annotated_file(
    profile: Profile, filename: str, rows: list[LineRow], total: float, max_lines: int
) -> str:
    lines = source_lines(filename)
    title = f"<h3>{escape(filename)}</h3>"
    if lines is None:
        return title + '<p class="na">(source not available)</p>'
    by_line = {r.lineno: r for r in rows}
    hot = [r.lineno for r in sorted(rows, key=lambda r: -line_metric(profile, r))]
    hot = [ln for ln in hot if line_metric(profile, by_line[ln]) > 0]
    memory = profile.mode == "memory" and bool(profile.allocations)
    with_hits = any(r.hits is not None for r in rows)
    timed = bool(profile.samples)
    headers = ["Line"] + (["Hits"] if with_hits else []) + (["Inclusive", "Self"] if timed else [])
    headers.append("%")
    if memory:
        headers += ["Alloc", "Freed"]
    head = "".join(f'<th class="num">{h}</th>' for h in headers) + "<th>Source</th>"
    body: list[str] = []
    previous = 0
    for first, last in windows(hot, len(lines), max_lines):
        if first > previous + 1:
            body.append(f'<tr class="gap"><td colspan="{len(headers) + 1}">⋮</td></tr>')
        for lineno in range(first, last + 1):
            r = by_line.get(lineno) or LineRow(filename, lineno)
            share = line_metric(profile, r) / total if total > 0 else 0.0
            cells = [str(lineno)]
            if with_hits:
                cells.append(f"{r.hits:,}" if r.hits is not None else "")
            if timed:
                cells.append(fmt_seconds(r.seconds) if r.seconds else "")
                cells.append(fmt_seconds(r.self_seconds) if r.self_seconds else "")
            cells.append(f"{100 * share:.1f}%" if share >= 0.0005 else "")
            if memory:
                cells += [
                    fmt_bytes(r.alloc_bytes) if r.alloc_bytes else "",
                    fmt_bytes(r.freed_bytes) if r.freed_bytes else "",
                ]
            heat = (
                f' style="background:rgba(255,94,0,{0.06 + 0.6 * min(share, 1.0):.2f})"'
                if share >= 0.0005
                else ""
            )
            body.append(
                f"<tr{heat}>"
                + "".join(f'<td class="num">{c}</td>' for c in cells)
                + f'<td class="src">{escape(lines[lineno - 1])}</td></tr>'
            )
        previous = last
    if previous < len(lines):
        body.append(f'<tr class="gap"><td colspan="{len(headers) + 1}">⋮</td></tr>')
    return (
        f'{title}<div class="wrap"><table class="source"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _sources(profile: Profile, max_files: int, max_lines: int) -> str:
    rows = profile.line_table(table_states(profile))
    files = hot_files(profile, rows)
    if not files:
        return ""
    total = metric_total(profile, rows)
    if profile.mode == "memory" and profile.allocations:
        what = "memory was allocated"
        share = "of the allocated bytes (where they were allocated, the innermost line)"
    elif profile.samples:
        what = "time was spent"
        share = "of the time (inclusive: time in the functions a line calls counts too)"
    else:
        what = "lines ran"
        share = "of the line hits"
    parts = [
        "<h2>Hottest source</h2>",
        f'<p class="muted">The {min(len(files), max_files)} files where the most {what},'
        f" around their hottest lines; the background shows each line's share {share}.</p>",
    ]
    for filename, file_rows in files[:max_files]:
        parts.append(_annotated_file(profile, filename, file_rows, total, max_lines))
    return "".join(parts)


def html_report(
    profile: Profile, *, top: int = 30, max_files: int = 6, max_lines: int = 150
) -> str:
    """The page as a string: ``top`` rows per table, the ``max_files`` hottest files with
    at most ``max_lines`` source lines each."""
    graphs = []
    if profile.samples:
        graphs.append(flamegraph_svg(profile, "seconds", "Wall time, all states", svg_id="fg-time"))
    if profile.allocations:
        graphs.append(flamegraph_svg(profile, "bytes", "Allocated bytes", svg_id="fg-alloc"))
    flames = (
        "<h2>Flame graph</h2>"
        '<p class="muted">Width is the share of the total; hover for details, click to zoom.'
        " Orange: Python, blue: native code, grey: idle, green: allocations.</p>"
        + "".join(f'<div class="wrap">{g}</div>' for g in graphs)
        if graphs
        else ""
    )
    empty = (
        '<p class="na">No samples were recorded: the program may have ended before the'
        " first sample.</p>"
        if not (profile.samples or profile.allocations or profile.hits)
        else ""
    )
    body = "".join(
        [
            _header(profile),
            empty,
            _states(profile),
            flames,
            _functions(profile, top),
            _allocations(profile, top),
            _memory(profile),
            _heap(profile),
            _sources(profile, max_files, max_lines),
        ]
    )
    title = escape(f"hpkit profile: {command_line(profile)}")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{_CSS}</style>
</head>
<body>
{body}
<footer>Written by hpkit {escape(__version__)}.</footer>
</body>
</html>
"""
