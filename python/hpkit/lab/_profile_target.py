"""The chapter 2 profiling target: the book's pure-Python Julia set, timed from inside.

``hpkit lab profile`` runs this file in a fresh interpreter under each profiler
(``python _profile_target.py OUT.json WIDTH MAX_ITER``). It times only
``calc_pure_python(width, max_iter)`` with ``time.perf_counter``, so interpreter and
profiler start-up are left out of the overhead, and writes ``{"seconds", "sum"}`` to
``OUT.json``: the lab refuses a run whose sum is wrong before looking at its time.

Line-level profilers that inject a ``profile`` builtin (kernprof, memory_profiler,
scalene, ``hpkit profile``) only instrument decorated functions, as in the book: the
inner loop, ``calculate_z_serial_purepython``, is wrapped with it here and put back in
the module so ``calc_pure_python`` calls the wrapped function. Without such a builtin
the module is left as it is.
"""

from __future__ import annotations

import builtins
import json
import sys
import time


def main(argv: list[str]) -> None:
    out, width, max_iter = argv[0], int(argv[1]), int(argv[2])
    from hpkit.reference import julia

    profile = builtins.__dict__.get("profile")
    if callable(profile):
        julia.calculate_z_serial_purepython = profile(julia.calculate_z_serial_purepython)
    start = time.perf_counter()
    counts = julia.calc_pure_python(width, max_iter)
    seconds = time.perf_counter() - start
    with open(out, "w", encoding="utf-8") as handle:
        json.dump({"seconds": seconds, "sum": int(counts.sum())}, handle)


if __name__ == "__main__":
    main(sys.argv[1:])
