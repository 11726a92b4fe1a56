"""hpkit.sketch MorrisCounter, KMV and LogLog: API and edge cases, property tests, the
book's known answers (WORKLOADS.md W11.3) against hpkit.reference.sketch, and statistical
accuracy with fixed seeds."""

from __future__ import annotations

import copy
import pickle
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from helpers import assert_releases_gil
from hypothesis import given, settings
from hypothesis import strategies as st

from hpkit.errors import CorruptDataError, InvalidInputError, InvalidTypeError
from hpkit.sketch import KMV, LogLog, MorrisCounter

N = 1_000_000

# A factory per hashed structure, small enough to fill in a test.
HASHED: dict[str, Callable[..., Any]] = {
    "KMV": lambda **kw: KMV(64, **kw),
    "LogLog": lambda **kw: LogLog(8, **kw),
}
CONFIGS = [{"hash": h, "variant": v} for h in ("xxh3", "murmur3") for v in ("default", "book")]


@pytest.fixture(scope="module")
def million() -> list[str]:
    return [str(i) for i in range(N)]


# --- construction and validation --------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: KMV(1), "k must be between 2"),
        (lambda: KMV(-5), "k must be between 2"),
        (lambda: KMV(2**25), "k must be between 2"),
        (lambda: KMV(2**80), "k must be between 2"),
        (lambda: KMV(hash="md5"), "unknown hash"),
        (lambda: KMV(variant="fast"), "unknown variant"),
        (lambda: LogLog(3), "p must be between 4 and 18"),
        (lambda: LogLog(19), "p must be between 4 and 18"),
        (lambda: LogLog(-1), "p must be between 4 and 18"),
        (lambda: LogLog(hash="sha1"), "unknown hash"),
        (lambda: LogLog(variant="x"), "unknown variant"),
        (lambda: MorrisCounter(variant="approx"), "unknown variant"),
        (lambda: MorrisCounter(seed=0).increment(-1), "n must be in"),
        (lambda: MorrisCounter(seed=0).increment(2**64), "n must be in"),
        (lambda: LogLog(8).estimate(method="hll"), "unknown method"),
    ],
)
def test_bad_parameters_raise_value_error(make: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as info:
        make()
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "make",
    [
        lambda: MorrisCounter(seed=1.5),  # type: ignore[arg-type]
        lambda: MorrisCounter(seed="abc"),  # type: ignore[arg-type]
        lambda: MorrisCounter(seed=0).increment(2.0),  # type: ignore[arg-type]
        lambda: KMV().add(1.5),  # type: ignore[arg-type]
        lambda: KMV().add_many([b"a", None]),  # type: ignore[list-item]
        lambda: LogLog().add(object()),  # type: ignore[arg-type]
        lambda: LogLog().add_many([["nested"]]),  # type: ignore[list-item]
    ],
)
def test_wrong_types_raise_type_error(make: Callable[[], object]) -> None:
    with pytest.raises(TypeError):
        make()


def test_type_error_is_hpkit_error() -> None:
    with pytest.raises(InvalidTypeError):
        KMV().add(2.5)  # type: ignore[arg-type]


def test_properties_and_repr() -> None:
    k = KMV(100, hash="murmur3", variant="book")
    assert (k.k, k.hash, k.variant) == (100, "murmur3", "book")
    assert repr(k) == "KMV(k=100, hash='murmur3', variant='book', estimate≈0)"
    ll = LogLog(10)
    assert (ll.p, ll.hash, ll.variant) == (10, "xxh3", "default")
    assert ll.registers.dtype == np.uint8 and ll.registers.shape == (1024,)
    assert repr(ll) == "LogLog(p=10, hash='xxh3', variant='default', estimate≈0)"
    m = MorrisCounter(seed=1)
    assert (m.variant, m.counter, m.estimate(), len(m)) == ("default", 0, 0.0, 0)
    assert repr(m) == "MorrisCounter(variant='default', counter=0, estimate≈0)"
    assert MorrisCounter(seed=1, variant="book").estimate() == 1.0  # 2**0: the book's +1
    assert KMV().nbytes > 0 and LogLog(12).nbytes >= 4096 and MorrisCounter().nbytes > 0


@pytest.mark.parametrize("name", HASHED)
@pytest.mark.parametrize("config", CONFIGS)
def test_empty_input(name: str, config: dict[str, str]) -> None:
    s = HASHED[name](**config)
    before = s.to_bytes()
    s.add_many([])
    s.add_many(np.array([], dtype=np.int64))
    s.add_many(iter(()))
    assert s.to_bytes() == before
    if name == "LogLog" and config["variant"] == "book":
        # the book's formula has no empty case: 2**0 * m * alpha
        assert s.estimate() == 256 * 0.7213 / (1 + 1.079 / 256)
    else:
        assert s.estimate() == 0.0 and len(s) == 0


