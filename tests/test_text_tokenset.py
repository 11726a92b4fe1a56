"""hpkit.text.TokenSet against sorted(set(words)) and bisect: the reference is the list."""

from __future__ import annotations

import bisect
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from helpers import assert_releases_gil
from hypothesis import given, settings
from hypothesis import strategies as st

from hpkit.errors import CorruptDataError, HpkitError, InvalidInputError
from hpkit.text import TokenSet

# build() keyword arguments: the default (compact, 16 keys a bucket), fst, tiny buckets.
LAYOUTS = [
    {},
    {"layout": "fst"},
    {"layout": "compact", "bucket_size": 1},
    {"layout": "compact", "bucket_size": 3},
]
WORDS = ["banana", "apple", "cherry", "apple", "", "app", "café", "z", "😀", "Zebra", "éclair"]


def check_against_reference(ts: TokenSet, words: list[str]) -> None:
    ref = sorted(set(words))
    assert len(ts) == len(ref)
    assert list(ts) == ref
    assert ts.keys() == ref
    for i, w in enumerate(ref):
        assert w in ts
        assert ts.index(w) == i
        assert ts.token(i) == w
        assert ts.token(i - len(ref)) == w


@pytest.mark.parametrize(
    "make",
    [
        lambda w: w,
        tuple,
        lambda w: iter(w),
        lambda w: (x for x in w),
        set,
        lambda w: dict.fromkeys(w),
        lambda w: np.array(w),
    ],
    ids=["list", "tuple", "iterator", "generator", "set", "dict", "numpy-str"],
)
def test_build_from_any_iterable(make):
    check_against_reference(TokenSet.build(make(WORDS)), WORDS)


@pytest.mark.parametrize(
    ("words", "sorted_words"),
    [
        ([], []),
        ([""], [""]),
        (["b", "a", "b", "a"], ["a", "b"]),
        (["é", "z", "😀", "Z"], ["Z", "z", "é", "😀"]),  # code-point (= UTF-8 byte) order
        (["ab", "a", "abc", "b"], ["a", "ab", "abc", "b"]),
    ],
)
def test_table(words, sorted_words):
    ts = TokenSet.build(words)
    assert list(ts) == sorted_words
    assert [ts.token(i) for i in range(len(ts))] == sorted_words


@pytest.mark.parametrize("kwargs", LAYOUTS)
def test_layouts_agree(kwargs):
    ts = TokenSet.build(WORDS, **kwargs)
    check_against_reference(ts, WORDS)
    assert ts.layout == kwargs.get("layout", "compact")
    expected_bucket = None if ts.layout == "fst" else kwargs.get("bucket_size", 16)
    assert ts.bucket_size == expected_bucket
    assert ts == TokenSet.build(WORDS, layout="fst")
    back = TokenSet.from_bytes(ts.to_bytes())
    assert back.layout == ts.layout and back.bucket_size == ts.bucket_size
    assert ts.keys("app") == ["app", "apple"]
    assert ts.contains_many(["apple", "ap", "😀"]).tolist() == [True, False, True]


def test_compact_is_smaller():
    from hpkit.reference import tokens

    words = tokens.vocabulary()[:20_000]  # real English words (the FST wins on patterns)
    compact, fst = TokenSet.build(words), TokenSet.build(words, layout="fst")
    assert compact.layout == "compact" and fst.layout == "fst"
    assert compact.nbytes < fst.nbytes
    assert compact == fst and list(compact) == list(fst)


def test_build_rejects_bad_layouts():
    for kwargs in (
        {"layout": "trie"},
        {"layout": "compact", "bucket_size": 0},
        {"layout": "compact", "bucket_size": 5000},
        {"layout": "fst", "bucket_size": 16},
    ):
        with pytest.raises(InvalidInputError):
            TokenSet.build(WORDS, **kwargs)


def test_prefix_search_and_limit():
    ts = TokenSet.build(WORDS)
    assert ts.keys("app") == ["app", "apple"]
    assert ts.keys("app", limit=1) == ["app"]
    assert ts.keys("app", limit=0) == []
    assert ts.keys("x") == []
    assert ts.keys("caf") == ["café"]
    assert ts.keys(prefix="") == sorted(set(WORDS))


def test_missing_and_out_of_range():
    ts = TokenSet.build(WORDS)
    assert "ap" not in ts
    assert "apples" not in ts
    with pytest.raises(KeyError):
        ts.index("ap")
    for bad in (len(ts), -len(ts) - 1, 10**6):
        with pytest.raises(IndexError):
            ts.token(bad)
    with pytest.raises(IndexError):
        TokenSet.build([]).token(0)


