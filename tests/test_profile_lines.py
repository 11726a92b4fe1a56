"""Lines mode: the AST-instrumented copy counts what a ``sys.settrace`` tracer counts.

Each sample function below runs twice: the original under a reference line tracer, and
the instrumented copy. Results must be equal, and the hits of every line must equal the
tracer's line events for the original code object. PYTEST_DONT_REWRITE: pytest must not
rewrite this module's asserts, or the original functions' bytecode would no longer be
what their source says (the instrumented copy is compiled from the source).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import functools
import inspect
import itertools
import linecache
import sys
import textwrap
import traceback
import types
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpkit.errors import InvalidInputError
from hpkit.profile import _lines
from hpkit.profile._lines import (
    LineCounters,
    clear_registry,
    fill_profile,
    install_import_hook,
    instrument,
    instrument_in_place,
    instrument_module_function,
    instrument_tree,
    registry,
)
from hpkit.profile._model import Frame, Profile
from hpkit.reference import julia

PY312 = sys.version_info >= (3, 12)

# --------------------------------------------------------------------------- reference tracer


def traced(
    func: Callable[..., Any], call: Callable[[Callable[..., Any]], Any]
) -> tuple[Any, Counter[int]]:
    """Run ``call(func)`` under a line tracer counting the events of ``func``'s own code."""
    code = func.__code__
    counts: Counter[int] = Counter()

    def tracer(frame: types.FrameType, event: str, arg: object) -> Any:
        if frame.f_code is not code:
            return None
        if event == "line":
            counts[frame.f_lineno] += 1
        return tracer

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        result = call(func)
    finally:
        sys.settrace(old)
    return result, counts


def counters_of(func: Any) -> LineCounters:
    raw = func.__func__ if isinstance(func, staticmethod | classmethod | types.MethodType) else func
    counters = raw.__hpkit_line_counters__
    assert isinstance(counters, LineCounters)
    return counters


def ran(counters: LineCounters) -> dict[int, int]:
    return {line: n for line, n in counters.hits().items() if n}


def outcome(thunk: Callable[[], Any]) -> Any:
    """The value, or the type and args of the exception, so both runs can be compared."""
    try:
        return ("ok", thunk())
    except Exception as exc:  # noqa: BLE001 - the comparison is the point
        return ("raised", type(exc).__name__, exc.args)


# --------------------------------------------------------------------------- sample functions
# Every statement fits on one line (a tracer may report continuation lines).


def s_simple(a, b):
    x = a + b
    y = x * 2
    del x
    assert y >= 0
    pass
    ...
    return y


def s_for_break_continue(n):
    total = 0
    for i in range(n):
        if i % 2:
            continue
        if i > 6:
            break
        total += i
    else:
        total = -total
    return total


def s_nested_loops(n):
    t = 0
    for i in range(n):
        for j in range(i):
            t += j
        else:
            t += 1
    return t


def s_while_else(n):
    i = 0
    while i < n:
        i += 1
        if i == 5:
            break
    else:
        i = -1
    return i


def s_while_true(n):
    i = 0
    while True:
        i += 1
        if i < n:
            continue
        break
    while 0:
        i = 99
    return i


def s_while_else_jumps(xs):
    out = []
    for x in xs:
        k = 0
        while k < x:
            k += 1
        else:
            if x == 2:
                continue
            if x == 4:
                break
        out.append(k)
    return out


def s_try(n):
    log = []
    for i in range(n):
        try:
            log.append(i)
            if i % 3 == 0:
                raise ValueError(i)
            if i % 3 == 1:
                raise KeyError(i)
        except ValueError:
            log.append("v")
        except KeyError as e:
            log.append(e.args[0])
        else:
            log.append("else")
        finally:
            log.append("f")
    return log


def s_try_unmatched(n):
    try:
        try:
            if n:
                raise LookupError(n)
            x = 1
        except ValueError:
            x = 2
        except TypeError:
            x = 3
        finally:
            y = 4
    except LookupError:
        return "outer"
    return x + y


