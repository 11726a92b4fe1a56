"""The ``dis`` view with hit counts, heap snapshots and the ``timer`` decorator."""

from __future__ import annotations

import ast
import asyncio
import dis as stdlib_dis
import io
import re
import sys
import textwrap
import threading
import time
from typing import Any

import pytest
from rich.table import Table

from hpkit.errors import InvalidInputError
from hpkit.profile._bytecode import dis, print_dis
from hpkit.profile._heap import HeapDiff, HeapRecorder, HeapSnapshot, heap
from hpkit.profile._lines import instrument, instrument_tree, registry
from hpkit.profile._model import HeapRecord, Profile
from hpkit.profile._timer import Timer, TimerStats, format_seconds, timer
from hpkit.reference import julia

# --------------------------------------------------------------------------- dis

_SOURCE_ROW = re.compile(r"^\s*(\d+) (.{12}) (.{5})  ?(.*)$")
_INSTR_ROW = re.compile(r"^ {26}(>>|  ) +(\d+)  (\w+)")


def _parse(text: str) -> tuple[list[tuple[int, str, str]], list[tuple[int, int, str]]]:
    """Source rows (line, hits, ops) and instruction rows (line above, offset, opname)."""
    rows: list[tuple[int, str, str]] = []
    instrs: list[tuple[int, int, str]] = []
    for raw in text.splitlines()[2:]:
        m = _INSTR_ROW.match(raw)
        if m:
            instrs.append((rows[-1][0], int(m.group(2)), m.group(3)))
            continue
        s = _SOURCE_ROW.match(raw)
        assert s, raw
        rows.append((int(s.group(1)), s.group(2).strip(), s.group(3).strip()))
    return rows, instrs


def _original_instructions(code: Any) -> list[stdlib_dis.Instruction]:
    if sys.version_info >= (3, 13):
        return list(stdlib_dis.get_instructions(code, adaptive=False))
    return list(stdlib_dis.get_instructions(code, adaptive=False, show_caches=False))


def sample(n):
    total = 0
    for i in range(n):
        if i % 2:
            total += i
    return total


def test_dis_lists_every_instruction_once_under_its_line() -> None:
    text = dis(sample)
    rows, instrs = _parse(text)
    expected = _original_instructions(sample.__code__)
    # each exactly once; grouped by line, so not always in offset order (END_FOR)
    assert sorted((offset, name) for _, offset, name in instrs) == [
        (i.offset, i.opname) for i in expected
    ]
    lines = [line for line, _, _ in rows]
    first = sample.__code__.co_firstlineno
    assert lines == list(range(first, first + 6))  # every source line, in order
    for line, offset, _ in instrs:
        ins = next(i for i in expected if i.offset == offset)
        if ins.positions is not None and ins.positions.lineno is not None:
            assert line == ins.positions.lineno
    ops = {line: int(n) for line, _, n in rows if n}
    assert sum(ops.values()) == len(expected)
    assert all(hits == "" for _, hits, _ in rows)  # never instrumented: no hits column
    assert text.splitlines()[0].startswith("sample  (")


def test_dis_of_an_instrumented_function_shows_original_bytecode_and_hits() -> None:
    new = instrument(julia.calculate_z_serial_purepython)
    zs, cs, _, _ = julia.build_zs_cs(20)
    new(50, zs, cs)
    counters = new.__hpkit_line_counters__
    text = dis(new)
    assert "__hpkit_lines__" not in text and "calls: 1" in text
    rows, instrs = _parse(text)
    expected = _original_instructions(julia.calculate_z_serial_purepython.__code__)
    # grouped by line, so a loop test compiled twice (3.11) is listed under its line
    assert sorted(offset for _, offset, _ in instrs) == [i.offset for i in expected]
    for line in {line for line, _, _ in instrs}:
        offsets = [offset for ln, offset, _ in instrs if ln == line]
        assert offsets == sorted(offsets)
    shown = {line: int(h.replace(",", "")) for line, h, _ in rows if h}
    assert shown == counters.hits()
    # the original function finds the same counters through the registry
    assert dis(julia.calculate_z_serial_purepython) == text


