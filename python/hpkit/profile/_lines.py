"""Exact per-line hit counts by rewriting a function's AST (``lines`` mode).

Why not a tracer: on CPython 3.11 a C-level ``PyEval_SetTrace`` line tracer costs 3.1x on
the book's Julia loop before it does any work, because tracing de-specialises every
instruction, and line_profiler about 5x. Instead we recompile the function with a plain
``counters[k] += 1`` statement in front of each statement: no call per line, and the
specialising interpreter keeps running at full speed (about 1.7x on the Julia loop, where
nearly every line is a tiny arithmetic statement; ``benches/lines_overhead.py``).

What is counted is what a ``sys.settrace`` line tracer reports for the function's own code
object (checked on 3.11, 3.12 and 3.13, which agree except where noted):

* a simple statement: +1 each time it starts executing. Statements sharing a line
  (``a = 1; b = 2``, ``if x: y``) count that line once, as the tracer does.
* ``if``/``elif`` tests, ``try:``, ``with``/``async with`` entry, ``match`` subject: +1 per
  execution; a ``with`` line counts once more when its block exits, however it exits
  (the tracer reports the ``__exit__`` call).
* ``for``/``async for``/``while`` lines: +1 per item fetched / per test evaluated, counted
  at the start of each iteration plus once on normal exit (a loop left by ``break``,
  ``return`` or an exception gets no exit count, like the tracer).
* ``except`` and ``case`` lines: +1 for each clause tried, that is, every clause up to the
  one that matched (all of them when none matched); every ``except*`` line when the body
  raised.
* nested ``def``/``class``: +1 (their bodies are not instrumented); with decorators, the
  tracer reports each decorator line and the ``def`` line twice (evaluation, then the
  calls and the store), and so do we.
* never counted: ``global``/``nonlocal``, annotations without a value, the docstring,
  ``assert`` under ``python -O``, lines that only continue a statement.
* ``calls``: +1 per call (for a generator or coroutine: on its first resume).

Known differences from a tracer, all in corner cases:

* a multi-line statement counts once, at its first line; a tracer may also report its
  continuation lines (and the first line again), depending on the bytecode order;
* a loop whose iterator or ``while`` test *raises* is not counted for that last
  evaluation (the count is taken when the iteration starts);
* on 3.12+, list/set/dict comprehensions are inlined into the function (PEP 709) and a
  tracer reports their line once per item; we count the statement once, as 3.11's tracer
  does;
* a compound statement written on one line (``while x: x -= 1``) may differ by one per
  loop, because the tracer only sees backward jumps there;
* 3.11 only: when an exception leaves a ``finally`` block, 3.11's tracer also reports the
  block's last line, run or not (the re-raise carries that line); we count what ran, as
  3.12+'s tracer does;
* with :func:`instrument` (a copy), a function calling itself through a *closure* cell
  rather than a global name calls the original; :func:`instrument_in_place` has no such
  gap;
* counters are plain list items: with the GIL the ``+=`` cannot be interrupted between
  the read and the write, but a free-threaded build may lose increments.

Three ways in, one rewrite (:class:`_BodyRewriter`): :func:`instrument` returns a copy
(the ``@profile`` decorator), :func:`instrument_in_place` swaps a function's
``__code__`` (``Profiler(functions=...)``), :func:`instrument_tree` rewrites a module's
AST before it is compiled (``--func``, and the import hook). Line numbers, tracebacks,
``co_firstlineno``, ``co_qualname``, closures, defaults and the ``__class__`` cell of
zero-argument ``super()`` stay those of the original function.
"""

from __future__ import annotations
import __future__

import ast
import copy
import functools
import importlib.abc
import importlib.machinery
import inspect
import itertools
import linecache
import operator
import sys
import threading
import types
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from importlib.machinery import ModuleSpec
from typing import Any

from hpkit.errors import InvalidInputError
from hpkit.profile._model import Frame, Profile

