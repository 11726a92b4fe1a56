"""Live objects by type, and how they change: the book's heapy/dowser view (chapter 2).

What :func:`heap` counts, exactly:

* every object the cyclic garbage collector tracks (``gc.get_objects()``): instances of
  Python classes, lists, dicts, sets, functions, modules, classes, frames made into
  objects, tuples holding containers ...;
* plus every object that is *not* tracked but referenced *directly* by a tracked one
  (``gc.get_referents``), each once: the ints, floats and strs inside a list or an
  instance, the untracked tuples and dicts holding only atoms. So ``list[int]`` contents
  show up. Untracked objects reachable only through other untracked objects (the ints
  inside an untracked tuple), or only from C data or the stack, are not seen.
* sizes are ``sys.getsizeof``: the object's own bytes, not what it refers to (a list's
  size is its pointer array, not its items).

Cost: about 0.55 s for 200,000 instances plus a list of 1,000,000 ints on this machine
(everything per object runs in C maps; the only Python loop is the per-type sum).
Earlier snapshots, diffs and a running :class:`HeapRecorder`'s records are left out, so
``heap() - heap()`` shows the program's objects, not hpkit's.
"""

from __future__ import annotations

import gc
import io
import itertools
import sys
import threading
import time
import weakref
from collections import Counter
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.table import Table

from hpkit.errors import InvalidInputError
from hpkit.profile._model import HeapRecord, HeapRow

__all__ = ["HeapDiff", "HeapRecorder", "HeapSnapshot", "heap"]

_SHOWN_ROWS = 30  # rows printed by str(); .rows keeps them all


def _type_name(tp: type) -> str:
    module = getattr(tp, "__module__", None)
    qualname = getattr(tp, "__qualname__", tp.__name__)
    if module in (None, "builtins"):
        return str(qualname)
    return f"{module}.{qualname}"


