"""The text workloads of chapters 11 and 12: a real vocabulary and a seeded Zipf stream.

No network at run time: the words come from PyPI packages (WORKLOADS.md W11.2).

* :func:`vocabulary` - ``wordfreq`` 3.1's English 'best' frequency dictionary (321,180
  words), by descending frequency, ties by ascending code points ('the' is rank 1).
* :func:`zipf_ranks` / :func:`zipf_tokens` - the stream: rank ``r`` with weight ``1/r``;
  the cumulative sums ``c_r`` are accumulated sequentially in float64; token ``j`` is the
  word of the smallest rank with ``c_r > unit_float(z_j)·c_V``, ``z`` the SplitMix64
  stream of seed 11. The first 1,000,000 tokens hold 149,612 distinct words ('the'
  75,618 times, ranks summing to 24,231,748,592); the first 8,000,000 hold 307,067.
  :func:`zipf_ranks_python` is the same stream one token at a time, without numpy.
* :func:`english_words` - ``english-words`` 2.0's web2 + gcide lists (340,994 words).
* :func:`match_workload` - chapter 12: patterns = vocabulary ranks 1,001..11,000, text =
  the first 200,000 stream tokens joined by single spaces (1,192,501 code points).
"""

from __future__ import annotations

import bisect
import functools
import itertools
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from hpkit.reference.splitmix import splitmix64, splitmix64_numpy, unit_float, unit_floats_numpy

#: the stream's seed (WORKLOADS.md W11.2)
SEED = 11
#: the vocabulary's size with wordfreq 3.1
VOCABULARY_SIZE = 321_180
#: the stream is generated in blocks of this many tokens (bounded memory at any n)
BLOCK = 1 << 20


@functools.cache
def vocabulary() -> tuple[str, ...]:
    """wordfreq's English 'best' words, most frequent first, ties by code points.

    ``get_frequency_dict`` is used rather than ``top_n_list``, which drops some words
    (it returns 319,938 of the 321,180).
    """
    import wordfreq

    frequencies = wordfreq.get_frequency_dict("en", wordlist="best")
    ordered = sorted(frequencies.items(), key=lambda item: (-item[1], item[0]))
    return tuple(word for word, _ in ordered)


@functools.cache
def _cumulative_weights(size: int) -> npt.NDArray[np.float64]:
    # np.cumsum adds sequentially (left to right), as the definition requires
    return np.cumsum(1.0 / np.arange(1, size + 1, dtype=np.float64))


def zipf_ranks(
    n: int, seed: int = SEED, size: int = VOCABULARY_SIZE, start: int = 0
) -> npt.NDArray[np.int64]:
    """1-based ranks of stream tokens ``start .. start + n - 1`` as an int64 array."""
    cumulative = _cumulative_weights(size)
    total = cumulative[-1]
    out = np.empty(n, dtype=np.int64)
    with np.errstate(over="ignore"):
        for offset in range(0, n, BLOCK):
            count = min(BLOCK, n - offset)
            u = unit_floats_numpy(splitmix64_numpy(seed, count, start + offset))
            out[offset : offset + count] = np.searchsorted(cumulative, u * total, side="right")
    out += 1
    return out


def zipf_ranks_python(seed: int = SEED, size: int = VOCABULARY_SIZE) -> Iterator[int]:
    """The stream's ranks one at a time, in plain Python (the definition, slowly)."""
    cumulative = list(itertools.accumulate(1.0 / r for r in range(1, size + 1)))
    total = cumulative[-1]
    for z in splitmix64(seed):
        yield bisect.bisect_right(cumulative, unit_float(z) * total) + 1


def zipf_tokens(n: int, seed: int = SEED, start: int = 0) -> list[str]:
    """Stream tokens ``start .. start + n - 1`` as words of :func:`vocabulary`.

    Equal words are the same ``str`` object (the vocabulary's); ``" ".join(...).split()``
    gives separate objects, as reading the stream from a file would.
    """
    words = vocabulary()
    return [words[r - 1] for r in zipf_ranks(n, seed, len(words), start).tolist()]


@functools.cache
def english_words() -> frozenset[str]:
    """``english-words`` web2 + gcide, case and punctuation kept (340,994 words)."""
    from english_words import get_english_words_set

    return frozenset(get_english_words_set(["web2", "gcide"], lower=False, alpha=False))


def match_patterns(first_rank: int = 1_001, count: int = 10_000) -> list[str]:
    """Chapter 12's patterns: the vocabulary's ranks ``first_rank .. first_rank+count-1``."""
    return list(vocabulary()[first_rank - 1 : first_rank - 1 + count])


def match_text(tokens: int = 200_000, seed: int = SEED) -> str:
    """Chapter 12's text: the first ``tokens`` stream tokens joined by single spaces."""
    return " ".join(zipf_tokens(tokens, seed))


def match_workload(
    tokens: int = 200_000, first_rank: int = 1_001, patterns: int = 10_000
) -> tuple[list[str], str]:
    """``(patterns, text)`` of chapter 12 (defaults: WORKLOADS.md's)."""
    return match_patterns(first_rank, patterns), match_text(tokens)
