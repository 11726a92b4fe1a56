"""hpkit.sketch.CountMinSketch: API, never under-counting, the eps/delta bound with fixed
seeds, merge, round trips."""

from __future__ import annotations

import copy
import math
import pickle
from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpkit.errors import CorruptDataError, InvalidTypeError
from hpkit.sketch import CountMinSketch
from tests.helpers import assert_releases_gil


def zipf_stream(n: int, vocabulary: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.minimum(rng.zipf(1.3, size=n), vocabulary).astype(np.int64)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((0, 4), {}, "width must be > 0"),
        ((10, 0), {}, "depth must be > 0"),
        ((-1, 4), {}, "width"),
        ((10, -2), {}, "depth"),
        ((2**40, 2**10), {}, "limit"),
        ((10, 4), {"hash": "sha1"}, "unknown hash"),
    ],
)
def test_bad_parameters(args: tuple, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CountMinSketch(*args, **kwargs)


@pytest.mark.parametrize(
    ("eps", "delta"),
    [(0.0, 0.1), (1.0, 0.1), (0.1, 0.0), (0.1, 1.0), (math.nan, 0.1), (1e-300, 0.1)],
)
def test_bad_error_bounds(eps: float, delta: float) -> None:
    with pytest.raises(ValueError):
        CountMinSketch.from_error(eps, delta)


def test_from_error_shape() -> None:
    s = CountMinSketch.from_error(0.001, 0.01)
    assert (s.width, s.depth) == (math.ceil(math.e / 0.001), math.ceil(math.log(100)))
    assert s.conservative is True and s.hash == "xxh3" and s.variant == "default"
    assert not CountMinSketch.from_error(0.01, 0.01, conservative=False).conservative


def test_basic_api() -> None:
    s = CountMinSketch(100, 4)
    assert s.count("a") == 0 and s.total == 0
    s.add("a")
    s.add("a", 5)
    s.add("b", count=0)
    s.add(7, 2)
    assert s.count("a") >= 6 and s["a"] == s.count("a")
    assert s.count(7) >= 2
    assert s.total == 8
    assert s.count_many(["a", 7, "zz"]).dtype == np.uint64
    assert s.count_many([]).shape == (0,)
    assert "CountMinSketch(width=100, depth=4, conservative=True" in repr(s)
    with pytest.raises(ValueError, match="count"):
        s.add("a", -1)
    with pytest.raises(TypeError):
        s.add(1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        s.add_many([1, None])  # type: ignore[list-item]
    s.clear()
    assert s == CountMinSketch(100, 4)


def test_add_many_paths_agree() -> None:
    data = zipf_stream(20_000, 500, seed=1)
    one = CountMinSketch(64, 3)
    for x in data.tolist():
        one.add(x)
    lst, arr = CountMinSketch(64, 3), CountMinSketch(64, 3)
    lst.add_many(data.tolist())
    arr.add_many(data)
    assert one == lst == arr
    # counts: aggregated input gives the same plain sketch
    values, counts = np.unique(data, return_counts=True)
    plain, agg, agg_list = (CountMinSketch(64, 3, conservative=False) for _ in range(3))
    plain.add_many(data)
    agg.add_many(values, counts)
    agg_list.add_many(values.tolist(), counts.tolist())
    assert plain == agg == agg_list
    gen = CountMinSketch(64, 3, conservative=False)
    gen.add_many((int(v) for v in values), counts)
    assert gen == plain


@pytest.mark.parametrize(
    ("items", "counts", "exc"),
    [
        (["a", "b"], [1], ValueError),
        (["a"], [1, 2], ValueError),
        (["a", "b"], [1, -1], ValueError),
        (["a", "b"], np.array([1, -1]), ValueError),
        (["a", "b"], np.array([1.0, 2.0]), TypeError),
        (["a", "b"], ["x", "y"], TypeError),
        (["a", "b"], 3, TypeError),
        ((x for x in "abc"), [1, 2], ValueError),
    ],
)
def test_add_many_bad_counts(items: Any, counts: Any, exc: type) -> None:
    with pytest.raises(exc):
        CountMinSketch(10, 2).add_many(items, counts)


@pytest.mark.parametrize("conservative", [False, True])
def test_never_under_counts_and_meets_the_bound(conservative: bool) -> None:
    eps, delta = 0.0005, 0.01
    data = zipf_stream(300_000, 50_000, seed=42)
    s = CountMinSketch.from_error(eps, delta, conservative=conservative)
    s.add_many(data)
    truth = Counter(data.tolist())
    keys = np.array(sorted(truth), dtype=np.int64)
    exact = np.array([truth[k] for k in keys.tolist()], dtype=np.uint64)
    est = s.count_many(keys)
    assert s.total == len(data)
    assert (est >= exact).all()
    over = int(((est - exact) > eps * s.total).sum())
    # each item exceeds the bound with probability <= delta; 2x slack on the expectation
    assert over <= 2 * delta * len(keys), over


def test_conservative_is_tighter() -> None:
    data = zipf_stream(100_000, 20_000, seed=3)
    plain, cons = CountMinSketch(500, 4, conservative=False), CountMinSketch(500, 4)
    plain.add_many(data)
    cons.add_many(data)
    keys = np.unique(data)
    assert cons.count_many(keys).sum() < plain.count_many(keys).sum()


def test_merge() -> None:
    a, b = CountMinSketch(50, 3, conservative=False), CountMinSketch(50, 3, conservative=False)
    a.add_many(range(0, 300))
    b.add_many(range(200, 500))
    u = CountMinSketch(50, 3, conservative=False)
    u.add_many(range(0, 300))
    u.add_many(range(200, 500))
    assert a | b == u
    a |= b
    assert a == u and a.total == 600
    # conservative: an upper bound, never under-counting
    c, d = CountMinSketch(50, 3), CountMinSketch(50, 3)
    c.add_many(range(0, 300))
    d.add_many(range(200, 500))
    m = c | d
    truth = Counter(list(range(0, 300)) + list(range(200, 500)))
    assert all(m.count(k) >= v for k, v in truth.items())


@pytest.mark.parametrize(
    "other",
    [
        CountMinSketch(51, 3),
        CountMinSketch(50, 4),
        CountMinSketch(50, 3, conservative=False),
        CountMinSketch(50, 3, hash="murmur3"),
    ],
)
def test_merge_mismatch(other: CountMinSketch) -> None:
    with pytest.raises(ValueError, match="cannot merge"):
        CountMinSketch(50, 3).merge(other)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 9)), max_size=100),
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 9)), max_size=100),
)
def test_merge_equals_union_plain(xs: list[tuple[int, int]], ys: list[tuple[int, int]]) -> None:
    a = CountMinSketch(13, 3, conservative=False, hash="murmur3")
    b, u = a.copy(), a.copy()
    for x, c in xs:
        a.add(x, c)
        u.add(x, c)
    for y, c in ys:
        b.add(y, c)
        u.add(y, c)
    assert a | b == u


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.text(max_size=5), st.integers(0, 2**40)), max_size=100),
    st.booleans(),
)
def test_never_under_counts_property(xs: list[tuple[str, int]], conservative: bool) -> None:
    s = CountMinSketch(7, 2, conservative=conservative)
    truth: Counter[str] = Counter()
    for x, c in xs:
        s.add(x, c)
        truth[x] += c
    assert all(s.count(x) >= c for x, c in truth.items())
    assert s.total == sum(truth.values())
    assert CountMinSketch.from_bytes(s.to_bytes()) == s
    assert pickle.loads(pickle.dumps(s)) == s
    assert copy.deepcopy(s) == s


def test_saturates_instead_of_wrapping() -> None:
    s = CountMinSketch(4, 2, conservative=False)
    s.add("a", 2**64 - 2)
    s.add("a", 5)
    assert s.count("a") == 2**64 - 1 and s.total == 2**64 - 1
    with pytest.raises(ValueError):
        s.add("a", 2**64)


def test_corrupt_bytes() -> None:
    s = CountMinSketch(20, 3)
    s.add_many(range(100))
    data = s.to_bytes()
    for n in range(len(data)):
        with pytest.raises(CorruptDataError):
            CountMinSketch.from_bytes(data[:n])
    rng = np.random.default_rng(11)
    for _ in range(200):
        bad = bytearray(data)
        bad[int(rng.integers(len(bad)))] ^= int(rng.integers(1, 256))
        with pytest.raises(ValueError):
            CountMinSketch.from_bytes(bytes(bad))


def test_releases_gil() -> None:
    s = CountMinSketch(1 << 16, 5)
    data = np.arange(3_000_000, dtype=np.int64)

    def add() -> None:
        for _ in range(3):
            s.add_many(data)

    assert_releases_gil(add)
    assert_releases_gil(lambda: [s.count_many(data) for _ in range(3)])
