"""Bloom filter add and lookup throughput, hpkit against rbloom, timed in alternation.

``hpkit lab sketches-bloom`` times whole rows (add n keys, query them, query misses);
this script separates the two operations the issue's goal names - ``add_many`` against
``rbloom.Bloom.update`` and ``contains_many`` against a ``x in b`` loop - and alternates
the two libraries in each repetition so that machine noise hits both alike. Both get the
same Python list (of str, then of int). Prints best and median times and the paired
median speedup. Run: ``python benches/bloom_vs_rbloom.py [N] [REPEATS]``.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

from hpkit.sketch import BloomFilter


def _seconds(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def _compare(
    rbloom: object, kind: str, items: list, probes: list, repeats: int, error_rate: float
) -> None:
    n = len(items)
    bloom = rbloom.Bloom  # type: ignore[attr-defined]
    ours, theirs = BloomFilter(n, error_rate), bloom(n, error_rate)
    ours.add_many(items)
    theirs.update(items)
    runs: dict[str, Callable[[], object]] = {
        "ha": lambda: BloomFilter(n, error_rate).add_many(items),
        "ra": lambda: bloom(n, error_rate).update(items),
        "hc": lambda: ours.contains_many(probes),
        "rc": lambda: [x in theirs for x in probes],
    }
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(repeats):
        for key, work in runs.items():
            times[key].append(_seconds(work))
    for op, h, r in (("add", "ha", "ra"), ("contains", "hc", "rc")):
        paired = statistics.median(b / a for a, b in zip(times[h], times[r], strict=True))
        print(
            f"{kind:>3} {op:<8}  hpkit best {min(times[h]) * 1e3:6.1f} ms "
            f"(median {statistics.median(times[h]) * 1e3:6.1f})  rbloom best "
            f"{min(times[r]) * 1e3:6.1f} ms (median {statistics.median(times[r]) * 1e3:6.1f})"
            f"  paired median speedup {paired:.2f}x"
        )


def main(n: int = 1_000_000, repeats: int = 15, error_rate: float = 0.005) -> None:
    try:
        import rbloom
    except ImportError:
        print("rbloom is not installed (pip install rbloom, or the `peers` extra); skipped")
        return
    _compare(rbloom, "str", [str(i) for i in range(n)], [str(i) for i in range(n, 2 * n)],
             repeats, error_rate)  # fmt: skip
    _compare(rbloom, "int", list(range(n)), list(range(n, 2 * n)), repeats, error_rate)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
