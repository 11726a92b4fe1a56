"""Chapter 2: profiling the Julia set - what each profiler costs, and where it puts the time.

``hpkit lab profile`` runs the book's pure-Python Julia set (``calc_pure_python``) in a
fresh interpreter under every profiler the book used that installs here (cProfile,
line_profiler, memory_profiler), today's (py-spy, pyinstrument, memray, scalene) and every
``hpkit profile`` mode, and shows side by side:

* the **overhead**: the run's own time of ``calc_pure_python`` (the target,
  :mod:`hpkit.lab._profile_target`, times the call itself, so interpreter and profiler
  start-up are left out) divided by the mean of the unprofiled runs just before and just
  after it (every tool runs between two), because on a small shared machine the speed
  drifts by tens of percent over a minute, and one baseline taken at the start would bias
  every ratio after it. Tools under 3x run again in each of ``rounds`` rounds and their
  overhead is the median of their paired ratios; sampled line shares add up over rounds;
* the **attribution**: each line-level tool's share of the inner loop's three lines
  (``while abs(z) < 2 and n < maxiter:``, ``z = z * z + c``, ``n += 1``; their numbers are
  read from the source with :mod:`inspect`), normalised to the three lines' total, and the
  largest difference from py-spy's shares in percentage points. py-spy samples from
  outside the process and is the reference; its 1 kHz run when it succeeds (ten times the
  samples of 100 Hz, so a smaller sampling error), with the standard error of the
  difference beside it so a miss can be told from noise.

Every run's escape-count sum is checked (WORKLOADS.md's known answer, or the unprofiled
run's sum where none is published) and a wrong one fails the row before any figure is
shown. ``hpkit profile --mode lines`` counts line hits exactly, so its counts are checked
too: ``z = z * z + c`` and ``n += 1`` run Σ output times, the ``while`` line Σ output +
one per point. memory_profiler traces every line through psutil, hundreds of times
slower: it runs on a smaller grid (``mprof_width``) against its own unprofiled baseline
at that width. Every tool run has a time budget (30 times the unprofiled wall time, plus
a minute): a peer over it is skipped with a note, an hpkit mode over it fails.

How this fits the runner: each tool's figure comes from a subprocess, and the ratios need
the baseline runs spread over all the tools, so the whole campaign (one run of every tool,
the baselines between them) is measured once, while the runner sets up the first row;
the figures are the table's measured columns (:class:`~hpkit.lab.model.Metric`). What
the runner then times for each row is that tool's whole process on the 10-wide grid (its
answer checked as well): its start-up cost, which the in-script overhead leaves out.

The full size is 500 x 500, about 1.2 s unprofiled and 70 s for the whole table on the
2-core machine the lab was written on; the book's 1000 x 1000 (4-9 s a run there, ~20
runs, some of them 6x slower) would take several minutes: ``--param width=1000``.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.metadata
import importlib.util
import inspect
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hpkit.lab.ch02_julia import KNOWN_ANSWERS
from hpkit.lab.model import (
    Check,
    Experiment,
    Implementation,
    Kind,
    Metric,
    Param,
    Params,
    Skip,
    Workload,
)
from hpkit.lab.peers import require
from hpkit.reference import julia as book

TARGET = Path(__file__).with_name("_profile_target.py")
#: the grid of the start-up probe the runner times (its known answer: sum 3,098)
STARTUP_WIDTH = 10
#: tools whose first-round overhead is below this run again in every later round
REPEAT_BELOW = 3.0
#: a tool run may take this many times the unprofiled run's wall time, plus a minute
BUDGET_FACTOR = 30.0
BUDGET_BASE_S = 60.0
#: the attribution reference, best first: more samples, smaller sampling error
REFERENCES = ("py-spy 1 kHz", "py-spy 100 Hz")
#: placeholder for the tool's own output file in a command
OUT = "{out}"


# --- the inner loop ---------------------------------------------------------------------


@dataclass(frozen=True)
class InnerLoop:
    """Where the book's inner loop is: its file (resolved), function and three lines."""

    filename: str
    function: str
    firstlineno: int
    lines: tuple[int, int, int]  # while, z = z * z + c, n += 1
    texts: tuple[str, str, str]

    def owns(self, filename: str) -> bool:
        return os.path.realpath(filename) == self.filename


INNER_TEXTS = ("while abs(z) < 2 and n < maxiter:", "z = z * z + c", "n += 1")
#: column headers of the three lines' shares
LINE_LABELS = ("while %", "z*z+c %", "n+=1 %")


