"""hpkit: the *High Performance Python* path as one toolkit, with a Rust core.

* :mod:`hpkit.kernels` - fast kernels (the Julia set, ...) that release the GIL, use every
  core and SIMD, and take numpy arrays without copies.
* :mod:`hpkit.sketch` - compact, mergeable, picklable probabilistic data structures
  (Morris, KMV, LogLog, HyperLogLog, Bloom, scalable Bloom, Count-Min).
* :mod:`hpkit.text` - a compact, memory-mapped token set and multi-pattern matching.
* :mod:`hpkit.reference` - the book's pure-Python and numpy versions, the oracles.
* :mod:`hpkit.machine` - what this machine is and its measured limits.
* :mod:`hpkit.lab` - every chapter's experiment, reproduced and timed (``hpkit lab``).
"""

from __future__ import annotations

from hpkit import kernels, sketch, text
from hpkit._native import __version__
from hpkit.errors import (
    CorruptDataError,
    HpkitError,
    HpkitOverflowError,
    InvalidInputError,
    InvalidTypeError,
    TooLargeError,
    UnsupportedError,
)

__all__ = [
    "CorruptDataError",
    "HpkitError",
    "HpkitOverflowError",
    "InvalidInputError",
    "InvalidTypeError",
    "TooLargeError",
    "UnsupportedError",
    "__version__",
    "kernels",
    "sketch",
    "text",
]
