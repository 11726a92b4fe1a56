"""Every profile output, checked against hand-built profiles whose answers are known:
pstats numbers, speedscope schema and weights, collapsed stacks parsed back, flame-graph
SVG as XML and its size bound, the HTML page (well-formed, offline, and free of console
errors in headless Chromium) and the terminal summary."""

from __future__ import annotations

import functools
import html.parser
import io
import json
import marshal
import pstats
import random
import shutil
import subprocess
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from rich.console import Console

from hpkit.errors import InvalidInputError
from hpkit.profile._model import (
    STATES,
    AllocationSample,
    Frame,
    HeapRecord,
    HeapRow,
    MemoryPoint,
    Profile,
    Stack,
    StackSample,
    State,
)
from hpkit.profile.outputs import (
    FORMATS,
    collapsed_text,
    flamegraph_svg,
    format_for,
    html_report,
    render_terminal,
    speedscope_json,
    write,
)
from hpkit.profile.outputs import pstats as pstats_out
from hpkit.profile.outputs.speedscope import speedscope_dict

SCHEMA = json.loads((Path(__file__).parent / "data" / "speedscope-schema.json").read_text())
MIB = 1024 * 1024

APP = textwrap.dedent(
    """\
    import time

    def leaf(n):
        total = 0
        for i in range(n):
            total += i * i
        return total

    def middle(n):
        data = [0] * n
        return leaf(n) + len(data)

    def fact(n):
        return 1 if n <= 1 else n * fact(n - 1)

    def main():
        middle(10)
        fact(3)
        time.sleep(1)

    main()
    """
)
MODULE, MAIN, MIDDLE, LEAF, FACT, WORKER, WEIRD = range(7)
WORKER_THREAD = "worker;1"  # a semicolon, to check the collapsed format escapes it


def _frames(app: Path) -> list[Frame]:
    return [
        Frame("<module>", str(app), 1),
        Frame("main", str(app), 16),
        Frame("middle", str(app), 9),
        Frame("leaf", str(app), 3),
        Frame("fact", str(app), 13),
        Frame("worker", "<string>", 1),  # no source to show
        Frame('Odd.<lambda>;<b>&"x"', "/nowhere/we;ird.py", 7),  # names to escape
    ]


# (thread, state, stack, count, seconds)
SAMPLES: list[tuple[str, State, Stack, int, float]] = [
    ("MainThread", "python", ((MODULE, 21), (MAIN, 17), (MIDDLE, 11), (LEAF, 6)), 50, 0.5),
    ("MainThread", "python", ((MODULE, 21), (MAIN, 17), (MIDDLE, 11), (LEAF, 5)), 10, 0.1),
    ("MainThread", "native", ((MODULE, 21), (MAIN, 17), (MIDDLE, 10)), 20, 0.2),
    ("MainThread", "python", ((MODULE, 21), (MAIN, 18), *[(FACT, 14)] * 3), 10, 0.1),
    ("MainThread", "python", ((MODULE, 21), (MAIN, 18), (FACT, 14)), 5, 0.05),
    ("MainThread", "idle", ((MODULE, 21), (MAIN, 19)), 100, 1.0),
    (WORKER_THREAD, "python", ((WORKER, 2),), 30, 0.3),
    (WORKER_THREAD, "native", ((WORKER, 3),), 10, 0.1),
    (WORKER_THREAD, "idle", ((WEIRD, 8),), 5, 0.05),
]  # fmt: skip


@pytest.fixture
def app(tmp_path: Path) -> Path:
    path = tmp_path / "app.py"
    path.write_text(APP)
    return path


@pytest.fixture
def sample_profile(app: Path) -> Profile:
    return Profile(
        mode="sample",
        command=["python", "app.py", "--n", "<10>"],
        started=1_700_000_000.0,
        duration=2.5,
        rate_hz=100.0,
        frames=_frames(app),
        samples=[StackSample(*row) for row in SAMPLES],
        processes=[101, 102],
        exit_code=1,
        error="ValueError: bad <input>",
    )