@functools.cache
def inner_loop() -> InnerLoop:
    """Find the three lines in ``calculate_z_serial_purepython``'s source (never hard-coded:
    an edit to the reference module moves them)."""
    function = book.calculate_z_serial_purepython
    source, first = inspect.getsourcelines(function)
    numbers = []
    for text in INNER_TEXTS:
        found = [first + i for i, line in enumerate(source) if line.strip() == text]
        if len(found) != 1:
            raise RuntimeError(f"expected one line {text!r} in {function.__name__}, saw {found}")
        numbers.append(found[0])
    filename = os.path.realpath(inspect.getsourcefile(function) or function.__code__.co_filename)
    lines = (numbers[0], numbers[1], numbers[2])
    return InnerLoop(filename, function.__name__, first, lines, INNER_TEXTS)


Shares = tuple[float, float, float]


def _shares(per_line: Mapping[int, float], loop: InnerLoop) -> Shares | None:
    """Each inner-loop line's fraction of the three lines' total (``None``: no time there)."""
    values = [float(per_line.get(line, 0.0)) for line in loop.lines]
    total = sum(values)
    if total <= 0:
        return None
    return (values[0] / total, values[1] / total, values[2] / total)


# --- one run of the target under a tool -------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One process: the target's own time of ``calc_pure_python``, its answer, the width it
    ran at and the wall time of the whole process (tool start-up included)."""

    seconds: float
    total: int
    width: int
    wall: float


@dataclass(frozen=True)
class Reading:
    """What a profiler said about the inner loop (all optional: tools differ).

    ``per_line``: time or samples on each inner-loop line; ``line_samples``: how many
    samples those shares rest on (``None``: not sampled, or not said); ``exact``: the
    shares come from measured time, with no sampling error; ``samples``: all samples of the
    run; ``hits``: exact hit counts per inner-loop line.
    """

    per_line: Mapping[int, float] | None = None
    line_samples: int | None = None
    exact: bool = False
    samples: int | None = None
    hits: Mapping[int, int] | None = None
    detail: str = ""


class ToolError(Exception):
    """A tool run that crashed, timed out or left no answer; the message says which."""


class OverBudget(ToolError):
    """A tool run that did not finish within its time budget."""


Command = Callable[[Path, Sequence[str]], list[str]]
Reader = Callable[[Path, InnerLoop], Reading]


def _nothing() -> None:
    """A tool that needs nothing beyond Python itself."""


@dataclass(frozen=True)
class Tool:
    """One row: how to run the target under the tool and how to read what it wrote.

    ``command(out, target)`` is the whole command line, ``target`` being the target's own
    (``script OUT.json WIDTH MAX_ITER``) and ``out`` the file the tool writes its profile
    to (``artifact`` is its name); ``read`` turns that file into a :class:`Reading`
    (``None``: overhead only). ``needs()`` raises :class:`Skip` when the tool is missing.
    ``reduced`` tools run at ``mprof_width``; ``exact_hits`` tools must report exact line
    hit counts, which are checked.
    """

    name: str
    kind: Kind
    command: Command
    note: str
    artifact: str = "profile.out"
    read: Reader | None = None
    needs: Callable[[], None] = _nothing
    reduced: bool = False
    exact_hits: bool = False


def _python_m(*args: str) -> Command:
    """``python ARGS... target...``, with :data:`OUT` replaced by the profile's path."""

    def command(out: Path, target: Sequence[str]) -> list[str]:
        return [sys.executable, *(str(out) if a == OUT else a for a in args), *target]

    return command


def _executable(name: str) -> str:
    """A command installed next to this interpreter (the venv's ``bin``), or on ``PATH``."""
    beside = Path(sys.executable).with_name(name)
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise Skip(f"{name} is not installed (pip install {name})")
    return found


