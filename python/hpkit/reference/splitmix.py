"""SplitMix64, the portable generator of the synthetic workloads (WORKLOADS.md, top).

State ``s`` starts at the seed; each output: ``s += 0x9E3779B97F4A7C15``, then the mix
``z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27; z *= 0x94D049BB133111EB;
z ^= z >> 31`` (all mod 2**64). The state is a Weyl sequence, so output ``k`` can also be
computed directly (:func:`splitmix64_output`) and a whole block at once with numpy's
wrapping uint64 arithmetic (:func:`splitmix64_numpy`). Seed 0 gives 16294208416658607535
first, seed 1 gives 10451216379200822465.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

MASK64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15
#: 2**-53: ``(z >> 11) * UNIT`` maps an output to [0, 1) with 53 bits
UNIT = 1.0 / 9007199254740992.0


def splitmix64(seed: int) -> Iterator[int]:
    """The sequential SplitMix64 stream of WORKLOADS.md (``s += γ``, then mix)."""
    state = seed & MASK64
    while True:
        state = (state + GAMMA) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        yield z ^ (z >> 31)


def splitmix64_output(seed: int, k: int) -> int:
    """Output ``k`` (0-based) of SplitMix64 seeded with ``seed``: ``mix(seed + (k+1)·γ)``."""
    z = (seed + (k + 1) * GAMMA) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def mix_numpy(z: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The output mix applied to a uint64 array of states (wraps modulo 2**64)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def splitmix64_numpy(seed: int, n: int, start: int = 0) -> npt.NDArray[np.uint64]:
    """Outputs ``start .. start + n - 1`` of the stream as a uint64 array."""
    k = np.arange(start + 1, start + n + 1, dtype=np.uint64)
    return mix_numpy(np.uint64(seed & MASK64) + k * np.uint64(GAMMA))


def unit_float(z: int) -> float:
    """``(z >> 11) * 2**-53``: an output mapped to [0, 1)."""
    return (z >> 11) * UNIT


def unit_floats_numpy(z: npt.NDArray[np.uint64]) -> npt.NDArray[np.float64]:
    """:func:`unit_float` for a uint64 array (exact: 53-bit integers times a power of 2)."""
    return (z >> np.uint64(11)).astype(np.float64) * UNIT