__all__ = [
    "LineCounters",
    "clear_registry",
    "fill_profile",
    "find_counters",
    "install_import_hook",
    "instrument",
    "instrument_in_place",
    "instrument_module_function",
    "instrument_tree",
    "registry",
]

# The counter list is reached through a closure cell (LOAD_DEREF) for instrument() and
# through a hidden module global (LOAD_GLOBAL, specialised to LOAD_GLOBAL_MODULE) for
# instrument_tree(), where no enclosing function exists to hold a cell. Measured on the
# Julia loop at width 300 (3.11): closure 1.68x, global 1.66-1.72x, a local alias 1.63x
# (rejected: it would show up in locals()); the brief's `while True: count; if not test:
# break` rewrite of while loops measured 1.78x, so loops count at the start of each
# iteration instead. Both names end in "__" so class-private name mangling leaves them be.
_CLOSURE_NAME = "__hpkit_lines__"
_GLOBAL_PREFIX = "__hpkit_lines_"
_NEW_COUNTERS_NAME = "__hpkit_new_counters__"
_CALLS_SLOT = 0

_FUTURE_FLAGS: int = functools.reduce(
    operator.or_, (getattr(__future__, name).compiler_flag for name in __future__.all_feature_names)
)
_CO_ITERABLE_COROUTINE: int = inspect.CO_ITERABLE_COROUTINE

_DefNode = ast.FunctionDef | ast.AsyncFunctionDef


# --------------------------------------------------------------------------- counters


class LineCounters:
    """The counts of one instrumented function: calls and hits per source line.

    ``counts`` is the list the instrumented code increments: slot 0 holds the calls,
    slot ``i + 1`` the hits of ``lines[i]``.
    """

    __slots__ = ("_original_code", "counts", "frame", "lines")

    def __init__(
        self, frame: Frame, lines: Sequence[int], original_code: types.CodeType | None = None
    ) -> None:
        self.frame = frame
        self.lines: tuple[int, ...] = tuple(lines)
        self.counts: list[int] = [0] * (len(self.lines) + 1)
        self._original_code = original_code

    @property
    def calls(self) -> int:
        return self.counts[_CALLS_SLOT]

    @property
    def original_code(self) -> types.CodeType | None:
        """The uninstrumented code object (for ``dis``); for functions rewritten by
        :func:`instrument_tree` it is compiled on first use from the kept original AST."""
        if self._original_code is None:
            self._original_code = _original_from_tree(self.frame)
        return self._original_code

    def hits(self) -> dict[int, int]:
        """Hits per instrumented line, lines that never ran included (as 0), so that an
        annotated listing can show them."""
        out: dict[int, int] = {}
        for i, line in enumerate(self.lines, start=1):
            out[line] = out.get(line, 0) + self.counts[i]
        return out

    def reset(self) -> None:
        for i in range(len(self.counts)):
            self.counts[i] = 0

    def __repr__(self) -> str:
        return f"<LineCounters {self.frame.label}: {self.calls} calls>"


_registry: list[LineCounters] = []
_registry_lock = threading.Lock()
# instrument_tree() keeps a copy of each rewritten module's original AST so that `dis`
# can show the original bytecode; compiled lazily, only if asked.
_original_trees: dict[str, tuple[ast.Module, int]] = {}


def _register(counters: LineCounters) -> None:
    with _registry_lock:
        _registry.append(counters)


def registry() -> list[LineCounters]:
    """Every :class:`LineCounters` created since the last :func:`clear_registry`."""
    with _registry_lock:
        return list(_registry)


def clear_registry() -> None:
    """Forget every registered function (already instrumented code keeps counting into
    its own, now unreported, list). The original ASTs kept for ``dis`` stay: a module
    rewritten before a session started is still shown as written."""
    with _registry_lock:
        _registry.clear()