@pytest.fixture
def lines_profile(sample_profile: Profile, app: Path) -> Profile:
    sample_profile.mode = "lines"
    sample_profile.hits = {
        (str(app), line): n for line, n in {4: 1, 5: 11, 6: 10, 7: 1, 10: 1, 11: 1, 14: 3}.items()
    }
    sample_profile.calls = {LEAF: 1, MIDDLE: 1, FACT: 3, MAIN: 1}
    return sample_profile


@pytest.fixture
def memory_profile(app: Path) -> Profile:
    main = ((MODULE, 21), (MAIN, 17))
    return Profile(
        mode="memory",
        command=["python", "app.py"],
        duration=3.0,
        frames=_frames(app),
        allocations=[
            AllocationSample("MainThread", (*main, (MIDDLE, 10)), 8 * MIB, 2, 4 * MIB),
            AllocationSample("MainThread", (*main, (MIDDLE, 11), (LEAF, 6)), 1 * MIB, 1000),
            AllocationSample(WORKER_THREAD, ((WORKER, 2),), 3 * MIB, 10),
        ],
        freed={(str(app), 10): 4.0 * MIB},
        timeline=[MemoryPoint(t / 10, (20 + t) * MIB, t * 0.5 * MIB) for t in range(31)],
        heap_timeline=[
            HeapRecord(t, [HeapRow("list", 10 * i, MIB * i), HeapRow("<str>", 5, 500)])
            for i, t in enumerate((0.0, 1.0, 2.0), 1)
        ],
        peak_rss=50 * MIB,
        peak_heap=15.0 * MIB,
        processes=[200],
    )  # fmt: skip


@pytest.fixture
def empty_profile() -> Profile:
    return Profile(mode="sample", command=["python", "-c", "pass"], duration=0.01)


@pytest.fixture(params=["sample", "lines", "memory", "empty"])
def any_profile(request: pytest.FixtureRequest) -> Profile:
    profile: Profile = request.getfixturevalue(f"{request.param}_profile")
    return profile


def _label(frames: list[Frame], frame: int, line: int) -> str:
    """Written out here rather than imported, so the tests pin the label format."""
    return f"{frames[frame].name} ({Path(frames[frame].filename).name}:{line})"


def _expected_stacks(profile: Profile, weight: str) -> dict[tuple[str, ...], float]:
    """thread, labels root to leaf (with the state pseudo-frame) -> summed weight."""
    out: dict[tuple[str, ...], float] = {}
    for s in profile.samples:
        labels = [_label(profile.frames, f, line) for f, line in s.stack]
        labels += {"python": [], "native": ["<native>"], "idle": ["<idle>"]}[s.state]
        key = (s.thread, *labels)
        out[key] = out.get(key, 0) + (s.count if weight == "samples" else s.seconds)
    return out


# ---------------------------------------------------------------- format_for / write


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("out.prof", "pstats"),
        ("out.pstats", "pstats"),
        ("out.speedscope.json", "speedscope"),
        ("OUT.SPEEDSCOPE.JSON", "speedscope"),
        ("out.json", "json"),
        ("out.collapsed", "collapsed"),
        ("out.folded", "collapsed"),
        ("out.txt", "collapsed"),
        ("dir.d/out.svg", "svg"),
        ("out.html", "html"),
        ("out.htm", "html"),
    ],
)
def test_format_for_extension(name: str, fmt: str) -> None:
    assert format_for(name) == fmt
    assert fmt in FORMATS


def test_format_for_explicit_wins() -> None:
    assert format_for("out.svg", "pstats") == "pstats"
    assert format_for("whatever", " HTML ") == "html"


def test_format_for_errors_list_the_choices() -> None:
    with pytest.raises(InvalidInputError, match=r"\.prof.*\.html.*json, pstats, speedscope"):
        format_for("out.xyz")
    with pytest.raises(InvalidInputError, match="json, pstats, speedscope, collapsed, svg, html"):
        format_for("out.svg", "flame")
    with pytest.raises(ValueError):  # InvalidInputError is also a ValueError
        format_for("noextension")


@pytest.mark.parametrize("fmt", FORMATS)
def test_write_every_format(fmt: str, any_profile: Profile, tmp_path: Path) -> None:
    path = write(any_profile, tmp_path / "out.bin", fmt)
    assert path == tmp_path / "out.bin"
    empty = fmt == "collapsed" and not any_profile.samples and not any_profile.allocations
    assert (path.stat().st_size == 0) == empty


