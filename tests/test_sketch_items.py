"""The item encoding every hashed sketch shares (crates/hpkit-py/src/sketch/items.rs):
lists, tuples, iterables and numpy arrays give the same structure, short batches (one
thread) and long ones (pipelined over two threads) alike, and a bad item raises after
the items before it were added."""

from __future__ import annotations

import numpy as np
import pytest

from hpkit.errors import InvalidInputError, InvalidTypeError
from hpkit.sketch import KMV, BloomFilter, CountMinSketch, HyperLogLog, LogLog

#: one constructor per hashed structure
MAKERS = {
    "HyperLogLog": lambda: HyperLogLog(12),
    "LogLog": lambda: LogLog(10),
    "KMV": lambda: KMV(256),
    "BloomFilter": lambda: BloomFilter(50_000),
    "CountMinSketch": lambda: CountMinSketch(512, 4),
}
#: below and above the length at which add_many pipelines over two threads (2**16)
SIZES = [1_000, 100_000]


def one_by_one(make, items):
    s = make()
    for x in items:
        s.add(x)
    return s


def batched(make, items):
    s = make()
    s.add_many(items)
    return s


@pytest.mark.parametrize("name", MAKERS)
@pytest.mark.parametrize("n", SIZES)
def test_ints_from_list_tuple_iterator_and_numpy_agree(name, n):
    make = MAKERS[name]
    values = np.arange(n, dtype=np.int64) * 7919 - n
    expected = batched(make, values.tolist())
    assert batched(make, tuple(values.tolist())) == expected
    assert batched(make, iter(values.tolist())) == expected
    assert batched(make, values) == expected
    assert batched(make, values.astype(np.int32)) == expected
    assert batched(make, values[::-1].copy()[::-1]) == expected  # a strided view
    if n <= 1_000:
        assert one_by_one(make, values.tolist()) == expected


@pytest.mark.parametrize("name", MAKERS)
@pytest.mark.parametrize("n", SIZES)
def test_str_and_bytes_from_list_and_numpy_agree(name, n):
    make = MAKERS[name]
    words = [f"w{i}é" if i % 7 == 0 else f"w{i}" for i in range(n)]
    expected = batched(make, words)
    assert batched(make, np.array(words)) == expected  # 'U' array
    assert batched(make, [w.encode() for w in words]) == expected  # bytes are UTF-8
    assert batched(make, np.array([w.encode() for w in words])) == expected  # 'S' array
    assert batched(make, (w for w in words)) == expected


@pytest.mark.parametrize("name", MAKERS)
@pytest.mark.parametrize("n", SIZES)
def test_a_bad_item_raises_after_adding_the_items_before_it(name, n):
    make = MAKERS[name]
    items = [str(i) for i in range(n)]
    s = make()
    with pytest.raises(InvalidTypeError, match="float"):
        s.add_many([*items, 1.5, "never added"])
    assert s == batched(make, items)


@pytest.mark.parametrize("name", MAKERS)
@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ("a str", InvalidTypeError),
        (b"bytes", InvalidTypeError),
        (7, InvalidTypeError),
        (np.zeros(3), InvalidTypeError),
        ([2**64], InvalidInputError),
        ([None], InvalidTypeError),
    ],
)
def test_bad_batches(name, bad, error):
    with pytest.raises(error):
        MAKERS[name]().add_many(bad)


def test_ints_hash_as_eight_little_endian_bytes():
    a, b = HyperLogLog(8), HyperLogLog(8)
    a.add_many([1, -1, 2**63])
    b.add_many(
        [
            (1).to_bytes(8, "little"),
            (2**64 - 1).to_bytes(8, "little"),
            (2**63).to_bytes(8, "little"),
        ]
    )
    assert a == b
    c = HyperLogLog(8)
    c.add_many([True, np.int64(-1), np.uint64(2**63)])
    assert c == a


mmh3 = pytest.importorskip("mmh3")
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@given(st.one_of(st.text(max_size=40), st.binary(max_size=40)))
def test_murmur3_is_bit_for_bit_mmh3(item: str | bytes) -> None:
    # 32-bit: the book KMV keeps mmh3.hash(x) & (2**31 - 1)
    kmv = KMV(16, hash="murmur3", variant="book")
    kmv.add(item)
    assert kmv.values().tolist() == [mmh3.hash(item) & 0x7FFFFFFF]
    # 128-bit: the book Bloom filter indexes are (h1 + i*h2) mod m of mmh3.hash64
    bf = BloomFilter(2048, hash="murmur3", variant="book")
    h1, h2 = mmh3.hash64(item)
    m = bf.num_bits
    assert bf.indexes(item) == [(h1 + i * h2) % m for i in range(bf.num_hashes)]
