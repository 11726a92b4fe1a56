"""hpkit: the *High Performance Python* path as one toolkit, with a Rust core.

* :mod:`hpkit.kernels` - fast kernels (the Julia set, ...) that release the GIL, use every
  core and SIMD, and take numpy arrays without copies.
* :mod:`hpkit.sketch` - compact, mergeable, picklable probabilistic data structures
  (Morris, KMV, LogLog, HyperLogLog, Bloom, scalable Bloom, Count-Min).
* :mod:`hpkit.text` - a compact, memory-mapped token set and multi-pattern matching.
* :mod:`hpkit.profile` - a low-overhead profiler: sampling, exact line counts, memory
  (``hpkit profile script.py``; ``%load_ext hpkit`` in IPython).
* :mod:`hpkit.reference` - the book's pure-Python and numpy versions, the oracles.
* :mod:`hpkit.machine` - what this machine is and its measured limits.
* :mod:`hpkit.lab` - every chapter's experiment, reproduced and timed (``hpkit lab``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from hpkit import kernels, sketch, text

#: Imported on first use: ``hpkit profile`` must not load numpy (and its memory) into
#: the program it profiles before the program does.
_LAZY = frozenset({"kernels", "sketch", "text"})


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return importlib.import_module(f"hpkit.{name}")
    raise AttributeError(f"module 'hpkit' has no attribute {name!r}")


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext hpkit``: the ``%hprun``, ``%%hprun`` and ``%hlprun`` magics."""
    from hpkit.profile._magics import load_ipython_extension as load

    load(ipython)


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
    "load_ipython_extension",
    "sketch",
    "text",
]