def find_counters(code: types.CodeType) -> list[LineCounters]:
    """The counters registered for the function whose (original or instrumented) code is
    ``code``, matched by file, first line and qualified name, which instrumentation keeps."""
    key = Frame(code.co_qualname, code.co_filename, code.co_firstlineno)
    return [c for c in registry() if c.frame == key]


def fill_profile(profile: Profile) -> None:
    """Add the registry's hits to ``profile.hits`` and its calls to ``profile.calls``,
    appending the functions' :class:`Frame` to ``profile.frames`` where absent."""
    index = {f: i for i, f in enumerate(profile.frames)}
    for counters in registry():
        frame = counters.frame
        i = index.get(frame)
        if i is None:
            i = index[frame] = len(profile.frames)
            profile.frames.append(frame)
        profile.calls[i] = profile.calls.get(i, 0) + counters.calls
        for line, n in counters.hits().items():
            key = (frame.filename, line)
            profile.hits[key] = profile.hits.get(key, 0) + n


def _new_counters(
    filename: str, qualname: str, firstlineno: int, lines: Sequence[int]
) -> list[int]:
    """Called by modules rewritten by :func:`instrument_tree` when they start running:
    registers the function and returns the list its code increments."""
    counters = LineCounters(Frame(qualname, filename, firstlineno), lines)
    _register(counters)
    return counters.counts


