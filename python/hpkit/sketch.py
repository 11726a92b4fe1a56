"""Compact, mergeable, picklable probabilistic data structures (the book's chapter 11).

=========================  ==============================================  =============
class                      answers                                         merge (``|``)
=========================  ==============================================  =============
:class:`MorrisCounter`     how many events, in ``log log n`` bits          ``default``
:class:`KMV`               how many distinct items (k minimum values)      yes
:class:`LogLog`            how many distinct items                         yes
:class:`HyperLogLog`       how many distinct items (HLL++: sparse, then    yes
                           dense registers)
:class:`BloomFilter`       "seen it before?" at a bounded error rate       yes
:class:`ScalingBloomFilter` the same, growing without a set capacity       no
:class:`CountMinSketch`    how often, never under-counting                 yes
=========================  ==============================================  =============

Every structure takes items as ``str``, ``bytes`` or ``int`` - one at a time with
``add(x)`` or in bulk with ``add_many(items)`` from a list, any iterable, or a numpy
integer/``S``/``U`` array (hashed in Rust, without the GIL). A ``str`` hashes as its
UTF-8 bytes and an ``int`` as its 8 little-endian two's-complement bytes, so ``5`` and
``"5"`` are different items.

Hashing is ``hash="xxh3"`` by default (fast) or ``hash="murmur3"``, bit for bit the
``mmh3`` package; ``variant="book"`` with ``hash="murmur3"`` replays the book's numbers
exactly (the ``countmemaybe`` package's semantics, quirks included - see
``hpkit.reference.sketch`` and WORKLOADS.md ch11), while the default variant is the best
modern estimator.

Every structure round-trips through ``to_bytes()``/``from_bytes()`` (versioned and
CRC-checked: corrupted bytes raise :class:`hpkit.errors.CorruptDataError`, a
``ValueError``) and through pickle, compares with ``==``, and reports ``nbytes``.
"""

from __future__ import annotations

from hpkit._native import (
    KMV,
    BloomFilter,
    CountMinSketch,
    HyperLogLog,
    LogLog,
    MorrisCounter,
    ScalingBloomFilter,
)

__all__ = [
    "KMV",
    "BloomFilter",
    "CountMinSketch",
    "HyperLogLog",
    "LogLog",
    "MorrisCounter",
    "ScalingBloomFilter",
]