def test_dis_with_explicit_hits_and_profile() -> None:
    first = sample.__code__.co_firstlineno
    text = dis(sample, hits={first + 1: 7, first + 5: 1})
    rows, _ = _parse(text)
    assert {line: h for line, h, _ in rows if h} == {first + 1: "7", first + 5: "1"}
    profile = Profile(mode="lines", hits={(sample.__code__.co_filename, first + 2): 12_345})
    rows, _ = _parse(dis(sample, profile=profile))
    assert {line: h for line, h, _ in rows if h} == {first + 2: "12,345"}
    out = io.StringIO()
    print_dis(sample, file=out)
    assert out.getvalue() == dis(sample)
    with pytest.raises(InvalidInputError):
        dis(len)


def test_dis_of_a_tree_instrumented_function_shows_the_original(tmp_path: Any) -> None:
    source = textwrap.dedent(
        """
        def work(n):
            out = []
            for i in range(n):
                out.append(i)
            return out
        """
    )
    path = tmp_path / "treemod.py"
    path.write_text(source)
    tree = instrument_tree(ast.parse(source), str(path), {"work"})
    namespace: dict[str, Any] = {}
    exec(compile(tree, str(path), "exec"), namespace)  # noqa: S102
    namespace["work"](3)
    text = dis(namespace["work"])
    assert "__hpkit_lines_" not in text
    rows, _ = _parse(text)
    assert {line: h for line, h, _ in rows if h} == {3: "1", 4: "4", 5: "3", 6: "1"}
    assert any(c.frame.filename == str(path) for c in registry())


# --------------------------------------------------------------------------- heap


def test_heap_counts_instances_of_a_local_class() -> None:
    class Probe:
        pass

    name = f"{Probe.__module__}.{Probe.__qualname__}"
    before = heap()
    assert isinstance(before, HeapSnapshot)
    probes = [Probe() for _ in range(10_000)]
    after = heap()
    row = next(r for r in after.rows if r.type == name)
    assert row.count == 10_000
    assert row.size >= 10_000 * sys.getsizeof(probes[0])
    diff = after - before
    assert isinstance(diff, HeapDiff)
    change = next(r for r in diff.rows if r.type == name)
    assert change.count == 10_000 and change.size == row.size
    assert all(r.count or r.size for r in diff.rows)  # no zero rows
    sizes = [abs(r.size) for r in diff.rows]
    assert sizes == sorted(sizes, reverse=True)
    assert all(r.size > 0 and r.count > 0 for r in after.rows)
    assert [r.size for r in after.rows] == sorted((r.size for r in after.rows), reverse=True)
    assert after.total_count == sum(r.count for r in after.rows)
    assert after.total_size == sum(r.size for r in after.rows)
    assert after.t >= before.t
    del probes


def test_heap_counts_untracked_contents_once() -> None:
    before = heap()
    numbers = [10**12 + i for i in range(50_000)]  # distinct untracked ints
    twice = [numbers, numbers]  # referenced twice: counted once
    diff = heap() - before
    ints = next(r for r in diff.rows if r.type == "int")
    assert 50_000 <= ints.count < 50_100
    del numbers, twice


def test_heap_leaves_out_its_own_bookkeeping() -> None:
    heap()
    a = heap()
    b = heap()
    names = {r.type for r in (b - a).rows}
    assert not any("Heap" in n for n in names)
    assert sum(abs(r.count) for r in (b - a).rows) < 20


def test_heap_limit_top_and_tables() -> None:
    full = heap()
    small = heap(limit=5)
    assert len(small.rows) == 5
    assert small.total_count == pytest.approx(full.total_count, rel=0.05)
    assert small.top(2) == small.rows[:2]
    text = str(small)
    assert "objects" in text and small.rows[0].type in text and "total" in text
    assert isinstance(small.__rich__(), Table)
    assert "Δ size" in str(heap() - small)
    with pytest.raises(InvalidInputError):
        heap(limit=-1)


def test_heap_recorder_records_in_the_background() -> None:
    recorder = HeapRecorder(0.1).start()
    assert recorder._thread is not None and recorder._thread.daemon
    # A snapshot of a big heap (after other tests) takes a while: wait for two, bounded.
    deadline = time.monotonic() + 20
    while len(recorder.records) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    records = recorder.stop()
    assert len(records) >= 2
    assert all(isinstance(r, HeapRecord) and 0 < len(r.rows) <= 30 for r in records)
    assert [r.t for r in records] == sorted(r.t for r in records)
    assert records[0].t < records[1].t
    assert not recorder._thread.is_alive()
    assert recorder.error is None
    count = len(records)
    time.sleep(0.15)
    assert len(recorder.records) == count  # stopped
    with HeapRecorder(0.05) as again:
        time.sleep(0.01)
    assert again.records
    with pytest.raises(InvalidInputError):
        HeapRecorder(0)