def test_morris_empty_and_ignored_items() -> None:
    m = MorrisCounter(seed=3)
    m.add_many([])
    m.add_many(iter([]))
    assert m.counter == 0
    a, b = MorrisCounter(seed=3), MorrisCounter(seed=3)
    a.add("anything")
    a.add(None)
    a.add()
    a.add_many(["x", 2.5, object()])  # items are not hashed, only counted
    a.add_many(x for x in range(4))
    b.increment(10)
    assert a == b


# --- merge --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (KMV(64), KMV(65)),
        (KMV(64), KMV(64, hash="murmur3")),
        (KMV(64), KMV(64, variant="book")),
        (LogLog(8), LogLog(9)),
        (LogLog(8), LogLog(8, hash="murmur3")),
        (LogLog(8), LogLog(8, variant="book")),
        (MorrisCounter(seed=1), MorrisCounter(seed=1, variant="book")),
        (MorrisCounter(seed=1, variant="book"), MorrisCounter(seed=2, variant="book")),
    ],
)
def test_mismatched_merge_raises(a: Any, b: Any) -> None:
    with pytest.raises(ValueError, match="cannot merge"):
        a.merge(b)
    with pytest.raises(ValueError):
        a | b  # noqa: B018


def test_set_operations_on_other_types() -> None:
    with pytest.raises(TypeError):
        KMV() | LogLog()  # type: ignore[operator]
    with pytest.raises(TypeError):
        KMV().jaccard(LogLog())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cannot merge"):
        KMV(64).jaccard(KMV(32))


def test_merge_operators() -> None:
    a, b = KMV(64), KMV(64)
    a.add_many(range(100))
    b.add_many(range(50, 300))
    union = KMV(64)
    union.add_many(range(300))
    c = a | b
    assert c == union and a != union  # | leaves its operands alone
    a |= b
    assert a == union
    a.merge(a)  # merging into itself is a no-op for a union
    assert a == union


def test_morris_merge_is_unbiased() -> None:
    """Merging replays the other counter's estimate as events: the mean of the merged
    estimate is the total. One estimate's sd is ~0.7n; over 2,000 pairs the mean's is
    ~1.2%; allow 6%."""
    total = 0.0
    runs = 2000
    for s in range(runs):
        a, b = MorrisCounter(seed=s), MorrisCounter(seed=10**6 + s)
        a.increment(3000)
        b.increment(1000)
        total += (a | b).estimate()
    assert abs(total / runs / 4000 - 1) < 0.06


# --- serialisation ------------------------------------------------------------------------


def filled() -> list[Any]:
    out: list[Any] = []
    for config in CONFIGS:
        for make in HASHED.values():
            s = make(**config)
            s.add_many([str(i) for i in range(500)])
            out.append(s)
    for variant in ("default", "book"):
        m = MorrisCounter(seed=5, variant=variant)
        m.increment(12345)
        out.append(m)
    return out


@pytest.mark.parametrize("s", filled(), ids=repr)
def test_round_trips(s: Any) -> None:
    cls = type(s)
    for back in (
        cls.from_bytes(s.to_bytes()),
        pickle.loads(pickle.dumps(s)),
        copy.copy(s),
        copy.deepcopy(s),
        s.copy(),
    ):
        assert back == s and back is not s
        assert back.estimate() == s.estimate()
    assert s != object()


