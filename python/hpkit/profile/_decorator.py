"""``@profile``: free unless the program runs under ``hpkit profile``.

Outside a profiling run the decorator returns the function itself, so a decorated
function costs nothing at all. Under ``hpkit profile --mode lines`` it returns the
function instrumented with exact per-line hit counters; in the other modes it marks
nothing (every function is sampled anyway). ``hpkit profile`` also puts ``profile`` in
``builtins`` for the run, as kernprof and memory_profiler do, so the book's scripts that
use ``@profile`` without importing it run unchanged.
"""

from __future__ import annotations

import builtins
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from hpkit.errors import InvalidInputError
from hpkit.profile._model import Mode

F = TypeVar("F", bound=Callable[..., Any])

_mode: Mode | None = None
_missing = object()
_saved_builtin: Any = _missing


def profile(func: F) -> F:
    """Select ``func`` for ``hpkit profile --mode lines``; a no-op otherwise."""
    if _mode != "lines":
        return func
    from hpkit.profile._lines import instrument

    try:
        return instrument(func)  # type: ignore[no-any-return]
    except InvalidInputError as e:
        name = getattr(func, "__qualname__", repr(func))
        warnings.warn(
            f"hpkit.profile: cannot count the lines of {name} ({e}); it is sampled only",
            stacklevel=2,
        )
        return func


def active_mode() -> Mode | None:
    """The mode of the ``hpkit profile`` run in progress, if any."""
    return _mode


def activate(mode: Mode) -> None:
    """Start a run: ``@profile`` instruments in lines mode, and is a builtin."""
    global _mode, _saved_builtin
    _mode = mode
    _saved_builtin = getattr(builtins, "profile", _missing)
    if _saved_builtin is _missing:
        builtins.profile = profile  # type: ignore[attr-defined]


def deactivate() -> None:
    global _mode, _saved_builtin
    _mode = None
    if _saved_builtin is _missing and getattr(builtins, "profile", None) is profile:
        del builtins.profile  # type: ignore[attr-defined]
    _saved_builtin = _missing
