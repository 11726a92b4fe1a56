"""The book's timing decorator (chapter 2's ``timefn``), done well.

``@timer`` prints how long each call took, as the book's decorator does, and keeps every
call's wall time so that the statistics (mean, spread, median) are there when one
number is not enough. ``@timer(repeat=5)`` runs the function five times per call - the
book's advice for checking a change while optimising: a result that moves by less than
the spread between repeats is noise. ``with timer("build"):`` times a block.

Times are ``time.perf_counter_ns`` wall times; printing goes to standard error (where
it does not mix with a program's output) unless ``print=False``.
"""

from __future__ import annotations

import builtins
import functools
import inspect
import math
import statistics
import sys
import threading
import time
from array import array
from collections.abc import Callable
from types import TracebackType
from typing import IO, Any, TypeVar, overload

from hpkit.errors import InvalidInputError

__all__ = ["Timer", "TimerStats", "format_seconds", "timer"]

F = TypeVar("F", bound=Callable[..., Any])

_UNITS = ((1e-6, "ns", 1e9), (1e-3, "µs", 1e6), (1.0, "ms", 1e3))


def _unit(seconds: float) -> tuple[str, float]:
    for below, name, scale in _UNITS:
        if abs(seconds) < below:
            return name, scale
    return "s", 1.0


def _number(value: float) -> str:
    """Three significant digits (no exponent): 1.23, 12.3, 123, 1234."""
    size = abs(value)
    if size >= 100:
        return f"{value:.0f}"
    if size >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_seconds(seconds: float) -> str:
    """``1.23 s``, ``12.3 ms``, ``456 µs``, ``789 ns``."""
    unit, scale = _unit(seconds)
    return f"{_number(seconds * scale)} {unit}"


