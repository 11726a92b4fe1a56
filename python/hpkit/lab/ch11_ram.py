"""Chapter 11: using less RAM - containers of numbers and many text tokens.

``hpkit lab ram`` runs three tables:

* ``ram-numbers`` (W11.1): the integers ``0..n-1`` as a list of int objects,
  ``array('l')``, ``array('i')`` and a numpy int64 array. Memory is measured, not
  computed from a formula: ``sys.getsizeof`` of the container plus every int object it
  references (ints above 256 are separate 28-byte objects), and tracemalloc's count of
  what building it allocated (growth slack included). The timed work is the sum, checked
  against ``n(n-1)/2`` (49,999,995,000,000 at n = 10**7).
* ``ram-tokens`` (W11.2): the seeded Zipf token stream's words stored as a list of every
  token, and its distinct tokens as a list of ``str``, a list of UTF-8 ``bytes``, a set,
  a sorted list, a DAWG (``dawg2``), a MARISA trie (``marisa-trie``) and hpkit's
  ``TokenSet``. Memory is the RSS growth of a fresh process that builds only that
  structure (so C++/Rust allocations count, see :mod:`hpkit.lab._rss_probe`), beside the
  structure's own size (serialized bytes, or ``getsizeof`` of the container and its
  strings). The timed work is building it from a list of the keys.
* ``ram-lookups``: membership queries - a fixed sample of stream tokens plus as many
  English words that are not in the stream - one ``tok in s`` at a time, and in one batch
  for ``TokenSet.contains_many``. Every structure's answers are checked against the set's
  before timing.
"""

from __future__ import annotations

import array
import bisect
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from hpkit.lab.model import (
    Check,
    Experiment,
    Implementation,
    Kind,
    Metric,
    Param,
    Params,
    Skip,
    Workload,
)
from hpkit.lab.peers import require

MIB = 2**20
#: W11.2 (verified): distinct tokens among the first n stream tokens
KNOWN_DISTINCT = {1_000_000: 149_612, 8_000_000: 307_067}
#: a list lookup scans every token: rows estimated above this many seconds are skipped
LIST_SCAN_BUDGET_S = 10.0


def _first(error: BaseException) -> str:
    """An import error's message without the path of the module it looked in."""
    return str(error).split(" (")[0]


def _int(params: Params, name: str) -> int:
    value = params[name]
    assert isinstance(value, int)
    return value


# --- ram-numbers ------------------------------------------------------------------------


@dataclass(frozen=True)
class Sized:
    """A container's sum and its measured memory."""

    total: int
    items: int
    nbytes: int  # getsizeof of the container + its element objects (numpy: nbytes + header)
    traced: int | None  # bytes tracemalloc saw allocated while building


def _traced(build: Callable[[], Any]) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        built = build()
        return built, tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def _small_int(value: int) -> bool:
    return -5 <= value <= 256  # CPython's cached small ints: shared, not per element


def _numbers_row(
    name: str,
    kind: Kind,
    build: Callable[[int], Any],
    size: Callable[[Any], int],
    total: Callable[[Any], int],
    note: str,
) -> Implementation:
    def setup(params: Params) -> Workload:
        n = _int(params, "n")
        container, traced = _traced(lambda: build(n))
        nbytes = size(container)
        return lambda: Sized(total(container), n, nbytes, traced)

    return Implementation(name, kind, setup, note)


def _list_size(values: list[int]) -> int:
    return sys.getsizeof(values) + sum(sys.getsizeof(v) for v in values if not _small_int(v))


def _array_size(values: array.array[int]) -> int:
    return sys.getsizeof(values)


def _numpy_size(values: npt.NDArray[np.int64]) -> int:
    return sys.getsizeof(values)  # owns its data: header + nbytes


def _numbers_validate(params: Params, got: Sized, oracle: object) -> Check:
    n = got.items
    expected = n * (n - 1) // 2
    if got.total != expected:
        return Check(False, f"sum {got.total:,}, expected {expected:,}")
    return Check(True, f"sum {got.total:,} = n(n-1)/2, {got.nbytes:,} bytes")


