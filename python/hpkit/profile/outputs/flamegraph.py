"""A self-contained flame graph, as SVG, drawn here without external tools.

Each box is a frame; its width is its share of the weight (wall seconds, samples or
allocated bytes), children stand on their parents (or hang below them, ``icicle``). Frames
merge by function by default, with the lines that carried the weight in the tooltip, or
by (function, line). Colours follow the state the time was spent in - warm for Python,
blue for native code, grey for idle, green for allocations - or one hue per file.

The size stays bounded whatever the profile: boxes under ``min_fraction`` of the total
are left out (their weight still counts in their parent's width) and at most
``max_boxes`` of the widest are drawn. A few lines of inline script zoom on click; the
picture is complete without them.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Literal
from xml.sax.saxutils import escape, quoteattr

from hpkit.profile._model import Profile
from hpkit.profile.outputs._common import (
    WHOLE,
    Key,
    Weight,
    default_weight,
    fmt_weight,
    key_label,
    key_location,
    keyed_stacks,
)

Color = Literal["state", "file"]
Orientation = Literal["flame", "icicle"]

ROW = 17  # px per stack level
_PAD = 10
_TOP = 34  # room for the title
_CHAR = 7.0  # px per character of 12 px monospace, to fit labels in boxes
_TOOLTIP_STATES = ("python", "native", "idle", "alloc")

# Hue ranges (start, span), saturation, lightness: warm Python as in flamegraph.pl.
_STATE_COLOURS: dict[str, tuple[int, int, int, int]] = {
    "python": (8, 45, 85, 62),
    "native": (195, 30, 65, 65),
    "idle": (0, 0, 0, 78),
    "alloc": (85, 50, 55, 58),
    "": (0, 0, 0, 86),  # the root and the threads
}


#: One level of a drawn stack: a thread name, or a keyed frame.
_Elem = str | Key
_Row = tuple[tuple[_Elem, ...], str, float]  # (levels, state, weight)


@dataclass(slots=True, eq=False)
class _Node:
    label: str
    key: Key | None  # None for the root and thread nodes
    weight: float
    self_weight: float = 0.0
    states: dict[str, float] = field(default_factory=dict)
    lines: dict[int, float] = field(default_factory=dict)
    children: list[_Node] = field(default_factory=list)


def _rows(profile: Profile, weight: Weight) -> list[_Row]:
    """The stacks to draw, with the thread as the first level when there are several."""
    rows: list[_Row] = [
        ((thread, *keys), state, w) for thread, state, keys, w in keyed_stacks(profile, weight)
    ]
    if len({levels[0] for levels, _, _ in rows}) <= 1:
        rows = [(levels[1:], state, w) for levels, state, w in rows]
    return rows


def _node(profile: Profile, elem: _Elem | None, rows: list[_Row], depth: int) -> _Node:
    """The node for ``rows``, which share their first ``depth`` levels, the last ``elem``."""
    if elem is None:
        node = _Node("all", None, 0.0)
    elif isinstance(elem, str):
        node = _Node(f"thread {elem}", None, 0.0)
    else:
        node = _Node(key_label(profile, elem), elem, 0.0)
    for levels, state, w in rows:
        node.weight += w
        node.states[state] = node.states.get(state, 0.0) + w
        if len(levels) == depth:
            node.self_weight += w
        if depth and not isinstance(last := levels[depth - 1], str) and last[0] >= 0:
            node.lines[last[1]] = node.lines.get(last[1], 0.0) + w
    return node


def _tree(profile: Profile, weight: Weight, by_line: bool, min_fraction: float) -> _Node | None:
    """Merge the stacks into a tree, level by level, descending only into nodes of at
    least ``min_fraction`` of the total: the work and the memory follow what is drawn, not
    the number of distinct stacks."""
    rows = _rows(profile, weight)
    root = _node(profile, None, rows, 0)
    if root.weight <= 0:
        return None
    min_weight = min_fraction * root.weight
    todo: list[tuple[_Node, list[_Row], int]] = [(root, rows, 0)]
    while todo:
        parent, parent_rows, depth = todo.pop()
        groups: dict[_Elem, list[_Row]] = {}
        for row in parent_rows:
            if len(row[0]) > depth:
                elem = row[0][depth]
                if not (by_line or isinstance(elem, str) or elem[0] < 0):
                    elem = (elem[0], WHOLE)
                groups.setdefault(elem, []).append(row)
        for elem, group in groups.items():
            if sum(w for _, _, w in group) >= min_weight:
                child = _node(profile, elem, group, depth + 1)
                parent.children.append(child)
                todo.append((child, group, depth + 1))
    return root


@dataclass(slots=True)
class _Box:
    node: _Node
    depth: int
    x: float  # fraction of the total
    w: float


def _layout(root: _Node, max_boxes: int) -> list[_Box]:
    """Boxes in pre-order (parents before children), siblings by label as in
    flamegraph.pl, at most ``max_boxes`` of them, the widest. Iterative: deep recursion
    must not overflow the Python stack."""
    total = root.weight
    boxes: list[_Box] = []
    todo: list[tuple[_Node, int, float]] = [(root, 0, 0.0)]
    while todo:
        node, depth, x = todo.pop()
        boxes.append(_Box(node, depth, x, node.weight / total))
        offsets: list[tuple[_Node, int, float]] = []
        for child in sorted(node.children, key=lambda n: n.label):
            offsets.append((child, depth + 1, x))
            x += child.weight / total
        todo.extend(reversed(offsets))
    if len(boxes) > max_boxes:
        # stable: a parent is never narrower than its child and comes first on ties
        keep = {id(b) for b in sorted(boxes, key=lambda b: -b.w)[:max_boxes]}
        boxes = [b for b in boxes if id(b) in keep]
    return boxes


def state_colour(state: str, name: str | None = None) -> str:
    """The colour of ``state`` (``""``: the root and threads); ``name`` picks a shade
    within the state's range, so neighbouring boxes differ, the middle one without it."""
    hue, span, sat, light = _STATE_COLOURS[state]
    hue += zlib.crc32(name.encode()) % span if span and name is not None else span // 2
    return f"hsl({hue},{sat}%,{light}%)"


