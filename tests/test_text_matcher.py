"""hpkit.text.Matcher against the slow and obvious matchers of hpkit.reference.matching."""

from __future__ import annotations

import pickle
import random
import re

import pytest
from helpers import assert_releases_gil
from hypothesis import given, settings
from hypothesis import strategies as st

from hpkit.errors import InvalidInputError, InvalidTypeError
from hpkit.reference import matching
from hpkit.text import Matcher

KINDS = ["standard", "leftmost-first", "leftmost-longest"]


def brute_force(text, patterns):
    """Every (start, pattern) pair, duplicates of a pattern each with their own index;
    works for str and bytes alike."""
    return sorted(
        (start, start + len(p), i)
        for start in range(len(text))
        for i, p in enumerate(patterns)
        if text[start : start + len(p)] == p
    )


def ascii_lower(s):
    if isinstance(s, bytes):
        return s.lower()  # bytes.lower() folds ASCII only
    return s.translate({c: c + 32 for c in range(ord("A"), ord("Z") + 1)})


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("standard", "ushers", [(1, 4, 1), (2, 4, 0), (2, 6, 3)]),
        ("leftmost-first", "ushers", [(1, 4, 1)]),
        ("leftmost-longest", "ushers", [(1, 4, 1)]),
        ("standard", "hishe", [(0, 3, 2), (2, 5, 1), (3, 5, 0)]),
        ("leftmost-first", "hershe", [(0, 2, 0), (3, 6, 1)]),
        ("leftmost-longest", "hershe", [(0, 4, 3), (4, 6, 0)]),
        ("standard", "", []),
        ("standard", "xyz", []),
    ],
)
def test_table(kind, text, expected):
    patterns = ["he", "she", "his", "hers"]
    m = Matcher(patterns, match_kind=kind)
    assert m.find_iter(text) == expected
    b = Matcher([p.encode() for p in patterns], match_kind=kind)
    assert b.find_iter(text.encode()) == expected  # ASCII: bytes and chars agree
    assert m.count(text) == len(expected)
    assert m.is_match(text) == bool(expected)


def test_char_offsets_with_non_ascii_text():
    patterns = ["é", "café", "a", "😀x", "ü"]
    text = "un café 😀x à ü"
    m = Matcher(patterns)
    found = m.find_iter(text)
    assert sorted(found) == brute_force(text, patterns)
    for start, end, i in found:
        assert text[start:end] == patterns[i]
    # bytes offsets on the UTF-8 text
    b = Matcher([p.encode() for p in patterns])
    data = text.encode()
    assert sorted(b.find_iter(data)) == brute_force(data, [p.encode() for p in patterns])
    assert len(b.find_iter(data)) == len(found)


def test_results_are_in_order_of_end():
    m = Matcher(["abc", "b", "bcd", "c", "abcd"])
    ends = [e for _, e, _ in m.find_iter("xabcdx" * 3)]
    assert ends == sorted(ends)


def test_duplicate_patterns_keep_their_own_index():
    m = Matcher(["ab", "b", "ab"])
    assert sorted(m.find_iter("cab")) == [(1, 3, 0), (1, 3, 2), (2, 3, 1)]
    assert Matcher(["ab", "ab"], match_kind="leftmost-first").find_iter("ab") == [(0, 2, 0)]


text_st = st.text(alphabet="ab\u00e9\U0001f600 A", max_size=40)
patterns_st = st.lists(
    st.text(alphabet="ab\u00e9\U0001f600A", min_size=1, max_size=4), min_size=1, max_size=8
)


@settings(max_examples=300, deadline=None)
@given(patterns=patterns_st, text=text_st)
def test_standard_overlapping_is_every_occurrence(patterns, text):
    found = Matcher(patterns).find_iter(text)
    assert sorted(found) == brute_force(text, patterns)
    assert [e for _, e, _ in found] == sorted(e for _, e, _ in found)
    raw = [p.encode() for p in patterns]
    assert sorted(Matcher(raw).find_iter(text.encode())) == brute_force(text.encode(), raw)


@settings(max_examples=300, deadline=None)
@given(patterns=patterns_st.map(lambda ps: list(dict.fromkeys(ps))), text=text_st)
def test_against_reference_module(patterns, text):
    found = Matcher(patterns).find_iter(text)
    assert sorted(found) == matching.overlapping_matches(text, patterns)
    for kind in ("leftmost-first", "leftmost-longest"):
        got = Matcher(patterns, match_kind=kind).find_iter(text)
        assert got == matching.leftmost_matches(text, patterns, kind)
    got = Matcher(patterns, match_kind="leftmost-first").find_iter(text)
    assert got == matching.regex_matches(text, patterns, "leftmost-first")