def _array_i_build(n: int) -> array.array[int]:
    if n > 2**31:
        raise Skip("array('i') holds 32-bit ints: n must be at most 2**31")
    return array.array("i", range(n))


NUMBERS = Experiment(
    name="ram-numbers",
    chapter=11,
    title="Containers of numbers: list of int objects, array, numpy",
    params=(Param("n", full=10_000_000, quick=1_000_000, help="integers 0..n-1", minimum=1),),
    implementations=(
        _numbers_row(
            "list of int",
            Kind.REFERENCE,
            lambda n: list(range(n)),
            _list_size,
            sum,
            "8-byte pointers to 28-byte int objects",
        ),
        _numbers_row(
            "array('l')",
            Kind.REFERENCE,
            lambda n: array.array("l", range(n)),
            _array_size,
            sum,
            "8-byte C longs, built from an iterator (growth slack)",
        ),
        _numbers_row(
            "array('i')", Kind.REFERENCE, _array_i_build, _array_size, sum, "4-byte C ints"
        ),
        _numbers_row(
            "numpy int64",
            Kind.NUMPY,
            lambda n: np.arange(n, dtype=np.int64),
            _numpy_size,
            lambda a: int(a.sum()),
            "np.arange; sum with .sum()",
        ),
    ),
    validate=_numbers_validate,
    metrics=(
        Metric("MiB", lambda p, s, t: s.nbytes / MIB, "{:,.1f}"),
        Metric("Bytes/item", lambda p, s, t: s.nbytes / s.items, "{:.2f}"),
        Metric(
            "Traced MiB", lambda p, s, t: None if s.traced is None else s.traced / MIB, "{:,.1f}"
        ),
    ),  # fmt: skip
    notes=(
        "MiB: sys.getsizeof of the container plus that of every int object it references "
        "(ints from -5 to 256 are shared and not counted); numpy: its header plus nbytes. "
        "Traced MiB: what tracemalloc saw allocated while building it. W11.1 at n = 10**7: "
        "the list is 80,000,056 + 279,992,804 bytes (~343 MiB), array('l') 81,940,368, "
        "array('i') 40,970,224, numpy 80,000,000 bytes of data.",
        "The time is summing the container (checked: n(n-1)/2, 49,999,995,000,000 at 10**7).",
    ),
)


# --- the token stream -------------------------------------------------------------------


@functools.lru_cache(maxsize=2)
def _stream(n: int) -> tuple[list[str], list[str]]:
    """The first ``n`` stream tokens as separate ``str`` objects (as if read from a file),
    and the distinct ones in order of first appearance."""
    require("wordfreq")
    from hpkit.reference import tokens

    stream = " ".join(tokens.zipf_tokens(n)).split(" ")
    return stream, list(dict.fromkeys(stream))


