"""WORKLOADS.md chapter 11 known answers, reproduced by :mod:`hpkit.reference`: the
containers of W11.1, the token stream of W11.2 and the probabilistic counters of W11.3
(all at the book's N = 1,000,000; the pure-Python references take ~15 s together)."""

from __future__ import annotations

import array
import itertools
import math
import random
import sys

import numpy as np
import pytest

from hpkit.reference import sketch, splitmix

mmh3 = pytest.importorskip("mmh3")

N = 1_000_000


@pytest.fixture(scope="module")
def items() -> list[str]:
    return [str(i) for i in range(N)]


def test_splitmix64_conventions() -> None:
    assert splitmix.splitmix64_output(0, 0) == 16_294_208_416_658_607_535 == 0xE220A8397B1DCDAF
    assert splitmix.splitmix64_output(1, 0) == 10_451_216_379_200_822_465
    stream = splitmix.splitmix64(11)
    first = [next(stream) for _ in range(1000)]
    assert splitmix.splitmix64_numpy(11, 1000).tolist() == first
    assert splitmix.splitmix64_numpy(11, 10, start=990).tolist() == first[990:]
    assert splitmix.unit_floats_numpy(np.array(first, dtype=np.uint64)).tolist() == [
        splitmix.unit_float(z) for z in first
    ]


# --- W11.1 ------------------------------------------------------------------------------


def test_containers_of_numbers_sizes() -> None:
    """W11.1's per-item costs (CPython 64-bit), measured at a smaller N."""
    n = 100_000
    assert sys.getsizeof(list(range(n))) == 8 * n + 56
    assert all(sys.getsizeof(v) == 28 for v in (257, 2**29, n - 1))
    assert array.array("l").itemsize == 8 and array.array("i").itemsize == 4
    assert np.arange(n, dtype=np.int64).nbytes == 8 * n
    big = 10_000_000
    assert big * (big - 1) // 2 == 49_999_995_000_000
    assert (big - 257) * 28 == 279_992_804  # int objects above the small-int cache


# --- W11.2 ------------------------------------------------------------------------------


def test_wordfreq_vocabulary() -> None:
    pytest.importorskip("wordfreq")
    from hpkit.reference import tokens

    vocab = tokens.vocabulary()
    assert len(vocab) == 321_180 == tokens.VOCABULARY_SIZE
    assert len(set(vocab)) == len(vocab)
    assert vocab[:5] == ("the", "to", "and", "of", "a")


def test_english_words() -> None:
    pytest.importorskip("english_words")
    from hpkit.reference import tokens

    assert len(tokens.english_words()) == 340_994


def test_zipf_stream_known_answers() -> None:
    pytest.importorskip("wordfreq")
    from hpkit.reference import tokens

    ranks = tokens.zipf_ranks(8_000_000)
    for n, distinct, the, total in (
        (1_000_000, 149_612, 75_618, 24_231_748_592),
        (8_000_000, 307_067, 603_961, 193_991_393_599),
    ):
        head = ranks[:n]
        assert len(np.unique(head)) == distinct
        assert int(np.count_nonzero(head == 1)) == the
        assert int(head.sum()) == total
    assert tokens.zipf_tokens(10) == [
        "they", "be", "normally", "human", "a",
        "oil", "to", "checkpoint", "more", "stratovolcano",
    ]  # fmt: skip
    # the numpy blocks, random access and the one-at-a-time definition agree
    python = list(itertools.islice(tokens.zipf_ranks_python(), 3000))
    assert python == ranks[:3000].tolist()
    assert np.array_equal(tokens.zipf_ranks(5000, start=1_048_000), ranks[1_048_000:1_053_000])


# --- W11.3 ------------------------------------------------------------------------------


def test_murmur3_conventions(items: list[str]) -> None:
    assert mmh3.hash("foo") == -156_908_512
    assert mmh3.hash64("foo") == (-2_129_773_440_516_405_919, 9_128_664_383_759_220_103)
    assert len({mmh3.hash(s) for s in items}) == 999_880
    assert sketch.int_key(-2) == b"\xfe" + b"\xff" * 7


