"""Chapter 12: real-time string matching - thousands of patterns over a text stream.

``hpkit lab matching`` (alias ``match``) runs three tables on WORKLOADS.md's ch12 workload
(patterns = wordfreq ranks 1,001..11,000; text = the first 200,000 Zipf-stream tokens
joined by single spaces, 1,192,501 code points) and, in case ``big``, on a longer prefix
of the same stream:

* ``matching-overlapping``: every occurrence of every pattern (655,862 on the ch12 text):
  the brute-force reference, hpkit's ``Matcher`` (one call, and ``find_iter_many`` over
  chunks on all threads), pyahocorasick and ahocorasick_rs.
* ``matching-leftmost``: non-overlapping leftmost-longest matches: the reference scan,
  hpkit, ahocorasick_rs and a Python ``re`` alternation (longest pattern first).
* ``matching-tokens``: whole-token matches (35,843): a dict lookup per token, flashtext's
  word-bounded ``KeywordProcessor``, and hpkit (leftmost-longest kept where it spans a
  whole token).

Every row's matches are normalised to ``(start, end, pattern_index)`` in code points and
compared, triple for triple, with the reference before timing.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from hpkit.lab.model import (
    Case,
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
from hpkit.lab.registry import register_group
from hpkit.reference import matching

MIB = 2**20
#: WORKLOADS.md ch12 (verified): (tokens, first rank, patterns) -> counts
KNOWN = {(200_000, 1_001, 10_000): {"overlapping": 655_862, "tokens": 35_843}}
KNOWN_CHARS = {200_000: 1_192_501}
#: pure-Python rows are skipped above this many code points (the oracle is still computed)
PYTHON_LIMIT = 2_000_000
#: a regex row predicted slower than this is skipped
REGEX_BUDGET_S = 60.0

Triples = npt.NDArray[np.int64]


def _int(params: Params, name: str) -> int:
    value = params[name]
    assert isinstance(value, int)
    return value


@functools.lru_cache(maxsize=2)
def _workload(tokens: int, first_rank: int, count: int) -> tuple[list[str], str]:
    require("wordfreq")
    from hpkit.reference import tokens as stream

    return stream.match_patterns(first_rank, count), stream.match_text(tokens)


def _inputs(params: Params) -> tuple[list[str], str]:
    return _workload(_int(params, "tokens"), _int(params, "first_rank"), _int(params, "patterns"))


def _triples(found: Any) -> Triples:
    """Matches as an (n, 3) int64 array sorted by start, end, pattern index."""
    array = np.asarray(found, dtype=np.int64).reshape(-1, 3)
    order = np.lexsort((array[:, 2], array[:, 1], array[:, 0]))
    return array[order]


@dataclass(frozen=True)
class Found:
    triples: Triples
    semantics: str


#: turns a tool's raw output into (start, end, pattern index) rows, after the timing
Convert = Callable[[Params, Any], Any]


def _as_is(params: Params, output: Any) -> Any:
    return output


@dataclass(frozen=True)
class Raw:
    """A timed call's output as the tool returned it; only the tool's own call is timed,
    the conversion to comparable triples happens in ``_canonical``, untimed."""

    output: Any
    semantics: str
    convert: Convert


def _canonical(params: Params, output: object) -> Found:
    if isinstance(output, Found):
        return output
    assert isinstance(output, Raw)
    return Found(_triples(output.convert(params, output.output)), output.semantics)


def _validate(params: Params, got: Found, oracle: Found | None) -> Check:
    key = (_int(params, "tokens"), _int(params, "first_rank"), _int(params, "patterns"))
    known = KNOWN.get(key, {}).get(got.semantics)
    count = len(got.triples)
    if known is not None and count != known:
        return Check(False, f"{count:,} matches, WORKLOADS.md says {known:,}")
    if oracle is not None and oracle is not got:
        if not np.array_equal(got.triples, oracle.triples):
            extra = _difference(got.triples, oracle.triples)
            missing = _difference(oracle.triples, got.triples)
            return Check(
                False,
                f"{count:,} matches, the reference {len(oracle.triples):,} "
                f"(extra {extra}, missing {missing})",
            )
        said = "the same matches as the reference"
    elif oracle is None and known is None:
        return Check(False, "nothing to compare with (no reference output, no known count)")
    else:
        said = "the reference" if oracle is got else "no reference output"
    return Check(True, f"{count:,} matches" + (" = WORKLOADS.md" if known else "") + f", {said}")


def _difference(a: Triples, b: Triples) -> list[tuple[int, ...]]:
    seen = {tuple(row) for row in b.tolist()}
    return [tuple(row) for row in a.tolist() if tuple(row) not in seen][:2]


def _mib_per_s(params: Params, found: Found, best: float | None) -> float | None:
    if not best:
        return None
    _, text = _inputs(params)
    return len(text.encode()) / best / MIB


METRICS = (
    Metric("MiB/s", _mib_per_s, "{:,.1f}"),
    Metric("Matches", lambda p, f, t: len(f.triples), "{:,.0f}"),
)


def _row(
    name: str,
    kind: Kind,
    semantics: str,
    run: Callable[[list[str], str], Any],
    note: str,
    convert: Convert = _as_is,
) -> Implementation:
    """``run(patterns, text)`` prepares (untimed) and returns the timed call; ``convert``
    turns its output into triples afterwards (untimed)."""

    def setup(params: Params) -> Workload:
        patterns, text = _inputs(params)
        call = run(patterns, text)
        return lambda: Raw(call(), semantics, convert)

    return Implementation(name, kind, setup, note)


def _python(function: Callable[[list[str], str], Any]) -> Callable[[list[str], str], Any]:
    def prepare(patterns: list[str], text: str) -> Callable[[], Any]:
        if len(text) > PYTHON_LIMIT:
            raise Skip(f"pure Python is timed up to {PYTHON_LIMIT:,} code points")
        return lambda: function(patterns, text)

    return prepare


def _first_index(patterns: Sequence[str]) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, pattern in enumerate(patterns):
        index.setdefault(pattern, i)
    return index


def _hpkit_matcher(kind: str) -> Any:
    try:
        from hpkit.text import Matcher
    except ImportError as error:
        raise Skip(f"hpkit.text.Matcher is not available: {str(error).split(' (')[0]}") from None
    return functools.partial(Matcher, match_kind=kind)


def _hpkit(kind: str) -> Callable[[list[str], str], Any]:
    def prepare(patterns: list[str], text: str) -> Callable[[], Any]:
        matcher = _hpkit_matcher(kind)(patterns)
        return lambda: matcher.find_iter(text)

    return prepare


def _pieces(text: str) -> tuple[list[str], list[int]]:
    """~1 MiB pieces of ``text`` split at spaces (no pattern has a space, so no match is
    lost) and where each starts."""
    pieces, starts, position = [], [], 0
    while position < len(text):
        cut = text.find(" ", position + (1 << 20))
        end = len(text) if cut < 0 else cut
        pieces.append(text[position:end])
        starts.append(position)
        position = end
    return pieces, starts


def _hpkit_chunks(patterns: list[str], text: str) -> Callable[[], Any]:
    """``find_iter_many`` over the pieces of :func:`_pieces`."""
    matcher = _hpkit_matcher("standard")(patterns)
    pieces, _ = _pieces(text)
    return lambda: matcher.find_iter_many(pieces)


def _shift_pieces(params: Params, found: Any) -> Any:
    """Offsets of ``find_iter_many`` over the pieces back to offsets in the whole text."""
    _, starts = _pieces(_inputs(params)[1])
    parts = []
    for shift, matches in zip(starts, found, strict=True):
        array = np.asarray(matches, dtype=np.int64).reshape(-1, 3)
        array[:, :2] += shift
        parts.append(array)
    return np.concatenate(parts) if parts else np.empty((0, 3), dtype=np.int64)


def _pyahocorasick(patterns: list[str], text: str) -> Callable[[], Any]:
    ahocorasick = require("ahocorasick", install="pyahocorasick")
    automaton = ahocorasick.Automaton()
    for pattern, i in _first_index(patterns).items():
        automaton.add_word(pattern, (i, len(pattern)))
    automaton.make_automaton()
    return lambda: list(automaton.iter(text))


def _from_pyahocorasick(params: Params, found: Any) -> Any:
    """``(end_inclusive, (pattern index, length))`` -> ``(start, end, pattern index)``."""
    return [(end - n + 1, end + 1, i) for end, (i, n) in found]


def _ahocorasick_rs(kind: str) -> Callable[[list[str], str], Any]:
    def prepare(patterns: list[str], text: str) -> Callable[[], Any]:
        rs = require("ahocorasick_rs", install="ahocorasick-rs")
        if kind == "standard":
            searcher = rs.AhoCorasick(patterns)
            return lambda: searcher.find_matches_as_indexes(text, overlapping=True)
        searcher = rs.AhoCorasick(patterns, matchkind=rs.MatchKind.LeftmostLongest)
        return lambda: searcher.find_matches_as_indexes(text)

    return prepare


def _from_ahocorasick_rs(params: Params, found: Any) -> Any:
    """``(pattern index, start, end)`` -> ``(start, end, first index of that pattern)``."""
    patterns, _ = _inputs(params)
    first = _first_index(patterns)
    remap = np.array([first[p] for p in patterns], dtype=np.int64)
    array = np.asarray(found, dtype=np.int64).reshape(-1, 3)
    return np.column_stack((array[:, 1], array[:, 2], remap[array[:, 0]]))


def _regex(patterns: list[str], text: str) -> Callable[[], Any]:
    regex = matching.regex_alternation(patterns, "leftmost-longest")
    index = _first_index(patterns)
    probe = text[:50_000]
    start = time.perf_counter()
    sum(1 for _ in regex.finditer(probe))
    predicted = (time.perf_counter() - start) * len(text) / max(1, len(probe))
    if predicted > REGEX_BUDGET_S:
        raise Skip(f"predicted ~{predicted:,.0f} s from the first 50,000 code points")
    return lambda: [(m.start(), m.end(), index[m.group()]) for m in regex.finditer(text)]


def _flashtext(patterns: list[str], text: str) -> Callable[[], Any]:
    flashtext = require("flashtext")
    processor = flashtext.KeywordProcessor(case_sensitive=True)
    index = _first_index(patterns)
    for pattern, i in index.items():
        processor.add_keyword(pattern, str(i))

    return lambda: processor.extract_keywords(text, span_info=True)


def _from_flashtext(params: Params, found: Any) -> Any:
    """``(pattern index as str, start, end)`` -> ``(start, end, pattern index)``."""
    return [(start, end, int(i)) for i, start, end in found]


def _flashtext_setup(params: Params) -> Workload:
    return _row("flashtext", Kind.PEER, "tokens", _flashtext, "", _from_flashtext).setup(params)


def _hpkit_tokens(patterns: list[str], text: str) -> Callable[[], Any]:
    """Whole tokens from leftmost-longest matches: no pattern holds a space, so a token
    that is a pattern is the longest match starting where it starts."""
    matcher = _hpkit_matcher("leftmost-longest")(patterns)
    spaces = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32) == ord(" ")
    bounded = np.concatenate(([True], spaces, [True]))  # bounded[i]: a gap at position i

    def run() -> Any:
        found = np.asarray(matcher.find_iter(text), dtype=np.int64).reshape(-1, 3)
        keep = bounded[found[:, 0]] & bounded[found[:, 1] + 1]
        return found[keep]

    return run


def _oracle(semantics: str) -> Callable[[Params], Found]:
    """The reference answer computed directly (untimed) when its row is too slow to time."""

    def compute(params: Params) -> Found:
        patterns, text = _inputs(params)
        function = {
            "overlapping": lambda: matching.overlapping_matches(text, patterns),
            "leftmost-longest": lambda: matching.leftmost_matches(text, patterns),
            "tokens": lambda: matching.whole_token_matches(text, patterns),
        }[semantics]
        return Found(_triples(function()), semantics)

    return compute


PARAMS = (
    Param("case", full="all", quick="all", help="ch12, big or all"),
    Param("tokens", full=200_000, quick=10_000, help="stream tokens in the text", minimum=1),
    Param("first_rank", full=1_001, quick=1_001, help="first pattern's vocabulary rank"),
    Param("patterns", full=10_000, quick=2_000, help="patterns", minimum=1),
)
CASES = (
    Case("ch12", {"tokens": 200_000}, {"tokens": 10_000}),
    Case("big", {"tokens": 3_000_000}, {"tokens": 30_000}),
)
NOTES = (
    "WORKLOADS.md ch12: patterns = wordfreq ranks 1,001..11,000 (some non-ASCII), text = "
    "the first 200,000 W11.2 stream tokens joined by spaces (1,192,501 code points): "
    "655,862 overlapping matches, 35,843 whole-token matches. Case big: the first "
    "3,000,000 tokens (~17 MiB); pure-Python rows are not timed there, but the reference "
    "answer is still computed and every row compared with it.",
    "MiB/s: UTF-8 bytes of the text per second. Offsets are code points; byte-offset "
    "matchers are converted before comparing.",
)


def _experiment(
    name: str, title: str, semantics: str, rows: tuple[Implementation, ...], note: str
) -> Experiment:
    return Experiment(
        name=name,
        chapter=12,
        title=title,
        params=PARAMS,
        cases=CASES,
        implementations=rows,
        canonical=_canonical,
        validate=_validate,
        metrics=METRICS,
        fallback_oracle=_oracle(semantics),
        notes=(note, *NOTES),
    )


OVERLAPPING = _experiment(
    "matching-overlapping",
    "Every occurrence of 10,000 patterns (overlapping)",
    "overlapping",
    (
        _row("brute force (pure Python)", Kind.REFERENCE, "overlapping",
             _python(lambda p, t: matching.overlapping_matches(t, p)),
             "a dict lookup per (position, pattern length)"),
        _row("hpkit Matcher", Kind.HPKIT, "overlapping", _hpkit("standard"),
             "match_kind='standard', find_iter"),
        _row("hpkit Matcher.find_iter_many", Kind.HPKIT, "overlapping", _hpkit_chunks,
             "1 MiB pieces split at spaces, all threads", _shift_pieces),
        _row("pyahocorasick", Kind.PEER, "overlapping", _pyahocorasick,
             "list(Automaton.iter(text))", _from_pyahocorasick),
        _row("ahocorasick_rs", Kind.PEER, "overlapping", _ahocorasick_rs("standard"),
             "find_matches_as_indexes(overlapping=True)", _from_ahocorasick_rs),
    ),
    "Every (position, pattern) pair, not word-bounded: what an Aho-Corasick automaton "
    "reports in its standard mode.",
)  # fmt: skip

LEFTMOST = _experiment(
    "matching-leftmost",
    "Leftmost-longest, non-overlapping matches",
    "leftmost-longest",
    (
        _row("reference scan (pure Python)", Kind.REFERENCE, "leftmost-longest",
             _python(lambda p, t: matching.leftmost_matches(t, p)),
             "longest pattern at the leftmost position, then resume after it"),
        _row("hpkit Matcher leftmost-longest", Kind.HPKIT, "leftmost-longest",
             _hpkit("leftmost-longest"), "find_iter"),
        _row("ahocorasick_rs LeftmostLongest", Kind.PEER, "leftmost-longest",
             _ahocorasick_rs("leftmost-longest"), "find_matches_as_indexes",
             _from_ahocorasick_rs),
        _row("re alternation, longest first", Kind.REFERENCE, "leftmost-longest", _regex,
             "re.compile('|'.join(escaped patterns by length))"),
    ),
    "Leftmost-longest: at the leftmost position where any pattern matches, the longest one; "
    "the scan resumes after it. A regex alternation is leftmost-first, so its patterns are "
    "ordered longest first.",
)  # fmt: skip

TOKENS = _experiment(
    "matching-tokens",
    "Whole-token matches (word-bounded)",
    "tokens",
    (
        _row("dict lookup per token (pure Python)", Kind.REFERENCE, "tokens",
             lambda p, t: lambda: matching.whole_token_matches(t, p), "text.split(' ')"),
        _row("hpkit Matcher, token-bounded", Kind.HPKIT, "tokens", _hpkit_tokens,
             "leftmost-longest, kept where a match spans a whole token"),
        Implementation(
            "flashtext KeywordProcessor", Kind.PEER, _flashtext_setup,
            "extract_keywords(span_info=True), case-sensitive",
            known_issue="flashtext's word boundaries are ASCII letters, digits and '_': it "
            "also finds 'alexander' inside the token \"alexander's\"",
        ),
    ),
    "A token (between spaces) equal to a pattern. flashtext's word boundaries are ASCII "
    "letters, digits and '_' only, so it also matches inside tokens such as \"japan's\": "
    "its row is shown FAILED as a known limitation (never timed).",
)  # fmt: skip

GROUP = "matching"
EXPERIMENTS = (OVERLAPPING, LEFTMOST, TOKENS)
# WORKLOADS.md calls the chapter's command `hpkit lab match`
register_group("match", [e.name for e in EXPERIMENTS])