def run_target(tool: Tool, width: int, max_iter: int, folder: Path, timeout: float | None) -> Run:
    """Run the target under ``tool`` in ``folder`` and read its answer and in-script time.

    The one place a subprocess is started: every row, the baselines and the runner's
    start-up probe go through here. Output is captured (profilers print reports); a crash
    or a missing answer raises :class:`ToolError` with the last line the tool printed.
    """
    answer = folder / "answer.json"
    answer.unlink(missing_ok=True)
    target = [str(_target_copy(folder.parent)), str(answer), str(width), str(max_iter)]
    command = tool.command(folder / tool.artifact, target)
    start = time.perf_counter()
    try:
        done = subprocess.run(
            command,
            cwd=folder,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise OverBudget(f"did not finish within its {timeout:.0f} s budget") from None
    except OSError as error:  # the tool's executable could not be started
        raise ToolError(f"could not start {command[0]}: {error.strerror or error}") from None
    wall = time.perf_counter() - start
    if done.returncode != 0 or not answer.is_file():
        said = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise ToolError(f"exited with status {done.returncode}: {said[:200]}")
    try:
        data = json.loads(answer.read_text(encoding="utf-8"))
        return Run(float(data["seconds"]), int(data["sum"]), width, wall)
    except (ValueError, KeyError, TypeError) as error:
        raise ToolError(f"the target's answer file is unreadable: {error!r}") from None


def _target_copy(folder: Path) -> Path:
    """The target, copied into the campaign's folder: run from the package directory, its
    sibling modules (``timing.py``, ``report.py``, ...) would shadow top-level imports."""
    copy = folder / TARGET.name
    if not copy.is_file():
        shutil.copyfile(TARGET, copy)
    return copy


# --- the tools --------------------------------------------------------------------------


def _read_pstats(path: Path, loop: InnerLoop) -> Reading:
    """cProfile: function level only - the inner loop function's own share of the time."""
    import pstats

    stats = pstats.Stats(str(path))
    table: Mapping[tuple[str, int, str], tuple[int, int, float, float, object]]
    table = stats.stats  # type: ignore[attr-defined]  # not in typeshed's stub
    total = sum(entry[2] for entry in table.values())
    own = sum(
        entry[2]
        for (filename, _, name), entry in table.items()
        if name == loop.function and loop.owns(filename)
    )
    calls = sum(entry[1] for entry in table.values())
    share = own / total if total else 0.0
    return Reading(detail=f"{calls:,} calls; {loop.function} {share:.0%} of the time (own)")


def _read_lprof(path: Path, loop: InnerLoop) -> Reading:
    """line_profiler: time and hits per line of the decorated function."""
    line_profiler = require("line_profiler")
    stats = line_profiler.load_stats(str(path))
    for (filename, _, name), entries in stats.timings.items():
        if name == loop.function and loop.owns(filename):
            per_line = {line: float(t) * stats.unit for line, _, t in entries}
            hits = {line: int(n) for line, n, _ in entries if line in loop.lines}
            return Reading(per_line=per_line, exact=True, hits=hits)
    raise ValueError(f"no timings for {loop.function}")


_PY_SPY_FRAME = re.compile(r"(?P<function>.*) \((?P<file>.*):(?P<line>\d+)\)$")


def _read_py_spy(path: Path, loop: InnerLoop) -> Reading:
    """py-spy's raw (collapsed) stacks: ``frame;frame;... count``, frames ``f (file:line)``;
    the leaf frame is where the sample landed."""
    per_line: dict[int, float] = {}
    samples = 0
    for text in path.read_text(encoding="utf-8").splitlines():
        stack, _, count = text.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples += int(count)
        leaf = _PY_SPY_FRAME.match(stack.rsplit(";", 1)[-1])
        if leaf and leaf["function"] == loop.function and loop.owns(leaf["file"]):
            line = int(leaf["line"])
            per_line[line] = per_line.get(line, 0) + int(count)
    on_lines = int(sum(per_line.get(line, 0) for line in loop.lines))
    return Reading(per_line=per_line, line_samples=on_lines, samples=samples)


def _read_pyinstrument(path: Path, loop: InnerLoop) -> Reading:
    """pyinstrument's JSON: a call tree (functions, not lines); its sample count."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return Reading(samples=int(data.get("sample_count", 0)) or None, detail="function level")


def _read_scalene(path: Path, loop: InnerLoop) -> Reading:
    """scalene's JSON: CPU percentages (Python + native + system) per line of each file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    for filename, report in data.get("files", {}).items():
        if loop.owns(filename):
            per_line = {
                int(row["lineno"]): float(row.get("n_cpu_percent_python", 0.0))
                + float(row.get("n_cpu_percent_c", 0.0))
                + float(row.get("n_sys_percent", 0.0))
                for row in report.get("lines", [])
            }
            return Reading(per_line=per_line)
    # scalene leaves out files under its 1% threshold: a very short run has none
    return Reading(detail=f"no lines of {Path(loop.filename).name} in scalene's report")


def _read_hpkit(path: Path, loop: InnerLoop) -> Reading:
    """hpkit's profile JSON: self time, samples and (lines mode) exact hits per line."""
    from hpkit.profile._model import Profile

    profile = Profile.load(path)
    rows = {r.lineno: r for r in profile.line_table() if loop.owns(r.filename)}
    per_line = {line: row.self_seconds for line, row in rows.items()}
    on_lines = sum(rows[line].samples for line in loop.lines if line in rows)
    hits = {line: rows[line].hits or 0 for line in loop.lines if line in rows}
    counted = any(rows[line].hits is not None for line in loop.lines if line in rows)
    detail = f"peak RSS {profile.peak_rss / 2**20:,.1f} MiB" if profile.peak_rss else ""
    return Reading(
        per_line=per_line,
        line_samples=on_lines or None,
        samples=profile.total_samples or None,
        hits=hits if counted else None,
        detail=detail,
    )


def _py_spy(rate: int) -> Command:
    def command(out: Path, target: Sequence[str]) -> list[str]:
        return [
            _executable("py-spy"), "record", "-r", str(rate), "-f", "raw", "--full-filenames",
            "-o", str(out), "--", sys.executable, *target,
        ]  # fmt: skip

    return command


def _needs_py_spy() -> None:
    _executable("py-spy")


def _scalene(out: Path, target: Sequence[str]) -> list[str]:
    """scalene 2.x: ``scalene run [options] prog.py --- args``; CPU only (no memory
    interposition, the cheapest mode and the one comparable with the others)."""
    return [sys.executable, "-m", "scalene", "run", "--cpu-only", "-o", str(out),
            target[0], "---", *target[1:]]  # fmt: skip


def _needs_scalene() -> None:
    _needs_module("scalene")()
    version = importlib.metadata.version("scalene")
    if int(version.split(".")[0]) < 2:
        raise Skip(f"scalene {version} is too old: its 2.x command line is used (pip install -U)")


def _needs_module(module: str, install: str | None = None) -> Callable[[], None]:
    """Installed, without importing it here (scalene and memray do work at import)."""

    def needs() -> None:
        if importlib.util.find_spec(module) is None:
            raise Skip(f"{module} is not installed (pip install {install or module})")

    return needs


def _hpkit(mode: str, rate: int | None) -> Command:
    speed = ("-r", str(rate)) if rate else ()
    return _python_m("-m", "hpkit.profile", "-q", "--mode", mode, *speed, "-o", OUT)


BASELINE = Tool("unprofiled", Kind.REFERENCE, _python_m(), "python target.py: the baseline")

TOOLS: tuple[Tool, ...] = (
    Tool("cProfile", Kind.PEER, _python_m("-m", "cProfile", "-o", OUT),
         "python -m cProfile: every call (function level)", "profile.prof", _read_pstats),
    Tool("line_profiler", Kind.PEER, _python_m("-m", "kernprof", "-l", "-o", OUT),
         "kernprof -l, @profile on the inner loop", "profile.lprof", _read_lprof,
         _needs_module("line_profiler"), exact_hits=True),
    Tool("memory_profiler", Kind.PEER, _python_m("-m", "memory_profiler"),
         "@profile on the inner loop; at mprof_width vs its own baseline there",
         needs=_needs_module("memory_profiler"), reduced=True),
    Tool("py-spy 100 Hz", Kind.PEER, _py_spy(100), "py-spy record -r 100 (out of process)",
         "profile.txt", _read_py_spy, _needs_py_spy),
    Tool("py-spy 1 kHz", Kind.PEER, _py_spy(1000),
         "py-spy record -r 1000: the attribution reference", "profile.txt", _read_py_spy,
         _needs_py_spy),
    Tool("pyinstrument", Kind.PEER, _python_m("-m", "pyinstrument", "-r", "json", "-o", OUT),
         "python -m pyinstrument (call tree, 1 ms)", "profile.json", _read_pyinstrument,
         _needs_module("pyinstrument")),
    Tool("memray", Kind.PEER, _python_m("-m", "memray", "run", "-q", "-o", OUT),
         "python -m memray run: every allocation", "profile.bin",
         needs=_needs_module("memray")),
    Tool("scalene", Kind.PEER, _scalene, "scalene run --cpu-only, its @profile on the inner loop",
         "profile.json", _read_scalene, _needs_scalene),
    Tool("hpkit sample 100 Hz", Kind.HPKIT, _hpkit("sample", 100),
         "hpkit profile --mode sample -r 100", "profile.json", _read_hpkit),
    Tool("hpkit sample 1 kHz", Kind.HPKIT, _hpkit("sample", 1000),
         "hpkit profile --mode sample -r 1000", "profile.json", _read_hpkit),
    Tool("hpkit lines", Kind.HPKIT, _hpkit("lines", None),
         "hpkit profile --mode lines (and 1 kHz samples), @profile on the inner loop",
         "profile.json",
         _read_hpkit, exact_hits=True),
    Tool("hpkit memory", Kind.HPKIT, _hpkit("memory", None), "hpkit profile --mode memory",
         "profile.json", _read_hpkit),
)  # fmt: skip


# --- the campaign: every tool once, the baseline between them ---------------------------


def _variance(share: float, reading: Reading) -> float | None:
    """Sampling variance of one share: none for measured time, p(1-p)/n for n samples."""
    if reading.exact:
        return 0.0
    if reading.line_samples:
        return share * (1 - share) / reading.line_samples
    return None


@dataclass(frozen=True)
class Measured:
    """One row's figures from the campaign.

    ``runs``: the row's processes (the unprofiled row: all its interleaved runs);
    ``baseline``: the unprofiled runs at the same width; ``ratios``: each run's time over
    the mean of the unprofiled runs on either side of it (the overhead is their median);
    ``reference``: py-spy's reading, the attribution reference (``None`` for that row
    itself, or when py-spy gave none); ``problem`` fails the row, ``skip`` skips it.
    """

    tool: str
    width: int
    runs: tuple[Run, ...] = ()
    baseline: tuple[Run, ...] = ()
    ratios: tuple[float, ...] = ()
    reading: Reading = field(default_factory=Reading)
    reference: Reading | None = None
    problem: str | None = None
    skip: str | None = None
    note: str = ""

    @property
    def seconds(self) -> float | None:
        return statistics.median(r.seconds for r in self.runs) if self.runs else None

    @property
    def wall(self) -> float | None:
        return statistics.median(r.wall for r in self.runs) if self.runs else None

    @property
    def overhead(self) -> float | None:
        """The median over rounds of the tool's time over the mean of the two unprofiled
        runs just before and just after it."""
        return statistics.median(self.ratios) if self.ratios else None

    @property
    def shares(self) -> Shares | None:
        per_line = self.reading.per_line
        return None if per_line is None else _shares(per_line, inner_loop())

    def _difference(self) -> tuple[float, float] | None:
        """This row's share and py-spy's at the inner-loop line where they differ most."""
        mine, reference = self.shares, self.reference
        if mine is None or reference is None or reference.per_line is None:
            return None
        theirs = _shares(reference.per_line, inner_loop())
        if theirs is None:
            return None
        return max(zip(mine, theirs, strict=True), key=lambda pair: abs(pair[0] - pair[1]))

    @property
    def delta(self) -> float | None:
        """Largest difference from py-spy's share over the three lines, in points."""
        found = self._difference()
        return None if found is None else 100 * abs(found[0] - found[1])

    @property
    def delta_se(self) -> float | None:
        """Standard error of that difference from sampling, in points (both sides')."""
        found = self._difference()
        if found is None or self.reference is None:
            return None
        own = _variance(found[0], self.reading)
        ref = _variance(found[1], self.reference)
        return None if own is None or ref is None else 100 * math.sqrt(own + ref)


def _budget(baseline: Sequence[Run]) -> float | None:
    """How long a tool may take: a multiple of the unprofiled wall time, plus a minute
    (``None``, no limit, for the unprofiled runs themselves)."""
    if not baseline:
        return None
    return BUDGET_BASE_S + BUDGET_FACTOR * statistics.median(r.wall for r in baseline)


def _run_and_read(
    tool: Tool, width: int, max_iter: int, root: Path, timeout: float | None
) -> tuple[Run, Reading]:
    """One run of ``tool`` in a fresh folder under ``root``, and what its profile says
    about the inner loop; the folder (the profile can be large: memray) is removed."""
    folder = Path(tempfile.mkdtemp(prefix="run-", dir=root))
    try:
        run = run_target(tool, width, max_iter, folder, timeout)
        if tool.read is None:
            return run, Reading()
        try:
            return run, tool.read(folder / tool.artifact, inner_loop())
        except Exception as error:  # an unreadable profile fails the row, not the lab
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise ToolError(f"its profile could not be read: {first}") from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _sizes(params: Params) -> tuple[int, int, int]:
    width, max_iter, small = params["width"], params["max_iter"], params["mprof_width"]
    assert isinstance(width, int) and isinstance(max_iter, int) and isinstance(small, int)
    return width, max_iter, small


def _spread(runs: Sequence[Run]) -> str:
    from hpkit.lab.tables import format_seconds

    if not runs:
        return "no unprofiled run succeeded at this width"
    times = [r.seconds for r in runs]
    middle = statistics.median(times)
    return (
        f"{len(times)} unprofiled runs at width {runs[0].width} interleaved with the tools: "
        f"median {format_seconds(middle)}, spread {format_seconds(min(times))} to "
        f"{format_seconds(max(times))} ({(max(times) - min(times)) / middle:.0%} of the median)"
    )


@dataclass(frozen=True)
class _Attempt:
    """One tool's run in the campaign: what it gave, or why it gave nothing (``late``:
    it went over its time budget)."""

    run: Run | None
    reading: Reading
    problem: str | None = None
    late: bool = False


def _attempt(tool: Tool, width: int, max_iter: int, root: Path, timeout: float | None) -> _Attempt:
    try:
        return _Attempt(*_run_and_read(tool, width, max_iter, root, timeout))
    except ToolError as error:
        return _Attempt(None, Reading(), str(error), isinstance(error, OverBudget))


def _merged(readings: Sequence[Reading]) -> Reading:
    """One reading from several runs of a tool: time and samples per line added up (more
    samples, a smaller sampling error); hit counts and flags from the first."""
    first = readings[0]
    if len(readings) == 1 or any(r.per_line is None for r in readings):
        return first
    per_line: dict[int, float] = {}
    for r in readings:
        for line, value in (r.per_line or {}).items():
            per_line[line] = per_line.get(line, 0.0) + value

    def total(values: list[int | None]) -> int | None:
        return None if any(v is None for v in values) else sum(v for v in values if v)

    return dataclasses.replace(
        first,
        per_line=per_line,
        line_samples=total([r.line_samples for r in readings]),
        samples=total([r.samples for r in readings]),
    )


def measure_campaign(tools: Sequence[Tool], params: Params) -> dict[str, Measured]:
    """Run every available tool between unprofiled runs (B T1 B T2 B ...), in ``rounds``
    rounds (later rounds only for tools under :data:`REPEAT_BELOW` x); the figures of every
    row (the unprofiled row under :data:`BASELINE`'s name), by row name.

    Each run is paired with the unprofiled runs on either side of it, so a machine whose
    speed drifts (a shared VM: 30% over a minute is common) biases no ratio; the overhead
    is the median of a tool's paired ratios over the rounds.
    """
    width, max_iter, small = _sizes(params)
    rounds = int(params.get("rounds", 1))
    measured: dict[str, Measured] = {}
    ready: list[Tool] = []
    for tool in tools:
        try:
            tool.needs()
            ready.append(tool)
        except Skip as why:
            measured[tool.name] = Measured(tool.name, width, skip=str(why))
    baselines: dict[int, list[Run]] = {width: [], small: []}
    broken: dict[int, str] = {}
    runs: dict[str, list[Run]] = {t.name: [] for t in ready}
    ratios: dict[str, list[float]] = {t.name: [] for t in ready}
    readings: dict[str, list[Reading]] = {t.name: [] for t in ready}
    failed: dict[str, _Attempt] = {}
    with tempfile.TemporaryDirectory(prefix="hpkit-lab-profile-") as folder:
        root = Path(folder)
        last: dict[int, Run | None] = {}

        def baseline(w: int) -> Run | None:
            base = _attempt(BASELINE, w, max_iter, root, None)
            if base.run is None:
                broken.setdefault(w, base.problem or "no answer")
            else:
                baselines[w].append(base.run)
            last[w] = base.run
            return base.run

        for round_ in range(rounds):
            for tool in ready:
                if tool.name in failed or (round_ and not _cheap(ratios[tool.name])):
                    continue
                w = small if tool.reduced else width
                before = last.get(w) or baseline(w)
                got = _attempt(tool, w, max_iter, root, _budget(baselines[w]))
                after = baseline(w)
                if got.run is None:
                    failed[tool.name] = got
                    continue
                runs[tool.name].append(got.run)
                readings[tool.name].append(got.reading)
                sides = [r.seconds for r in (before, after) if r is not None]
                if sides:
                    ratios[tool.name].append(got.run.seconds / statistics.fmean(sides))
    attempts = {
        name: failed.get(name) or _Attempt(runs[name][0], _merged(readings[name])) for name in runs
    }
    reference = _reference(attempts, width, max_iter, baselines[width])
    for tool in ready:
        w = small if tool.reduced else width
        got = attempts[tool.name]
        problem, skip = got.problem, None
        if got.late and tool.kind is not Kind.HPKIT:  # a slow peer is skipped; slow hpkit, a bug
            problem, skip = None, f"{got.problem} (try a smaller size)"
        measured[tool.name] = Measured(
            tool.name,
            w,
            runs=tuple(runs[tool.name]) if got.run is not None else (),
            baseline=tuple(baselines[w]),
            ratios=tuple(ratios[tool.name]),
            reading=got.reading,
            reference=None if reference is None or reference[0] == tool.name else reference[1],
            problem=problem,
            skip=skip,
            note=_spread(baselines[w]) if tool.reduced else "",
        )
    unprofiled = tuple(baselines[width])
    notes = "; ".join(_spread(baselines[w]) for w in dict.fromkeys((width, small)) if baselines[w])
    measured[BASELINE.name] = Measured(
        BASELINE.name,
        width,
        unprofiled,
        unprofiled,
        ratios=(1.0,) if unprofiled else (),
        problem=broken.get(width),
        note=notes,
    )
    return measured


def _cheap(ratios: Sequence[float]) -> bool:
    """Whether a tool is cheap enough to run again: its first ratio under the limit."""
    return bool(ratios) and ratios[0] < REPEAT_BELOW


def _reference(
    attempts: Mapping[str, _Attempt], width: int, max_iter: int, baseline: Sequence[Run]
) -> tuple[str, Reading] | None:
    """The first py-spy run (1 kHz preferred) with a right answer and inner-loop samples."""
    expected = expected_total(width, max_iter, baseline)
    for name in REFERENCES:
        got = attempts.get(name)
        if got is None or got.run is None or expected is None or got.run.total != expected[0]:
            continue
        if got.reading.per_line and _shares(got.reading.per_line, inner_loop()):
            return name, got.reading
    return None


# --- checking ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """A row's output: the campaign's figures and the runner's start-up probe (``None``
    when the campaign already failed the row: there is nothing to time)."""

    measured: Measured
    startup: Run | None
    exact_hits: bool = False


def expected_total(width: int, max_iter: int, baseline: Sequence[Run]) -> tuple[int, str] | None:
    """The right Σ output, and where it comes from: WORKLOADS.md's known answer, else the
    unprofiled runs' (which must agree); ``None`` when neither exists."""
    known = KNOWN_ANSWERS.get((width, max_iter))
    if known is not None:
        return known.total, "WORKLOADS.md's known answer"
    sums = {r.total for r in baseline if r.width == width}
    if len(sums) == 1:
        return sums.pop(), "the unprofiled run's"
    return None