def test_non_str_lookups():
    ts = TokenSet.build(["a", "b"])
    # like a frozenset of str: anything else is simply not in it
    for other in (b"a", 1, None, ("a",), "\ud800"):
        assert other not in ts
    with pytest.raises(TypeError):
        ts.index(b"a")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ts.token("a")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ts.contains_many(["a", b"b"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        ts.contains_many("ab")
    with pytest.raises(TypeError):
        ts.index_many([1])  # type: ignore[list-item]


def test_build_rejects_bad_input():
    with pytest.raises(TypeError):
        TokenSet.build("abc")  # a single str, not an iterable of them
    with pytest.raises(TypeError):
        TokenSet.build(["a", b"b"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        TokenSet.build([1, 2])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        TokenSet.build(5)  # type: ignore[arg-type]
    with pytest.raises(UnicodeEncodeError):
        TokenSet.build(["\ud800"])  # a lone surrogate has no UTF-8 form


def test_contains_many_and_index_many():
    ts = TokenSet.build(WORDS)
    probes = WORDS + ["ap", "apples", "", "\ud800", "zz"]
    flags = ts.contains_many(probes)
    assert flags.dtype == np.bool_
    assert flags.tolist() == [p in ts for p in probes]
    ids = ts.index_many(probes)
    assert ids.dtype == np.int64
    assert ids.tolist() == [ts.index(p) if p in ts else -1 for p in probes]
    assert ts.contains_many([]).shape == (0,)
    assert ts.contains_many(iter(["apple"])).tolist() == [True]


def test_large_batches_use_the_parallel_path():
    words = [f"w{i}" for i in range(0, 60_000, 2)]
    ts = TokenSet.build(words)
    probes = [f"w{i}" for i in range(60_000)]
    expected = np.arange(60_000) % 2 == 0
    for threads in (None, 1, 2):
        assert (ts.contains_many(probes, threads=threads) == expected).all()
    ids = ts.index_many(probes)
    rank = {w: i for i, w in enumerate(sorted(words))}
    assert ids[::2].tolist() == [rank[w] for w in words]
    assert (ids[1::2] == -1).all()
    with pytest.raises(ValueError):
        ts.contains_many(probes, threads=0)


def test_contains_many_releases_the_gil():
    words = [f"token{i}" for i in range(200_000)]
    ts = TokenSet.build(words)
    probes = words * 10
    assert_releases_gil(lambda: ts.contains_many(probes, threads=1))


def test_iteration_crosses_batches():
    words = [f"{i:06d}" for i in range(5000)]
    ts = TokenSet.build(reversed(words))
    assert list(ts) == words
    it = iter(ts)
    assert iter(it) is it
    assert next(it) == "000000"


def test_nbytes_repr_eq():
    ts = TokenSet.build(WORDS)
    assert ts.nbytes == len(ts.to_bytes())
    assert "len=10" in repr(ts) and "'', 'Zebra', 'app', ..." in repr(ts)
    assert repr(TokenSet.build([])).startswith("TokenSet([], len=0, nbytes=")
    assert ts == TokenSet.build(reversed(WORDS))
    assert ts != TokenSet.build(WORDS[:-1])
    assert ts != sorted(set(WORDS))
    assert (ts == object()) is False


@settings(max_examples=200, deadline=None)
@given(
    words=st.lists(st.text(alphabet="ab\u00e9\U0001f600 Z", max_size=6), max_size=50),
    probes=st.lists(st.text(alphabet="ab\u00e9Z", max_size=4), max_size=20),
    layout=st.sampled_from(LAYOUTS),
)
def test_property_against_sorted_list(words, probes, layout):
    ts = TokenSet.build(words, **layout)
    ref = sorted(set(words))
    check_against_reference(ts, words)
    for p in probes:
        i = bisect.bisect_left(ref, p)
        present = i < len(ref) and ref[i] == p
        assert (p in ts) == present
        assert ts.keys(p) == [w for w in ref if w.startswith(p)]
    assert ts.contains_many(probes).tolist() == [p in set(ref) for p in probes]
    assert TokenSet.from_bytes(ts.to_bytes()) == ts


@pytest.mark.parametrize("convert", [bytes, bytearray, memoryview])
def test_bytes_round_trip(convert):
    ts = TokenSet.build(WORDS)
    back = TokenSet.from_bytes(convert(ts.to_bytes()))
    assert back == ts
    check_against_reference(back, WORDS)
    assert not back.mapped


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_round_trip(protocol):
    ts = TokenSet.build(WORDS)
    back = pickle.loads(pickle.dumps(ts, protocol=protocol))
    assert type(back) is TokenSet
    check_against_reference(back, WORDS)


def test_save_and_open(tmp_path):
    ts = TokenSet.build(WORDS)
    path = tmp_path / "words.hpkt"
    ts.save(path)
    assert path.read_bytes() == ts.to_bytes()
    for verify in (True, False):
        opened = TokenSet.open(path, verify=verify)
        assert opened.mapped
        assert opened == ts
        check_against_reference(opened, WORDS)
        assert pickle.loads(pickle.dumps(opened)) == ts
    TokenSet.open(str(path))
    # saving over a file that is open and mapped leaves the open set intact
    opened = TokenSet.open(path)
    TokenSet.build(["other"]).save(path)
    check_against_reference(opened, WORDS)
    assert list(TokenSet.open(path)) == ["other"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["words.hpkt"]


def test_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        TokenSet.open(tmp_path / "missing.hpkt")
    assert str(info.value.filename) == str(tmp_path / "missing.hpkt")
    with pytest.raises(OSError):
        TokenSet.open(tmp_path)  # a directory
    with pytest.raises(FileNotFoundError):
        TokenSet.build(WORDS).save(tmp_path / "no" / "such" / "dir.hpkt")
    with pytest.raises(TypeError):
        TokenSet.open(42)  # type: ignore[arg-type]


def corruptions(data: bytes) -> list[tuple[str, bytes]]:
    cases = [(f"truncated to {n}", data[:n]) for n in (0, 1, 4, 31, 32, 40, len(data) - 1)]
    cases.append(("padded", data + b"\0"))
    cases.append(("bad magic", b"XXXX" + data[4:]))
    cases.append(("version 1", data[:4] + (1).to_bytes(2, "little") + data[6:]))
    cases.append(("version 3", data[:4] + (3).to_bytes(2, "little") + data[6:]))
    cases.append(("layout 9", data[:6] + (9).to_bytes(2, "little") + data[8:]))
    for at in (6, 8, 16, 24, 28, 32, len(data) // 2, len(data) - 1):
        flipped = bytearray(data)
        flipped[at] ^= 0x10
        cases.append((f"bit flip at {at}", bytes(flipped)))
    return cases


@pytest.mark.parametrize("kwargs", LAYOUTS)
def test_corrupt_bytes_raise_corrupt_data_error(kwargs):
    data = TokenSet.build(WORDS, **kwargs).to_bytes()
    for name, bad in corruptions(data):
        with pytest.raises(CorruptDataError) as info:
            TokenSet.from_bytes(bad)
        assert isinstance(info.value, ValueError) and isinstance(info.value, HpkitError), name


@pytest.mark.parametrize("kwargs", LAYOUTS)
def test_corrupt_files_raise_corrupt_data_error(tmp_path, kwargs):
    data = TokenSet.build(WORDS, **kwargs).to_bytes()
    path = tmp_path / "bad.hpkt"
    for name, bad in corruptions(data):
        path.write_bytes(bad)
        with pytest.raises(CorruptDataError, match="bad.hpkt"):
            TokenSet.open(path)
        if name.startswith(("truncated", "padded", "bad magic", "version", "layout")):
            # the header checks hold without the checksum too
            with pytest.raises(CorruptDataError):
                TokenSet.open(path, verify=False)


def test_from_bytes_type_error():
    with pytest.raises(TypeError):
        TokenSet.from_bytes("not bytes")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        TokenSet.from_bytes(b"")
    assert issubclass(CorruptDataError, ValueError)
    assert not issubclass(CorruptDataError, InvalidInputError)


def test_two_processes_share_one_opened_file(tmp_path):
    words = [f"word{i}" for i in range(10_000)]
    path = tmp_path / "shared.hpkt"
    TokenSet.build(words).save(path)
    script = textwrap.dedent(
        """
        import sys
        from hpkit.text import TokenSet
        ts = TokenSet.open(sys.argv[1])
        assert ts.mapped
        assert "word9999" in ts and "word10000" not in ts
        assert ts.token(ts.index("word123")) == "word123"
        print(len(ts), int(ts.contains_many(["word1", "nope", "word2"]).sum()), flush=True)
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=60)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outputs == ["10000 2\n", "10000 2\n"]
