"""Wall-clock timing with an adaptive number of repeats.

The runner has already called the workload once (to check its answer), which is also the
warm-up that absorbs JIT compilation and first-touch page faults. Here we repeat it and
keep the best (the least disturbed run, the usual estimate of what the code can do) and the
median (what to expect). Slow workloads get fewer repeats so a full lab stays bearable: we
stop once the next run would go past the time budget, but always keep at least one.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from hpkit.lab.model import Workload


@dataclass(frozen=True)
class TimingPolicy:
    """How many times to repeat. ``exact`` (``--repeats N``) turns the budget off."""

    repeats: int
    budget_s: float
    exact: bool = False


@dataclass(frozen=True)
class Timing:
    """The timed runs of one workload, in seconds."""

    samples: tuple[float, ...]

    @property
    def best(self) -> float:
        return min(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def runs(self) -> int:
        return len(self.samples)


def time_once(workload: Workload) -> tuple[float, object]:
    """One run with the garbage collector paused (as :mod:`timeit` does); seconds, output."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        output = workload()
        elapsed = time.perf_counter() - start
    finally:
        if gc_was_enabled:
            gc.enable()
    return elapsed, output


def measure(
    workload: Workload,
    policy: TimingPolicy,
    on_run: Callable[[int, int], None] | None = None,
) -> Timing:
    """Time ``workload`` per ``policy``; ``on_run(done, planned)`` reports progress."""
    samples: list[float] = []
    planned = policy.repeats
    while len(samples) < planned:
        elapsed, _ = time_once(workload)
        samples.append(elapsed)
        if not policy.exact:
            spent = sum(samples)
            affordable = len(samples) + int((policy.budget_s - spent) / max(elapsed, 1e-9))
            planned = max(len(samples), min(policy.repeats, affordable))
        if on_run is not None:
            on_run(len(samples), planned)
    return Timing(tuple(samples))