def expected_hits(width: int, total: int) -> dict[int, int]:
    """Exact hits of the inner loop's lines: the update and ``n += 1`` once per iteration
    (Σ output), the ``while`` test once more per point (the test that ends its loop)."""
    xs, ys = book.build_axes(width)
    loop = inner_loop()
    return {loop.lines[0]: total + len(xs) * len(ys), loop.lines[1]: total, loop.lines[2]: total}


def _validate(params: Params, got: Outcome, oracle: Outcome | None) -> Check:
    """The answers of the measured runs and of the start-up probe; exact hit counts."""
    _, max_iter, _ = _sizes(params)
    measured = got.measured
    if measured.problem is not None:
        return Check(False, measured.problem)
    if not measured.runs:
        return Check(False, "no run to check")
    expected = expected_total(measured.width, max_iter, measured.baseline)
    if expected is None:
        return Check(False, "nothing to check against: no known answer, no unprofiled run")
    total, source = expected
    for run in measured.runs:
        if run.total != total:
            return Check(False, f"sum {run.total:,} at width {run.width}, expected {total:,}")
    said = [f"sum {total:,} = {source}"]
    if got.startup is not None:
        probes = () if oracle is None or oracle.startup is None else (oracle.startup,)
        probe = expected_total(STARTUP_WIDTH, max_iter, probes)
        if probe is None:
            return Check(False, "nothing to check the start-up run against")
        if got.startup.total != probe[0]:
            return Check(False, f"start-up run: sum {got.startup.total:,}, expected {probe[0]:,}")
    hits = measured.reading.hits
    if got.exact_hits and not hits:
        return Check(False, "no hit counts for the inner loop's lines")
    if hits:
        want = expected_hits(measured.width, total)
        if dict(hits) != want:
            shown = ", ".join(
                f"line {k}: {hits.get(k, 0):,} (expected {v:,})" for k, v in want.items()
            )
            return Check(False, f"hit counts are not exact: {shown}")
        said.append("hits exact (" + ", ".join(f"{n:,}" for n in want.values()) + ")")
    said += [text for text in (measured.note, measured.reading.detail) if text]
    return Check(True, "; ".join(said))


