"""A ``pstats`` file (what ``cProfile`` writes), for ``pstats``, snakeviz, tuna and the
other tools that read one.

The file is the marshalled dict ``{(file, line, func): (cc, nc, tt, ct, callers)}`` with
``callers = {caller key: (nc, cc, tt, ct)}``, as ``cProfile`` builds it. From samples:

* ``tt`` (self) is the time with the function as the innermost Python frame while running
  Python; ``ct`` (inclusive) the time with it anywhere on the stack, counted once per
  sample so recursion does not count it twice. Caller edges come from consecutive frames.
* Time inside native code (C extensions, I/O) goes to one pseudo-function
  ``('~', 0, '<native code>')``, a callee of the Python function that made the call. That
  is how ``cProfile`` shows time in built-ins (``{built-in method ...}``), so pstats and
  snakeviz users see the split they expect: a Python function's ``tottime`` is its own
  bytecode, and ``{native code}`` sorts to the top when C dominates.
* Idle (off-CPU) samples are left out unless asked for, as ``cProfile`` measures CPU-ish
  time; with ``states`` including ``idle`` they go to ``('~', 0, '<idle>')``.
* Call counts are exact where the profile has them (``lines`` mode), else 0, which
  pstats prints as blank averages.

``pstats.Stats`` refuses an empty dict, so a profile without time samples (memory mode)
gets one zero entry, ``{no time samples}``.
"""

from __future__ import annotations

import marshal
from collections.abc import Iterable

from hpkit.profile._model import Profile, State
from hpkit.profile.outputs._common import IDLE, NATIVE, Key, keyed_stacks

PstatsKey = tuple[str, int, str]
CallerStats = tuple[int, int, float, float]  # nc, cc, tt, ct of the calls from one caller
FuncStats = tuple[int, int, float, float, dict[PstatsKey, CallerStats]]  # cc, nc, tt, ct

_PSEUDO_KEYS: dict[Key, PstatsKey] = {
    NATIVE: ("~", 0, "<native code>"),
    IDLE: ("~", 0, "<idle>"),
}
EMPTY_KEY: PstatsKey = ("~", 0, "<no time samples>")


def pstats_dict(
    profile: Profile, states: Iterable[State] = ("python", "native")
) -> dict[PstatsKey, FuncStats]:
    """The dict a ``pstats.Stats`` holds in ``.stats``; see the module docstring."""

    def pkey(key: Key) -> PstatsKey:
        return _PSEUDO_KEYS[key] if key[0] < 0 else profile.frames[key[0]].pstats_key

    self_s: dict[PstatsKey, float] = {}
    incl_s: dict[PstatsKey, float] = {}
    edge_self: dict[tuple[PstatsKey, PstatsKey], float] = {}
    edge_incl: dict[tuple[PstatsKey, PstatsKey], float] = {}
    for _, _, keys, seconds in keyed_stacks(profile, "seconds", by_line=False, states=states):
        stack = [pkey(k) for k in keys]
        self_s[stack[-1]] = self_s.get(stack[-1], 0.0) + seconds
        for func in set(stack):
            incl_s[func] = incl_s.get(func, 0.0) + seconds
        for edge in set(zip(stack, stack[1:], strict=False)):
            edge_incl[edge] = edge_incl.get(edge, 0.0) + seconds
        if len(stack) > 1:
            last = (stack[-2], stack[-1])
            edge_self[last] = edge_self.get(last, 0.0) + seconds

    calls: dict[PstatsKey, int] = {}
    for index, n in profile.calls.items():
        key = profile.frames[index].pstats_key
        calls[key] = calls.get(key, 0) + n
    stats: dict[PstatsKey, FuncStats] = {
        func: (calls.get(func, 0), calls.get(func, 0), self_s.get(func, 0.0), incl, {})
        for func, incl in incl_s.items()
    }
    for (caller, callee), incl in edge_incl.items():
        stats[callee][4][caller] = (0, 0, edge_self.get((caller, callee), 0.0), incl)
    if not stats:
        stats[EMPTY_KEY] = (0, 0, 0.0, 0.0, {})
    return stats


def pstats_bytes(profile: Profile, states: Iterable[State] = ("python", "native")) -> bytes:
    """The file's content: :func:`pstats_dict` marshalled."""
    return marshal.dumps(pstats_dict(profile, states))
