"""Type stubs for the Rust extension ``hpkit._native`` (checked by stubtest)."""

import numpy as np
import numpy.typing as npt

__version__: str

def julia_axes(
    width: int, bounds: tuple[float, float, float, float], grid: str
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
def julia_into(
    xs: npt.NDArray[np.float64],
    ys: npt.NDArray[np.float64],
    c: complex,
    max_iter: int,
    out: npt.NDArray[np.int32],
    threads: int | None,
    simd: str,
) -> None: ...
def escape_time_into(
    zs: npt.NDArray[np.complex128],
    c: complex,
    max_iter: int,
    out: npt.NDArray[np.int32],
    threads: int | None,
    simd: str,
) -> None: ...
def simd_paths() -> list[str]: ...
def best_simd() -> str: ...
def cpu_features() -> list[str]: ...
def default_threads() -> int: ...