# --------------------------------------------------------------------------- the rewrite


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _is_future_import(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"


def _irrefutable(pattern: ast.pattern) -> bool:
    if isinstance(pattern, ast.MatchAs):
        return pattern.pattern is None or _irrefutable(pattern.pattern)
    if isinstance(pattern, ast.MatchOr):
        return any(_irrefutable(p) for p in pattern.patterns)
    return False


def _first_line(node: _DefNode | ast.ClassDef) -> int:
    """The line a code object starts at: its first decorator's, else the ``def``'s."""
    return node.decorator_list[0].lineno if node.decorator_list else node.lineno


class _BodyRewriter:
    """Inserts the counting statements into one function's body, in place.

    The one place where the counting rules of the module docstring live: every way in
    (:func:`instrument`, :func:`instrument_in_place`, :func:`instrument_tree`) goes
    through :meth:`rewrite`.
    ``counter`` is the name the inserted statements load the counter list from.
    """

    def __init__(self, counter: str) -> None:
        self._counter = counter
        self._slots: dict[int, int] = {}
        self._optimized = sys.flags.optimize > 0

    @property
    def lines(self) -> tuple[int, ...]:
        """The counted lines in slot order (slot ``i + 1`` counts ``lines[i]``)."""
        return tuple(self._slots)

    # ---------------------------------------------------------------- building blocks

    def _incr(self, slot: int, line: int, col: int, n: int = 1) -> ast.stmt:
        stmt = ast.AugAssign(
            target=ast.Subscript(
                value=ast.Name(id=self._counter, ctx=ast.Load()),
                slice=ast.Constant(value=slot),
                ctx=ast.Store(),
            ),
            op=ast.Add(),
            value=ast.Constant(value=n),
        )
        # The counting code sits on the line it counts, so samples and tracebacks keep
        # the original line numbers.
        for node in ast.walk(stmt):
            node.lineno = node.end_lineno = line  # type: ignore[attr-defined]
            node.col_offset = node.end_col_offset = col  # type: ignore[attr-defined]
        return stmt

    def _bump(self, line: int, at: ast.AST, n: int = 1) -> ast.stmt:
        slot = self._slots.get(line)
        if slot is None:
            slot = self._slots[line] = len(self._slots) + 1
        return self._incr(slot, line, getattr(at, "col_offset", 0), n)

    def _bumps(self, lines: list[int], at: ast.AST, times: int = 1) -> list[ast.stmt]:
        return [self._bump(line, at, n * times) for line, n in Counter(lines).items()]

    # ---------------------------------------------------------------- rewriting

    def rewrite(self, fn: _DefNode) -> None:
        """Instrument ``fn``'s body: the docstring stays first, then the call count."""
        body = list(fn.body)
        doc = body[:1] if body and _is_docstring(body[0]) else []
        rest = body[len(doc) :]
        calls = self._incr(_CALLS_SLOT, fn.lineno, fn.col_offset)
        if not rest:
            # A body that is only a docstring: the implicit `return None` carries the
            # code's first line (the first decorator's), and the tracer reports it.
            fn.body = [*doc, calls, self._bump(_first_line(fn), fn)]
        else:
            fn.body = [*doc, calls, *self._block(rest, header=None)]

    def _block(self, stmts: list[ast.stmt], header: int | None) -> list[ast.stmt]:
        """``header``: the line that ran just before the block (the compound statement's
        own line), so a first statement written on that line is not counted twice."""
        out: list[ast.stmt] = []
        prev = header
        for stmt in stmts:
            out.extend(self._stmt(stmt, same_line=stmt.lineno == prev))
            prev = stmt.end_lineno
        return out

    def _stmt(self, s: ast.stmt, same_line: bool) -> list[ast.stmt]:
        line = s.lineno
        if isinstance(s, ast.Global | ast.Nonlocal):
            return [s]  # declarations: nothing runs
        if isinstance(s, ast.AnnAssign) and s.value is None:
            return [s]  # a local annotation without a value compiles to nothing
        if isinstance(s, ast.Assert) and self._optimized:
            return [s]
        if isinstance(s, ast.For | ast.AsyncFor | ast.While):
            # +1 per iteration (item fetched / test true) and +1 on normal exit (the else).
            s.body = [self._bump(line, s), *self._block(s.body, line)]
            s.orelse = [self._bump(line, s), *self._block(s.orelse, line)]
            return [s]
        if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if s.decorator_list:
                return [*self._bumps([d.lineno for d in s.decorator_list] + [line], s, 2), s]
            return [self._bump(line, s), s]
        pre = [] if same_line else [self._bump(line, s)]
        if isinstance(s, ast.If):
            s.body = self._block(s.body, line)
            s.orelse = self._block(s.orelse, line)
        elif isinstance(s, ast.With | ast.AsyncWith):
            # The tracer reports the with line again when __exit__ runs, on every exit.
            body = self._block(s.body, line)
            guard = ast.Try(body=body, handlers=[], orelse=[], finalbody=[self._bump(line, s)])
            s.body = [ast.copy_location(guard, s)]
        elif isinstance(s, ast.Try):
            self._try(s)
        elif isinstance(s, ast.TryStar):
            self._try_star(s)
        elif isinstance(s, ast.Match):
            self._match(s)
        return [*pre, s]

    def _try(self, s: ast.Try) -> None:
        s.body = self._block(s.body, s.lineno)
        tried: list[int] = []
        for handler in s.handlers:
            tried.append(handler.lineno)
            counted = self._bumps(tried, handler)
            handler.body = [*counted, *self._block(handler.body, handler.lineno)]
        if s.handlers and s.handlers[-1].type is not None:
            # No clause matched: all were tried. A bare `raise` re-raises without adding
            # a traceback entry, so the exception leaves exactly as before.
            last = s.handlers[-1]
            catch_all = ast.ExceptHandler(
                type=None, name=None, body=[*self._bumps(tried, last), ast.Raise()]
            )
            s.handlers.append(ast.copy_location(catch_all, last))
        s.orelse = self._block(s.orelse, None)
        s.finalbody = self._block(s.finalbody, None)

    def _try_star(self, s: ast.TryStar) -> None:
        # Every except* clause is tried when the body raised, matched or not.
        lines = [h.lineno for h in s.handlers]
        inner = ast.Try(
            body=self._block(s.body, s.lineno),
            handlers=[
                ast.copy_location(
                    ast.ExceptHandler(
                        type=None, name=None, body=[*self._bumps(lines, s), ast.Raise()]
                    ),
                    s,
                )
            ],
            orelse=[],
            finalbody=[],
        )
        s.body = [ast.copy_location(inner, s)]
        for handler in s.handlers:
            handler.body = self._block(handler.body, handler.lineno)
        s.orelse = self._block(s.orelse, None)
        s.finalbody = self._block(s.finalbody, None)

    def _match(self, s: ast.Match) -> None:
        tried: list[int] = []
        for case in s.cases:
            line = case.pattern.lineno
            tried.append(line)
            case.body = [*self._bumps(tried, case.pattern), *self._block(case.body, line)]
        last = s.cases[-1]
        if last.guard is not None or not _irrefutable(last.pattern):
            # Nothing matched: every case was tried. An added `case _:` counts them.
            wildcard = ast.copy_location(ast.MatchAs(pattern=None, name=None), last.pattern)
            s.cases.append(ast.match_case(pattern=wildcard, guard=None, body=self._bumps(tried, s)))


# --------------------------------------------------------------------------- instrument()


def _scopes(tree: ast.AST) -> Iterator[tuple[_DefNode, str, str | None]]:
    """Every function definition with its qualified name and innermost enclosing class."""

    def walk(
        node: ast.AST, prefix: str, cls: str | None
    ) -> Iterator[tuple[_DefNode, str, str | None]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                qualname = prefix + child.name
                yield child, qualname, cls
                yield from walk(child, qualname + ".<locals>.", cls)
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, prefix + child.name + ".", child.name)
            else:
                yield from walk(child, prefix, cls)

    return walk(tree, "", None)


def _locate(func: types.FunctionType) -> tuple[_DefNode, str | None]:
    """The ``def`` of ``func`` in its module's current source, and the class it sits in
    (whose name decides private-name mangling and provides ``__class__``)."""
    code = func.__code__
    filename = code.co_filename
    linecache.checkcache(filename)
    lines = linecache.getlines(filename, func.__globals__)
    if not lines:
        raise InvalidInputError(
            f"no source for {func.__qualname__} ({filename}): defined in the REPL, by "
            "exec() or in a compiled-only module"
        )
    try:
        tree = ast.parse("".join(lines), filename)
    except SyntaxError as exc:
        raise InvalidInputError(f"cannot parse the source of {func.__qualname__}: {exc}") from exc
    found = [
        (node, qualname, cls)
        for node, qualname, cls in _scopes(tree)
        if node.name == code.co_name and _first_line(node) == code.co_firstlineno
    ]
    exact = [f for f in found if f[1] == code.co_qualname]
    if exact or found:
        node, _, cls = (exact or found)[0]
        return node, cls
    raise InvalidInputError(
        f"the source of {func.__qualname__} ({filename}:{code.co_firstlineno}) does not "
        "match the running code: edited since it was imported?"
    )


def _innermost_code(code: types.CodeType, name: str) -> types.CodeType:
    """The first code object named ``name`` below ``code``, breadth first."""
    queue = [code]
    while queue:
        current = queue.pop(0)
        for const in current.co_consts:
            if isinstance(const, types.CodeType):
                if const.co_name == name:
                    return const
                queue.append(const)
    raise AssertionError(f"compiled code has no function {name!r}")  # pragma: no cover


def _check(func: Any) -> types.FunctionType:
    if not isinstance(func, types.FunctionType):
        raise InvalidInputError(f"{func!r} is not a Python function: cannot count its lines")
    if hasattr(func, "__wrapped__"):
        raise InvalidInputError(
            f"{func.__qualname__} is a wrapper made by another decorator; put the "
            "profiling decorator closest to the def"
        )
    code = func.__code__
    if code.co_name == "<lambda>":
        raise InvalidInputError("a lambda has no statements to count")
    if any(name.startswith(_GLOBAL_PREFIX) for name in code.co_names):
        raise InvalidInputError(f"{func.__qualname__} is instrumented already")
    return func


def _recompile(func: types.FunctionType, counter: str) -> tuple[types.CodeType, LineCounters]:
    """The instrumented code of ``func`` (same name, qualified name, first line, flags)
    and its counters. ``counter`` is :data:`_CLOSURE_NAME` for a closure cell, else the
    name of a module global."""
    code = func.__code__
    node, cls = _locate(func)
    node = copy.deepcopy(node)
    node.decorator_list = []
    if sys.version_info >= (3, 12):
        node.type_params = []  # type parameters are free variables of the copy
    node.lineno = code.co_firstlineno  # keeps co_firstlineno (decorators were stripped)
    rewriter = _BodyRewriter(counter)
    rewriter.rewrite(node)

    # Compile the def inside a factory whose locals stand for the original free
    # variables (and the counter list), so the copy gets them as closure cells; inside
    # a class of the same name when the original was, for mangling and `__class__`.
    # The factory is never run: the function's code is taken from its constants.
    inner: ast.stmt = node
    if cls is not None:
        inner = ast.ClassDef(name=cls, bases=[], keywords=[], body=[node], decorator_list=[])
        if sys.version_info >= (3, 12):
            inner.type_params = []
    cells = (_CLOSURE_NAME, *code.co_freevars) if counter == _CLOSURE_NAME else code.co_freevars
    binds: list[ast.stmt] = [
        ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=ast.Constant(None))
        for name in cells
        if name != "__class__"
    ]
    if cls is None and code.co_name not in code.co_freevars:
        # The def would bind its own name in the factory, turning a recursive call
        # through the global name into a closure reference.
        binds.insert(0, ast.Global(names=[code.co_name]))
    factory = ast.FunctionDef(
        name="__hpkit_factory__",
        args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
        body=[*binds, inner],
        decorator_list=[],
        returns=None,
    )
    if sys.version_info >= (3, 12):
        factory.type_params = []
    module = ast.fix_missing_locations(ast.Module(body=[factory], type_ignores=[]))
    try:
        compiled = compile(
            module, code.co_filename, "exec", flags=code.co_flags & _FUTURE_FLAGS, dont_inherit=True
        )
    except SyntaxError as exc:  # pragma: no cover - the source compiled once already
        raise InvalidInputError(f"cannot recompile {func.__qualname__}: {exc}") from exc
    new_code = _innermost_code(compiled, code.co_name).replace(co_qualname=code.co_qualname)
    if code.co_flags & _CO_ITERABLE_COROUTINE:  # types.coroutine
        new_code = new_code.replace(co_flags=new_code.co_flags | _CO_ITERABLE_COROUTINE)
    extra = set(new_code.co_freevars) - set(code.co_freevars) - {_CLOSURE_NAME}
    if extra:  # pragma: no cover - the same body resolves names the same way
        raise InvalidInputError(f"cannot rebuild the closure of {func.__qualname__}: {extra}")
    frame = Frame(code.co_qualname, code.co_filename, code.co_firstlineno)
    return new_code, LineCounters(frame, rewriter.lines, code)


