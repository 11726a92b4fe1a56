"""The hpkit exception hierarchy.

Every error hpkit raises for bad input or an impossible request derives from
:class:`HpkitError` and also from the stdlib exception whose meaning matches, so
``except ValueError`` keeps working. The Rust extension maps each of its crates' error
enums onto these classes in one place (``crates/hpkit-py/src/errors.rs``).
Ctrl-C during a long call raises the ordinary :class:`KeyboardInterrupt`.
"""

from __future__ import annotations


class HpkitError(Exception):
    """Base class of every hpkit error."""


class InvalidInputError(HpkitError, ValueError):
    """An argument is outside its domain: negative size, NaN, unknown option, bad shape."""


class InvalidTypeError(HpkitError, TypeError):
    """An argument has the wrong type or dtype."""


class CorruptDataError(HpkitError, ValueError):
    """Serialised bytes are truncated, corrupted or of another kind/version (checked by a
    CRC-32 and every field's bounds), so nothing was loaded."""


class TooLargeError(HpkitError, MemoryError):
    """The result would not fit in this machine's memory."""


class UnsupportedError(HpkitError, ValueError):
    """The request needs something this machine lacks (e.g. a SIMD instruction set)."""


class BusyError(HpkitError, RuntimeError):
    """The resource is in use: e.g. a profiling session is already running in this
    process (sampling and allocator hooks are process-wide)."""


class HpkitOverflowError(HpkitError, OverflowError):
    """An exact integer result is larger than the kernel can carry (e.g. a sum of squares
    beyond 2**128 - 1); hpkit raises rather than wrap around as numpy's int64 does."""


__all__ = [
    "CorruptDataError",
    "HpkitError",
    "BusyError",
    "HpkitOverflowError",
    "InvalidInputError",
    "InvalidTypeError",
    "TooLargeError",
    "UnsupportedError",
]