class TimerStats:
    """Every recorded wall time of one timer, with their statistics in seconds.

    Recording is thread-safe. The times are kept (8 bytes each) so the median and the
    spread are exact; :attr:`samples_ns` returns them in recording order.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._ns = array("q")
        self._lock = threading.Lock()

    def add(self, ns: int) -> None:
        with self._lock:
            self._ns.append(ns)

    def reset(self) -> None:
        with self._lock:
            self._ns = array("q")

    @property
    def samples_ns(self) -> list[int]:
        with self._lock:
            return self._ns.tolist()

    @property
    def count(self) -> int:
        return len(self._ns)

    @property
    def total(self) -> float:
        return sum(self.samples_ns) / 1e9

    @property
    def min(self) -> float:
        samples = self.samples_ns
        return min(samples) / 1e9 if samples else math.nan

    @property
    def max(self) -> float:
        samples = self.samples_ns
        return max(samples) / 1e9 if samples else math.nan

    @property
    def mean(self) -> float:
        samples = self.samples_ns
        return sum(samples) / len(samples) / 1e9 if samples else math.nan

    @property
    def median(self) -> float:
        samples = self.samples_ns
        return statistics.median(samples) / 1e9 if samples else math.nan

    @property
    def stdev(self) -> float:
        """The sample standard deviation (0 for a single time)."""
        samples = self.samples_ns
        if not samples:
            return math.nan
        return statistics.stdev(samples) / 1e9 if len(samples) > 1 else 0.0

    def summary(self, word: str = "call") -> str:
        """``name: 5 calls, mean 1.23 s ± 0.01 s (min 1.21 s, max 1.25 s)``."""
        samples = self.samples_ns
        n = len(samples)
        if n == 0:
            return f"{self.name}: no {word}s"
        if n == 1:
            return f"{self.name}: 1 {word}, {format_seconds(samples[0] / 1e9)}"
        mean = sum(samples) / n / 1e9
        spread = statistics.stdev(samples) / 1e9
        unit, scale = _unit(mean)
        # The spread in the mean's unit reads best, unless that shows it as zero.
        spread_text = (
            f"{_number(spread * scale)} {unit}"
            if spread * scale >= 0.01 or spread == 0
            else format_seconds(spread)
        )
        return (
            f"{self.name}: {n:,} {word}s, mean {format_seconds(mean)} ± {spread_text} "
            f"(min {format_seconds(min(samples) / 1e9)}, max {format_seconds(max(samples) / 1e9)})"
        )

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"<TimerStats {self.summary()}>"


class Timer:
    """A named timer: a decorator (``timer(...)(func)``) and a context manager
    (``with timer("name") as t``), recording into :attr:`stats`."""

    def __init__(
        self,
        name: str | None = None,
        *,
        repeat: int = 1,
        print: bool = True,  # noqa: A002 - the documented keyword
        file: IO[str] | None = None,
    ) -> None:
        if repeat < 1:
            raise InvalidInputError(f"repeat must be >= 1, got {repeat}")
        self.name = name
        self.repeat = repeat
        self.print = print
        self.file = file
        self.stats = TimerStats(name or "timer")
        self._starts = threading.local()

    # ----------------------------------------------------------------- output

    def _report(self, text: str) -> None:
        if self.print:
            builtins.print(text, file=self.file if self.file is not None else sys.stderr)

    def _report_call(self, runs: list[int], error: BaseException | None) -> None:
        if not self.print:
            return
        if len(runs) == 1:
            text = f"{self.stats.name}: {format_seconds(runs[0] / 1e9)}"
        else:
            this_call = TimerStats(self.stats.name)
            for ns in runs:
                this_call.add(ns)
            text = this_call.summary("run")
        if error is not None:
            text += f" (raised {type(error).__name__})"
        self._report(text)

    # ----------------------------------------------------------------- decorator

    def __call__(self, func: F) -> F:
        if not callable(func):
            raise InvalidInputError(f"timer decorates a callable, not {func!r}")
        if self.name is None:
            self.stats.name = self.name = getattr(func, "__qualname__", repr(func))
        repeat = self.repeat

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                runs: list[int] = []
                try:
                    result = None
                    for _ in range(repeat):
                        start = time.perf_counter_ns()
                        try:
                            result = await func(*args, **kwargs)
                        finally:
                            runs.append(time.perf_counter_ns() - start)
                            self.stats.add(runs[-1])
                except BaseException as exc:
                    self._report_call(runs, exc)
                    raise
                self._report_call(runs, None)
                return result

            wrapper: Any = timed_async
        else:

            @functools.wraps(func)
            def timed(*args: Any, **kwargs: Any) -> Any:
                runs: list[int] = []
                try:
                    result = None
                    for _ in range(repeat):
                        start = time.perf_counter_ns()
                        try:
                            result = func(*args, **kwargs)
                        finally:
                            runs.append(time.perf_counter_ns() - start)
                            self.stats.add(runs[-1])
                except BaseException as exc:
                    self._report_call(runs, exc)
                    raise
                self._report_call(runs, None)
                return result

            wrapper = timed
        wrapper.stats = self.stats
        wrapper.timer = self
        return wrapper  # type: ignore[no-any-return]

    # ----------------------------------------------------------------- context manager

    def __enter__(self) -> Timer:
        stack = getattr(self._starts, "stack", None)
        if stack is None:
            stack = self._starts.stack = []
        stack.append(time.perf_counter_ns())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        elapsed = time.perf_counter_ns() - self._starts.stack.pop()
        self.stats.add(elapsed)
        self._report_call([elapsed], exc)

    async def __aenter__(self) -> Timer:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __repr__(self) -> str:
        return f"<Timer {self.stats.summary()}>"


@overload
def timer(func: F, /) -> F: ...
@overload
def timer(
    name: str | None = None,
    /,
    *,
    repeat: int = 1,
    print: bool = True,  # noqa: A002
    file: IO[str] | None = None,
) -> Timer: ...
def timer(
    func_or_name: Any = None,
    /,
    *,
    name: str | None = None,
    repeat: int = 1,
    print: bool = True,  # noqa: A002 - the documented keyword
    file: IO[str] | None = None,
) -> Any:
    """Time calls or a block; statistics in ``.stats`` (a :class:`TimerStats`).

    * ``@timer`` - print each call's time, named after the function;
    * ``@timer(repeat=5, name="calc", print=False, file=f)`` - each call runs the
      function ``repeat`` times and returns the last result; every run is recorded;
    * ``with timer("build") as t: ...`` (or ``async with``) - time a block, ``t.stats``.

    The decorated function (sync or async; an ``async def`` is timed until its awaited
    result) has ``.stats`` and ``.timer``. An exception is recorded and printed with the
    time it took, then re-raised. A generator function is timed until it returns the
    generator, not while it is iterated.
    """
    if callable(func_or_name) and not isinstance(func_or_name, str):
        return Timer(name, repeat=repeat, print=print, file=file)(func_or_name)
    if func_or_name is not None and not isinstance(func_or_name, str):
        raise InvalidInputError(f"timer() takes a function or a name, not {func_or_name!r}")
    return Timer(func_or_name or name, repeat=repeat, print=print, file=file)
