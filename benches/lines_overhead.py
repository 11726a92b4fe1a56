"""Overhead of ``lines`` mode: the book's Julia loop, instrumented against the original.

The instrumented copy (``hpkit.profile._lines.instrument``) adds one ``counters[k] += 1``
per statement run; the Julia loop, whose lines are all tiny arithmetic statements, is
the worst case for that. The goal is at most 2.5x. The two versions run in alternation
so that machine noise hits both alike; prints the best and median time of each and the
ratio of the best times. Run: ``python benches/lines_overhead.py [WIDTH] [REPEATS]``.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

from hpkit.profile._lines import instrument
from hpkit.reference import julia


def _seconds(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def main(width: int = 300, repeats: int = 7, max_iter: int = 300) -> float:
    zs, cs, _, _ = julia.build_zs_cs(width)
    original = julia.calculate_z_serial_purepython
    counted = instrument(original)
    assert counted(max_iter, zs, cs) == original(max_iter, zs, cs)
    times: dict[str, list[float]] = {"original": [], "instrumented": []}
    for _ in range(repeats):
        times["original"].append(_seconds(lambda: original(max_iter, zs, cs)))
        times["instrumented"].append(_seconds(lambda: counted(max_iter, zs, cs)))
    for name, runs in times.items():
        print(f"{name:>12}: best {min(runs):.3f} s, median {statistics.median(runs):.3f} s")
    ratio = min(times["instrumented"]) / min(times["original"])
    print(f"overhead at width {width}, {max_iter} iterations: {ratio:.2f}x (goal <= 2.5x)")
    return ratio


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
