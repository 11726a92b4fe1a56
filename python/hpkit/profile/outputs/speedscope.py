"""A speedscope file (https://www.speedscope.app/file-format-schema.json), to open in
https://www.speedscope.app or the offline ``speedscope`` viewer.

One ``sampled`` profile per thread, in seconds, and one more per thread in bytes when the
profile recorded allocations. Frames are per (function, line) - ``func (file.py:LINE)``
with ``file`` and ``line`` set - so the viewer attributes time to lines. Native and idle
samples end in a ``<native>``/``<idle>`` frame: visible in every view and easy to filter
out with speedscope's search. Stacks are aggregated, so the "time order" view shows them
grouped (alphabetically) rather than in the order they happened.
"""

from __future__ import annotations

import json
from typing import Any

from hpkit import __version__
from hpkit.profile._model import Profile
from hpkit.profile.outputs._common import Key, Weight, command_line, key_label, keyed_stacks

SCHEMA = "https://www.speedscope.app/file-format-schema.json"

_KINDS: tuple[tuple[Weight, str, str], ...] = (
    ("seconds", "seconds", "wall time"),
    ("bytes", "bytes", "allocated bytes"),
)


def speedscope_dict(profile: Profile) -> dict[str, Any]:
    """The speedscope document as a JSON-ready dict."""
    frames: list[dict[str, Any]] = []
    index: dict[Key, int] = {}

    def frame_index(key: Key) -> int:
        i = index.get(key)
        if i is None:
            i = index[key] = len(frames)
            frame: dict[str, Any] = {"name": key_label(profile, key)}
            if key[0] >= 0:
                frame["file"] = profile.frames[key[0]].filename
                frame["line"] = key[1]
            frames.append(frame)
        return i

    profiles: list[dict[str, Any]] = []
    for weight, unit, what in _KINDS:
        by_thread: dict[str, dict[tuple[int, ...], float]] = {}
        for thread, _, keys, w in keyed_stacks(profile, weight):
            stacks = by_thread.setdefault(thread, {})
            stack = tuple(frame_index(k) for k in keys)
            stacks[stack] = stacks.get(stack, 0.0) + w
        for thread in sorted(by_thread):
            # grouped by label so that related stacks sit together in the time-order view
            rows = sorted(
                by_thread[thread].items(), key=lambda r: [frames[i]["name"] for i in r[0]]
            )
            total = sum(w for _, w in rows)
            profiles.append(
                {
                    "type": "sampled",
                    "name": f"{thread} - {what}",
                    "unit": unit,
                    "startValue": 0,
                    "endValue": total,
                    "samples": [list(stack) for stack, _ in rows],
                    "weights": [w for _, w in rows],
                }
            )
    if not profiles:  # so that the viewer opens it and says there is nothing, not "invalid"
        profiles.append(
            {
                "type": "sampled",
                "name": "no samples",
                "unit": "seconds",
                "startValue": 0,
                "endValue": 0,
                "samples": [],
                "weights": [],
            }
        )
    # open on the thread with the most time (the first allocation profile if none)
    time_totals = [p["endValue"] if p["unit"] == "seconds" else -1.0 for p in profiles]
    active = max(range(len(profiles)), key=time_totals.__getitem__)
    return {
        "$schema": SCHEMA,
        "shared": {"frames": frames},
        "profiles": profiles,
        "name": f"hpkit {profile.mode}: {command_line(profile)}",
        "activeProfileIndex": active,
        "exporter": f"hpkit@{__version__}",
    }


def speedscope_json(profile: Profile) -> str:
    return json.dumps(speedscope_dict(profile), separators=(",", ":"))