# --- the rows ---------------------------------------------------------------------------


class _Probe:
    """The runner's workload for a row: the tool's whole process on the 10-wide grid (its
    start-up cost), returned with the campaign's figures. ``close()`` removes its folder."""

    def __init__(self, tool: Tool, measured: Measured, max_iter: int) -> None:
        self._tool = dataclasses.replace(tool, read=None)  # the answer is all it needs
        self._measured, self._max_iter = measured, max_iter
        self._folder = tempfile.TemporaryDirectory(prefix="hpkit-lab-profile-probe-")

    def __call__(self) -> Outcome:
        root = Path(self._folder.name)
        run, _ = _run_and_read(self._tool, STARTUP_WIDTH, self._max_iter, root, BUDGET_BASE_S)
        return Outcome(self._measured, run, self._tool.exact_hits)

    def close(self) -> None:
        self._folder.cleanup()


class Campaign:
    """The figures of one lab run, measured when the first row (the unprofiled one, which
    the runner sets up first) is set up, and read by every row's setup after it."""

    def __init__(self, tools: Sequence[Tool]) -> None:
        self.tools = tuple(tools)
        self._key: tuple[tuple[str, str], ...] | None = None
        self._measured: dict[str, Measured] = {}

    def measured(self, params: Params, *, fresh: bool) -> dict[str, Measured]:
        key = tuple(sorted((name, repr(value)) for name, value in params.items()))
        if fresh or key != self._key:
            self._measured = measure_campaign(self.tools, params)
            self._key = key
        return self._measured

    def setup(self, tool: Tool) -> Callable[[Params], Workload]:
        def setup(params: Params) -> Workload:
            measured = self.measured(params, fresh=tool is BASELINE)[tool.name]
            if measured.skip is not None:
                raise Skip(measured.skip)
            if measured.problem is not None:
                return lambda: Outcome(measured, None, tool.exact_hits)
            return _Probe(tool, measured, _sizes(params)[1])

        return setup


