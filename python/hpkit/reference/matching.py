"""Multi-pattern matching, the slow and obvious way (chapter 12's oracles).

A match is ``(start, end, pattern_index)`` with character (code point) offsets into the
text, ``text[start:end] == patterns[pattern_index]``. Lists are sorted by start, then
end, then pattern index.

* :func:`overlapping_matches` - every (position, pattern) pair, not word-bounded: what an
  Aho-Corasick automaton reports in "standard" (overlapping) mode. On chapter 12's
  workload: 655,862 matches.
* :func:`whole_token_matches` - tokens of a single-space-separated text equal to a
  pattern (what word-bounded matchers such as flashtext find): 35,843.
* :func:`leftmost_matches` - non-overlapping leftmost matches, scanning left to right:
  at each position the longest pattern (``"leftmost-longest"``) or the first in pattern
  order (``"leftmost-first"``, the semantics of a regex alternation) wins, and the scan
  resumes after it.
* :func:`regex_alternation` - a Python ``re`` of all patterns, ordered for either
  leftmost semantics: the slow baseline the chapter starts from.

When a pattern occurs twice in the list, the first index is reported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

Match = tuple[int, int, int]


def _index(patterns: Sequence[str]) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, pattern in enumerate(patterns):
        if pattern:  # the empty pattern matches nowhere here
            index.setdefault(pattern, i)
    return index


def overlapping_matches(text: str, patterns: Sequence[str]) -> list[Match]:
    """Every occurrence of every pattern: try each pattern length at each position."""
    index = _index(patterns)
    lengths = sorted({len(p) for p in index})
    n = len(text)
    found = []
    for start in range(n):
        for length in lengths:
            end = start + length
            if end > n:
                break
            hit = index.get(text[start:end])
            if hit is not None:
                found.append((start, end, hit))
    return found


def whole_token_matches(text: str, patterns: Sequence[str], sep: str = " ") -> list[Match]:
    """Tokens (separated by ``sep``) equal to a pattern."""
    index = _index(patterns)
    found = []
    start = 0
    for token in text.split(sep):
        hit = index.get(token)
        if hit is not None:
            found.append((start, start + len(token), hit))
        start += len(token) + len(sep)
    return found


def leftmost_matches(
    text: str, patterns: Sequence[str], kind: str = "leftmost-longest"
) -> list[Match]:
    """Non-overlapping leftmost matches (``kind``: leftmost-longest or leftmost-first)."""
    if kind not in ("leftmost-longest", "leftmost-first"):
        raise ValueError(f"kind must be 'leftmost-longest' or 'leftmost-first', got {kind!r}")
    index = _index(patterns)
    lengths = sorted({len(p) for p in index})
    n = len(text)
    found = []
    start = 0
    while start < n:
        candidates = [
            (index[text[start : start + length]], length)
            for length in lengths
            if start + length <= n and text[start : start + length] in index
        ]
        if not candidates:
            start += 1
            continue
        if kind == "leftmost-longest":
            hit, length = max(candidates, key=lambda c: c[1])
        else:
            hit, length = min(candidates)
        found.append((start, start + length, hit))
        start += length
    return found


def regex_alternation(patterns: Sequence[str], kind: str = "leftmost-first") -> re.Pattern[str]:
    """``re.compile("p0|p1|...")`` with the patterns escaped. A regex alternation tries
    its branches in order, so it is leftmost-first as given; for leftmost-longest the
    branches are sorted longest first."""
    words = [p for p in _index(patterns)]  # distinct, first-occurrence order
    if kind == "leftmost-longest":
        words.sort(key=len, reverse=True)  # stable: ties keep pattern order
    elif kind != "leftmost-first":
        raise ValueError(f"kind must be 'leftmost-longest' or 'leftmost-first', got {kind!r}")
    return re.compile("|".join(re.escape(w) for w in words))


def regex_matches(text: str, patterns: Sequence[str], kind: str = "leftmost-first") -> list[Match]:
    """:func:`leftmost_matches` by :func:`regex_alternation`."""
    index = _index(patterns)
    regex = regex_alternation(patterns, kind)
    return [(m.start(), m.end(), index[m.group()]) for m in regex.finditer(text)]
