"""The profile every mode produces and every output reads.

One :class:`Profile` holds what a run measured, whatever the mode:

* ``samples``: aggregated stack samples (``sample`` and ``lines`` modes). Each row is one
  distinct (process, thread, state, stack) with how many samples hit it and the wall time
  they stand for. Aggregation keeps the size bounded on a long run: it grows with the
  number of distinct stacks, not with time.
* ``allocations``: aggregated allocation stacks (``memory`` mode), in bytes estimated
  from sampled allocations.
* ``hits``: exact per-line hit counts of the functions instrumented in ``lines`` mode.
* ``freed``: bytes freed per line (``memory`` mode).
* ``timeline``: RSS and estimated Python heap over time (``memory`` mode).
* ``heap_timeline``: live objects by type, recorded every ``--heap-every`` seconds.

A stack is a tuple of ``(frame index, line)`` pairs from the root (outermost call) to the
leaf (where the thread was); frame indexes point into ``frames``. Profiles of child
processes are merged into their parent's with :meth:`Profile.merge`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Mode = Literal["sample", "lines", "memory"]
#: ``python``: running Python bytecode; ``native``: inside a call into C/Rust (numpy, I/O
#: libraries, ...) and on a CPU; ``idle``: off the CPU - sleeping, blocked on I/O or a
#: lock, or waiting for the GIL.
State = Literal["python", "native", "idle"]
STATES: tuple[State, ...] = ("python", "native", "idle")

Stack = tuple[tuple[int, int], ...]
LineKey = tuple[str, int]

FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Frame:
    """A function: where its code starts. ``name`` is the qualified name (``Cls.method``)."""

    name: str
    filename: str
    firstlineno: int

    @property
    def pstats_key(self) -> tuple[str, int, str]:
        return (self.filename, self.firstlineno, self.name)

    @property
    def label(self) -> str:
        return f"{self.name} ({Path(self.filename).name}:{self.firstlineno})"


@dataclass(slots=True)
class StackSample:
    """Samples that saw ``thread`` in ``state`` at ``stack``: how many, and the wall
    seconds they stand for (each sample stands for the time since the previous one)."""

    thread: str
    state: State
    stack: Stack
    count: int
    seconds: float


@dataclass(slots=True)
class AllocationSample:
    """Bytes allocated at ``stack`` (estimated from sampled allocations) and how many
    allocations they stand for; ``live_bytes`` of them were still alive at the end."""

    thread: str
    stack: Stack
    bytes: float
    count: float
    live_bytes: float = 0.0


@dataclass(frozen=True, slots=True)
class MemoryPoint:
    """Seconds since the start, resident set size and estimated live Python heap, bytes."""

    t: float
    rss: int
    heap: float


@dataclass(frozen=True, slots=True)
class HeapRow:
    """Live objects of one type: how many and their total ``sys.getsizeof`` bytes."""

    type: str
    count: int
    size: int


@dataclass(slots=True)
class HeapRecord:
    """The heap by type at ``t`` seconds since the start (``--heap-every``)."""

    t: float
    rows: list[HeapRow]


@dataclass(slots=True)
class LineRow:
    """One source line as the outputs show it (see :meth:`Profile.line_table`)."""

    filename: str
    lineno: int
    hits: int | None = None
    seconds: float = 0.0  # inclusive: time with this line anywhere on the stack
    self_seconds: float = 0.0  # time with this line as the innermost frame
    samples: int = 0
    alloc_bytes: float = 0.0
    alloc_count: float = 0.0
    freed_bytes: float = 0.0


@dataclass(slots=True)
class Profile:
    """Everything one run measured; see the module docstring."""

    mode: Mode
    command: list[str] = field(default_factory=list)
    started: float = 0.0  # unix time
    duration: float = 0.0  # wall seconds
    rate_hz: float = 0.0
    frames: list[Frame] = field(default_factory=list)
    samples: list[StackSample] = field(default_factory=list)
    allocations: list[AllocationSample] = field(default_factory=list)
    hits: dict[LineKey, int] = field(default_factory=dict)
    calls: dict[int, int] = field(default_factory=dict)  # frame index -> exact calls (lines)
    freed: dict[LineKey, float] = field(default_factory=dict)
    timeline: list[MemoryPoint] = field(default_factory=list)
    heap_timeline: list[HeapRecord] = field(default_factory=list)
    peak_rss: int = 0
    peak_heap: float = 0.0
    processes: list[int] = field(default_factory=list)
    exit_code: int = 0
    error: str | None = None  # the exception that ended the program, one line
    dropped_samples: int = 0  # samples not kept because the stack table was full

    # ----------------------------------------------------------------- derived views

    @property
    def total_seconds(self) -> float:
        return sum(s.seconds for s in self.samples)

    @property
    def total_samples(self) -> int:
        return sum(s.count for s in self.samples)

    def threads(self) -> list[str]:
        return sorted({s.thread for s in self.samples} | {a.thread for a in self.allocations})

    def seconds_by_state(self) -> dict[State, float]:
        out: dict[State, float] = dict.fromkeys(STATES, 0.0)
        for s in self.samples:
            out[s.state] += s.seconds
        return out

    def function_table(
        self, states: Iterable[State] = ("python", "native")
    ) -> list[tuple[Frame, float, float, int]]:
        """``(frame, self seconds, inclusive seconds, samples)`` per function, by self
        time; idle samples are left out unless asked for."""
        wanted = set(states)
        self_s: dict[int, float] = {}
        incl_s: dict[int, float] = {}
        count: dict[int, int] = {}
        for s in self.samples:
            if s.state not in wanted or not s.stack:
                continue
            leaf = s.stack[-1][0]
            self_s[leaf] = self_s.get(leaf, 0.0) + s.seconds
            for f in {f for f, _ in s.stack}:
                incl_s[f] = incl_s.get(f, 0.0) + s.seconds
                count[f] = count.get(f, 0) + s.count
        rows = [(self.frames[f], self_s.get(f, 0.0), incl_s[f], count[f]) for f in incl_s]
        rows.sort(key=lambda r: (-r[1], -r[2]))
        return rows

    def line_table(self, states: Iterable[State] = ("python", "native")) -> list[LineRow]:
        """Per-line rows, sorted by file and line: hit counts, inclusive and self time
        from the samples, allocated bytes (innermost frame) and freed bytes."""
        wanted = set(states)
        rows: dict[LineKey, LineRow] = {}

        def row(key: LineKey) -> LineRow:
            r = rows.get(key)
            if r is None:
                r = rows[key] = LineRow(key[0], key[1])
            return r

        for s in self.samples:
            if s.state not in wanted or not s.stack:
                continue
            keys = {(self.frames[f].filename, line) for f, line in s.stack}
            for key in keys:
                r = row(key)
                r.seconds += s.seconds
                r.samples += s.count
            leaf_f, leaf_line = s.stack[-1]
            row((self.frames[leaf_f].filename, leaf_line)).self_seconds += s.seconds
        for a in self.allocations:
            if a.stack:
                leaf_f, leaf_line = a.stack[-1]
                r = row((self.frames[leaf_f].filename, leaf_line))
                r.alloc_bytes += a.bytes
                r.alloc_count += a.count
        for key, n in self.hits.items():
            row(key).hits = n
        for key, b in self.freed.items():
            row(key).freed_bytes += b
        return sorted(rows.values(), key=lambda r: (r.filename, r.lineno))

    def iter_stacks(
        self, weight: Literal["seconds", "samples", "bytes"] = "seconds"
    ) -> Iterator[tuple[str, State | Literal["alloc"], Stack, float]]:
        """``(thread, state, stack, weight)`` for flame graphs and collapsed stacks: time
        samples for ``seconds``/``samples``, allocations for ``bytes``."""
        if weight == "bytes":
            for a in self.allocations:
                yield a.thread, "alloc", a.stack, a.bytes
        else:
            for s in self.samples:
                yield s.thread, s.state, s.stack, (s.seconds if weight == "seconds" else s.count)

    # ----------------------------------------------------------------- merge

    def merge(self, other: Profile, *, label: str | None = None) -> None:
        """Add ``other`` (a child process's profile) into this one. Its threads are
        prefixed by ``label`` (``"pid 1234"`` by default) so they stay apart."""
        prefix = (label or f"pid {other.processes[0] if other.processes else '?'}") + " / "
        index: dict[Frame, int] = {f: i for i, f in enumerate(self.frames)}

        def remap(i: int) -> int:
            frame = other.frames[i]
            j = index.get(frame)
            if j is None:
                j = index[frame] = len(self.frames)
                self.frames.append(frame)
            return j

        def restack(stack: Stack) -> Stack:
            return tuple((remap(f), line) for f, line in stack)

        for s in other.samples:
            self.samples.append(
                StackSample(prefix + s.thread, s.state, restack(s.stack), s.count, s.seconds)
            )
        for a in other.allocations:
            self.allocations.append(
                AllocationSample(
                    prefix + a.thread, restack(a.stack), a.bytes, a.count, a.live_bytes
                )
            )
        for key, n in other.hits.items():
            self.hits[key] = self.hits.get(key, 0) + n
        for f, n in other.calls.items():
            j = remap(f)
            self.calls[j] = self.calls.get(j, 0) + n
        for key, b in other.freed.items():
            self.freed[key] = self.freed.get(key, 0.0) + b
        self.processes.extend(p for p in other.processes if p not in self.processes)
        self.dropped_samples += other.dropped_samples
        self.peak_rss = max(self.peak_rss, other.peak_rss)

    # ----------------------------------------------------------------- JSON

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "hpkit-profile",
            "version": FORMAT_VERSION,
            "mode": self.mode,
            "command": self.command,
            "started": self.started,
            "duration": self.duration,
            "rate_hz": self.rate_hz,
            "frames": [[f.name, f.filename, f.firstlineno] for f in self.frames],
            "samples": [
                [s.thread, s.state, [list(p) for p in s.stack], s.count, s.seconds]
                for s in self.samples
            ],
            "allocations": [
                [a.thread, [list(p) for p in a.stack], a.bytes, a.count, a.live_bytes]
                for a in self.allocations
            ],
            "hits": [[k[0], k[1], n] for k, n in self.hits.items()],
            "calls": [[f, n] for f, n in self.calls.items()],
            "freed": [[k[0], k[1], b] for k, b in self.freed.items()],
            "timeline": [[p.t, p.rss, p.heap] for p in self.timeline],
            "heap_timeline": [
                [r.t, [[h.type, h.count, h.size] for h in r.rows]] for r in self.heap_timeline
            ],
            "peak_rss": self.peak_rss,
            "peak_heap": self.peak_heap,
            "processes": self.processes,
            "exit_code": self.exit_code,
            "error": self.error,
            "dropped_samples": self.dropped_samples,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Profile:
        if d.get("format") != "hpkit-profile" or d.get("version") != FORMAT_VERSION:
            raise ValueError("not an hpkit profile of this version")

        def stack(raw: list[list[int]]) -> Stack:
            return tuple((int(f), int(line)) for f, line in raw)

        return cls(
            mode=d["mode"],
            command=list(d["command"]),
            started=float(d["started"]),
            duration=float(d["duration"]),
            rate_hz=float(d["rate_hz"]),
            frames=[Frame(n, fn, int(ln)) for n, fn, ln in d["frames"]],
            samples=[
                StackSample(t, st, stack(sk), int(c), float(s)) for t, st, sk, c, s in d["samples"]
            ],
            allocations=[
                AllocationSample(t, stack(sk), float(b), float(c), float(lv))
                for t, sk, b, c, lv in d["allocations"]
            ],
            hits={(fn, int(ln)): int(n) for fn, ln, n in d["hits"]},
            calls={int(f): int(n) for f, n in d["calls"]},
            freed={(fn, int(ln)): float(b) for fn, ln, b in d["freed"]},
            timeline=[MemoryPoint(float(t), int(r), float(h)) for t, r, h in d["timeline"]],
            heap_timeline=[
                HeapRecord(float(t), [HeapRow(n, int(c), int(s)) for n, c, s in rows])
                for t, rows in d["heap_timeline"]
            ],
            peak_rss=int(d["peak_rss"]),
            peak_heap=float(d["peak_heap"]),
            processes=[int(p) for p in d["processes"]],
            exit_code=int(d["exit_code"]),
            error=d["error"],
            dropped_samples=int(d["dropped_samples"]),
        )

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict()), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Profile:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