def instrument(func: Any) -> Any:
    """Return a copy of ``func`` that counts its calls and line hits, and register its
    :class:`LineCounters`.

    ``func`` must be a plain Python function whose source is on disk (also accepted:
    a bound method, ``staticmethod`` or ``classmethod`` around one). Decorators in the
    source are ignored: this runs inside the decorator stack, and the other decorators
    apply around the result. Raises :class:`~hpkit.errors.InvalidInputError` when the
    function cannot be rebuilt (builtins, lambdas, code without source, functions already
    wrapped by another decorator); callers fall back to sampling for those.
    """
    if isinstance(func, staticmethod | classmethod):
        return type(func)(instrument(func.__func__))
    if isinstance(func, types.MethodType):
        return types.MethodType(instrument(func.__func__), func.__self__)
    if hasattr(func, "__hpkit_line_counters__"):
        return func  # instrumented already
    func = _check(func)
    code = func.__code__
    new_code, counters = _recompile(func, _CLOSURE_NAME)
    closure = func.__closure__ or ()
    cells = [
        types.CellType(counters.counts)
        if name == _CLOSURE_NAME
        else closure[code.co_freevars.index(name)]
        for name in new_code.co_freevars
    ]
    new = types.FunctionType(
        new_code, func.__globals__, func.__name__, func.__defaults__, tuple(cells)
    )
    new.__kwdefaults__ = dict(func.__kwdefaults__) if func.__kwdefaults__ else None
    functools.update_wrapper(new, func)  # name, qualname, doc, module, annotations, dict
    new.__hpkit_line_counters__ = counters  # type: ignore[attr-defined]
    _register(counters)
    return new