@pytest.mark.parametrize("s", filled(), ids=repr)
def test_corrupt_and_truncated_bytes(s: Any) -> None:
    cls = type(s)
    data = s.to_bytes()
    for n in range(0, len(data), max(1, len(data) // 97)):
        with pytest.raises(CorruptDataError):
            cls.from_bytes(data[:n])
    rng = random.Random(1)
    for _ in range(100):
        bad = bytearray(data)
        bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
        with pytest.raises(CorruptDataError) as info:
            cls.from_bytes(bytes(bad))
        assert isinstance(info.value, ValueError)
    other = KMV if cls is not KMV else LogLog
    with pytest.raises(CorruptDataError):
        other.from_bytes(data)


@pytest.mark.parametrize("variant", ["default", "book"])
def test_restored_morris_continues_the_stream(variant: str) -> None:
    a = MorrisCounter(seed=42, variant=variant)
    a.increment(1000)
    b = pickle.loads(pickle.dumps(a))
    a.increment(100_000)
    b.increment(100_000)
    assert a == b and a.counter == b.counter


def test_copies_are_independent() -> None:
    a = KMV(16)
    b = a.copy()
    b.add("x")
    assert a.estimate() == 0 and b.estimate() == 1


# --- hypothesis -----------------------------------------------------------------------------

items_strategy = st.lists(
    st.one_of(
        st.text(max_size=8),
        st.binary(max_size=8),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
    ),
    max_size=120,
)


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(sorted(HASHED)),
    config=st.sampled_from(CONFIGS),
    xs=items_strategy,
    ys=items_strategy,
)
def test_merge_equals_adding_the_union(
    name: str, config: dict[str, str], xs: list[Any], ys: list[Any]
) -> None:
    a, b, union = (HASHED[name](**config) for _ in range(3))
    a.add_many(xs)
    b.add_many(ys)
    union.add_many(xs + ys)
    assert a | b == union
    assert b | a == union


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(HASHED)), config=st.sampled_from(CONFIGS), xs=items_strategy)
def test_round_trip_equality(name: str, config: dict[str, str], xs: list[Any]) -> None:
    s = HASHED[name](**config)
    s.add_many(xs)
    back = type(s).from_bytes(s.to_bytes())
    assert back == s
    assert back.estimate() == s.estimate()


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**64 - 1),
    a=st.integers(0, 10**12),
    b=st.integers(0, 10**12),
)
def test_morris_default_split_increments(seed: int, a: int, b: int) -> None:
    x, y = MorrisCounter(seed=seed), MorrisCounter(seed=seed)
    x.increment(a)
    x.increment(b)
    y.increment(a + b)
    assert x == y


# --- batches: list == one by one == numpy -------------------------------------------------


@pytest.mark.parametrize("name", HASHED)
@pytest.mark.parametrize("config", CONFIGS)
def test_add_many_equals_add(name: str, config: dict[str, str]) -> None:
    ints = list(range(-500, 1500, 3))
    words = [f"w{i}é" for i in range(700)]
    for batch, array in (
        (ints, np.array(ints, dtype=np.int64)),
        (words, np.array(words)),
        ([w.encode() for w in words], np.array([w.encode() for w in words])),
    ):
        one, many, arr = (HASHED[name](**config) for _ in range(3))
        for x in batch:
            one.add(x)
        many.add_many(batch)
        arr.add_many(array)
        assert one == many == arr


def test_morris_add_many_equals_add() -> None:
    for variant in ("default", "book"):
        one, many, arr = (MorrisCounter(seed=9, variant=variant) for _ in range(3))
        for _ in range(5000):
            one.add()
        many.add_many(list(range(5000)))
        arr.add_many(np.zeros(5000, dtype=np.int64))
        assert one == many == arr


def test_add_many_releases_the_gil() -> None:
    data = np.arange(20_000_000, dtype=np.int64)
    assert_releases_gil(lambda: KMV(4096).add_many(data))
    assert_releases_gil(lambda: LogLog(14).add_many(data))
    assert_releases_gil(lambda: MorrisCounter(seed=0, variant="book").increment(30_000_000))


# --- the book's known answers (WORKLOADS.md W11.3) -----------------------------------------


def test_book_kmv_known_answer(million: list[str]) -> None:
    s = KMV(65_536, hash="murmur3", variant="book")
    s.add_many(million)
    assert s.kth() == 141_200_390
    assert s.estimate() == 996_706.4595653383
    assert len(s) == 996_706
    assert s.values()[-1] == s.kth() and len(s.values()) == 65_536


def test_book_loglog_known_answers(million: list[str]) -> None:
    s = LogLog(16, hash="murmur3", variant="book")
    s.add_many(np.array(million))  # the numpy 'U' path gives the same registers
    assert s.mean_register == 5.2784576416015625
    assert int((s.registers == 32).sum()) == 21
    assert s.estimate() == 1_834_690.4210621049
    assert s.estimate(method="superloglog") == 664_297.2323335496


def test_book_morris_known_answer() -> None:
    m = MorrisCounter(seed=0, variant="book")
    m.add_many(range(N))
    assert m.counter == 20 and m.estimate() == 2.0**20
    m2 = MorrisCounter(seed=0, variant="book")
    m2.increment(N)
    assert m2 == m


@pytest.mark.parametrize("seed", [0, 1, 12345, -7, 2**32, 2**100 + 7])
def test_book_morris_matches_python_random(seed: int) -> None:
    """Draw for draw the stream of random.Random(seed) (negative seeds use |seed|, as
    CPython does)."""
    reference = pytest.importorskip("hpkit.reference.sketch")
    ref = reference.MorrisCounter(random.Random(seed))
    m = MorrisCounter(seed=seed, variant="book")
    for step in (1, 10, 100, 1000, 10_000, 50_000):
        for _ in range(step):
            ref.add()
        m.increment(step)
        assert m.counter == ref.counter
        assert m.estimate() == ref.estimate()