def _figure(
    read: Callable[[Measured], float | None],
) -> Callable[[Params, Outcome, float | None], float | None]:
    def value(params: Params, outcome: Outcome, best_s: float | None) -> float | None:
        return read(outcome.measured)

    return value


def _share(index: int) -> Callable[[Measured], float | None]:
    def read(measured: Measured) -> float | None:
        shares = measured.shares
        return None if shares is None else 100 * shares[index]

    return read


METRICS = (
    Metric("Overhead", _figure(lambda m: m.overhead), "{:.3g}×"),
    Metric("In-script s", _figure(lambda m: m.seconds), "{:.3g}"),
    Metric("Wall s", _figure(lambda m: m.wall), "{:.3g}"),
    *(Metric(label, _figure(_share(i)), "{:.1f}") for i, label in enumerate(LINE_LABELS)),
    Metric("Δ py-spy pp", _figure(lambda m: m.delta), "{:.1f}"),
    Metric("± pp", _figure(lambda m: m.delta_se), "{:.1f}"),
    Metric("Samples", _figure(lambda m: m.reading.samples), "{:,.0f}"),
)


def _notes(loop: InnerLoop) -> tuple[str, ...]:
    lines = ", ".join(
        f"{label.removesuffix(' %')} = line {n} `{text}`"
        for label, n, text in zip(LINE_LABELS, loop.lines, loop.texts, strict=True)
    )
    return (
        "Each row runs the book's calc_pure_python in a fresh interpreter under one tool "
        "(hpkit/lab/_profile_target.py times the call itself). In-script s: that time; "
        "Overhead: it over the mean of the unprofiled runs just before and after it (every "
        "tool runs between two, so drift on the machine does not bias the ratios), the "
        "median over the rounds for tools under 3x; Wall s: the whole process, start-up "
        "included.",
        f"Shares: each tool's time on the inner loop's three lines ({lines} of "
        f"{Path(loop.filename).name}) normalised to their total. py-spy, sampling from "
        "outside the process, is the reference (its 1 kHz run when it succeeds): Δ py-spy "
        "is the largest difference over the three lines in percentage points, ± its "
        "standard error from sampling (both sides' samples).",
        "Best / Median / Runs / vs Python: the wall time of each tool's whole process on "
        f"the {STARTUP_WIDTH}-wide grid (answer checked): the tool's start-up cost, which "
        "the in-script figures leave out.",
        "Exact hit counts (hpkit lines, line_profiler) are checked: z = z * z + c and "
        "n += 1 run Σ output times, the while line Σ output + once per point; a miss fails "
        "the row. memory_profiler traces every line through psutil, hundreds of times "
        "slower: it runs at mprof_width against its own unprofiled baseline there.",
        "hpkit's goals: sample ≤ 1.05× at 100 Hz and ≤ 1.2× at 1 kHz, lines ≤ 2.5×, memory "
        "≤ 1.5×; sample shares within 5 points of py-spy's.",
    )


def build(tools: Sequence[Tool] = TOOLS, name: str = "profile") -> Experiment:
    """The experiment over ``tools`` (tests build one over a few)."""
    campaign = Campaign(tools)
    return Experiment(
        name=name,
        chapter=2,
        title="Profiling the Julia set: each profiler's overhead and line attribution",
        params=(
            Param("width", full=500, quick=100, help="points per side of the grid", minimum=1),
            Param("max_iter", full=300, quick=300, help="most iterations per point", minimum=1),
            Param("mprof_width", full=30, quick=10, help="memory_profiler's grid", minimum=1),
            Param(
                "rounds",
                full=3,
                quick=1,
                help="rounds of runs (tools under 3x run in each; overhead: median ratio)",
                minimum=1,
            ),
        ),
        implementations=[
            Implementation(tool.name, tool.kind, campaign.setup(tool), tool.note)
            for tool in (BASELINE, *tools)
        ],
        validate=_validate,
        metrics=METRICS,
        notes=_notes(inner_loop()),
    )


EXPERIMENT = build()