_in_place_ids = itertools.count()


def instrument_in_place(func: Any) -> tuple[types.FunctionType, types.CodeType]:
    """Swap ``func.__code__`` for an instrumented one, so that every reference to the
    function (imported names, bound methods, callbacks) counts; returns ``(function,
    original code)`` for the caller to put back (``function.__code__ = code``).

    A closure cannot grow a cell in place, so the counters are reached through a hidden
    global of the function's module (``__hpkit_lines_inplace_N__``), as with
    :func:`instrument_tree`; they are registered like :func:`instrument`'s.
    """
    if isinstance(func, staticmethod | classmethod | types.MethodType):
        func = func.__func__
    func = _check(func)
    code = func.__code__
    name = f"{_GLOBAL_PREFIX}inplace_{next(_in_place_ids)}__"
    new_code, counters = _recompile(func, name)
    if new_code.co_freevars != code.co_freevars:  # pragma: no cover - same names, sorted
        raise InvalidInputError(f"cannot instrument {func.__qualname__} in place")
    func.__globals__[name] = counters.counts
    func.__code__ = new_code
    _register(counters)
    return func, code


# --------------------------------------------------------------------------- instrument_tree()


def _original_from_tree(frame: Frame) -> types.CodeType | None:
    kept = _original_trees.get(frame.filename)
    if kept is None:
        return None
    tree, flags = kept
    queue = [compile(tree, frame.filename, "exec", flags=flags, dont_inherit=True)]
    while queue:
        code = queue.pop(0)
        if code.co_qualname == frame.name and code.co_firstlineno == frame.firstlineno:
            return code
        queue.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return None