@settings(max_examples=200, deadline=None)
@given(patterns=patterns_st, text=text_st, kind=st.sampled_from(KINDS))
def test_non_overlapping_invariants_and_replace(patterns, text, kind):
    m = Matcher(patterns, match_kind=kind)
    found = m.find_iter(text, overlapping=False)
    everything = set(brute_force(text, patterns))
    previous_end = 0
    for start, end, i in found:
        assert start >= previous_end
        assert (start, end, i) in everything
        previous_end = end
    assert m.count(text, overlapping=False) == len(found)
    replacements = [f"<{i}>" for i in range(len(patterns))]
    expected, at = [], 0
    for start, end, i in found:
        expected += [text[at:start], replacements[i]]
        at = end
    expected.append(text[at:])
    assert m.replace_all(text, replacements) == "".join(expected)


@settings(max_examples=200, deadline=None)
@given(
    patterns=st.lists(st.text(alphabet="abAB\u00e9\u00c9", min_size=1, max_size=3), min_size=1),
    text=st.text(alphabet="abAB\u00e9\u00c9 ", max_size=30),
)
def test_ascii_case_insensitive(patterns, text):
    m = Matcher(patterns, ascii_case_insensitive=True)
    lowered = [ascii_lower(p) for p in patterns]
    assert sorted(m.find_iter(text)) == brute_force(ascii_lower(text), lowered)
    raw = Matcher([p.encode() for p in patterns], ascii_case_insensitive=True)
    expected = brute_force(ascii_lower(text.encode()), [p.encode() for p in lowered])
    assert sorted(raw.find_iter(text.encode())) == expected


def test_leftmost_first_is_regex_alternation():
    patterns = ["Sam", "Samwise", "wise", "am"]
    text = "Samwise the wise. Sam."
    regex = re.compile("|".join(map(re.escape, patterns)))
    m = Matcher(patterns, match_kind="leftmost-first")
    assert [text[s:e] for s, e, _ in m.find_iter(text)] == regex.findall(text)
    longest = Matcher(patterns, match_kind="leftmost-longest").find_iter(text)
    assert [patterns[i] for _, _, i in longest] == ["Samwise", "wise", "Sam"]


def test_find_iter_many():
    patterns = ["ab", "b", "é"]
    texts = ["abab", "", "éb", "xyz", "aéab" * 100]
    for kind in KINDS:
        m = Matcher(patterns, match_kind=kind)
        expected = [m.find_iter(t) for t in texts]
        assert m.find_iter_many(texts) == expected
        assert m.find_iter_many(iter(texts), threads=1) == expected
        assert m.find_iter_many(tuple(texts), overlapping=False) == [
            m.find_iter(t, overlapping=False) for t in texts
        ]
    assert Matcher(patterns).find_iter_many([]) == []
    raw = Matcher([p.encode() for p in patterns])
    assert raw.find_iter_many([t.encode() for t in texts]) == [
        raw.find_iter(t.encode()) for t in texts
    ]


def test_find_iter_many_releases_the_gil():
    # big texts with few matches: the time is the search (GIL released), not the lists
    m = Matcher([f"w{i}x" for i in range(2000)])
    # (near misses everywhere, so no prefilter skips ahead)
    texts = [" ".join(f"w{i}" for i in range(100_000)) + " w7x"] * 32
    assert_releases_gil(lambda: m.find_iter_many(texts, threads=1))


def test_replace_all():
    m = Matcher(["cat", "dog"], match_kind="leftmost-first")
    assert m.replace_all("cat and dog, cats", ["🐱", "🐶"]) == "🐱 and 🐶, 🐱s"
    b = Matcher([b"cat", b"dog"])
    assert b.replace_all(b"hotdog cat", [b"C", b"D"]) == b"hotD C"
    with pytest.raises(InvalidInputError):
        m.replace_all("cat", ["x"])
    with pytest.raises(TypeError):
        m.replace_all("cat", [b"x", b"y"])
    with pytest.raises(TypeError):
        m.replace_all("cat", "xy")


