"""WORKLOADS.md chapter 12 known answers, reproduced by :mod:`hpkit.reference`: the
workload (10,000 patterns, a 1,192,501-code-point text) and its match counts."""

from __future__ import annotations

import pytest

from hpkit.reference import matching

pytest.importorskip("wordfreq")

from hpkit.reference import tokens  # noqa: E402


@pytest.fixture(scope="module")
def workload() -> tuple[list[str], str]:
    return tokens.match_workload()


def test_workload_shape(workload: tuple[list[str], str]) -> None:
    patterns, text = workload
    assert len(text) == 1_192_501
    assert len(patterns) == len(set(patterns)) == 10_000
    assert patterns[0] == tokens.vocabulary()[1000]
    assert any(not p.isascii() for p in patterns)  # 'café', emoji, ...
    assert text.count(" ") == 199_999


def test_overlapping_matches(workload: tuple[list[str], str]) -> None:
    patterns, text = workload
    found = matching.overlapping_matches(text, patterns)
    assert len(found) == 655_862
    assert found == sorted(found)
    assert all(text[s:e] == patterns[i] for s, e, i in found[::997])
    # a byte-oriented matcher sees the same matches in the UTF-8 text
    assert len(text.encode()) > len(text)


def test_whole_token_matches(workload: tuple[list[str], str]) -> None:
    patterns, text = workload
    whole = matching.whole_token_matches(text, patterns)
    assert len(whole) == 35_843
    overlapping = set(matching.overlapping_matches(text[:50_000], patterns))
    assert {m for m in whole if m[1] <= 50_000} <= overlapping


@pytest.mark.parametrize("kind", ["leftmost-longest", "leftmost-first"])
def test_leftmost_matches_agree_with_regex(workload: tuple[list[str], str], kind: str) -> None:
    patterns, text = workload
    part = text[:60_000]
    expected = matching.leftmost_matches(part, patterns, kind)
    assert matching.regex_matches(part, patterns, kind) == expected
    overlapping = set(matching.overlapping_matches(part, patterns))
    assert set(expected) <= overlapping
    starts = [s for s, _, _ in expected]
    assert all(e <= s for (_, e, _), s in zip(expected, starts[1:], strict=False))


def test_small_cases_by_hand() -> None:
    patterns = ["he", "she", "his", "hers", "he"]
    text = "ushers"
    assert matching.overlapping_matches(text, patterns) == [(1, 4, 1), (2, 4, 0), (2, 6, 3)]
    assert matching.leftmost_matches(text, patterns, "leftmost-longest") == [(1, 4, 1)]
    assert matching.leftmost_matches("hers", patterns, "leftmost-longest") == [(0, 4, 3)]
    assert matching.leftmost_matches("hers", patterns, "leftmost-first") == [(0, 2, 0)]
    assert matching.whole_token_matches("he said his", patterns) == [(0, 2, 0), (8, 11, 2)]
    assert matching.regex_matches("hers", patterns, "leftmost-longest") == [(0, 4, 3)]