def instrument_tree(
    tree: ast.Module, filename: str, targets: set[str], *, flags: int = 0
) -> ast.Module:
    """Instrument, in ``tree`` (a parsed module, changed in place and returned), every
    function whose name or qualified name (``Cls.method``, ``outer.<locals>.inner``) is in
    ``targets`` - the compile-time form of ``--func``. Decorators stay and apply as usual.

    Each function's counters are created when the module starts running, by statements
    inserted after the docstring and ``from __future__`` imports, and held in a hidden
    module global (``__hpkit_lines_N__``) that the function's counting statements load.
    ``flags`` are the compile flags the caller will use (kept to show original bytecode).
    """
    found = [(n, q) for n, q, _ in _scopes(tree) if n.name in targets or q in targets]
    if not found:
        return tree
    _original_trees[filename] = (copy.deepcopy(tree), flags)
    setup: list[ast.stmt] = [
        ast.ImportFrom(
            module="hpkit.profile._lines",
            names=[ast.alias(name="_new_counters", asname=_NEW_COUNTERS_NAME)],
            level=0,
        )
    ]
    for i, (node, qualname) in enumerate(found):
        name = f"{_GLOBAL_PREFIX}{i}__"
        rewriter = _BodyRewriter(name)
        rewriter.rewrite(node)
        call = ast.Call(
            func=ast.Name(id=_NEW_COUNTERS_NAME, ctx=ast.Load()),
            args=[
                ast.Constant(filename),
                ast.Constant(qualname),
                ast.Constant(_first_line(node)),
                ast.Tuple(elts=[ast.Constant(n) for n in rewriter.lines], ctx=ast.Load()),
            ],
            keywords=[],
        )
        setup.append(ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=call))
    body = tree.body
    at = 1 if body and _is_docstring(body[0]) else 0
    while at < len(body) and _is_future_import(body[at]):
        at += 1
    line = body[at].lineno if at < len(body) else 1
    for stmt in setup:
        for part in ast.walk(stmt):
            part.lineno = part.end_lineno = line  # type: ignore[attr-defined]
            part.col_offset = part.end_col_offset = 0  # type: ignore[attr-defined]
    tree.body[at:at] = setup
    return ast.fix_missing_locations(tree)