def test_properties_len_repr_pickle():
    for patterns in (["he", "she", "é"], [b"he", b"she"]):
        for kind in KINDS:
            for fold in (False, True):
                m = Matcher(patterns, match_kind=kind, ascii_case_insensitive=fold)
                assert len(m) == len(patterns)
                assert m.patterns == patterns
                assert m.match_kind == kind
                assert m.ascii_case_insensitive is fold
                assert m.automaton == "dfa"
                assert m.nbytes > 0
                assert repr(m).startswith(f"Matcher([{patterns[0]!r}, ")
                assert f"match_kind='{kind}'" in repr(m)
                for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
                    back = pickle.loads(pickle.dumps(m, protocol=protocol))
                    assert type(back) is Matcher
                    assert (back.patterns, back.match_kind) == (patterns, kind)
                    assert back.ascii_case_insensitive is fold
                    text = patterns[0] * 3
                    assert back.find_iter(text) == m.find_iter(text)
    many = Matcher([str(i) for i in range(100)])
    assert repr(many) == (
        "Matcher(['0', '1', '2', ... 100 patterns], match_kind='standard', "
        "ascii_case_insensitive=False)"
    )


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: Matcher([]), InvalidInputError),
        (lambda: Matcher(iter([])), InvalidInputError),
        (lambda: Matcher(["a", ""]), InvalidInputError),
        (lambda: Matcher(["a"], match_kind="longest"), InvalidInputError),
        (lambda: Matcher(["a", b"b"]), InvalidTypeError),  # type: ignore[arg-type]
        (lambda: Matcher([b"a", "b"]), InvalidTypeError),  # type: ignore[arg-type]
        (lambda: Matcher([1]), InvalidTypeError),  # type: ignore[arg-type]
        (lambda: Matcher("abc"), InvalidTypeError),
        (lambda: Matcher(5), TypeError),  # type: ignore[arg-type]
        (lambda: Matcher(["a"]).find_iter(b"a"), InvalidTypeError),
        (lambda: Matcher([b"a"]).find_iter("a"), InvalidTypeError),
        (lambda: Matcher([b"a"]).find_iter(bytearray(b"a")), InvalidTypeError),  # type: ignore[arg-type]
        (lambda: Matcher(["a"]).is_match(None), InvalidTypeError),  # type: ignore[arg-type]
        (lambda: Matcher(["a"]).count(b"a"), InvalidTypeError),
        (lambda: Matcher(["a"]).find_iter_many("abc"), InvalidTypeError),
        (lambda: Matcher(["a"]).find_iter_many(["a", b"a"]), InvalidTypeError),  # type: ignore[arg-type]
        (
            lambda: Matcher(["a"], match_kind="leftmost-first").find_iter("a", overlapping=True),
            InvalidInputError,
        ),
        (
            lambda: Matcher(["a"], match_kind="leftmost-longest").count("a", overlapping=True),
            InvalidInputError,
        ),
        (lambda: Matcher(["a"]).find_iter_many(["a"], threads=0), ValueError),
        (lambda: Matcher(["\ud800"]), UnicodeEncodeError),
    ],
)
def test_errors(call, error):
    with pytest.raises(error):
        call()


def test_type_error_message_is_clear():
    with pytest.raises(TypeError, match="str patterns, so text must be str, got bytes"):
        Matcher(["a"]).find_iter(b"a")
    with pytest.raises(TypeError, match="pattern 0 is str, pattern 1 is bytes"):
        Matcher(["a", b"b"])


def test_ch12_workload_overlapping_count():
    pytest.importorskip("wordfreq")
    from hpkit.reference import tokens

    patterns, text = tokens.match_workload()
    assert len(text) == 1_192_501
    m = Matcher(patterns)
    found = m.find_iter(text)
    assert len(found) == 655_862
    assert m.count(text) == 655_862
    for start, end, i in found[:: len(found) // 1000]:
        assert text[start:end] == patterns[i]
    raw = Matcher([p.encode() for p in patterns])
    assert raw.count(text.encode()) == 655_862
    whole = Matcher([f" {p} " for p in patterns]).count(f" {text} ")
    assert whole == 35_843


def test_long_text_split_over_threads_gives_the_same_matches():
    patterns = ["é", "éa", "ab", "b😀", "😀", "aéa", "abab"]
    text = "".join("aéb😀"[(i * 7) % 4] for i in range(400_000)) + "abab"
    m = Matcher(patterns)
    one = m.find_iter(text, threads=1)
    assert m.find_iter(text, threads=2) == one
    assert m.find_iter(text, threads=3) == one
    assert sorted(one) == sorted(
        (s, s + len(p), i) for i, p in enumerate(patterns) for s in _occurrences(text, p)
    )


def _occurrences(text: str, pattern: str) -> list[int]:
    found, at = [], text.find(pattern)
    while at >= 0:
        found.append(at)
        at = text.find(pattern, at + 1)
    return found


@pytest.mark.parametrize("kind", ["standard", "leftmost-first", "leftmost-longest"])
def test_long_text_streamed_search_equals_one_thread(kind):
    # over 512 KiB, find_iter searches on a second thread while it builds the list
    rng = random.Random(1)
    text = "".join(rng.choice("abcé😀x ") for _ in range(700_000))
    m = Matcher(["ab", "b", "abc", "é", "x😀", "bc"], match_kind=kind)
    streamed = m.find_iter(text)
    assert streamed == m.find_iter(text, threads=1)
    assert len(streamed) > 100_000