def _human(n: float) -> str:
    sign = "-" if n < 0 else ""
    n = abs(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{sign}{n:,.0f} {unit}" if unit == "B" else f"{sign}{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError  # pragma: no cover


def _render(table: Table) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=100, color_system=None, force_terminal=False).print(table)
    return buffer.getvalue()


class _Rows:
    """What snapshots and diffs share: sorted rows, totals, ``top`` and the table."""

    __slots__ = ("__weakref__", "rows", "total_count", "total_size")
    _signed = False

    def __init__(self, rows: list[HeapRow], total_count: int, total_size: int) -> None:
        self.rows = rows
        self.total_count = total_count
        self.total_size = total_size
        _own(self)

    def _own_ids(self) -> list[int]:
        return [id(self), id(self.rows), *map(id, self.rows)]

    def _heading(self) -> str:
        raise NotImplementedError

    def top(self, n: int) -> list[HeapRow]:
        """The ``n`` first rows (largest total size, or size change, first)."""
        return self.rows[:n]

    def __rich__(self) -> Table:
        sign = "+," if self._signed else ","
        heading = self._heading()
        table = Table(title=heading, title_justify="left", min_width=len(heading))
        table.add_column("type")
        table.add_column("Δ objects" if self._signed else "objects", justify="right")
        table.add_column("Δ size" if self._signed else "size", justify="right")
        if not self._signed:  # shares of a net change (which may cancel out) mislead
            table.add_column("% of size", justify="right")
        whole = self.total_size or 1
        for row in self.rows[:_SHOWN_ROWS]:
            size = ("+" if self._signed and row.size > 0 else "") + _human(row.size)
            share = [] if self._signed else [f"{100 * row.size / whole:.1f}"]
            table.add_row(row.type, format(row.count, sign), size, *share)
        hidden = len(self.rows) - _SHOWN_ROWS
        if hidden > 0:
            table.add_row(f"... {hidden:,} more types")
        total = ("+" if self._signed and self.total_size > 0 else "") + _human(self.total_size)
        table.add_row("total", format(self.total_count, sign), total, style="bold")
        return table

    def __str__(self) -> str:
        return _render(self.__rich__())


class HeapSnapshot(_Rows):
    """Live objects by type at time ``t`` (``time.monotonic``); rows largest first."""

    __slots__ = ("t",)

    def __init__(self, rows: list[HeapRow], total_count: int, total_size: int, t: float) -> None:
        self.t = t
        super().__init__(rows, total_count, total_size)

    def _heading(self) -> str:
        return f"Heap: {self.total_count:,} objects, {_human(self.total_size)}"

    def __sub__(self, other: HeapSnapshot) -> HeapDiff:
        """``later - earlier``: the change per type. Types cut by a ``limit`` in either
        snapshot count as absent there."""
        if not isinstance(other, HeapSnapshot):
            return NotImplemented
        before = {r.type: r for r in other.rows}
        after = {r.type: r for r in self.rows}
        rows = []
        for name in before.keys() | after.keys():
            a = after.get(name)
            b = before.get(name)
            count = (a.count if a else 0) - (b.count if b else 0)
            size = (a.size if a else 0) - (b.size if b else 0)
            if count or size:
                rows.append(HeapRow(name, count, size))
        rows.sort(key=lambda r: (-abs(r.size), -abs(r.count), r.type))
        return HeapDiff(
            rows,
            self.total_count - other.total_count,
            self.total_size - other.total_size,
            self.t - other.t,
        )

    def __repr__(self) -> str:
        return f"<HeapSnapshot {self.total_count:,} objects, {self.total_size:,} bytes>"


class HeapDiff(_Rows):
    """The change between two snapshots: rows hold count and size *deltas*, the largest
    size change (either sign) first; types that did not change are dropped."""

    __slots__ = ("seconds",)

    _signed = True

    def __init__(
        self, rows: list[HeapRow], total_count: int, total_size: int, seconds: float
    ) -> None:
        self.seconds = seconds
        super().__init__(rows, total_count, total_size)

    def _heading(self) -> str:
        return (
            f"Heap change over {self.seconds:.2f} s: {self.total_count:+,} objects, "
            f"{'+' if self.total_size > 0 else ''}{_human(self.total_size)}"
        )

    def __repr__(self) -> str:
        return f"<HeapDiff {self.total_count:+,} objects, {self.total_size:+,} bytes>"


# Snapshots, diffs and running recorders, by id: their objects are not the program's.
# Plain weak references without callbacks (a WeakSet would add objects of its own);
# dead entries are dropped at the next snapshot.
_owned: dict[int, weakref.ref[Any]] = {}


def _own(obj: Any) -> None:
    _owned[id(obj)] = weakref.ref(obj)


def _disown(obj: Any) -> None:
    ref = _owned.get(id(obj))
    if ref is not None and ref() is obj:
        del _owned[id(obj)]


def _bookkeeping() -> set[int]:
    ids = {id(_owned)}
    for key, ref in list(_owned.items()):
        ids.add(id(ref))  # dead or alive, it is in this snapshot's list of objects
        obj = ref()
        if obj is None:
            del _owned[key]
        else:
            ids.update(obj._own_ids())
    return ids


def _sizes(objects: Iterable[Any], count: Counter[type], size: dict[type, int]) -> None:
    objs = objects if isinstance(objects, list) else list(objects)
    types = list(map(type, objs))
    count.update(types)
    try:
        sizes: Iterable[int] = list(map(sys.getsizeof, objs))
    except Exception:  # a broken __sizeof__: measure one by one  # noqa: BLE001
        sizes = [_safe_size(o) for o in objs]
    get = size.get
    for tp, n in zip(types, sizes, strict=True):
        size[tp] = get(tp, 0) + n


def _safe_size(obj: object) -> int:
    try:
        return sys.getsizeof(obj, 0)
    except Exception:  # noqa: BLE001
        return 0


def heap(*, limit: int | None = None, collect: bool = True) -> HeapSnapshot:
    """Count live objects by type (see the module docstring for exactly which).

    ``limit`` keeps only that many rows (the largest by total size); the totals still
    cover every object. ``collect`` first runs the garbage collector, so that unreachable
    cycles waiting for it (not live any more) are not counted, and two snapshots differ
    by what the program keeps, not by when the collector last ran. Takes about half a
    second per million objects.
    """
    if limit is not None and limit < 0:
        raise InvalidInputError(f"limit must be >= 0, got {limit}")
    if collect:
        gc.collect()
    tracked = gc.get_objects()  # first: nothing made below is in it
    t = time.monotonic()
    skip = _bookkeeping()
    if skip:
        tracked = [o for o in tracked if id(o) not in skip]
    is_tracked = gc.is_tracked
    untracked_list = list(itertools.filterfalse(is_tracked, gc.get_referents(*tracked)))
    untracked = dict(zip(map(id, untracked_list), untracked_list, strict=True))
    del untracked_list
    count: Counter[type] = Counter()
    size: dict[type, int] = {}
    _sizes(tracked, count, size)
    _sizes(untracked.values(), count, size)
    del tracked, untracked
    merged: dict[str, list[int]] = {}
    for tp, n in count.items():
        entry = merged.setdefault(_type_name(tp), [0, 0])
        entry[0] += n
        entry[1] += size[tp]
    rows = [HeapRow(name, c, s) for name, (c, s) in merged.items()]
    rows.sort(key=lambda r: (-r.size, -r.count, r.type))
    total_count = sum(r.count for r in rows)
    total_size = sum(r.size for r in rows)
    if limit is not None:
        del rows[limit:]
    return HeapSnapshot(rows, total_count, total_size, t)


class HeapRecorder:
    """Take a heap snapshot every ``every_s`` seconds in a daemon thread (the first at
    :meth:`start`), keeping the ``top`` largest types of each as a :class:`HeapRecord`
    with ``t`` in seconds since the start. The thread never keeps the process alive;
    :meth:`stop` ends it and returns the records. A long run keeps at most
    :attr:`MAX_RECORDS`: when full, every other record is dropped and the interval
    doubles, so the history stays evenly spread and bounded."""

    MAX_RECORDS = 512

    def __init__(self, every_s: float, *, top: int = 30) -> None:
        if not every_s > 0:
            raise InvalidInputError(f"every_s must be > 0, got {every_s}")
        self.every_s = float(every_s)
        self._interval = self.every_s
        self.top = top
        self.records: list[HeapRecord] = []
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0

    def _own_ids(self) -> list[int]:
        ids = [id(self), id(self.records)]
        for record in list(self.records):
            ids += [id(record), id(record.rows)]
            ids.extend(map(id, record.rows))
        return ids

    def start(self) -> HeapRecorder:
        if self._thread is not None:
            raise InvalidInputError("this HeapRecorder was started already")
        self._t0 = time.monotonic()
        _own(self)
        self._thread = threading.Thread(target=self._run, name="hpkit-heap-recorder", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while True:
                snapshot = heap(limit=self.top)
                self.records.append(HeapRecord(snapshot.t - self._t0, snapshot.rows))
                _disown(snapshot)
                if len(self.records) >= self.MAX_RECORDS:
                    del self.records[1::2]
                    self._interval *= 2
                if self._stop.wait(self._interval):
                    return
        except BaseException as exc:  # noqa: BLE001 - reported by stop(), never lost
            self.error = exc

    def stop(self) -> list[HeapRecord]:
        """Stop recording (waiting for a snapshot in progress) and return the records."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        _disown(self)
        return self.records

    def __enter__(self) -> HeapRecorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _warm_up() -> None:
    """Fill the lazy caches a first snapshot would otherwise fill (ABC caches of
    ``Counter.update``, the rich table types), so ``heap() - heap()`` is empty even for
    the first two snapshots of a process."""
    count: Counter[type] = Counter()
    _sizes([0, "", 0.0, (), [], {}], count, {})
    _render(HeapDiff([HeapRow("x", 1, 1)], 1, 1, 0.0).__rich__())


_warm_up()