# --------------------------------------------------------------------------- import hook


class _InstrumentingLoader(importlib.machinery.SourceFileLoader):
    """A source loader that rewrites the listed functions and never reads or writes a
    ``.pyc`` (a cached file would hold the uninstrumented code, and the rewritten code
    must not be cached for later, unprofiled runs)."""

    def __init__(self, fullname: str, path: str, targets: set[str]) -> None:
        super().__init__(fullname, path)
        self._targets = targets

    def get_code(self, fullname: str) -> types.CodeType:
        path = self.get_filename(fullname)
        return self.source_to_code(self.get_data(path), path)

    def source_to_code(  # type: ignore[override]
        self, data: Any, path: Any, *, _optimize: int = -1
    ) -> types.CodeType:
        source = data if isinstance(data, str) else bytes(data)
        tree = ast.parse(source, str(path))
        tree = instrument_tree(tree, str(path), self._targets)
        return compile(tree, path, "exec", dont_inherit=True, optimize=_optimize)


class _InstrumentingFinder(importlib.abc.MetaPathFinder):
    def __init__(self, targets: dict[str, set[str]]) -> None:
        self._targets = targets

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> ModuleSpec | None:
        wanted = self._targets.get(fullname)
        if not wanted:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is None:
                continue
            if type(spec.loader) is not importlib.machinery.SourceFileLoader or not spec.origin:
                return None  # extension module, namespace, zip, custom loader: untouched
            spec.loader = _InstrumentingLoader(fullname, spec.origin, wanted)
            spec.cached = None
            return spec
        return None


def install_import_hook(targets: dict[str, set[str]]) -> Callable[[], None]:
    """Instrument, when their module is imported, the functions named in ``targets``
    (module name -> names or qualified names). Returns the function that uninstalls the
    hook. Modules imported already are not affected: use
    :func:`instrument_module_function` for those."""
    finder = _InstrumentingFinder({m: set(q) for m, q in targets.items()})
    sys.meta_path.insert(0, finder)

    def uninstall() -> None:
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)

    return uninstall


def instrument_module_function(
    module: types.ModuleType, qualname: str, *, in_place: bool = True
) -> Any:
    """Instrument ``module.<qualname>`` (a function or method, not a nested function) of
    a module imported already, and return it.

    By default the function's ``__code__`` is swapped (:func:`instrument_in_place`), so
    that the names other modules imported with ``from module import name`` count too;
    with ``in_place=False`` the attribute is replaced by an instrumented copy instead,
    and such names keep calling the original.
    """
    parts = qualname.split(".")
    if "<locals>" in parts:
        raise InvalidInputError(
            f"{qualname} is local to a function: name it before its module is imported"
        )
    owner: Any = module
    for part in parts[:-1]:
        owner = getattr(owner, part, None)
        if owner is None:
            raise InvalidInputError(f"{module.__name__} has no {qualname}")
    name = parts[-1]
    raw = vars(owner).get(name) if isinstance(owner, type) else getattr(owner, name, None)
    if raw is None:
        raise InvalidInputError(f"{module.__name__} has no {qualname}")
    if in_place:
        instrument_in_place(raw)
        return raw
    new = instrument(raw)
    setattr(owner, name, new)
    return new
