"""Collapsed ("folded") stacks, Brendan Gregg's format: one line per distinct stack,
``thread;frame;frame;...;leaf WEIGHT``, for ``flamegraph.pl``, inferno, speedscope and
anything that greps.

Frames are ``func (file.py:LINE)``; native and idle samples end in ``<native>``/``<idle>``.
The weight is an integer: samples for a time profile, bytes for a memory profile. A ``;``
inside a name (a thread name, say) would split the frame, so it becomes ``:``; newlines
become spaces. The weight is the last space-separated field, so spaces in names are safe.
"""

from __future__ import annotations

from hpkit.profile._model import Profile
from hpkit.profile.outputs._common import Weight, default_weight, key_label, keyed_stacks


def _clean(name: str) -> str:
    return name.replace(";", ":").replace("\r", " ").replace("\n", " ")


def collapsed_lines(profile: Profile, weight: Weight | None = None) -> list[str]:
    """Sorted lines, equal stacks merged, zero weights left out. ``weight`` defaults to
    bytes for memory profiles and samples otherwise (``seconds`` rounds to microseconds,
    since the format wants integers)."""
    weight = weight or ("bytes" if default_weight(profile) == "bytes" else "samples")
    scale = 1e6 if weight == "seconds" else 1.0
    totals: dict[str, float] = {}
    for thread, _, keys, w in keyed_stacks(profile, weight):
        line = ";".join([_clean(thread), *(_clean(key_label(profile, k)) for k in keys)])
        totals[line] = totals.get(line, 0.0) + w * scale
    return [f"{line} {round(w)}" for line, w in sorted(totals.items()) if round(w) > 0]


def collapsed_text(profile: Profile, weight: Weight | None = None) -> str:
    lines = collapsed_lines(profile, weight)
    return "\n".join(lines) + "\n" if lines else ""