def s_try_return(n):
    for i in range(n):
        try:
            if i == 2:
                return i
            continue
        finally:
            n += 1
    return -1


def s_try_star(n):
    caught = []
    try:
        if n:
            raise ExceptionGroup("g", [KeyError(n), ValueError(n)])
    except* KeyError:
        caught.append("k")
    except* ValueError:
        caught.append("v")
    return caught


@contextlib.contextmanager
def _cm(log):
    log.append("enter")
    try:
        yield log
    finally:
        log.append("exit")


def s_with(n):
    log = []
    with _cm(log) as lg:
        lg.append(1)
    for i in range(n):
        with _cm(log):
            if i == 1:
                continue
            if i == 2:
                break
    try:
        with _cm(log), contextlib.suppress(KeyError):
            raise KeyError
        with _cm(log):
            raise ValueError
    except ValueError:
        log.append("v")
    with _cm(log):
        return log


def s_early_return(a):
    if a < 0:
        return "neg"
    elif a == 0:
        return "zero"
    elif a < 10:
        return "small"
    else:
        x = "big"
    return x


def s_generator(n):
    i = 0
    while i < n:
        x = yield i
        if x:
            i += x
        i += 1
    return i


async def _agen(n):
    for i in range(n):
        yield i


@contextlib.asynccontextmanager
async def _acm():
    yield 1


async def s_async(n):
    total = 0
    async with _acm() as one:
        total += one
    async for i in _agen(n):
        total += i
    else:
        total += 100
    await asyncio.sleep(0)
    return total


def _make_closure():
    count = 0
    scale = 2

    def bump(step):
        nonlocal count
        before = count
        count += step * scale
        return count - before

    return bump


s_closure = _make_closure()


class _Base:
    def greet(self, who):
        return f"hello {who}"


class _Child(_Base):
    def __init__(self):
        self.__secret = 7

    def greet(self, who):
        base = super().greet(who)
        return base + f" ({self.__secret})"


def s_fact(n):
    if n <= 1:
        return 1
    return n * s_fact(n - 1)


def s_comprehensions(n):
    a = [i * i for i in range(n)]
    b = {i: i for i in range(n) if i % 2}
    c = sum(i for i in range(n))
    return a, b, c


def s_match(v):
    match v:
        case 0:
            r = "zero"
        case [x, y]:
            r = f"pair {x} {y}"
        case {"k": k}:
            r = f"key {k}"
        case int(i) if i > 100:
            r = "big"
        case str():
            r = "str"
    return r if "r" in dir() else None


def s_match_wild(v):
    match v:
        case 1 | 2:
            r = "small"
        case _:
            r = "other"
    return r


GLOBAL_COUNTER = 0


def s_global(n):
    global GLOBAL_COUNTER
    before = GLOBAL_COUNTER
    GLOBAL_COUNTER += n
    return GLOBAL_COUNTER - before


def s_docstring(a):
    """The docstring must stay the first statement."""
    "not a docstring"
    return a


def s_only_docstring():
    """Nothing else."""


def _deco(f):
    return f


def s_nested_defs(n):
    @_deco
    @_deco
    def inner(k):
        return k + n

    @_deco
    class Local:
        value = n

    square = lambda v: v * v  # noqa: E731 - a lambda is a simple statement here
    return inner(1) + Local.value + square(n)


@_deco
def s_decorated_doc():
    """Only a docstring, under a decorator: the tracer reports the decorator's line."""


def s_defaults(a, b=2, *args, c=3, d: int = 4, **kw):
    return a + b + c + d + len(args) + len(kw)


def s_annotated(a: int) -> list[int]:
    x: int  # noqa: F842 - an annotation without a value runs nothing
    y: int = a
    return [y]


# fmt: off
def s_semicolons(a):
    x = 1; y = 2  # noqa: E702
    if a: x = 3  # noqa: E701
    else: y = 4  # noqa: E701
    return x + y
# fmt: on


def s_raise(a):
    if a:
        raise RuntimeError("boom")
    return a