def test_write_json_round_trips(sample_profile: Profile, tmp_path: Path) -> None:
    path = write(sample_profile, tmp_path / "p.json")
    assert Profile.load(path).to_dict() == sample_profile.to_dict()


def test_write_leaves_no_partial_file(
    sample_profile: Profile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hpkit.profile import outputs

    def boom(profile: Profile) -> bytes:
        raise RuntimeError("rendering failed")

    monkeypatch.setitem(outputs._RENDER, "html", boom)
    with pytest.raises(RuntimeError):
        write(sample_profile, tmp_path / "p.html")
    assert not (tmp_path / "p.html").exists()
    with pytest.raises(OSError):
        write(sample_profile, tmp_path / "missing" / "p.svg")


# ---------------------------------------------------------------- pstats


def _stats(profile: Profile, tmp_path: Path) -> pstats.Stats:
    path = write(profile, tmp_path / "p.prof")
    return pstats.Stats(str(path), stream=io.StringIO())


def test_pstats_numbers_match_the_samples(sample_profile: Profile, tmp_path: Path) -> None:
    st = _stats(sample_profile, tmp_path).stats  # type: ignore[attr-defined]
    key = {i: f.pstats_key for i, f in enumerate(sample_profile.frames)}
    native = ("~", 0, "<native code>")
    approx = pytest.approx

    def tt_ct(k: tuple[str, int, str]) -> tuple[float, float]:
        return st[k][2], st[k][3]

    assert tt_ct(key[LEAF]) == approx((0.6, 0.6))
    assert tt_ct(key[MIDDLE]) == approx((0.0, 0.8))  # its native time is {native code}'s
    assert tt_ct(native) == approx((0.3, 0.3))
    assert tt_ct(key[MAIN]) == approx((0.0, 0.95))  # idle left out
    assert tt_ct(key[MODULE]) == approx((0.0, 0.95))
    assert tt_ct(key[WORKER]) == approx((0.3, 0.4))
    assert key[WEIRD] not in st  # only ever idle
    assert sum(v[2] for v in st.values()) == approx(1.35)  # every on-CPU second, once
    # recursion: fact counted once per sample, inclusive; its callers split the time
    assert tt_ct(key[FACT]) == approx((0.15, 0.15))
    callers = st[key[FACT]][4]
    assert set(callers) == {key[MAIN], key[FACT]}
    assert callers[key[MAIN]][2:] == approx((0.05, 0.15))
    assert callers[key[FACT]][2:] == approx((0.1, 0.1))
    assert st[native][4][key[MIDDLE]][2:] == approx((0.2, 0.2))
    assert st[native][4][key[WORKER]][2:] == approx((0.1, 0.1))
    assert st[key[LEAF]][:2] == (0, 0)  # no exact call counts in sample mode


def test_pstats_idle_when_asked(sample_profile: Profile) -> None:
    st = pstats_out.pstats_dict(sample_profile, states=("python", "native", "idle"))
    assert st[("~", 0, "<idle>")][2] == pytest.approx(1.05)
    assert st[sample_profile.frames[MAIN].pstats_key][3] == pytest.approx(1.95)


def test_pstats_prints_like_cprofile(lines_profile: Profile, tmp_path: Path) -> None:
    stats = _stats(lines_profile, tmp_path)
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats("cumulative").print_stats()
    stats.sort_stats("tottime").print_stats(5)
    stats.print_callers()
    stats.print_callees()
    text = out.getvalue()
    assert "{native code}" in text
    assert "app.py:3(leaf)" in text
    # exact call counts in lines mode
    assert stats.stats[lines_profile.frames[FACT].pstats_key][:2] == (3, 3)  # type: ignore[attr-defined]


@pytest.mark.parametrize("which", ["memory_profile", "empty_profile"])
def test_pstats_without_time_samples_still_loads(
    which: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    stats = _stats(request.getfixturevalue(which), tmp_path)
    assert list(stats.stats) == [("~", 0, "<no time samples>")]  # type: ignore[attr-defined]
    stats.sort_stats("cumulative").print_stats()


def test_pstats_file_is_marshal(sample_profile: Profile) -> None:
    assert marshal.loads(pstats_out.pstats_bytes(sample_profile)) == pstats_out.pstats_dict(
        sample_profile
    )


# ---------------------------------------------------------------- speedscope


def _validate_speedscope(doc: dict[str, Any]) -> None:
    jsonschema.validate(doc, SCHEMA, cls=jsonschema.Draft7Validator)
    n_frames = len(doc["shared"]["frames"])
    assert 0 <= doc["activeProfileIndex"] < len(doc["profiles"])
    for p in doc["profiles"]:
        assert len(p["samples"]) == len(p["weights"])
        assert all(0 <= i < n_frames for stack in p["samples"] for i in stack)
        assert p["endValue"] == pytest.approx(p["startValue"] + sum(p["weights"]))


def test_speedscope_validates(any_profile: Profile, tmp_path: Path) -> None:
    path = write(any_profile, tmp_path / "p.speedscope.json")
    doc = json.loads(path.read_text())
    _validate_speedscope(doc)
    assert doc["exporter"].startswith("hpkit@")


def test_speedscope_schema_rejects_a_broken_file(sample_profile: Profile) -> None:
    doc = speedscope_dict(sample_profile)
    doc["profiles"][0]["unit"] = "parsecs"
    with pytest.raises(jsonschema.ValidationError):
        _validate_speedscope(doc)


def test_speedscope_round_trips_weights(sample_profile: Profile) -> None:
    doc = json.loads(speedscope_json(sample_profile))
    _validate_speedscope(doc)
    frames = doc["shared"]["frames"]
    got: dict[tuple[str, ...], float] = {}
    for p in doc["profiles"]:
        assert p["unit"] == "seconds"
        thread = p["name"].removesuffix(" - wall time")
        for stack, w in zip(p["samples"], p["weights"], strict=True):
            key = (thread, *(frames[i]["name"] for i in stack))
            got[key] = got.get(key, 0.0) + w
    want = _expected_stacks(sample_profile, "seconds")
    assert got.keys() == want.keys()
    assert all(got[k] == pytest.approx(want[k]) for k in want)
    # per (function, line) frames, with the line set
    leaf6 = next(f for f in frames if f["name"] == "leaf (app.py:6)")
    assert leaf6["line"] == 6 and leaf6["file"].endswith("app.py")
    assert {"name": "<native>"} in frames and {"name": "<idle>"} in frames
    active = doc["profiles"][doc["activeProfileIndex"]]
    assert active["name"] == "MainThread - wall time"


def test_speedscope_allocations_in_bytes(memory_profile: Profile) -> None:
    doc = speedscope_dict(memory_profile)
    _validate_speedscope(doc)
    byte_profiles = {p["name"]: p for p in doc["profiles"] if p["unit"] == "bytes"}
    assert set(byte_profiles) == {
        "MainThread - allocated bytes",
        f"{WORKER_THREAD} - allocated bytes",
    }
    assert sum(byte_profiles["MainThread - allocated bytes"]["weights"]) == 9 * MIB


# ---------------------------------------------------------------- collapsed


def _parse_collapsed(text: str) -> dict[tuple[str, ...], int]:
    out: dict[tuple[str, ...], int] = {}
    for line in text.splitlines():
        stack, weight = line.rsplit(" ", 1)
        out[tuple(stack.split(";"))] = int(weight)
    return out


def test_collapsed_parses_back_to_the_samples(sample_profile: Profile) -> None:
    got = _parse_collapsed(collapsed_text(sample_profile))
    want = _expected_stacks(sample_profile, "samples")
    # a ";" in a thread or frame name must not split it
    want = {tuple(f.replace(";", ":") for f in key): int(w) for key, w in want.items()}
    assert got == want
    assert ("worker:1", 'Odd.<lambda>:<b>&"x" (we:ird.py:8)', "<idle>") in got


def test_collapsed_memory_in_bytes(memory_profile: Profile) -> None:
    got = _parse_collapsed(collapsed_text(memory_profile))
    assert sum(got.values()) == 12 * MIB
    assert got[("worker:1", "worker (<string>:2)")] == 3 * MIB


def test_collapsed_empty(empty_profile: Profile) -> None:
    assert collapsed_text(empty_profile) == ""


# ---------------------------------------------------------------- flame graph SVG

SVG = "{http://www.w3.org/2000/svg}"


def _boxes(svg: str) -> list[ET.Element]:
    return ET.fromstring(svg).findall(f"{SVG}g")


def _titles(svg: str) -> list[str]:
    return [g.findtext(f"{SVG}title") or "" for g in _boxes(svg)]


def test_svg_is_xml_with_tooltips(sample_profile: Profile) -> None:
    svg = flamegraph_svg(sample_profile, title="Time <&>")
    root = ET.fromstring(svg)
    assert root.findtext(f"{SVG}text") == "Time <&>"
    titles = _titles(svg)
    leaf = next(t for t in titles if t.startswith("leaf (app.py:3)"))
    assert "app.py:3" in leaf and "600.00 ms (25.0%)" in leaf  # of 2.4 s, all states
    assert "lines: 6 (83%), 5 (17%)" in leaf  # merged by function, lines in the tooltip
    assert any(t.startswith('Odd.<lambda>;<b>&"x"') for t in titles)  # escaped, intact
    assert any(t.startswith("thread worker;1") for t in titles)
    middle = next(t for t in titles if t.startswith("middle"))
    assert "python 75%, native 25%" in middle
    assert root.find(f"{SVG}script") is not None


def test_svg_options(sample_profile: Profile) -> None:
    by_line = flamegraph_svg(sample_profile, by_line=True, color="file", orientation="icicle")
    titles = _titles(by_line)
    assert any(t.startswith("leaf (app.py:6)") for t in titles)
    assert any(t.startswith("leaf (app.py:5)") for t in titles)
    samples = flamegraph_svg(sample_profile, "samples")
    assert "240 samples total" in samples


def test_svg_memory_and_empty(memory_profile: Profile, empty_profile: Profile) -> None:
    svg = flamegraph_svg(memory_profile)
    assert "12.0 MiB total" in svg
    # all, 2 threads, <module>, main, middle (lines 10 and 11 merged), leaf, worker
    assert len(_boxes(svg)) == 8
    empty = flamegraph_svg(empty_profile)
    assert "(no samples)" in empty and not _boxes(empty)


@functools.cache
def _many_stacks(n: int, seed: int = 1) -> Profile:
    """``n`` distinct stacks below a common prefix, spread over 4 threads and 3 states;
    cached, since building 100k of them takes a while (the tests only read it)."""
    rng = random.Random(seed)
    frames = [Frame(f"f{i}", f"/src/mod{i % 20}.py", i + 1) for i in range(500)]
    prefix = ((0, 1), (1, 10), (2, 20))
    stacks: set[tuple[tuple[int, int], ...]] = set()
    while len(stacks) < n:
        depth = rng.randint(3, 25)
        stacks.add(prefix + tuple((rng.randrange(40), rng.randrange(1, 300)) for _ in range(depth)))
    return Profile(
        mode="sample",
        frames=frames,
        samples=[
            StackSample(f"T{i % 4}", STATES[i % 3], stack, 1, 0.001)
            for i, stack in enumerate(sorted(stacks))
        ],
    )


def test_svg_size_is_bounded() -> None:
    profile = _many_stacks(100_000)
    svg = flamegraph_svg(profile)
    assert len(svg) < 3_000_000
    boxes = _boxes(svg)
    assert 10 < len(boxes) <= 4000
    assert all(float(g.get("data-w", 0)) >= 0.001 for g in boxes)
    capped = flamegraph_svg(_many_stacks(3000), min_fraction=0.0, max_boxes=500)
    assert len(_boxes(capped)) == 500


def test_svg_deep_recursion() -> None:
    frames = [Frame("rec", "/src/r.py", 1)]
    stack = tuple((0, 2) for _ in range(3000))
    profile = Profile(
        mode="sample", frames=frames, samples=[StackSample("T", "python", stack, 1, 1.0)]
    )
    assert len(_boxes(flamegraph_svg(profile))) == 3001
    assert pstats_out.pstats_dict(profile)[frames[0].pstats_key][2:4] == (1.0, 1.0)


# ---------------------------------------------------------------- HTML

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class _Checker(html.parser.HTMLParser):
    """Every element closed, in order; no external resource is referenced."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "xlink:href") or "url(" in (value or ""):
                self.errors.append(f"external reference {name}={value!r}")
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
        else:
            self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _check_html(page: str) -> str:
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.errors == []
    assert checker.open == []
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page
    return "".join(checker.text)


def test_html_sample(sample_profile: Profile, app: Path) -> None:
    page = html_report(sample_profile)
    text = _check_html(page)
    for needle in (
        "python app.py --n <10>",  # escaped in the page, text again once parsed
        "ValueError: bad <input>",
        "processes merged",
        "101, 102",
        "240",  # samples
        "total += i * i",  # annotated source
        "return 1 if n <= 1 else n * fact(n - 1)",
        "(source not available)",  # <string>
        "Top functions",
        "Where the time went",
    ):
        assert needle in text, needle
    assert page.count('class="flamegraph"') == 1 and 'id="fg-time"' in page
    assert str(app) in text


def test_html_memory(memory_profile: Profile) -> None:
    page = html_report(memory_profile)
    text = _check_html(page)
    assert 'id="fg-alloc"' in page and 'id="fg-time"' not in page
    for needle in ("Memory over time", "Heap by type", "Top allocation sites", "MiB", "seconds"):
        assert needle in text, needle
    assert "data = [0] * n" in text
    assert "&lt;str&gt;" in page  # the heap table escapes type names
    # the timeline: two polylines, RSS and heap
    assert page.count("<polyline") == 2


def test_html_lines_and_empty(lines_profile: Profile, empty_profile: Profile) -> None:
    text = _check_html(html_report(lines_profile))
    assert "Hits" in text and "Calls" in text
    empty = _check_html(html_report(empty_profile))
    assert "No samples were recorded" in empty


def test_html_size_is_bounded() -> None:
    page = html_report(_many_stacks(100_000))
    _check_html(page)
    assert len(page) < 4_000_000


# Chromium prints every console message (log, warn, error, uncaught exception) on stderr
# as "...:INFO:CONSOLE:<line>] "<message>", source: ..."; the page must print none.
CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")


def _chromium(page: Path, tmp_path: Path) -> tuple[str, list[str]]:
    """The DOM after scripts ran, and the console lines."""
    assert CHROMIUM is not None
    proc = subprocess.run(
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--virtual-time-budget=2000",
            "--dump-dom",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.stdout, [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]


@needs_chromium
@pytest.mark.parametrize(
    "script", ["console.error('x')", "let a = ;", "document.getElementById('no').click()"]
)
def test_chromium_check_can_fail(script: str, tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text(f"<!doctype html><html><body><p>hi</p><script>{script}</script></body></html>")
    dom, console = _chromium(page, tmp_path)
    assert "<p>hi</p>" in dom
    assert console, "a page with a console error must be caught"


# Clicks every box of every flame graph (zoom), then "all" (reset), and reports in the
# title; any exception in the zoom code is a console line.
_CLICKER = """<script>
window.addEventListener('load', function () {
  var n = 0, hidden = 0;
  document.querySelectorAll('svg.flamegraph').forEach(function (svg) {
    var boxes = svg.querySelectorAll('g.f');
    boxes.forEach(function (g) {
      g.querySelector('rect').dispatchEvent(new MouseEvent('click', {bubbles: true}));
      n += 1;
    });
    boxes[boxes.length - 1].dispatchEvent(new MouseEvent('click', {bubbles: true}));
    hidden += svg.querySelectorAll('g.f[style*="none"]').length;
    boxes[0].dispatchEvent(new MouseEvent('click', {bubbles: true}));
    hidden -= svg.querySelectorAll('g.f[style*="none"]').length;
  });
  document.title = 'clicked ' + n + ' hidden ' + hidden;
});
</script></body>"""


@needs_chromium
def test_html_has_no_console_errors(any_profile: Profile, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(html_report(any_profile).replace("</body>", _CLICKER))
    dom, console = _chromium(page, tmp_path)
    assert console == []
    assert "clicked " in dom
    if any_profile.samples or any_profile.allocations:
        clicked = int(dom.split("clicked ", 1)[1].split()[0])
        hidden = int(dom.split(" hidden ", 1)[1].split("<")[0])
        assert clicked > 5
        assert hidden > 0  # zooming on a leaf hid its siblings; "all" showed them again


@needs_chromium
def test_standalone_svg_has_no_console_errors(sample_profile: Profile, tmp_path: Path) -> None:
    page = write(sample_profile, tmp_path / "flame.svg")
    dom, console = _chromium(page, tmp_path)
    assert console == []
    assert "flamegraph" in dom


# ---------------------------------------------------------------- terminal


def _render(profile: Profile, **kwargs: int) -> str:
    console = Console(record=True, width=120, color_system=None)
    render_terminal(profile, console, **kwargs)
    return console.export_text()


def _row(text: str, needle: str) -> str:
    return next(line for line in text.splitlines() if needle in line)


def test_terminal_sample(sample_profile: Profile) -> None:
    text = _render(sample_profile)
    assert "hpkit profile" in text and "python app.py --n <10>" in text
    assert "ended with ValueError: bad <input>" in text
    assert "2 processes merged" in text and "240 samples" in text
    assert "python 1.050 s" in text and "native 300.00 ms" in text and "idle 1.050 s" in text
    leaf = _row(text, "│ leaf ")
    assert "600.00 ms" in leaf and "44.4%" in leaf  # 0.6 of 1.35 s on-CPU
    assert "Calls" not in text
    # annotated: the hottest function, with its hottest line
    hot = _row(text, "total += i * i")
    assert "500.00 ms" in hot and "37.0%" in hot and "█" in hot
    assert "worker (<string>:1): (source not available)" in text


def test_terminal_lines(lines_profile: Profile) -> None:
    text = _render(lines_profile)
    assert "Calls" in text and "Hits" in text
    assert _row(text, "│ fact ").split("│")[-2].strip() == "3"  # exact calls
    assert _row(text, "for i in range(n):").split()[:2] == ["5", "11"]  # line, hits
    # a line with hits but no samples has no time share
    assert _row(text, "total = 0").split() == ["4", "1", "total", "=", "0"]


def test_terminal_memory(memory_profile: Profile) -> None:
    text = _render(memory_profile)
    assert "peak RSS 50.0 MiB" in text and "peak heap 15.0 MiB" in text
    assert "Top allocation sites" in text and "middle (app.py:10)" in text
    assert _row(text, "data = [0] * n").split()[:3] == [
        "10",
        "8.00",
        "4.00",
    ]  # line, alloc MiB, freed MiB
    assert "No samples" not in text


def test_terminal_empty(empty_profile: Profile) -> None:
    text = _render(empty_profile)
    assert "No samples were recorded" in text


def test_terminal_bounds(sample_profile: Profile) -> None:
    text = _render(sample_profile, top=1, source_lines=3)
    table = text.split("Top functions", 1)[1]
    assert "leaf " in table and "fact " not in table.split("leaf (app.py:3)")[0]
    annotated = [line for line in text.splitlines() if line.strip()[:2].strip().isdigit()]
    assert len(annotated) <= 3 * 2  # two functions at most, three lines each


def test_terminal_and_html_when_all_idle(app: Path) -> None:
    """A program that only waited still shows where: the tables count idle time then."""
    profile = Profile(
        mode="sample",
        frames=_frames(app),
        samples=[StackSample("MainThread", "idle", ((MODULE, 21), (MAIN, 19)), 10, 1.0)],
    )
    text = _render(profile)
    assert "python + native + idle" in text
    assert "100.0%" in _row(text, "time.sleep(1)")
    assert "time.sleep(1)" in _check_html(html_report(profile))


def test_terminal_and_html_with_hits_only(app: Path) -> None:
    """Lines mode without a single time sample: the exact hits are the measure."""
    hits = {(str(app), 4): 1, (str(app), 5): 11, (str(app), 6): 10}
    profile = Profile(mode="lines", frames=_frames(app), hits=hits, calls={LEAF: 1})
    text = _render(profile)
    assert "No time samples; exact line hits below." in text
    assert _row(text, "for i in range(n):").split()[:3] == ["5", "11", "50.0%"]
    assert "Time" not in text
    page = _check_html(html_report(profile))
    assert "for i in range(n):" in page and "of the line hits" in page
