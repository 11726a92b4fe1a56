"""What every output shares: how a frame is named, how stacks are walked and how weights
are printed. Keeping these in one place is what makes a box in the flame graph, a frame in
speedscope and a line of collapsed stacks carry the same label for the same code.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

from hpkit.profile._model import STATES, Frame, Profile, State

Weight = Literal["seconds", "samples", "bytes"]

#: One element of a keyed stack: ``(frame index, line)``. ``line`` is :data:`WHOLE` when
#: frames are merged by function; a negative frame index is a pseudo-frame.
Key = tuple[int, int]
WHOLE = -1
NATIVE: Key = (-1, WHOLE)
IDLE: Key = (-2, WHOLE)
PSEUDO_NAMES: dict[Key, str] = {NATIVE: "<native>", IDLE: "<idle>"}
_STATE_LEAF: dict[str, Key] = {"native": NATIVE, "idle": IDLE}

MIB = 1024.0 * 1024.0


def location(frame: Frame, line: int | None = None) -> str:
    """``file.py:LINE``, ``line`` defaulting to where the function starts."""
    return f"{Path(frame.filename).name}:{frame.firstlineno if line in (None, WHOLE) else line}"


def frame_label(frame: Frame, line: int | None = None) -> str:
    """``func (file.py:LINE)``: short enough for a flame-graph box, precise enough to find
    the line."""
    return f"{frame.name} ({location(frame, line)})"


def key_label(profile: Profile, key: Key) -> str:
    """The label of a keyed-stack element, pseudo-frames included."""
    if key[0] < 0:
        return PSEUDO_NAMES[key]
    return frame_label(profile.frames[key[0]], key[1])


def key_location(profile: Profile, key: Key) -> tuple[str, int] | None:
    """``(filename, line)`` of a real frame (its first line when merged by function)."""
    if key[0] < 0:
        return None
    frame = profile.frames[key[0]]
    return frame.filename, frame.firstlineno if key[1] == WHOLE else key[1]


def keyed_stacks(
    profile: Profile,
    weight: Weight = "seconds",
    *,
    by_line: bool = True,
    states: Iterable[State] = STATES,
) -> Iterator[tuple[str, str, tuple[Key, ...], float]]:
    """``(thread, state, keys root to leaf, weight)`` for time (or, with ``bytes``,
    allocation) stacks. Native and idle samples end in a ``<native>``/``<idle>``
    pseudo-frame so that time in C and time waiting stay visible, and filterable, in every
    viewer rather than silently inflating the Python leaf. Empty stacks are skipped."""
    wanted = {*states, "alloc"}
    for thread, state, stack, w in profile.iter_stacks(weight):
        if state not in wanted:
            continue
        keys: tuple[Key, ...] = stack if by_line else tuple((frame, WHOLE) for frame, _ in stack)
        leaf = _STATE_LEAF.get(state)
        if leaf is not None:
            keys += (leaf,)
        if keys:
            yield thread, state, keys, w


def default_weight(profile: Profile) -> Weight:
    """Bytes for a memory profile that recorded allocations, wall seconds otherwise."""
    return "bytes" if profile.mode == "memory" and profile.allocations else "seconds"


def fmt_seconds(s: float) -> str:
    if s >= 1.0:
        return f"{s:.3f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    if s > 0:
        return f"{s * 1e6:.0f} µs"
    return "0 s"


def fmt_bytes(b: float) -> str:
    for unit, size in (("GiB", 1024.0**3), ("MiB", MIB), ("KiB", 1024.0)):
        if abs(b) >= size:
            return f"{b / size:.1f} {unit}"
    return f"{b:.0f} B"


def fmt_weight(w: float, weight: Weight) -> str:
    if weight == "bytes":
        return fmt_bytes(w)
    if weight == "seconds":
        return fmt_seconds(w)
    return f"{w:,.0f} samples"


def command_line(profile: Profile) -> str:
    return " ".join(profile.command) or "(unknown command)"
