"""One profiling session in this process, and :class:`Profiler`, its public face.

A session owns the native collector (``hpkit._native.Collector``: the sampler thread and
the allocator hooks), the signal the sampler uses to reach the main thread, the line
counters of ``lines`` mode, the heap recorder of ``--heap-every``, and the fork hooks
that keep profiling in forked children. :meth:`Session.stop` turns it all into one
:class:`~hpkit.profile._model.Profile`.
"""

from __future__ import annotations

import contextlib
import dis
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FunctionType, TracebackType
from typing import Any

from hpkit import _native
from hpkit.errors import BusyError, InvalidInputError
from hpkit.profile._model import (
    STATES,
    AllocationSample,
    Frame,
    MemoryPoint,
    Mode,
    Profile,
    StackSample,
)

MODES: tuple[Mode, ...] = ("sample", "lines", "memory")
#: Samples per second by mode: lines mode times its lines by sampling, so it samples faster.
DEFAULT_RATE_HZ: dict[Mode, float] = {"sample": 100.0, "lines": 1000.0, "memory": 100.0}
MAX_RATE_HZ: float = _native.MAX_RATE_HZ
#: Mean bytes between sampled allocations in memory mode.
DEFAULT_MEMORY_SAMPLE_BYTES = 256 * 1024
#: RSS readings per second in memory mode.
TIMELINE_HZ = 100.0

#: Opcodes that call something (C functions included): a thread stopped on one is inside
#: that call.
CALL_OPCODES = sorted({op for name, op in dis.opmap.items() if "CALL" in name})

_current: Session | None = None


def current() -> Session | None:
    """The session running in this process, if any."""
    return _current


def check_rate(rate_hz: float) -> float:
    """The rate as a float, or :class:`InvalidInputError` naming the allowed range."""
    try:
        rate = float(rate_hz)
    except (TypeError, ValueError):
        raise InvalidInputError(f"rate must be a number, got {rate_hz!r}") from None
    if not 1.0 <= rate <= MAX_RATE_HZ:  # also refuses NaN
        raise InvalidInputError(
            f"rate must be between 1 and {MAX_RATE_HZ:g} samples per second, got {rate_hz!r}"
        )
    return rate


def _free_signal() -> int | None:
    """A real-time signal nobody handles, for the sampler to wake the main thread with.
    (``getsignal`` gives ``None`` for a handler installed outside Python: taken.)"""
    if not hasattr(signal, "SIGRTMIN"):
        return None
    for sig in range(signal.SIGRTMIN + 2, signal.SIGRTMAX - 2):
        try:
            if signal.getsignal(sig) == signal.SIG_DFL:
                return sig
        except (OSError, ValueError):
            continue
    return None


class Session:
    """Collect one profile. Use :class:`Profiler` (or ``hpkit profile``) rather than this."""

    def __init__(
        self,
        mode: Mode = "sample",
        *,
        rate_hz: float | None = None,
        memory_sample_bytes: int = DEFAULT_MEMORY_SAMPLE_BYTES,
        heap_every: float | None = None,
        command: Iterable[str] = (),
        on_fork_child: Callable[[Session], None] | None = None,
    ) -> None:
        if mode not in MODES:
            raise InvalidInputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode: Mode = mode
        self.rate_hz = check_rate(DEFAULT_RATE_HZ[mode] if rate_hz is None else rate_hz)
        if mode == "memory" and (
            not isinstance(memory_sample_bytes, int) or memory_sample_bytes < 1
        ):
            raise InvalidInputError(
                f"memory_sample_bytes must be a positive integer, got {memory_sample_bytes!r}"
            )
        if heap_every is not None and not (isinstance(heap_every, int | float) and heap_every > 0):
            raise InvalidInputError(
                f"heap_every must be a positive number of seconds, got {heap_every!r}"
            )
        self.memory_sample_bytes = memory_sample_bytes if mode == "memory" else 0
        self.heap_every = heap_every
        self.command = list(command)
        self.on_fork_child = on_fork_child
        self._collector: _native.Collector | None = None
        self._signal: int | None = None
        self._previous_handler: Any = None
        self._heap_recorder: Any = None
        self._started = 0.0
        self._pid = 0

    # ------------------------------------------------------------------ lifecycle

    @property
    def running(self) -> bool:
        return self._collector is not None

    def start(self) -> None:
        global _current
        if _current is not None:
            raise BusyError("a profiling session is already running in this process")
        sig = None
        if threading.current_thread() is threading.main_thread():
            sig = _free_signal()
        collector = _native.Collector(
            rate_hz=self.rate_hz,
            timeline_hz=TIMELINE_HZ if self.mode == "memory" else 0.0,
            memory_sample_bytes=self.memory_sample_bytes,
            call_opcodes=CALL_OPCODES,
            signal=sig or 0,
        )
        if sig is not None:
            self._previous_handler = signal.signal(sig, _native.sample_signal_handler)
            self._signal = sig
        if self.mode == "lines":
            from hpkit.profile import _lines

            for counters in _lines.registry():  # functions decorated before this run
                counters.reset()
        self._started = time.time()
        self._pid = os.getpid()
        try:
            collector.start()
        except BaseException:
            self._restore_signal()
            raise
        self._collector = collector
        _current = self
        if self.heap_every is not None:
            from hpkit.profile._heap import HeapRecorder

            self._heap_recorder = HeapRecorder(self.heap_every)
            self._heap_recorder.start()
        _install_fork_hooks()

    def stop(self) -> Profile:
        """Stop collecting and return the profile."""
        global _current
        collector = self._collector
        if collector is None:
            raise InvalidInputError("this profiling session is not running")
        heap_timeline = self._heap_recorder.stop() if self._heap_recorder is not None else []
        self._heap_recorder = None
        try:
            raw = collector.stop()
        finally:
            self._collector = None
            _current = None
            self._restore_signal()
        profile = _to_profile(raw, self)
        profile.heap_timeline = heap_timeline
        if self.mode == "lines":
            from hpkit.profile import _lines

            _lines.fill_profile(profile)
        return profile

    def _restore_signal(self) -> None:
        if self._signal is not None:
            with contextlib.suppress(ValueError, OSError):  # not in the main thread any more
                signal.signal(self._signal, self._previous_handler or signal.SIG_DFL)
            self._signal = None

    def _after_fork_child(self) -> None:
        if self._collector is None:
            return
        self._collector.after_fork_child()
        if self.on_fork_child is None:
            # Not following children: this one runs unprofiled.
            self._heap_recorder = None
            self.stop()
            return
        self._pid = os.getpid()
        self._started = time.time()
        if self._heap_recorder is not None:
            from hpkit.profile._heap import HeapRecorder

            self._heap_recorder = HeapRecorder(self.heap_every or 1.0)
            self._heap_recorder.start()
        if self.mode == "lines":
            from hpkit.profile import _lines

            for counters in _lines.registry():
                counters.reset()
        if self.on_fork_child is not None:
            self.on_fork_child(self)


