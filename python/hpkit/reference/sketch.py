"""Probabilistic counting as the book (chapter 11) and ``countmemaybe`` write it.

Readable pure Python on MurmurHash3 from :mod:`mmh3` (seed 0): ``mmh3.hash`` is a signed
32-bit int, ``mmh3.hash64`` a pair of signed 64-bit ints from the x64 128-bit variant.
These are the oracles of :mod:`hpkit.sketch` in ``variant="book", hash="murmur3"`` mode,
which must reproduce them exactly. WORKLOADS.md W11.3 gives the known answers for the
items ``str(i)``, ``i < 1,000,000``:

* :class:`HyperLogLog` (countmemaybe, b = 16): 1,002,796.3523436624; :func:`hll_textbook`
  (top-b index of the unsigned hash) 1,003,587.182863408.
* :class:`KMinValues` (countmemaybe, k = 65,536): 996,706.4595653383, kth smallest key
  141,200,390; :class:`KMinValuesChapter` (the chapter's listing) 994,342.6139402173.
* :class:`LogLog` (p = 16): 1,834,690.42, mean register 5.2784576416015625, 21 registers
  at 32; with Durand-Flajolet's constant 1,009,846.72; :class:`SuperLogLog` 664,297.23.
* :class:`BloomFilter`: capacity 2,048 -> 22,585 bits, 8 hashes; :class:`ScalingBloomFilter`
  (capacity 1,048,576): 1,000,110.653608727 from 2 filters, 386 keys skipped.
* :class:`MorrisCounter` on ``random.Random(0)``: c = 20 after 1,000,000 adds.

Where the book or the package has a bug, the class keeps the book's behaviour (it is the
reference for ``variant="book"``) and its docstring says what the correct one is; the
``fixed`` switches give the corrected formulas where that is a one-line change.

Items are ``str`` or ``bytes`` (``mmh3`` hashes a ``str`` as its UTF-8 bytes); use
:func:`int_key` for integers, the 8-byte little-endian two's complement hpkit hashes.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterable
from typing import Any

import mmh3

Item = str | bytes

MASK32 = (1 << 32) - 1
#: countmemaybe's KMV keys: the low 31 bits of the signed hash
MASK31 = (1 << 31) - 1


def int_key(value: int) -> bytes:
    """The bytes hpkit hashes for an integer: 8-byte little-endian two's complement."""
    return value.to_bytes(8, "little", signed=True)


def hash32(item: Item) -> int:
    """MurmurHash3 x86_32, seed 0, as a signed 32-bit int (``mmh3.hash``)."""
    return int(mmh3.hash(item))


def hll_alpha(m: int) -> float:
    """The HyperLogLog bias constant for ``m`` registers."""
    if m >= 128:
        return 0.7213 / (1.0 + 1.079 / m)
    return {16: 0.673, 32: 0.697, 64: 0.709}[m]


# --- HyperLogLog ------------------------------------------------------------------------


class HyperLogLog:
    """countmemaybe's HyperLogLog with ``2**b`` registers.

    For the signed 32-bit hash ``x``: ``width = 31 - b``; the register index is bits
    ``[width, 31)`` of ``x`` - the package indexes a list with ``x >> width``, which for a
    negative ``x`` wraps around from the end, so the sign bit is dropped; the rank is 1 +
    the leading zeros of the low ``width`` bits within ``width`` bits (``width + 1`` when
    they are all zero). Only 31 of the 32 hash bits are used.

    Bugs kept (``fixed=False``, the book's numbers): both range corrections use ``log2``
    where the published algorithm uses the natural log, and the large-range constant
    assumes a 32-bit hash. ``fixed=True`` uses ``ln``. Neither branch runs at the book's
    sizes (1e6 items, b = 16).
    """

    def __init__(self, b: int = 16, *, fixed: bool = False) -> None:
        if not 4 <= b <= 30:
            raise ValueError(f"b must be in 4..30, got {b}")
        self.b = b
        self.m = 1 << b
        self.width = 31 - b
        self.fixed = fixed
        self.registers = [0] * self.m

    def add(self, item: Item) -> None:
        x = hash32(item) & MASK32
        index = (x >> self.width) & (self.m - 1)
        w = x & ((1 << self.width) - 1)
        rank = self.width - w.bit_length() + 1
        if rank > self.registers[index]:
            self.registers[index] = rank

    def add_many(self, items: Iterable[Item]) -> None:
        for item in items:
            self.add(item)

    def raw_estimate(self) -> float:
        """``alpha·m²/Σ 2**-M[j]`` (the sum of powers of two is exact in any order)."""
        m = self.m
        return hll_alpha(m) * m * m / math.fsum(2.0**-r for r in self.registers)

    def estimate(self) -> float:
        m = self.m
        base = math.e if self.fixed else 2.0  # math.log(x, 2), as the package: ln(x)/ln(2)
        estimate = self.raw_estimate()
        if estimate <= 2.5 * m:
            zeros = self.registers.count(0)
            if zeros:
                estimate = m * math.log(m / zeros, base)
        elif estimate > 2**32 / 30.0:
            estimate = -(2**32) * math.log(1 - estimate / 2**32, base)
        return estimate

    def __len__(self) -> int:
        return round(self.estimate())


