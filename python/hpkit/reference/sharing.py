"""Chapter 9's shared state between processes, as the book writes it with the stdlib.

* :func:`count_with_processes` - W9.4: several processes increment one shared integer.
  With a lock the total is exact every run (4 x 1,000 -> 4,000); without one, increments
  are lost non-deterministically (read-modify-write races), which is the chapter's point.
* :func:`fill_shared_rows` - W9.5: a ``multiprocessing.Array`` of doubles (no lock) viewed
  as a 2-D numpy array without a copy; a pool of workers overwrites rows, worker ``w``
  taking the rows ``r`` with ``r % workers == w`` and writing ``w``.
"""

from __future__ import annotations

import ctypes
import multiprocessing
from typing import Any

import numpy as np
import numpy.typing as npt

_shared: Any = None  # set in each pool worker by the initializer


def _increment(counter: Any, lock: Any, increments: int) -> None:
    for _ in range(increments):
        if lock is None:
            counter.value += 1
        else:
            with lock:
                counter.value += 1


def count_with_processes(processes: int = 4, increments: int = 1000, *, lock: bool = True) -> int:
    """Final value of a shared counter after ``processes`` x ``increments`` increments
    (``RawValue`` + an explicit ``Lock``, or no lock at all)."""
    counter = multiprocessing.RawValue(ctypes.c_long, 0)
    guard = multiprocessing.Lock() if lock else None
    workers = [
        multiprocessing.Process(target=_increment, args=(counter, guard, increments))
        for _ in range(processes)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return int(counter.value)


def _attach(shared: Any) -> None:
    global _shared
    _shared = shared


def _as_array(shared: Any, shape: tuple[int, int]) -> npt.NDArray[np.float64]:
    return np.frombuffer(shared, dtype=np.float64).reshape(shape)


def _fill(task: tuple[int, int, tuple[int, int]]) -> int:
    worker, workers, shape = task
    grid = _as_array(_shared, shape)
    grid[worker::workers, :] = worker
    return worker


def fill_shared_rows(
    rows: int = 2000, cols: int = 2000, workers: int = 4
) -> tuple[npt.NDArray[np.float64], bool]:
    """Fill a shared ``rows x cols`` array from ``workers`` processes.

    Returns the parent's numpy view (no copy was made: it is the shared buffer) and whether
    the view's data pointer is the shared buffer's address, before and after the pool ran.
    """
    shared: Any = multiprocessing.Array(ctypes.c_double, rows * cols, lock=False)  # raw ctypes
    grid = _as_array(shared, (rows, cols))
    grid.fill(42.0)
    address = ctypes.addressof(shared)
    zero_copy = grid.ctypes.data == address
    with multiprocessing.Pool(workers, initializer=_attach, initargs=(shared,)) as pool:
        pool.map(_fill, [(w, workers, (rows, cols)) for w in range(workers)])
    return grid, zero_copy and grid.ctypes.data == ctypes.addressof(shared)