# --------------------------------------------------------------------------- timer


def test_timer_decorator_records_every_call(capsys: pytest.CaptureFixture[str]) -> None:
    @timer
    def nap(seconds: float) -> float:
        time.sleep(seconds)
        return seconds

    assert nap(0.002) == 0.002
    nap(0.001)
    nap(0.003)
    stats = nap.stats  # type: ignore[attr-defined]
    assert isinstance(stats, TimerStats)
    assert stats.count == 3
    assert stats.min <= stats.median <= stats.max
    assert stats.min <= stats.mean <= stats.max
    assert stats.min >= 0.001
    assert stats.total == pytest.approx(sum(stats.samples_ns) / 1e9)
    assert stats.stdev > 0
    assert stats.name.endswith("nap")
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and re.fullmatch(r".*nap: [\d.]+ ms", err[0])
    assert re.fullmatch(
        r".*nap: 3 calls, mean [\d.]+ ms ± [\d.]+ [mµ]s \(min [\d.]+ ms, max [\d.]+ ms\)",
        str(stats),
    )


def test_timer_repeat_runs_n_times_and_returns_the_last() -> None:
    calls: list[int] = []
    out = io.StringIO()

    @timer(repeat=5, name="calc", file=out)
    def calc() -> int:
        calls.append(len(calls))
        return len(calls)

    assert calc() == 5
    assert calls == [0, 1, 2, 3, 4]
    assert calc.stats.count == 5  # type: ignore[attr-defined]
    assert out.getvalue().startswith("calc: 5 runs, mean ")
    with pytest.raises(InvalidInputError):
        timer(repeat=0)


def test_timer_context_manager_and_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    with timer("build", print=False) as t:
        time.sleep(0.002)
    assert isinstance(t, Timer)
    assert t.stats.count == 1 and t.stats.min >= 0.002
    assert str(t.stats).startswith("build: 1 call, ")
    with t:
        pass
    assert t.stats.count == 2
    assert capsys.readouterr().err == ""
    with timer("loud"):
        pass
    assert capsys.readouterr().err.startswith("loud: ")


def test_timer_records_and_reraises_exceptions(capsys: pytest.CaptureFixture[str]) -> None:
    @timer(repeat=3)
    def boom() -> None:
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        boom()
    assert boom.stats.count == 1  # type: ignore[attr-defined]  # stopped at the first
    assert "(raised ValueError)" in capsys.readouterr().err
    t = timer("block", print=False)
    with pytest.raises(KeyError), t:
        raise KeyError
    assert t.stats.count == 1


def test_timer_async_and_methods() -> None:
    @timer(print=False)
    async def slow() -> int:
        await asyncio.sleep(0.005)
        return 7

    assert asyncio.iscoroutinefunction(slow)
    assert asyncio.run(slow()) == 7
    assert slow.stats.min >= 0.005  # type: ignore[attr-defined]  # the awaited time

    class Thing:
        def __init__(self) -> None:
            self.k = 3

        @timer(print=False)
        def times(self, x: int) -> int:
            return self.k * x

    assert Thing().times(2) == 6
    assert Thing.times.stats.count == 1  # type: ignore[attr-defined]
    assert Thing.times.__name__ == "times"

    async def block() -> None:
        async with timer("ablock", print=False) as t:
            await asyncio.sleep(0.001)
        assert t.stats.count == 1

    asyncio.run(block())


def test_timer_is_thread_safe() -> None:
    @timer(print=False)
    def tick() -> None:
        pass

    def work() -> None:
        for _ in range(500):
            tick()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert tick.stats.count == 4000  # type: ignore[attr-defined]


def test_timer_formats_each_scale() -> None:
    assert format_seconds(1.234) == "1.23 s"
    assert format_seconds(0.0123) == "12.3 ms"
    assert format_seconds(0.000456) == "456 µs"
    assert format_seconds(7.89e-7) == "789 ns"
    assert format_seconds(1234.5) == "1234 s"
    stats = TimerStats("calculate_z")
    for ns in (1_210_000_000, 1_230_000_000, 1_250_000_000):
        stats.add(ns)
    assert str(stats) == "calculate_z: 3 calls, mean 1.23 s ± 0.02 s (min 1.21 s, max 1.25 s)"
    assert str(TimerStats("x")) == "x: no calls"
    stats.reset()
    assert stats.count == 0