def hll_textbook(items: Iterable[Item], b: int = 16) -> float:
    """Flajolet et al.'s HyperLogLog on the unsigned 32-bit hash: index = top ``b`` bits,
    rank over the other ``32 - b`` bits, natural-log corrections. Not the book's
    reference - WORKLOADS.md quotes it for contrast."""
    m, width = 1 << b, 32 - b
    registers = [0] * m
    for item in items:
        x = hash32(item) & MASK32
        rank = width - (x & ((1 << width) - 1)).bit_length() + 1
        index = x >> width
        if rank > registers[index]:
            registers[index] = rank
    estimate = hll_alpha(m) * m * m / math.fsum(2.0**-r for r in registers)
    if estimate <= 2.5 * m and registers.count(0):
        estimate = m * math.log(m / registers.count(0))
    elif estimate > 2**32 / 30.0:
        estimate = -(2**32) * math.log(1 - estimate / 2**32)
    return estimate


# --- K-Minimum Values -------------------------------------------------------------------


class KMinValues:
    """countmemaybe's KMV: keep the ``k`` smallest distinct keys ``hash & (2**31 - 1)``;
    fewer than ``k`` -> the exact count, else ``(k - 1)·(2**31 - 1)/kth_smallest``.

    The kept keys are a max-heap (negated) plus a set for "already kept".
    """

    def __init__(self, k: int = 65_536) -> None:
        if k < 2:
            raise ValueError(f"k must be at least 2, got {k}")
        self.k = k
        self._heap: list[int] = []  # negated keys: -heap[0] is the largest kept
        self._kept: set[int] = set()

    def add(self, item: Item) -> None:
        key = hash32(item) & MASK31
        if key in self._kept:
            return
        if len(self._heap) < self.k:
            heapq.heappush(self._heap, -key)
            self._kept.add(key)
        elif key < -self._heap[0]:
            dropped = -heapq.heapreplace(self._heap, -key)
            self._kept.discard(dropped)
            self._kept.add(key)

    def add_many(self, items: Iterable[Item]) -> None:
        for item in items:
            self.add(item)

    def kth_smallest(self) -> int | None:
        return -self._heap[0] if len(self._heap) == self.k else None

    def estimate(self) -> float:
        kth = self.kth_smallest()
        if kth is None:
            return float(len(self._heap))
        return (self.k - 1) * MASK31 / kth

    def __len__(self) -> int:
        return round(self.estimate())


class KMinValuesChapter:
    """The chapter's own KMV listing (a quirk, not the reference): it keeps the ``k``
    smallest distinct *signed* hashes and estimates
    ``(k - 1)·(2**32 - 1)/(kept[-2] + 2**31 - 1)`` - the second-largest kept value,
    shifted to be non-negative. The correct estimator divides by the k-th smallest of
    hashes scaled to [0, 1). (The listing keeps a sorted list; a heap keeps the same set.)
    """

    def __init__(self, k: int = 65_536) -> None:
        self.k = k
        self._heap: list[int] = []  # negated: -heap[0] is the largest kept
        self._kept: set[int] = set()

    def add(self, item: Item) -> None:
        value = hash32(item)
        if value in self._kept:
            return
        if len(self._heap) < self.k:
            heapq.heappush(self._heap, -value)
            self._kept.add(value)
        elif value < -self._heap[0]:
            self._kept.discard(-heapq.heapreplace(self._heap, -value))
            self._kept.add(value)

    def add_many(self, items: Iterable[Item]) -> None:
        for item in items:
            self.add(item)

    @property
    def data(self) -> list[int]:
        """The kept hashes, ascending (the listing's list)."""
        return sorted(-v for v in self._heap)

    def estimate(self) -> float:
        if len(self._heap) <= 2:
            return 0.0
        second_largest = heapq.nsmallest(2, self._heap)[1]
        return (self.k - 1) * MASK32 / float(-second_largest + MASK31)