def _colour(profile: Profile, node: _Node, color: Color) -> str:
    if color == "file" and node.key is not None and node.key[0] >= 0:
        name = profile.frames[node.key[0]].filename
        return f"hsl({zlib.crc32(name.encode()) % 360},60%,68%)"
    state = max(node.states, key=node.states.__getitem__) if node.key is not None else ""
    return state_colour(state, node.label)


def _tooltip(profile: Profile, node: _Node, total: float, weight: Weight) -> str:
    share = 100.0 * node.weight / total
    parts = [node.label]
    if node.key is not None and (where := key_location(profile, node.key)) is not None:
        parts.append(f"{where[0]}:{where[1]}")
    parts.append(
        f"{fmt_weight(node.weight, weight)} ({share:.1f}%),"
        f" self {fmt_weight(node.self_weight, weight)}"
    )
    if len(node.lines) > 1:
        top = sorted(node.lines.items(), key=lambda kv: -kv[1])[:4]
        parts.append(
            "lines: " + ", ".join(f"{ln} ({100.0 * w / node.weight:.0f}%)" for ln, w in top)
        )
    mixed = [s for s in _TOOLTIP_STATES if node.states.get(s)]
    if len(mixed) > 1:
        parts.append(", ".join(f"{s} {100.0 * node.states[s] / node.weight:.0f}%" for s in mixed))
    return "\n".join(parts)


def _fit(label: str, px: float) -> str:
    n = int((px - 6) / _CHAR)
    if n < 3:
        return ""
    return label if len(label) <= n else label[: n - 2] + ".."


