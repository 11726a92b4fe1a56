"""Which code to show annotated, and its source: the hottest functions and files, the
extent of a function in its file, and windows of lines around the hot spots. Shared by the
terminal and HTML views so both point at the same lines.
"""

from __future__ import annotations

import ast
import functools
import linecache
from dataclasses import dataclass

from hpkit.profile._model import STATES, Frame, LineRow, Profile, State

#: Lines of context kept either side of a hot line.
CONTEXT = 3


def source_lines(filename: str) -> list[str] | None:
    """The file's lines without their newlines, or ``None`` when it cannot be read
    (``<string>``, frozen modules, deleted files). ``linecache`` honours PEP 263
    encodings and zipimported modules."""
    lines = linecache.getlines(filename)
    return [line.rstrip("\r\n") for line in lines] if lines else None


@functools.lru_cache(maxsize=64)
def _function_spans(filename: str) -> dict[int, int]:
    """First line (the first decorator's, as in ``co_firstlineno``) to last line of every
    function and class in the file."""
    lines = source_lines(filename)
    if lines is None:
        return {}
    try:
        tree = ast.parse("\n".join(lines))
    except (SyntaxError, ValueError):
        return {}
    spans: dict[int, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            spans[first] = node.end_lineno or node.lineno
    return spans


def function_span(frame: Frame, n_lines: int) -> tuple[int, int] | None:
    """``(first, last)`` line of ``frame``'s function (the whole file for ``<module>``),
    or ``None`` when its source is unavailable."""
    lines = source_lines(frame.filename)
    if lines is None:
        return None
    if frame.name == "<module>" or frame.firstlineno <= 1:
        return 1, len(lines)
    last = _function_spans(frame.filename).get(frame.firstlineno)
    if last is None:  # a lambda or comprehension: show what follows its first line
        last = frame.firstlineno + n_lines - 1
    return frame.firstlineno, min(last, len(lines))


def clip_span(span: tuple[int, int], hot: list[int], n_lines: int) -> tuple[int, int]:
    """At most ``n_lines`` of ``span``, centred on the hottest line (``hot[0]``) when the
    function is longer than that."""
    first, last = span
    if last - first + 1 <= n_lines:
        return span
    centre = hot[0] if hot and first <= hot[0] <= last else first
    start = max(first, min(centre - n_lines // 2, last - n_lines + 1))
    return start, start + n_lines - 1


def windows(hot: list[int], n_file_lines: int, budget: int) -> list[tuple[int, int]]:
    """Merged ``(first, last)`` windows of :data:`CONTEXT` lines around each hot line,
    hottest first until ``budget`` lines are used, returned in file order."""
    chosen: list[tuple[int, int]] = []
    used = 0
    for line in hot:
        lo, hi = max(1, line - CONTEXT), min(n_file_lines, line + CONTEXT)
        if lo > hi or any(a <= line <= b for a, b in chosen):
            continue
        if used + hi - lo + 1 > budget:
            break
        chosen.append((lo, hi))
        used += hi - lo + 1
    chosen.sort()
    merged: list[tuple[int, int]] = []
    for lo, hi in chosen:
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


@dataclass(slots=True)
class AllocSite:
    """Bytes allocated with ``frame`` at ``line`` as the innermost frame."""

    frame: Frame
    line: int
    bytes: float = 0.0
    count: float = 0.0


def alloc_sites(profile: Profile) -> list[AllocSite]:
    """Allocation sites, most bytes first."""
    sites: dict[tuple[int, int], AllocSite] = {}
    for a in profile.allocations:
        if not a.stack:
            continue
        f, line = a.stack[-1]
        site = sites.get((f, line))
        if site is None:
            site = sites[(f, line)] = AllocSite(profile.frames[f], line)
        site.bytes += a.bytes
        site.count += a.count
    return sorted(sites.values(), key=lambda s: -s.bytes)


def table_states(profile: Profile) -> tuple[State, ...]:
    """The states the tables count: on-CPU time (Python and native), or every state when
    the program did nothing but wait, so that a sleeping program still shows where."""
    split = profile.seconds_by_state()
    return ("python", "native") if split["python"] + split["native"] > 0 else STATES


def line_metric(profile: Profile, row: LineRow) -> float:
    """How hot a line is: allocated bytes in memory mode, else inclusive seconds when
    there are time samples, else exact hits. One unit per profile, so shares compare."""
    if profile.mode == "memory" and profile.allocations:
        return row.alloc_bytes
    if profile.samples:
        return row.seconds
    return float(row.hits or 0)


def metric_total(profile: Profile, rows: list[LineRow]) -> float:
    """What a line's :func:`line_metric` is a share of: all allocated bytes, all counted
    seconds, or all hits."""
    if profile.mode == "memory" and profile.allocations:
        return sum(r.alloc_bytes for r in rows)
    if profile.samples:
        split = profile.seconds_by_state()
        return sum(split[s] for s in table_states(profile))
    return float(sum(r.hits or 0 for r in rows))


def hot_functions(profile: Profile) -> list[tuple[Frame, float]]:
    """Functions by where the cost is: self seconds, or bytes allocated directly in them
    in memory mode, or exact hits when nothing was sampled."""
    if profile.mode == "memory" and profile.allocations:
        by_frame: dict[Frame, float] = {}
        for site in alloc_sites(profile):
            by_frame[site.frame] = by_frame.get(site.frame, 0.0) + site.bytes
        return sorted(by_frame.items(), key=lambda kv: -kv[1])
    table = profile.function_table(table_states(profile))
    rows = [(frame, self_s) for frame, self_s, _, _ in table]
    if rows:
        return rows
    # lines mode without samples: attribute each line's hits to the function around it
    frames_by_file: dict[str, list[Frame]] = {}
    for frame in profile.frames:
        frames_by_file.setdefault(frame.filename, []).append(frame)
    hits: dict[Frame, float] = {}
    for (filename, line), n in profile.hits.items():
        enclosing = [f for f in frames_by_file.get(filename, []) if f.firstlineno <= line]
        if enclosing:
            frame = max(enclosing, key=lambda f: f.firstlineno)
            hits[frame] = hits.get(frame, 0.0) + n
    return sorted(hits.items(), key=lambda kv: -kv[1])


def hot_files(profile: Profile, rows: list[LineRow]) -> list[tuple[str, list[LineRow]]]:
    """Files with their rows, the file where the most self cost lands first."""
    by_file: dict[str, list[LineRow]] = {}
    for row in rows:
        by_file.setdefault(row.filename, []).append(row)

    def cost(file_rows: list[LineRow]) -> float:
        if profile.mode == "memory" and profile.allocations:
            return sum(r.alloc_bytes for r in file_rows)
        return sum(r.self_seconds for r in file_rows) or sum(r.hits or 0 for r in file_rows)

    ranked = sorted(by_file.items(), key=lambda kv: -cost(kv[1]))
    return [(name, file_rows) for name, file_rows in ranked if cost(file_rows) > 0]