def test_book_morris_unseeded_streams_differ() -> None:
    assert MorrisCounter(variant="book") != MorrisCounter(variant="book")
    assert MorrisCounter() != MorrisCounter()


@pytest.mark.parametrize(("k", "n"), [(16, 10), (256, 5000), (1024, 30_000)])
def test_book_kmv_matches_reference(k: int, n: int) -> None:
    reference = pytest.importorskip("hpkit.reference.sketch")
    items = [str(i) for i in range(n)] + ["é", "", "x" * 100]
    ref = reference.KMinValues(k)
    ref.add_many(items)
    s = KMV(k, hash="murmur3", variant="book")
    s.add_many(items)
    assert s.kth() == ref.kth_smallest()
    assert s.estimate() == ref.estimate()


@pytest.mark.parametrize(("p", "n"), [(4, 100), (10, 20_000), (12, 50_000)])
def test_book_loglog_matches_reference(p: int, n: int) -> None:
    reference = pytest.importorskip("hpkit.reference.sketch")
    items = [str(i) for i in range(n)]
    ref = reference.SuperLogLog(p)
    ref.add_many(items)
    s = LogLog(p, hash="murmur3", variant="book")
    s.add_many(items)
    assert s.registers.tolist() == ref.registers
    assert s.mean_register == ref.mean_register()
    assert s.estimate() == reference.LogLog.estimate(ref)
    assert s.estimate(method="superloglog") == ref.estimate()


# --- statistical accuracy (default variant) -------------------------------------------------


def relative_errors(make: Callable[[], Any], n: int, seeds: int) -> np.ndarray:
    errors = []
    for seed in range(seeds):
        s = make()
        s.add_many(np.arange(seed * 10**9, seed * 10**9 + n, dtype=np.int64))
        errors.append(s.estimate() / n - 1)
    return np.array(errors)


def test_kmv_accuracy() -> None:
    """k = 1024: relative standard error 1/sqrt(k - 2) ~ 3.1%. Over 20 seeds: every error
    within 4 sd, the RMS within [0.5, 1.6] sd and the mean within 2.5 sd/sqrt(20)."""
    sd = 1 / np.sqrt(1022)
    err = relative_errors(lambda: KMV(1024), 200_000, 20)
    assert np.abs(err).max() < 4 * sd
    assert 0.5 * sd < np.sqrt((err**2).mean()) < 1.6 * sd
    assert abs(err.mean()) < 2.5 * sd / np.sqrt(20)
    small = KMV(1024)
    small.add_many(range(1000))
    assert small.estimate() == 1000.0 and small.kth() is None  # exact below k


@pytest.mark.parametrize("n", [300, 3000, 10_000, 100_000, 1_000_000])
def test_loglog_accuracy(n: int) -> None:
    """p = 12: relative standard error ~1.30/64 = 2% (linear counting below 2.5m is
    better). Over 12 seeds every error within 4 sd and the RMS below 1.6 sd."""
    sd = 1.30 / 64
    err = relative_errors(lambda: LogLog(12), n, 12)
    assert np.abs(err).max() < 4 * sd
    assert np.sqrt((err**2).mean()) < 1.6 * sd


def test_kmv_jaccard_and_intersection() -> None:
    a, b = KMV(4096), KMV(4096)
    a.add_many(range(0, 60_000))
    b.add_many(range(30_000, 90_000))  # J = 1/3, |A & B| = 30,000
    assert abs(a.jaccard(b) - 1 / 3) < 0.04
    assert abs(a.intersection(b) / 30_000 - 1) < 0.15
    c, d = KMV(64), KMV(64)
    c.add_many(range(10))
    d.add_many(range(5, 20))
    assert c.jaccard(d) == 5 / 20  # exact below k
    assert KMV().jaccard(KMV()) == 0.0


def test_morris_default_accuracy_and_speed() -> None:
    """2**c - 1 is unbiased with sd ~0.71n: the mean of 3,000 counters is within 5 sd
    (6.5%) of n; increment(10**15) costs O(log n) draws, not 10**15."""
    n = 10_000
    runs = 3000
    total = 0.0
    for seed in range(runs):
        m = MorrisCounter(seed=seed)
        m.increment(n)
        total += m.estimate()
    assert abs(total / runs / n - 1) < 5 * 0.71 / np.sqrt(runs)
    big = MorrisCounter(seed=1)
    big.increment(10**15)
    assert 40 <= big.counter <= 60
    assert len(big) == round(big.estimate())