# --- LogLog and SuperLogLog -------------------------------------------------------------


class LogLog:
    """The chapter's LogLog listing with ``2**p`` registers.

    Index = the low ``p`` bits of the signed hash; ``v = hash >> p`` (arithmetic); rank =
    the 1-based position of the lowest set bit of ``v`` (32 when ``v == 0``).
    Estimate ``2**(mean register)·m·alpha`` with the *HyperLogLog* alpha.

    Defects (kept): the HLL alpha instead of LogLog's α∞ ≈ 0.39701 (+83% at 1e6 items;
    :meth:`estimate_durand` uses α∞); non-negative hashes leave only ``31 - p``
    meaningful bits for the rank, and the sentinel 32 for ``v == 0`` inflates the mean.
    """

    #: Durand and Flajolet's asymptotic constant
    ALPHA_INF = 0.39701

    def __init__(self, p: int = 16) -> None:
        self.p = p
        self.m = 1 << p
        self.registers = [0] * self.m

    def add(self, item: Item) -> None:
        x = hash32(item)
        index = x & (self.m - 1)
        v = x >> self.p
        rank = (v & -v).bit_length() if v else 32
        if rank > self.registers[index]:
            self.registers[index] = rank

    def add_many(self, items: Iterable[Item]) -> None:
        for item in items:
            self.add(item)

    def mean_register(self) -> float:
        return sum(self.registers) / self.m

    def estimate(self) -> float:
        m = self.m
        return float(2 ** self.mean_register()) * m * (0.7213 / (1.0 + 1.079 / m))

    def estimate_durand(self) -> float:
        return float(self.ALPHA_INF * self.m * 2 ** self.mean_register())

    def __len__(self) -> int:
        return round(self.estimate())


class SuperLogLog(LogLog):
    """The chapter's SuperLogLog: :class:`LogLog`'s registers, keep the smallest 70%,
    drop those above ``ceil(log2(nmax/m) + 3)``, HLL alpha on the kept count."""

    def __init__(self, p: int = 16, nmax: int = 1_000_000_000) -> None:
        super().__init__(p)
        self.nmax = nmax

    def estimate(self) -> float:
        m = self.m
        keep = sorted(self.registers)[: int(m * 0.7)]
        bound = math.ceil(math.log(self.nmax / m) / math.log(2.0) + 3)
        keep = [r for r in keep if r <= bound]
        m2 = len(keep)
        return float(2 ** (sum(keep) / m2)) * m2 * (0.7213 / (1.0 + 1.079 / m2))


# --- Bloom filters ----------------------------------------------------------------------


def bloom_params(capacity: int, error_rate: float = 0.005) -> tuple[int, int]:
    """The chapter's sizing: ``(num_bits, num_hashes)``."""
    num_bits = int(-capacity * math.log(error_rate) / math.log(2) ** 2) + 1
    num_hashes = int(num_bits * math.log(2) / float(capacity)) + 1
    return num_bits, num_hashes


def bloom_indexes(item: Item, num_bits: int, num_hashes: int) -> list[int]:
    """``(h1 + i·h2) mod num_bits`` for ``i < num_hashes``, ``(h1, h2) = mmh3.hash64``
    (signed; Python's ``%`` is the mathematical modulo)."""
    h1, h2 = mmh3.hash64(item)
    return [(h1 + i * h2) % num_bits for i in range(num_hashes)]