def test_hyperloglog_countmemaybe(items: list[str]) -> None:
    hll = sketch.HyperLogLog(16)
    hll.add_many(items)
    assert hll.estimate() == 1_002_796.3523436624  # no range correction applies
    assert hll.raw_estimate() == hll.estimate()
    fixed = sketch.HyperLogLog(16, fixed=True)
    fixed.registers = hll.registers
    assert fixed.estimate() == hll.estimate()
    assert sketch.hll_textbook(items, 16) == 1_003_587.182863408


def test_hyperloglog_small_range_correction_log_base() -> None:
    """Few items: the linear-counting branch runs; the book uses log2, fixed uses ln."""
    book, fixed = sketch.HyperLogLog(10), sketch.HyperLogLog(10, fixed=True)
    for s in map(str, range(100)):
        book.add(s)
        fixed.add(s)
    zeros = book.registers.count(0)
    assert book.estimate() == 1024 * math.log(1024 / zeros, 2)  # ln(x)/ln(2), not log2
    assert fixed.estimate() == 1024 * math.log(1024 / zeros)
    assert abs(fixed.estimate() - 100) < 10


def test_kmv(items: list[str]) -> None:
    kmv = sketch.KMinValues(65_536)
    kmv.add_many(items)
    assert kmv.kth_smallest() == 141_200_390
    assert kmv.estimate() == 996_706.4595653383
    small = sketch.KMinValues(65_536)
    small.add_many(items[:1000] * 2)
    assert small.estimate() == 1000.0  # fewer than k distinct keys: the exact count


def test_kmv_chapter_listing(items: list[str]) -> None:
    kmv = sketch.KMinValuesChapter(65_536)
    kmv.add_many(items)
    assert kmv.estimate() == 994_342.6139402173


def test_loglog_and_superloglog(items: list[str]) -> None:
    loglog = sketch.LogLog(16)
    loglog.add_many(items)
    assert loglog.mean_register() == 5.2784576416015625
    assert loglog.registers.count(32) == 21
    assert loglog.estimate() == pytest.approx(1_834_690.42, abs=0.01)
    assert loglog.estimate_durand() == pytest.approx(1_009_846.72, abs=0.01)
    superloglog = sketch.SuperLogLog(16)
    superloglog.registers = loglog.registers
    assert superloglog.estimate() == pytest.approx(664_297.23, abs=0.01)


def test_bloom_parameters_and_indexes() -> None:
    assert sketch.bloom_params(2048) == (22_585, 8)
    assert sketch.bloom_params(1_048_576) == (11_563_438, 8)
    assert sketch.bloom_params(1_048_576, 0.0025) == (13_076_213, 9)
    bloom = sketch.BloomFilter(2048)
    assert (bloom.num_bits, bloom.num_hashes) == (22_585, 8)
    assert bloom.indexes("foo") == [13141, 7699, 2257, 19400, 13958, 8516, 3074, 20217]
    assert not any(bloom.bits)  # zeroed, unlike the listing's uninitialised bitarray
    assert "foo" not in bloom
    assert bloom.add("foo") is False and "foo" in bloom and bloom.add("foo") is True
    assert bloom.bits_set == 8
    assert bloom.estimate() == pytest.approx(-22_585 * math.log(1 - 8 / 22_585) / 8)


def test_bloom_false_positive_rate_near_target() -> None:
    bloom = sketch.BloomFilter(20_000, 0.01)
    for i in range(20_000):
        bloom.add(str(i))
    assert all(str(i) in bloom for i in range(20_000))
    fp = sum(f"x{i}" in bloom for i in range(50_000)) / 50_000
    assert 0.005 < fp < 0.015
    assert abs(bloom.estimate() - 20_000) / 20_000 < 0.01


def test_scaling_bloom_filter(items: list[str]) -> None:
    scaling = sketch.ScalingBloomFilter(1_048_576)
    scaling.add_many(items)
    assert scaling.estimate() == 1_000_110.653608727
    assert len(scaling.filters) == 2 and scaling.skipped == 386
    assert [round(b.estimate(), 2) for b in scaling.filters] == [839_348.45, 160_762.2]
    assert [b.error_rate for b in scaling.filters] == [0.005, 0.0025]
    assert all(s in scaling for s in items[::1000])


def test_morris_counter() -> None:
    counter = sketch.MorrisCounter(random.Random(0))
    counter.add_many(range(N))
    assert counter.counter == 20
    assert counter.estimate() == 1_048_576.0 == len(counter)
    assert counter.unbiased_estimate() == 1_048_575.0