_fork_hooks_installed = False


def _install_fork_hooks() -> None:
    global _fork_hooks_installed
    if not _fork_hooks_installed and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_fork_child)
        _fork_hooks_installed = True


def _fork_child() -> None:
    session = _current
    if session is not None:
        session._after_fork_child()


def _to_profile(raw: dict[str, Any], session: Session) -> Profile:
    frames = [Frame(name, filename, firstlineno) for name, filename, firstlineno in raw["frames"]]
    threads: list[str] = raw["threads"]
    profile = Profile(
        mode=session.mode,
        command=session.command,
        started=session._started,
        duration=float(raw["duration"]),
        rate_hz=session.rate_hz,
        frames=frames,
        samples=[
            StackSample(threads[t], STATES[state], stack, count, seconds)
            for t, state, stack, count, seconds in raw["samples"]
        ],
        allocations=[
            AllocationSample(threads[t], stack, nbytes, count, live)
            for t, stack, nbytes, count, live in raw["allocations"]
        ],
        freed={},
        timeline=[MemoryPoint(t, rss, heap) for t, rss, heap in raw["timeline"]],
        peak_heap=float(raw["peak_heap"]),
        processes=[session._pid],
        dropped_samples=int(raw["dropped"]),
    )
    for frame, line, nbytes in raw["freed"]:
        key = (frames[frame].filename, line)
        profile.freed[key] = profile.freed.get(key, 0.0) + nbytes
    profile.peak_rss = max(max((p.rss for p in profile.timeline), default=0), _peak_rss())
    return profile


def _peak_rss() -> int:
    """This process's peak resident set (``VmHWM``). Not ``ru_maxrss``, which a child
    inherits from its parent across fork and exec on Linux."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


class Profiler:
    """Profile a block of code: ``with Profiler() as p: ...`` then ``p.profile``.

    ``mode`` is ``"sample"`` (default: statistical sampling of every thread),
    ``"lines"`` (exact hit counts of ``functions``, plus sampled time per line) or
    ``"memory"`` (sampled allocations per line, RSS timeline). ``rate`` is samples per
    second (default 100; 1000 in lines mode).

    In ``lines`` mode, each function in ``functions`` is instrumented in place for the
    duration of the block (its ``__code__`` is swapped and restored), so every reference
    to it counts.
    """

    def __init__(
        self,
        mode: Mode = "sample",
        *,
        rate: float | None = None,
        functions: Iterable[Callable[..., Any]] = (),
        memory_sample_bytes: int = DEFAULT_MEMORY_SAMPLE_BYTES,
        heap_every: float | None = None,
    ) -> None:
        self._session = Session(
            mode, rate_hz=rate, memory_sample_bytes=memory_sample_bytes, heap_every=heap_every
        )
        self._functions = list(functions)
        if self._functions and mode != "lines":
            raise InvalidInputError("functions= is for mode='lines'")
        self._swapped: list[tuple[FunctionType, Any]] = []
        self.profile: Profile | None = None

    def start(self) -> Profiler:
        self._session.start()
        try:
            from hpkit.profile._lines import instrument_in_place

            for func in self._functions:
                self._swapped.append(instrument_in_place(func))
        except BaseException:
            self._restore()
            self._session.stop()
            raise
        return self

    def stop(self) -> Profile:
        self._restore()
        self.profile = self._session.stop()
        return self.profile

    def _restore(self) -> None:
        for func, code in reversed(self._swapped):
            func.__code__ = code
        self._swapped.clear()

    def __enter__(self) -> Profiler:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def write(self, path: str | Path, fmt: str | None = None) -> Path:
        """Write the profile (format from ``fmt`` or the file extension, see
        :func:`hpkit.profile.outputs.format_for`)."""
        from hpkit.profile import outputs

        return outputs.write(self._finished(), path, fmt)

    def print(self, *, top: int = 15) -> None:
        """Show the profile in the terminal."""
        from rich.console import Console

        from hpkit.profile import outputs

        outputs.render_terminal(self._finished(), Console(), top=top)

    def _finished(self) -> Profile:
        if self.profile is None:
            raise InvalidInputError("the profiler has not been stopped yet")
        return self.profile
