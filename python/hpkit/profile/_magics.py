"""IPython/Jupyter magics, loaded by ``%load_ext hpkit``.

* ``%hprun [-r RATE] [-o FILE] [--top N] statement`` and ``%%hprun`` for a cell: sample.
* ``%hlprun -f FUNC [-f FUNC ...] [-o FILE] statement``: exact line counts of each FUNC
  (any expression naming a function in the namespace), as line_profiler's ``%lprun``.

The report is printed below the cell; ``-o`` also writes a file (any output format).
The profile object is kept as ``_hprof`` in the namespace.
"""

from __future__ import annotations

from typing import Any

from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from rich.console import Console

from hpkit.profile import outputs
from hpkit.profile._session import Profiler


def _common(func: Any) -> Any:
    for decorator in (
        argument("-r", "--rate", type=float, default=None, help="samples per second"),
        argument("-o", "--output", default=None, help="also write the profile here"),
        argument("--top", type=int, default=15, help="functions in the report"),
    ):
        func = decorator(func)
    return func


@magics_class
class HpkitMagics(Magics):
    """``%hprun``, ``%%hprun`` and ``%hlprun``."""

    def _run(self, profiler: Profiler, code: str, output: str | None, top: int) -> None:
        shell = self.shell
        assert shell is not None
        compiled = compile(code, "<hprun>", "exec")
        with profiler:
            exec(compiled, shell.user_global_ns, shell.user_ns)
        profile = profiler.profile
        assert profile is not None
        shell.user_ns["_hprof"] = profile
        outputs.render_terminal(profile, Console(), top=top)
        if output:
            outputs.write(profile, output)
            print(f"wrote {output}")

    @magic_arguments()
    @_common
    @argument("statement", nargs="*", help="code to profile (the cell, for %%hprun)")
    @line_cell_magic
    def hprun(self, line: str, cell: str | None = None) -> None:
        """Sample a statement (``%hprun``) or a cell (``%%hprun``)."""
        args = parse_argstring(self.hprun, line)
        code = cell if cell is not None else " ".join(args.statement)
        self._run(Profiler("sample", rate=args.rate), code, args.output, args.top)

    @magic_arguments()
    @_common
    @argument("-f", "--function", action="append", default=[], help="function to count")
    @argument("statement", nargs="+", help="code to run")
    @line_magic
    def hlprun(self, line: str) -> None:
        """Exact line hit counts (and sampled time) of the ``-f`` functions."""
        args = parse_argstring(self.hlprun, line)
        shell = self.shell
        assert shell is not None
        functions = [eval(name, shell.user_global_ns, shell.user_ns) for name in args.function]
        if not functions:
            print("%hlprun needs at least one -f FUNCTION")
            return
        profiler = Profiler("lines", rate=args.rate, functions=functions)
        self._run(profiler, " ".join(args.statement), args.output, args.top)


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magics(HpkitMagics)
