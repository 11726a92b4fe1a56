"""Measure one token store's memory in a fresh process (``python -m hpkit.lab._rss_probe``).

Python's own accounting (``sys.getsizeof``, tracemalloc) misses what C, C++ and Rust
extensions allocate, so the honest figure is the process's resident set: import the
structure's module, read nothing yet and note the RSS; read the keys (one per line),
build the structure, drop the keys unless the structure holds them, collect garbage, hand
free heap back to the system (``malloc_trim``) and note the RSS again. The difference is
the structure's footprint, strings included. Prints one JSON object.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any, Literal

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """The resident set size now (Linux ``/proc``; peak RSS elsewhere, less exact)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * PAGE
    except OSError:
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def settle() -> None:
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def deep_size(container: Any) -> int:
    """``sys.getsizeof`` of a container plus that of each element (all distinct objects)."""
    return sys.getsizeof(container) + sum(sys.getsizeof(item) for item in container)


def _builders() -> dict[str, Callable[[list[str]], tuple[Any, Callable[[Any], int | None]]]]:
    """structure name -> build(keys) returning (structure, own_size(structure))."""

    def dawg_build(keys: list[str]) -> tuple[Any, Callable[[Any], int | None]]:
        import dawg

        return dawg.DAWG(keys), lambda d: len(d.tobytes())

    def marisa_build(keys: list[str]) -> tuple[Any, Callable[[Any], int | None]]:
        import marisa_trie

        return marisa_trie.Trie(keys), lambda t: len(t.tobytes())

    def tokenset_build(layout: Literal["fst", "compact"]) -> Callable[[list[str]], tuple[Any, Any]]:
        def build(keys: list[str]) -> tuple[Any, Callable[[Any], int | None]]:
            from hpkit.text import TokenSet

            return TokenSet.build(keys, layout=layout), lambda t: int(t.nbytes)

        return build

    return {
        "list": lambda keys: (keys, deep_size),
        "list-bytes": lambda keys: ([k.encode() for k in keys], deep_size),
        "set": lambda keys: (set(keys), deep_size),
        "sorted-list": lambda keys: (sorted(keys), deep_size),
        "dawg": dawg_build,
        "marisa": marisa_build,
        "tokenset": tokenset_build("fst"),
        "tokenset-compact": tokenset_build("compact"),
    }


def _imports(structure: str) -> None:
    """Import the structure's module before the baseline, so it is not counted."""
    modules = {
        "dawg": "dawg",
        "marisa": "marisa_trie",
        "tokenset": "hpkit.text",
        "tokenset-compact": "hpkit.text",
    }
    if structure in modules:
        __import__(modules[structure])


def measure(structure: str, path: str) -> dict[str, Any]:
    build = _builders()[structure]
    _imports(structure)
    settle()
    before = rss_bytes()
    with open(path, encoding="utf-8") as lines:
        keys = [line.rstrip("\n") for line in lines]
    count = len(keys)
    start = time.perf_counter()
    built, own_size = build(keys)
    build_s = time.perf_counter() - start
    if built is not keys:
        del keys
    settle()
    after = rss_bytes()
    return {
        "structure": structure,
        "keys": count,
        "rss_bytes": after - before,
        "own_bytes": own_size(built),
        "build_s": build_s,
    }


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], sys.argv[2])))
