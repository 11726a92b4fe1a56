"""The book's ``dis`` view: each source line, its hit count, and its bytecode beneath.

Chapter 2 reads the bytecode of the Julia loop to see why a line is slow (how many
instructions it costs) and why a rewrite helps. Seeing the instructions grouped under
the line they belong to, next to how often the line ran, is what makes that reading
quick: a line run 30 million times with 12 instructions is where the time goes.

Hit counts come from ``hits`` or ``profile`` when given, else from a ``lines`` run that
instrumented the function (found by file, first line and qualified name, which
instrumentation keeps). The bytecode shown is always the *original* function's: for an
instrumented function, the uninstrumented code kept by its counters.
"""

from __future__ import annotations

import builtins
import dis as _dis
import linecache
import sys
import types
from collections.abc import Mapping
from typing import IO, Any

from hpkit.errors import InvalidInputError
from hpkit.profile._lines import LineCounters, find_counters
from hpkit.profile._model import Profile

__all__ = ["dis", "print_dis"]

_JUMPS = frozenset(_dis.hasjrel) | frozenset(_dis.hasjabs)


def _code_of(func: Any) -> tuple[types.CodeType, list[LineCounters]]:
    """The code to show and the counters of its lines runs (the function's own first)."""
    if isinstance(func, staticmethod | classmethod | types.MethodType):
        func = func.__func__
    if isinstance(func, types.CodeType):
        code = func
        own: list[LineCounters] = []
    elif isinstance(func, types.FunctionType):
        code = func.__code__
        mine = getattr(func, "__hpkit_line_counters__", None)
        own = [mine] if isinstance(mine, LineCounters) else []
    else:
        raise InvalidInputError(f"{func!r} has no Python bytecode to show")
    counters = own + [c for c in find_counters(code) if not any(c is o for o in own)]
    for c in counters:
        original = c.original_code
        if original is not None:
            return original, counters
    wrapped = getattr(func, "__wrapped__", None)
    if own and isinstance(wrapped, types.FunctionType):
        return wrapped.__code__, counters
    return code, counters


def _instructions(code: types.CodeType) -> list[_dis.Instruction]:
    if sys.version_info >= (3, 13):
        return list(_dis.get_instructions(code, adaptive=False))
    return list(_dis.get_instructions(code, adaptive=False, show_caches=False))


def _format(ins: _dis.Instruction) -> str:
    if ins.opcode in _JUMPS:
        arg = f"to {ins.argval}"
    elif ins.argrepr:
        arg = ins.argrepr
    else:
        arg = "" if ins.arg is None else str(ins.arg)
    marker = ">>" if ins.is_jump_target else "  "
    return f"{marker} {ins.offset:>5}  {ins.opname:<26}{arg}".rstrip()


def dis(
    func: Any,
    *,
    hits: Mapping[int, int] | None = None,
    profile: Profile | None = None,
) -> str:
    """The annotated disassembly of ``func`` (a function, method or code object).

    One row per source line from the function's first line to its last: line number,
    hits, number of instructions, source text; then that line's instructions, in
    bytecode order, indented beneath (``>>`` marks jump targets; an instruction with no
    line of its own is listed under the line before it, as ``dis.dis`` shows it).
    ``hits`` maps line numbers to counts; ``profile`` takes them from a saved run;
    otherwise they come from this process's lines-mode counters, if any. Nested code
    objects (inner functions, lambdas, 3.11's comprehensions) are not expanded.
    """
    code, counters = _code_of(func)
    filename = code.co_filename
    calls: int | None = None
    if hits is None and profile is not None:
        hits = {ln: n for (fn, ln), n in profile.hits.items() if fn == filename}
    elif hits is None and counters:
        merged: dict[int, int] = {}
        for c in counters:
            for line, n in c.hits().items():
                merged[line] = merged.get(line, 0) + n
        hits = merged
        calls = sum(c.calls for c in counters)

    by_line: dict[int, list[_dis.Instruction]] = {}
    current = code.co_firstlineno
    for ins in _instructions(code):
        lineno = ins.positions.lineno if ins.positions is not None else None
        if lineno is not None:
            current = lineno
        by_line.setdefault(current, []).append(ins)

    source = linecache.getlines(filename)
    wanted_hits = {ln: n for ln, n in (hits or {}).items() if ln >= code.co_firstlineno}
    first = code.co_firstlineno
    last = max([first, *by_line, *(ln for ln in wanted_hits if ln <= len(source))])

    header = f"{code.co_qualname}  ({filename}:{first})"
    if calls is not None:
        header += f"  calls: {calls:,}"
    out = [header, f"{'Line':>6} {'Hits':>12} {'Ops':>5}  Source / bytecode"]
    for line in range(first, last + 1):
        text = source[line - 1].rstrip("\n") if line <= len(source) else ""
        ops = by_line.get(line, [])
        hit = f"{wanted_hits[line]:,}" if line in wanted_hits else ""
        count = str(len(ops)) if ops else ""
        out.append(f"{line:>6} {hit:>12} {count:>5}  {text}".rstrip())
        out.extend(f"{'':>26}{_format(ins)}" for ins in ops)
    # Instructions attributed to lines outside the shown range (none in practice).
    for line in sorted(ln for ln in by_line if not first <= ln <= last):
        out.append(f"{line:>6} {'':>12} {len(by_line[line]):>5}  <outside the function>")
        out.extend(f"{'':>26}{_format(ins)}" for ins in by_line[line])
    return "\n".join(out) + "\n"


def print_dis(
    func: Any,
    *,
    hits: Mapping[int, int] | None = None,
    profile: Profile | None = None,
    file: IO[str] | None = None,
) -> None:
    """Print :func:`dis` to ``file`` (standard output by default)."""
    builtins.print(dis(func, hits=hits, profile=profile), end="", file=file)