# Click a box to zoom on it (its ancestors stretch to full width); click "all" to reset.
_SCRIPT = """(function () {
  var svg = document.getElementById(%(id)s), W = %(width)d, P = %(pad)d, C = %(char)s;
  function fit(s, px) {
    var n = Math.floor((px - 6) / C);
    return n < 3 ? '' : s.length <= n ? s : s.slice(0, n - 2) + '..';
  }
  function zoom(z) {
    var x0 = +z.dataset.x, w0 = +z.dataset.w, d0 = +z.dataset.d, e = 2e-6;
    svg.querySelectorAll('g.f').forEach(function (g) {
      var x = +g.dataset.x, w = +g.dataset.w, d = +g.dataset.d;
      var inside = d >= d0 && x + e >= x0 && x + w <= x0 + w0 + e;
      var above = d < d0 && x0 + e >= x && x0 + w0 <= x + w + e;
      g.style.display = inside || above ? '' : 'none';
      if (!inside && !above) return;
      var nx = inside ? (x - x0) / w0 : 0, nw = inside ? w / w0 : 1;
      var r = g.querySelector('rect'), t = g.querySelector('text');
      r.setAttribute('x', (P + nx * W).toFixed(1));
      r.setAttribute('width', Math.max(nw * W - 0.5, 0.1).toFixed(1));
      t.setAttribute('x', (P + nx * W + 3).toFixed(1));
      t.textContent = fit(g.querySelector('title').textContent.split('\\n')[0], nw * W);
    });
  }
  svg.addEventListener('click', function (ev) {
    var g = ev.target.closest('g.f');
    if (g) zoom(g);
  });
})();"""


def flamegraph_svg(
    profile: Profile,
    weight: Weight | None = None,
    title: str | None = None,
    *,
    by_line: bool = False,
    color: Color = "state",
    orientation: Orientation = "flame",
    width: int = 1200,
    min_fraction: float = 0.001,
    max_boxes: int = 4000,
    svg_id: str = "flamegraph",
) -> str:
    """The flame graph as an SVG document (also valid inline in HTML, as the report uses
    it). ``weight`` defaults to bytes for memory profiles, seconds otherwise; ``svg_id``
    must be unique when several graphs share a page."""
    weight = weight or default_weight(profile)
    title = title or ("Allocations" if weight == "bytes" else "Wall time")
    root = _tree(profile, weight, by_line, min_fraction)
    boxes = _layout(root, max_boxes) if root is not None else []
    total = root.weight if root is not None else 0.0
    depth = max((b.depth for b in boxes), default=0) + 1
    height = _TOP + depth * ROW + _PAD + 14
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id={quoteattr(svg_id)} class="flamegraph"'
        f' width="{width + 2 * _PAD}" height="{height}"'
        f' viewBox="0 0 {width + 2 * _PAD} {height}" font-family="monospace" font-size="12">',
        '<rect width="100%" height="100%" fill="#fafafa"/>',
        f'<text x="{_PAD}" y="20" font-size="15" font-weight="bold">{escape(title)}</text>',
    ]
    if not boxes:
        out.append(f'<text x="{_PAD}" y="{_TOP + 14}">(no samples)</text>')
    else:
        out.append(
            f'<text x="{width + _PAD}" y="20" text-anchor="end" fill="#555">'
            f"{escape(fmt_weight(total, weight))} total; click to zoom, "
            "click all to reset</text>"
        )
    for b in boxes:
        y = _TOP + (depth - 1 - b.depth if orientation == "flame" else b.depth) * ROW
        x = _PAD + b.x * width
        px = b.w * width
        tip = _tooltip(profile, b.node, total, weight)
        out.append(
            f'<g class="f" data-x="{b.x:.7f}" data-w="{b.w:.7f}" data-d="{b.depth}">'
            f"<title>{escape(tip)}</title>"
            f'<rect x="{x:.1f}" y="{y}" width="{max(px - 0.5, 0.1):.1f}" height="{ROW - 1}"'
            f' rx="2" fill="{_colour(profile, b.node, color)}"/>'
            f'<text x="{x + 3:.1f}" y="{y + ROW - 5}">{escape(_fit(b.node.label, px))}</text>'
            "</g>"
        )
    if boxes:
        script = _SCRIPT % {"id": json.dumps(svg_id), "width": width, "pad": _PAD, "char": _CHAR}
        out.append(f"<script><![CDATA[\n{script}\n]]></script>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