def s_exc_in_loop(n):
    out = []
    for i in range(n):
        try:
            out.append(10 // (i - 2))
        except ZeroDivisionError:
            out.append(None)
            continue
        out.append("after")
    return out


def _gen_call(n: int, sends: list[int]) -> Callable[[Callable[..., Any]], Any]:
    def call(f: Callable[..., Any]) -> Any:
        g = f(n)
        got = [next(g)]
        for s in sends:
            got.append(g.send(s))
        g.close()  # partially consumed: GeneratorExit at the yield
        return got

    return call


@dataclass
class Case:
    name: str
    func: Any
    calls: list[Callable[[Callable[..., Any]], Any]]


def _args(*argsets: tuple[Any, ...]) -> list[Callable[[Callable[..., Any]], Any]]:
    return [lambda f, a=a: outcome(lambda: f(*a)) for a in argsets]


CASES = [
    Case("simple", s_simple, _args((1, 2), (3, 4))),
    Case("for_break_continue", s_for_break_continue, _args((0,), (5,), (20,))),
    Case("nested_loops", s_nested_loops, _args((0,), (4,))),
    Case("while_else", s_while_else, _args((0,), (3,), (9,))),
    Case("while_true", s_while_true, _args((1,), (4,))),
    Case("while_else_jumps", s_while_else_jumps, _args(([1, 2, 3, 4, 5],), ([0, 1],))),
    Case("try", s_try, _args((7,))),
    Case("try_unmatched", s_try_unmatched, _args((0,), (1,))),
    Case("try_return", s_try_return, _args((1,), (5,))),
    Case("try_star", s_try_star, _args((0,), (1,))),
    Case("with", s_with, _args((4,))),
    Case("early_return", s_early_return, _args((-1,), (0,), (5,), (50,))),
    Case("generator", s_generator, [_gen_call(10, [0, 2]), _gen_call(3, [])]),
    Case("async", s_async, [lambda f: asyncio.run(f(3))]),
    Case("closure", s_closure, _args((1,), (2,))),
    Case("super_mangled", _Child.__dict__["greet"], [lambda f: f(_Child(), "x")]),
    Case("comprehensions", s_comprehensions, _args((5,))),
    Case("match", s_match, _args((0,), ([1, 2],), ({"k": 3},), (500,), ("s",), (5,))),
    Case("match_wild", s_match_wild, _args((1,), (9,))),
    Case("global", s_global, _args((2,))),
    Case("docstring", s_docstring, _args((1,))),
    Case("only_docstring", s_only_docstring, _args(())),
    Case("nested_defs", s_nested_defs, _args((3,))),
    Case("decorated_doc", s_decorated_doc, _args(())),
    Case("defaults", s_defaults, _args((1,), (1, 5, 6, 7), (1,))),
    Case("annotated", s_annotated, _args((3,))),
    Case("semicolons", s_semicolons, _args((0,), (1,))),
    Case("raise", s_raise, _args((0,), (1,))),
    Case("exc_in_loop", s_exc_in_loop, _args((5,))),
]


def _comprehension_lines(func: Callable[..., Any]) -> set[int]:
    """Lines holding a list/set/dict comprehension: inlined on 3.12+ (PEP 709), where a
    tracer reports them once per item; we count the statement once (documented)."""
    lines, start = inspect.getsourcelines(func)
    tree = ast.parse(textwrap.dedent("".join(lines)))
    kinds = ast.ListComp | ast.SetComp | ast.DictComp
    return {n.lineno + start - 1 for n in ast.walk(tree) if isinstance(n, kinds)}


def _expected(case: Case, got_hits: dict[int, int], traced_counts: Counter[int]) -> dict[int, int]:
    expected = Counter(traced_counts)
    if PY312:
        for line in _comprehension_lines(case.func):
            if line in expected:
                expected[line] = got_hits.get(line, 0)
    return dict(expected)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hits_equal_the_tracer(case: Case) -> None:
    new = instrument(case.func)
    counters = counters_of(new)
    expected: Counter[int] = Counter()
    for call in case.calls:
        want, counts = traced(case.func, call)
        expected.update(counts)
        got = call(new)
        assert got == want
    got_hits = ran(counters)
    assert got_hits == _expected(case, got_hits, expected)
    assert counters.calls == len(case.calls)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_in_place_hits_equal_the_tracer(case: Case) -> None:
    expected: Counter[int] = Counter()
    wants = []
    for call in case.calls:
        want, counts = traced(case.func, call)
        expected.update(counts)
        wants.append(want)
    func, code = instrument_in_place(case.func)
    try:
        assert func is case.func and func.__code__ is not code
        for call, want in zip(case.calls, wants, strict=True):
            assert call(func) == want
    finally:
        func.__code__ = code
    counters = _lines.find_counters(code)[-1]
    got_hits = ran(counters)
    assert got_hits == _expected(case, got_hits, expected)
    assert counters.calls == len(case.calls)
    assert counters.original_code is code


def test_counted_lines_include_never_run_ones() -> None:
    new = instrument(s_early_return)
    new(-1)
    hits = counters_of(new).hits()
    first = s_early_return.__code__.co_firstlineno
    assert hits[first + 2] == 1  # return "neg"
    assert hits[first + 4] == 0  # return "zero": instrumented, never ran
    assert first not in hits  # the def line is not a statement of the body
    assert first + 7 not in hits  # `else:` is no statement


def test_recursion_goes_through_the_instrumented_global(monkeypatch: pytest.MonkeyPatch) -> None:
    module = sys.modules[__name__]
    new = instrument(s_fact)
    monkeypatch.setattr(module, "s_fact", new)
    assert new(5) == 120
    counters = counters_of(new)
    assert counters.calls == 5
    first = s_fact.__code__.co_firstlineno
    assert counters.hits() == {first + 1: 5, first + 2: 1, first + 3: 4}


def test_in_place_reaches_every_reference_and_restores() -> None:
    module = sys.modules[__name__]
    alias = s_fact
    func, code = instrument_in_place(s_fact)
    try:
        assert alias(4) == 24  # through another name, recursion included
        counters = _lines.find_counters(code)[-1]
        assert counters.calls == 4
        names = [n for n in func.__code__.co_names if n.startswith("__hpkit_lines_inplace_")]
        assert len(names) == 1 and getattr(module, names[0]) is counters.counts
        with pytest.raises(InvalidInputError, match="already"):
            instrument_in_place(s_fact)
        assert "__hpkit_lines" not in str(dis_text(s_fact))
    finally:
        func.__code__ = code
    assert s_fact(3) == 6 and counters.calls == 4  # restored: no longer counting


def dis_text(func: Callable[..., Any]) -> str:
    from hpkit.profile._bytecode import dis

    return dis(func)


def test_metadata_is_kept() -> None:
    new = instrument(s_defaults)
    assert new.__name__ == "s_defaults"
    assert new.__qualname__ == s_defaults.__qualname__
    assert new.__module__ == s_defaults.__module__
    assert new.__defaults__ == s_defaults.__defaults__
    assert new.__kwdefaults__ == s_defaults.__kwdefaults__
    assert new.__annotations__ == s_defaults.__annotations__ == {"d": "int"}  # future import
    assert new.__code__.co_flags & ast.PyCF_ONLY_AST == 0
    assert new.__code__.co_firstlineno == s_defaults.__code__.co_firstlineno
    assert new.__code__.co_qualname == s_defaults.__code__.co_qualname
    assert new.__wrapped__ is s_defaults
    assert inspect.signature(new) == inspect.signature(s_defaults)
    doc = instrument(s_docstring)
    assert doc.__doc__ == s_docstring.__doc__
    assert doc.__code__.co_consts[0] == s_docstring.__doc__
    assert instrument(new) is new  # idempotent


def test_future_annotations_flag_is_kept() -> None:
    import __future__

    flag = __future__.annotations.compiler_flag
    assert s_annotated.__code__.co_flags & flag
    assert instrument(s_annotated).__code__.co_flags & flag


def test_closure_cells_are_shared() -> None:
    bump = _make_closure()
    new = instrument(bump)
    assert new(1) == 2
    assert bump(1) == 2
    assert new.__closure__ is not None and bump.__closure__ is not None
    cells = dict(zip(bump.__code__.co_freevars, bump.__closure__, strict=True))
    new_cells = dict(zip(new.__code__.co_freevars, new.__closure__, strict=True))
    assert new_cells["count"] is cells["count"] and cells["count"].cell_contents == 4
    assert set(new.__code__.co_freevars) == {"count", "scale", "__hpkit_lines__"}


def test_methods_static_and_class() -> None:
    class K:
        factor = 3

        def __init__(self):
            self.__v = 2

        @staticmethod
        def st(a):
            return a + 1

        @classmethod
        def cm(cls, a):
            return a * cls.factor

        def private(self):
            return self.__v

    st = instrument(K.__dict__["st"])
    cm = instrument(K.__dict__["cm"])
    assert isinstance(st, staticmethod) and isinstance(cm, classmethod)
    K.st, K.cm = st, cm
    K.private = instrument(K.private)
    assert K.st(1) == 2 and K.cm(2) == 6 and K().private() == 2
    bound = instrument(K().private)
    assert bound() == 2
    assert counters_of(K.__dict__["cm"]).calls == 1


def test_tracebacks_keep_the_original_lines() -> None:
    def lines_of(f: Callable[[int], Any]) -> list[tuple[str | None, int | None]]:
        try:
            f(1)
        except LookupError as exc:
            return [(fs.name, fs.lineno) for fs in traceback.extract_tb(exc.__traceback__)]
        raise AssertionError("no exception")

    original = lines_of(s_try_unmatched_inner)
    new = instrument(s_try_unmatched_inner)
    assert lines_of(new) == original
    assert len(original) == 2  # the call in lines_of and the raise, nothing re-raised twice


def s_try_unmatched_inner(n):
    try:
        raise LookupError(n)
    except ValueError:
        pass


def test_generator_and_async_flags() -> None:
    assert inspect.isgeneratorfunction(instrument(s_generator))
    assert inspect.iscoroutinefunction(instrument(s_async))
    new = instrument(s_generator)
    gen = new(5)
    assert counters_of(new).calls == 0  # a generator's call counts when it starts
    next(gen)
    assert counters_of(new).calls == 1
    assert _lines.find_counters(s_generator.__code__)[-1] is counters_of(new)


def test_rejects_what_it_cannot_rebuild() -> None:
    with pytest.raises(InvalidInputError, match="not a Python function"):
        instrument(len)
    with pytest.raises(InvalidInputError, match="lambda"):
        instrument(lambda: 1)
    ns: dict[str, Any] = {}
    exec("def from_exec():\n    return 1\n", ns)  # noqa: S102
    with pytest.raises(InvalidInputError, match="no source"):
        instrument(ns["from_exec"])

    @functools.lru_cache
    def cached(a):
        return a

    with pytest.raises(InvalidInputError):
        instrument(cached)

    def decorator(f):
        @functools.wraps(f)
        def wrapper(*a):
            return f(*a)

        return wrapper

    with pytest.raises(InvalidInputError, match="wrapper"):
        instrument(decorator(s_simple))


def test_as_a_decorator_under_other_decorators() -> None:
    calls = []

    def outer(f):
        def w(*a):
            calls.append(a)
            return f(*a)

        return w

    @outer
    @instrument
    def twice(a):
        return a * 2

    assert twice(4) == 8 and calls == [(4,)]
    assert twice.__closure__ is not None
    inner = dict(zip(twice.__code__.co_freevars, twice.__closure__, strict=True))["f"]
    counters = counters_of(inner.cell_contents)
    assert counters.calls == 1
    assert counters.frame.firstlineno == inner.cell_contents.__code__.co_firstlineno
    assert counters.frame.firstlineno == inner.cell_contents.__wrapped__.__code__.co_firstlineno


def test_registry_and_fill_profile() -> None:
    clear_registry()
    new = instrument(s_while_else)
    new(3)
    new(9)
    assert [c.frame.name for c in registry()] == ["s_while_else"]
    profile = Profile(mode="lines")
    profile.frames.append(Frame("other", "x.py", 1))
    fill_profile(profile)
    frame = Frame(s_while_else.__qualname__, __file__, s_while_else.__code__.co_firstlineno)
    assert profile.frames[1] == frame
    assert profile.calls == {1: 2}
    first = frame.firstlineno
    assert profile.hits[(__file__, first + 2)] == 4 + 5  # while: 3 tests + exit, 5 tests
    assert profile.hits[(__file__, first + 7)] == 1  # `i = -1`: only the first call
    assert profile.hits[(__file__, first + 5)] == 1  # break
    counters = registry()[0]
    counters.reset()
    assert counters.calls == 0 and not ran(counters)
    clear_registry()
    assert registry() == []


def test_julia_matches_the_known_sums() -> None:
    zs, cs, _, _ = julia.build_zs_cs(100)
    new = instrument(julia.calculate_z_serial_purepython)
    output = new(300, zs, cs)
    assert sum(output) == 334_236
    counters = counters_of(new)
    source, first = inspect.getsourcelines(julia.calculate_z_serial_purepython)
    line_of = {text.strip(): first + i for i, text in enumerate(source)}
    hits = counters.hits()
    assert hits[line_of["z = z * z + c"]] == 334_236
    assert hits[line_of["n += 1"]] == 334_236
    assert hits[line_of["while abs(z) < 2 and n < maxiter:"]] == 334_236 + 10_000
    assert hits[line_of["for i in range(len(zs)):"]] == 10_000 + 1
    assert hits[line_of["output[i] = n"]] == 10_000
    assert counters.calls == 1


def s_finally_quirk(a):
    try:
        raise ValueError(a)
    finally:
        if a:
            a += 1


def test_311_finally_quirk() -> None:
    """3.11's tracer reports the last line of a finally block that an exception leaves
    (the re-raise carries that line), even when the line did not run. We count what ran,
    as 3.12+'s tracer does."""
    new = instrument(s_finally_quirk)
    _, counts = traced(s_finally_quirk, lambda f: outcome(lambda: f(0)))
    outcome(lambda: new(0))
    last = s_finally_quirk.__code__.co_firstlineno + 5
    assert counters_of(new).hits()[last] == 0
    assert counts[last] == (0 if PY312 else 1)


# --------------------------------------------------------------------------- compile-time variant

MODULE_SOURCE = '''\
"""A module for the import hook."""
from __future__ import annotations


def helper(n):
    total = 0
    for i in range(n):
        total += i
    return total


class Box:
    def __init__(self):
        self.__items = []

    def add(self, x):
        self.__items.append(x)
        return super().__repr__() and len(self.__items)


def outer(n):
    def inner(k):
        return k * 2
    return [inner(i) for i in range(n)]


def recurse(n):
    return 0 if n == 0 else 1 + recurse(n - 1)
'''


@pytest.fixture
def sample_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"hpkit_lines_sample_{next(_module_ids)}"
    (tmp_path / f"{name}.py").write_text(MODULE_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    clear_registry()
    yield name
    sys.modules.pop(name, None)
    clear_registry()


_module_ids = itertools.count()


def test_import_hook_instruments_named_functions(sample_module: str, tmp_path: Path) -> None:
    uninstall = install_import_hook(
        {sample_module: {"helper", "Box.add", "outer.<locals>.inner", "recurse"}}
    )
    try:
        module = __import__(sample_module)
    finally:
        uninstall()
    assert module.__doc__ == "A module for the import hook."
    assert module.helper(4) == 6
    box = module.Box()
    assert box.add(1) == 1 and box.add(2) == 2
    assert module.outer(3) == [0, 2, 4]
    assert module.recurse(3) == 3
    by_name = {c.frame.name: c for c in registry()}
    assert set(by_name) == {"helper", "Box.add", "outer.<locals>.inner", "recurse"}
    assert by_name["helper"].hits() == {6: 1, 7: 5, 8: 4, 9: 1}
    assert by_name["helper"].calls == 1
    assert by_name["Box.add"].calls == 2
    assert by_name["outer.<locals>.inner"].calls == 3
    assert by_name["recurse"].calls == 4
    assert by_name["helper"].frame == Frame("helper", str(tmp_path / f"{sample_module}.py"), 5)
    assert not list(tmp_path.glob("__pycache__/*"))  # no bytecode cache written
    assert by_name["helper"].original_code is not None
    assert by_name["helper"].original_code.co_qualname == "helper"
    assert "__hpkit_lines_" not in str(by_name["helper"].original_code.co_names)


def test_instrument_tree_is_a_no_op_without_targets() -> None:
    tree = ast.parse("def f():\n    return 1\n")
    before = ast.dump(tree)
    assert ast.dump(instrument_tree(tree, "m.py", {"g"})) == before


@pytest.mark.parametrize("sample", [s_try, s_decorated_doc, s_nested_defs])
def test_instrument_tree_matches_the_tracer(sample: Callable[..., Any]) -> None:
    """The compile-time variant shares the rewrite (decorators stay): same counts."""
    filename = f"<hpkit-tree-test-{sample.__name__}>"
    source = textwrap.dedent(inspect.getsource(sample))
    namespace_plain: dict[str, Any] = {"_deco": _deco}
    exec(compile(source, filename, "exec"), namespace_plain)  # noqa: S102
    tree = instrument_tree(ast.parse(source), filename, {sample.__name__})
    namespace: dict[str, Any] = {"_deco": _deco}
    exec(compile(tree, filename, "exec"), namespace)  # noqa: S102
    args = (7,) if sample.__code__.co_argcount else ()
    want, counts = traced(namespace_plain[sample.__name__], lambda f: f(*args))
    assert namespace[sample.__name__](*args) == want
    counters = [c for c in registry() if c.frame.filename == filename][-1]
    assert ran(counters) == dict(counts)


@pytest.mark.parametrize("in_place", [True, False])
def test_instrument_module_function(sample_module: str, in_place: bool) -> None:
    module = __import__(sample_module)
    imported_early = module.helper  # as `from module import helper` would
    instrument_module_function(module, "helper", in_place=in_place)
    instrument_module_function(module, "Box.add", in_place=in_place)
    assert module.helper(3) == 3
    assert imported_early(2) == 1
    assert module.Box().add(5) == 1
    calls = {c.frame.name: c.calls for c in registry()}
    assert calls == {"helper": 2 if in_place else 1, "Box.add": 1}
    assert (module.helper is imported_early) == in_place
    with pytest.raises(InvalidInputError, match="local"):
        instrument_module_function(module, "outer.<locals>.inner")
    with pytest.raises(InvalidInputError, match="no"):
        instrument_module_function(module, "missing")


# --------------------------------------------------------------------------- random programs


@st.composite
def programs(draw: st.DrawFn) -> str:
    """A small random function over a grammar of statements (one per line)."""
    loop_ids = itertools.count()

    def cond() -> str:
        var = draw(st.sampled_from(["a", "b", "x", "y"]))
        op = draw(st.sampled_from(["<", ">", "==", "!="]))
        return f"{var} % 5 {op} {draw(st.integers(0, 4))}"

    def block(depth: int, indent: str, in_loop: bool, may_raise: bool = True) -> list[str]:
        n = draw(st.integers(1, 3))
        out: list[str] = []
        for _ in range(n):
            out.extend(stmt(depth, indent, in_loop, may_raise))
        return out

    def stmt(depth: int, indent: str, in_loop: bool, may_raise: bool) -> list[str]:
        simple = ["x = x + a", "y = y * 2 % 7", "x -= 1", "pass", "out.append(x)"]
        if may_raise:
            simple.append(f"if {cond()}: raise ValueError(x)")
        kinds = ["simple", "simple"]
        if in_loop:
            kinds += ["jump"]
        if depth < 3:
            kinds += ["if", "for", "while", "try", "with", "match", "return"]
        kind = draw(st.sampled_from(kinds))
        inner = indent + "    "
        if kind == "simple":
            return [indent + draw(st.sampled_from(simple))]
        if kind == "return":
            return [indent + f"if {cond()}:", inner + "return x"]
        if kind == "jump":
            return [indent + f"if {cond()}:", inner + draw(st.sampled_from(["break", "continue"]))]
        if kind == "if":
            lines = [indent + f"if {cond()}:", *block(depth + 1, inner, in_loop, may_raise)]
            if draw(st.booleans()):
                lines += [indent + f"elif {cond()}:", *block(depth + 1, inner, in_loop, may_raise)]
            if draw(st.booleans()):
                lines += [indent + "else:", *block(depth + 1, inner, in_loop, may_raise)]
            return lines
        if kind == "for":
            v = f"i{next(loop_ids)}"
            lines = [indent + f"for {v} in range({draw(st.integers(0, 4))}):"]
            lines += [inner + f"x += {v}", *block(depth + 1, inner, True, may_raise)]
            if draw(st.booleans()):
                lines += [indent + "else:", *block(depth + 1, inner, in_loop, may_raise)]
            return lines
        if kind == "while":
            v = f"w{next(loop_ids)}"
            lines = [indent + f"{v} = 0", indent + f"while {v} < {draw(st.integers(0, 4))}:"]
            lines += [inner + f"{v} += 1", *block(depth + 1, inner, True, may_raise)]
            if draw(st.booleans()):
                lines += [indent + "else:", *block(depth + 1, inner, in_loop, may_raise)]
            return lines
        if kind == "try":
            lines = [indent + "try:", *block(depth + 1, inner, in_loop, may_raise)]
            handlers = draw(st.integers(0, 2))
            for exc in ["ValueError", "KeyError"][:handlers]:
                lines += [indent + f"except {exc}:", *block(depth + 1, inner, in_loop, may_raise)]
            if handlers and draw(st.booleans()):
                lines += [indent + "else:", *block(depth + 1, inner, in_loop, may_raise)]
            if not handlers or draw(st.booleans()):
                # No jumps in finally (`continue` there is deprecated). On 3.11 no
                # exception may leave a finally block: test_311_finally_quirk.
                lines += [indent + "finally:", *block(depth + 1, inner, False, may_raise and PY312)]
                if not PY312:
                    lines.append(inner + "pass")
            return lines
        if kind == "with":
            return [indent + "with nullcontext():", *block(depth + 1, inner, in_loop, may_raise)]
        # match
        lines = [indent + "match x % 4:"]
        for pattern in draw(
            st.lists(st.sampled_from(["0", "1 | 2", "3", "_"]), min_size=1, max_size=3, unique=True)
        ):
            lines += [
                inner + f"case {pattern}:",
                *block(depth + 1, inner + "    ", in_loop, may_raise),
            ]
            if pattern == "_":
                break
        return lines

    body = block(0, "    ", False)
    return "\n".join(
        [
            "def f(a, b):",
            "    x = a",
            "    y = b",
            "    out = []",
            *body,
            "    return x, y, out",
            "",
        ]
    )


_program_ids = itertools.count()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.integers(-3, 6), st.integers(-3, 6))
def test_random_programs_match_the_tracer(source: str, a: int, b: int) -> None:
    filename = f"<hpkit-lines-random-{next(_program_ids)}>"
    lines = source.splitlines(keepends=True)
    linecache.cache[filename] = (len(source), None, lines, filename)
    try:
        namespace: dict[str, Any] = {"nullcontext": contextlib.nullcontext}
        exec(compile(source, filename, "exec", dont_inherit=True), namespace)  # noqa: S102
        f = namespace["f"]
        new = instrument(f)
        want, counts = traced(f, lambda g: outcome(lambda: g(a, b)))
        assert outcome(lambda: new(a, b)) == want
        assert ran(counters_of(new)) == dict(counts), source
    finally:
        linecache.cache.pop(filename, None)