@functools.lru_cache(maxsize=2)
def _sample(n: int, lookups: int) -> tuple[list[str], npt.NDArray[np.bool_]]:
    """``lookups`` stream tokens (evenly spaced) then as many English words that are not in
    the stream, shuffled together; and the right answers (from a Python set)."""
    stream, distinct = _stream(n)
    present = set(distinct)
    step = max(1, len(stream) // lookups)
    hits = stream[::step][:lookups]
    try:
        from hpkit.reference import tokens

        words = sorted(tokens.english_words())
    except ImportError:  # english-words missing: misses made from the tokens themselves
        words = [t + "\u2063" for t in distinct]
    misses = [w for w in words if w not in present][: len(hits)]
    sample = hits + misses
    order = np.random.default_rng(11).permutation(len(sample))
    shuffled = [sample[i] for i in order]
    return shuffled, np.array([t in present for t in shuffled], dtype=bool)


@functools.lru_cache(maxsize=4)
def _keys_file(n: int, every: bool) -> Path:
    """The stream's tokens (``every``) or its distinct tokens, one per line, for the child
    process that measures memory."""
    stream, distinct = _stream(n)
    folder = Path(tempfile.mkdtemp(prefix="hpkit-ram-"))
    path = folder / ("stream.txt" if every else "distinct.txt")
    path.write_text("\n".join(stream if every else distinct) + "\n", encoding="utf-8")
    return path


def _probe(structure: str, n: int, every: bool) -> dict[str, Any]:
    """Run :mod:`hpkit.lab._rss_probe` in a fresh interpreter (untimed)."""
    path = _keys_file(n, every)
    done = subprocess.run(
        [sys.executable, "-m", "hpkit.lab._rss_probe", structure, str(path)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONHASHSEED": "0"},
        check=False,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise Skip(f"the memory probe failed: {last.split(' (')[0]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# --- ram-tokens -------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """A built token store: how many keys, whether it answers a probe sample right, and
    its memory (measured in a child process)."""

    keys: int
    size: int
    distinct: int
    wrong: int  # probe answers that differ from the set's
    rss_bytes: int
    own_bytes: int | None
    child_build_s: float


def _contains(structure: Any) -> Callable[[str], bool]:
    if isinstance(structure, list) and structure and isinstance(structure[0], bytes):
        return lambda token: token.encode() in structure
    return lambda token: token in structure


def _entries(structure: Any, keys: Sequence[str]) -> int:
    """How many keys a store holds. A DAWG can neither count nor list its keys: there,
    the count is taken as the number of keys if it holds every one of them (else -1)."""
    try:
        return len(structure)
    except TypeError:
        return len(keys) if all(k in structure for k in set(keys)) else -1


def _sorted_contains(keys: Sequence[str]) -> Callable[[str], bool]:
    def contains(token: str) -> bool:
        i = bisect.bisect_left(keys, token)
        return i < len(keys) and keys[i] == token

    return contains


def _store_row(
    name: str,
    kind: Kind,
    structure: str,
    build: Callable[[list[str]], Any],
    note: str,
    *,
    every: bool = False,
    lookup: Callable[[Any], Callable[[str], bool]] = _contains,
) -> Implementation:
    def setup(params: Params) -> Workload:
        n = _int(params, "tokens")
        stream, distinct = _stream(n)
        keys = stream if every else distinct
        probe = _probe(structure, n, every)
        sample, expected = _sample(n, 200)
        built = build(keys)
        contains = lookup(built)
        wrong = sum(contains(t) != e for t, e in zip(sample, expected, strict=True))
        size = _entries(built, keys)

        def workload() -> Stored:
            build(keys)
            return Stored(
                len(keys), size, len(distinct), wrong,
                probe["rss_bytes"], probe["own_bytes"], probe["build_s"],
            )  # fmt: skip

        return workload

    return Implementation(name, kind, setup, note)


def _dawg(keys: list[str]) -> Any:
    dawg = require("dawg", install="dawg2")
    return dawg.DAWG(keys)


def _marisa(keys: list[str]) -> Any:
    marisa_trie = require("marisa_trie", install="marisa-trie")
    return marisa_trie.Trie(keys)


def _token_set_layout(layout: Literal["fst", "compact"]) -> Callable[[list[str]], Any]:
    def build(keys: list[str]) -> Any:
        try:
            from hpkit.text import TokenSet
        except ImportError as error:
            raise Skip(f"hpkit.text.TokenSet is not available: {_first(error)}") from None
        return TokenSet.build(keys, layout=layout)

    return build


_token_set = _token_set_layout("fst")
_token_set_compact = _token_set_layout("compact")


def _stores_validate(params: Params, got: Stored, oracle: object) -> Check:
    n = _int(params, "tokens")
    known = KNOWN_DISTINCT.get(n)
    if known is not None and got.distinct != known:
        return Check(False, f"{got.distinct:,} distinct tokens, WORKLOADS.md says {known:,}")
    if got.size != got.keys:
        return Check(False, f"holds {got.size:,} entries for {got.keys:,} keys")
    if got.wrong:
        return Check(False, f"{got.wrong} wrong answers on a 400-token probe")
    said = " = WORKLOADS.md" if known else ""
    return Check(True, f"{got.keys:,} keys ({got.distinct:,} distinct{said}), probe answered right")


def _store_rows() -> tuple[Implementation, ...]:
    return (
        _store_row("list of str, every token", Kind.REFERENCE, "list", list,
                   "the stream as read: one str object per token", every=True),
        _store_row("list of str, distinct", Kind.REFERENCE, "list", list,
                   "one str object per distinct token"),
        _store_row("list of bytes (UTF-8), distinct", Kind.REFERENCE, "list-bytes",
                   lambda keys: [k.encode() for k in keys], "bytes objects: 33 bytes + data"),
        _store_row("set", Kind.REFERENCE, "set", set, "hash table + str objects"),
        _store_row("sorted list (bisect)", Kind.REFERENCE, "sorted-list", sorted,
                   "sorted(keys)", lookup=_sorted_contains),
        _store_row("DAWG (dawg2)", Kind.PEER, "dawg", _dawg, "dawg.DAWG(keys), C++"),
        _store_row("marisa-trie", Kind.PEER, "marisa", _marisa, "marisa_trie.Trie(keys), C++"),
        _store_row("hpkit TokenSet, layout='fst'", Kind.HPKIT, "tokenset", _token_set,
                   "TokenSet.build(keys, layout='fst'): Rust FST"),
        _store_row("hpkit TokenSet (compact)", Kind.HPKIT, "tokenset-compact",
                   _token_set_compact,
                   "TokenSet.build(keys): front-coded, Huffman-coded buckets of 16"),
    )  # fmt: skip


TOKENS = Experiment(
    name="ram-tokens",
    chapter=11,
    title="Many text tokens in RAM: memory and build time of each store",
    params=(Param("tokens", full=8_000_000, quick=300_000, help="stream tokens", minimum=1),),
    implementations=_store_rows(),
    validate=_stores_validate,
    metrics=(
        Metric("RSS MiB", lambda p, s, t: s.rss_bytes / MIB, "{:,.1f}"),
        Metric(
            "Own MiB", lambda p, s, t: None if s.own_bytes is None else s.own_bytes / MIB, "{:,.2f}"
        ),
        Metric("Bytes/key", lambda p, s, t: s.rss_bytes / s.keys, "{:.1f}"),
    ),  # fmt: skip
    notes=(
        "W11.2's stream (wordfreq vocabulary, Zipf weights 1/r, SplitMix64 seed 11): 307,067 "
        "distinct tokens among the first 8e6 (149,612 among 1e6). Keys are separate str "
        "objects, as if read from a file.",
        "RSS MiB: resident-memory growth of a fresh process that reads the keys, builds "
        "only this structure and frees the keys (unless the structure holds them): "
        "C++/Rust allocations count; pymalloc may keep a few freed arenas. Own MiB: "
        "serialized size (DAWG, marisa: tobytes(); TokenSet: nbytes) or getsizeof of the "
        "container plus its elements. The book's 8.5M Wikipedia tokens (book-reported): "
        "sorted list 920 MB, set 1,112, marisa-trie 293, DAWG 958, HAT-trie 244.",
        "The time is building the structure from the list of keys (every token for the "
        "first row: a list copy).",
    ),
)


# --- ram-lookups ------------------------------------------------------------------------


@dataclass(frozen=True)
class Answers:
    found: npt.NDArray[np.bool_]
    expected: npt.NDArray[np.bool_]


def _lookup_row(
    name: str,
    kind: Kind,
    build: Callable[[list[str]], Any],
    note: str,
    *,
    batch: bool = False,
    lookup: Callable[[Any], Callable[[str], bool]] = _contains,
) -> Implementation:
    def setup(params: Params) -> Workload:
        n, count = _int(params, "tokens"), _int(params, "lookups")
        _, distinct = _stream(n)
        sample, expected = _sample(n, count)
        structure = build(distinct)
        if batch:
            many = structure.contains_many
            return lambda: Answers(np.asarray(many(sample), dtype=bool), expected)
        contains = lookup(structure)
        return lambda: Answers(np.array([contains(t) for t in sample], dtype=bool), expected)

    return Implementation(name, kind, setup, note)


def _list_lookup(params: Params) -> Workload:
    """``tok in list`` scans the stream's list: measured on one miss, skipped when the
    whole sample would take too long."""
    n, count = _int(params, "tokens"), _int(params, "lookups")
    stream, _ = _stream(n)
    sample, expected = _sample(n, count)
    start = time.perf_counter()
    _ = "\u2063not a token" in stream
    per_miss = time.perf_counter() - start
    predicted = per_miss * int(np.count_nonzero(~expected))
    if predicted > LIST_SCAN_BUDGET_S:
        raise Skip(
            f"a miss scans all {len(stream):,} tokens ({per_miss * 1e3:.1f} ms measured): "
            f"the sample would take ~{predicted:,.0f} s"
        )
    return lambda: Answers(np.array([t in stream for t in sample], dtype=bool), expected)


def _lookups_validate(params: Params, got: Answers, oracle: object) -> Check:
    if got.found.shape != got.expected.shape:
        return Check(False, f"{got.found.size} answers for {got.expected.size} queries")
    wrong = int(np.count_nonzero(got.found != got.expected))
    if wrong:
        return Check(False, f"{wrong:,} answers differ from the set's")
    hits = int(np.count_nonzero(got.expected))
    return Check(True, f"{hits:,} hits, {got.expected.size - hits:,} misses, as the set says")


LOOKUPS = Experiment(
    name="ram-lookups",
    chapter=11,
    title="Looking tokens up: membership queries per second",
    params=(
        Param("tokens", full=8_000_000, quick=300_000, help="stream tokens", minimum=1),
        Param("lookups", full=100_000, quick=10_000, help="hits (as many misses)", minimum=1),
    ),
    implementations=(
        _lookup_row("set", Kind.REFERENCE, set, "tok in s"),
        _lookup_row(
            "sorted list + bisect",
            Kind.REFERENCE,
            sorted,
            "bisect_left per token",
            lookup=_sorted_contains,
        ),
        Implementation(
            "list of every token", Kind.REFERENCE, _list_lookup, "tok in list: a linear scan"
        ),
        _lookup_row("DAWG (dawg2)", Kind.PEER, _dawg, "tok in d"),
        _lookup_row("marisa-trie", Kind.PEER, _marisa, "tok in t"),
        _lookup_row("hpkit TokenSet, layout='fst'", Kind.HPKIT, _token_set, "tok in ts"),
        _lookup_row(
            "hpkit TokenSet fst, contains_many",
            Kind.HPKIT,
            _token_set,
            "one call for the whole sample",
            batch=True,
        ),
        _lookup_row("hpkit TokenSet (compact)", Kind.HPKIT, _token_set_compact, "tok in ts"),
        _lookup_row(
            "hpkit TokenSet (compact), contains_many",
            Kind.HPKIT,
            _token_set_compact,
            "one call for the whole sample",
            batch=True,
        ),
    ),  # fmt: skip
    validate=_lookups_validate,
    metrics=(
        Metric("M lookups/s", lambda p, a, t: None if not t else a.found.size / t / 1e6, "{:.3g}"),
        Metric("ns/lookup", lambda p, a, t: None if not t else t / a.found.size * 1e9, "{:,.0f}"),
    ),  # fmt: skip
    notes=(
        "The sample: `lookups` stream tokens (evenly spaced, so frequent words dominate as "
        "in real text) and as many english-words (web2 + gcide) words absent from the "
        "stream, shuffled with a fixed seed. Each row answers all of them; the answers "
        "must equal the set's before the row is timed.",
        "Single lookups include the Python loop that asks them (a list comprehension); "
        "contains_many is one call. The book timed 10,000 lookups of one word.",
    ),
)


GROUP = "ram"
EXPERIMENTS = (NUMBERS, TOKENS, LOOKUPS)
