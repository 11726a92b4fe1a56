"""``hpkit.profile`` in code: ``Profiler``, ``@profile``, the IPython magics and the
native collector's guards. Nothing here asserts a speed."""

from __future__ import annotations

import math
import os
import threading
import time

import pytest

from hpkit import _native
from hpkit.errors import BusyError, InvalidInputError
from hpkit.profile import Profiler, profile
from hpkit.profile._decorator import activate, deactivate


def spin(seconds: float) -> int:
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


def total(n: int) -> int:
    s = 0
    for i in range(n):
        s += i
    return s


def test_profile_decorator_is_free_outside_a_run() -> None:
    def f() -> int:
        return 1

    assert profile(f) is f


def test_profile_decorator_instruments_in_lines_runs() -> None:
    activate("lines")
    try:

        @profile
        def g(n: int) -> int:
            return sum(range(n))

        assert g.__code__ is not g.__wrapped__.__code__ if hasattr(g, "__wrapped__") else True
        assert g(10) == 45
    finally:
        deactivate()


def test_profiler_samples_a_block() -> None:
    with Profiler(rate=500) as p:
        spin(0.3)
    assert p.profile is not None
    names = {p.profile.frames[f].name for s in p.profile.samples for f, _ in s.stack}
    assert "spin" in names
    assert 0.2 < p.profile.total_seconds < 2.0
    assert p.profile.total_samples > 50


def test_profiler_sees_other_threads() -> None:
    t = threading.Thread(target=spin, args=(0.3,), name="helper-thread")
    with Profiler(rate=300) as p:
        t.start()
        t.join()
    assert p.profile is not None
    assert "helper-thread" in p.profile.threads()


def test_profiler_lines_mode_counts_in_place() -> None:
    original = total.__code__
    with Profiler("lines", functions=[total]) as p:
        assert total(100) == 4950
        assert total.__code__ is not original
    assert total.__code__ is original  # restored
    assert p.profile is not None
    filename = original.co_filename
    first = original.co_firstlineno
    hits = {line - first: n for (f, line), n in p.profile.hits.items() if f == filename}
    assert hits[1] == 1 and hits[2] == 101 and hits[3] == 100 and hits[4] == 1


def test_profiler_memory_mode() -> None:
    with Profiler("memory", memory_sample_bytes=64 * 1024) as p:
        blocks = [bytes(1000) for _ in range(20_000)]
        del blocks
    assert p.profile is not None
    assert sum(a.bytes for a in p.profile.allocations) > 10_000_000
    assert p.profile.peak_heap > 5_000_000


def test_one_session_at_a_time() -> None:
    with Profiler(), pytest.raises(BusyError):
        Profiler().start()


@pytest.mark.parametrize("rate", [0, -1, math.nan, math.inf, 1e9, "x"])
def test_bad_rates(rate: object) -> None:
    with pytest.raises(InvalidInputError):
        Profiler(rate=rate)  # type: ignore[arg-type]


def test_bad_arguments() -> None:
    with pytest.raises(InvalidInputError):
        Profiler("bogus")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        Profiler("memory", memory_sample_bytes=0)
    with pytest.raises(InvalidInputError):
        Profiler(heap_every=-1)
    with pytest.raises(InvalidInputError):
        Profiler("sample", functions=[total])
    p = Profiler()
    with pytest.raises(InvalidInputError):
        p.stop()
    with pytest.raises(InvalidInputError):
        p.write("x.json")


def test_native_collector_guards() -> None:
    c = _native.Collector(rate_hz=100.0)
    with pytest.raises(InvalidInputError):
        c.stop()
    with pytest.raises(InvalidInputError):
        _native.Collector(rate_hz=-5.0).start()
    c.start()
    try:
        with pytest.raises(BusyError):
            c.start()
        with pytest.raises(BusyError):
            _native.Collector().start()
    finally:
        report = c.stop()
    assert set(report) >= {"frames", "samples", "threads", "duration"}
    # the signal handler is harmless when no session runs
    _native.sample_signal_handler(0, None)


def test_collector_dropped_while_running_does_not_hang() -> None:
    c = _native.Collector(rate_hz=1000.0)
    c.start()
    spin(0.05)
    del c
    # a new session can start: the dropped one let go of the process-wide hooks
    with Profiler() as p:
        spin(0.05)
    assert p.profile is not None


def test_fork_child_without_following_runs_unprofiled() -> None:
    if not hasattr(os, "fork"):
        pytest.skip("no fork")
    with Profiler(rate=500):
        pid = os.fork()
        if pid == 0:  # child: must neither hang nor crash
            spin(0.05)
            os._exit(7)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 7


def test_ipython_magics() -> None:
    ipython = pytest.importorskip("IPython")
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython()
    assert shell is not None
    assert ipython is not None
    shell.run_line_magic("load_ext", "hpkit")
    shell.user_ns["spin"] = spin
    shell.user_ns["total"] = total
    shell.run_line_magic("hprun", "-r 500 spin(0.1)")
    assert "_hprof" in shell.user_ns
    assert shell.user_ns["_hprof"].total_samples > 10
    shell.run_cell_magic("hprun", "-r 500", "x = spin(0.1)\ny = 1\n")
    assert shell.user_ns["y"] == 1
    shell.run_line_magic("hlprun", "-f total total(50)")
    hits = shell.user_ns["_hprof"].hits
    assert max(hits.values()) == 51