class BloomFilter:
    """The chapter's Bloom filter: :func:`bloom_params` sizing, :func:`bloom_indexes`,
    and the count estimate ``-m·ln(1 - X/m)/k`` from the ``X`` bits set.

    Quirk not reproduced: the listing allocated its bit array without clearing it (old
    ``bitarray(n)`` returned uninitialised memory); here it starts all zero.
    """

    def __init__(self, capacity: int, error_rate: float = 0.005) -> None:
        self.capacity = capacity
        self.error_rate = error_rate
        self.num_bits, self.num_hashes = bloom_params(capacity, error_rate)
        self.bits = bytearray(self.num_bits)  # one byte per bit: readable, zeroed
        self.bits_set = 0

    def indexes(self, item: Item) -> list[int]:
        return bloom_indexes(item, self.num_bits, self.num_hashes)

    def add(self, item: Item) -> bool:
        """Set the item's bits; ``True`` if they were all set already."""
        present = True
        bits = self.bits
        for j in self.indexes(item):
            if not bits[j]:
                bits[j] = 1
                self.bits_set += 1
                present = False
        return present

    def __contains__(self, item: Item) -> bool:
        bits = self.bits
        return all(bits[j] for j in self.indexes(item))

    def estimate(self) -> float:
        m = self.num_bits
        if self.bits_set >= m:
            return math.inf  # every bit set: the formula's log(0)
        return -m * math.log(1.0 - self.bits_set / m) / self.num_hashes

    def __len__(self) -> int:
        return round(self.estimate())


class ScalingBloomFilter:
    """The book's scaling Bloom filter (after Almeida et al.): a list of
    :class:`BloomFilter` of the same capacity with error rates ``p·ratio**i``.

    ``add`` skips an item any filter already (maybe falsely) holds; otherwise it goes into
    the newest filter and a countdown from ``int(capacity·max_fill)`` is decremented. At
    zero the newest filter's count estimate is compared with that fill: at or above it a
    new filter is added, else the countdown restarts at the fill minus the estimate. The
    estimate is the sum of the filters' estimates.

    Bug kept (``fixed=False``): the restart value ``int(fill - estimate)`` is 0 when the
    estimate is within one item of the fill; the countdown then goes negative, is never 0
    again, and the current filter takes every later item - its false-positive rate
    climbs towards 1. It happens at small capacities (not at W11.3's 1,048,576).
    ``fixed=True`` restarts at 1 instead.
    """

    def __init__(
        self,
        capacity: int,
        error_rate: float = 0.005,
        max_fill: float = 0.8,
        error_tightening_ratio: float = 0.5,
        *,
        fixed: bool = False,
    ) -> None:
        self.capacity = capacity
        self.fixed = fixed
        self.base_error = error_rate
        self.max_fill = max_fill
        self.ratio = error_tightening_ratio
        self.fill = int(capacity * max_fill)
        self.filters: list[BloomFilter] = []
        self.skipped = 0
        self._grow()
        self._until_check = self.fill

    def _grow(self) -> None:
        error = self.base_error * self.ratio ** len(self.filters)
        self.filters.append(BloomFilter(self.capacity, error))

    def __contains__(self, item: Item) -> bool:
        return any(item in bloom for bloom in self.filters)

    def add(self, item: Item) -> bool:
        """Insert ``item``; ``True`` (and nothing inserted) if it seemed present."""
        if item in self:
            self.skipped += 1
            return True
        current = self.filters[-1]
        current.add(item)
        self._until_check -= 1
        if self._until_check == 0:
            size = current.estimate()
            if size >= self.fill:
                self._grow()
                self._until_check = self.fill
            else:
                # the book restarts at int(fill - size), which is 0 when the estimate is
                # within one item of the fill: the countdown then never reaches 0 again
                # and the filter overfills; fixed=True waits at least one more item
                wait = int(self.fill - size)
                self._until_check = max(1, wait) if self.fixed else wait
        return False

    def add_many(self, items: Iterable[Item]) -> None:
        for item in items:
            self.add(item)

    def estimate(self) -> float:
        return sum(bloom.estimate() for bloom in self.filters)

    def __len__(self) -> int:
        return round(self.estimate())


# --- Morris counter ---------------------------------------------------------------------


class MorrisCounter:
    """The book's Morris counter: increment ``c`` with probability ``2**-c``.

    The book's estimate is ``2**c`` (kept); the unbiased one is ``2**c - 1``
    (:meth:`unbiased_estimate`). ``rng`` is a ``random.Random`` (``random.Random(0)``
    gives c = 20 after 1,000,000 adds).
    """

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng if rng is not None else random.Random()
        self.counter = 0

    def add(self, item: Any = None) -> None:
        if self.rng.random() < 1.0 / (2**self.counter):
            self.counter += 1

    def add_many(self, items: Iterable[Any]) -> None:
        for item in items:
            self.add(item)

    def estimate(self) -> float:
        return float(2**self.counter)

    def unbiased_estimate(self) -> float:
        return float(2**self.counter - 1)

    def __len__(self) -> int:
        return 2**self.counter
