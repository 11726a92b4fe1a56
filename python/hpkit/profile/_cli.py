"""``hpkit profile`` (also ``python -m hpkit.profile``): run a program under the profiler.

Bad input - a missing script, a syntax error, an unknown module, an invalid rate, an
output path that cannot be written - ends with one ``Error: ...`` line and a non-zero
status before the program runs, never with a traceback from hpkit. The program's own
exit status is hpkit's exit status.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from rich.console import Console

from hpkit.errors import HpkitError
from hpkit.profile._model import Mode
from hpkit.profile._session import DEFAULT_MEMORY_SAMPLE_BYTES, MAX_RATE_HZ, MODES

EPILOG = """\b
Examples:
  hpkit profile julia.py                      sample at 100 Hz, show the hot spots
  hpkit profile -r 1000 -o out.prof julia.py  1 kHz, pstats file for snakeviz
  hpkit profile --mode lines --func calculate_z_serial_purepython julia.py
  hpkit profile --mode memory --html mem.html julia.py
  hpkit profile -m mypackage.tool --arg 1
"""


def _check_writable(path: str) -> Path:
    """Refuse an output path that cannot be written, before the program runs."""
    p = Path(path)
    if p.is_dir():
        raise click.UsageError(f"cannot write the profile to {path}: it is a directory")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise click.UsageError(f"cannot write the profile to {path}: no directory {parent}")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise click.UsageError(f"cannot write the profile to {path}: permission denied")
    return p


@click.command(
    "profile",
    context_settings={
        "help_option_names": ["-h", "--help"],
        "ignore_unknown_options": True,
        "allow_interspersed_args": False,
    },
    epilog=EPILOG,
)
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default="sample",
    show_default=True,
    help="sample: statistical sampling of every thread; lines: exact hit counts of "
    "@profile/--func functions; memory: sampled allocations per line and an RSS timeline.",
)
@click.option(
    "-r",
    "--rate",
    type=click.FloatRange(1, MAX_RATE_HZ),
    default=None,
    help="Samples per second [default: 100; 1000 in lines mode].",
)
@click.option("-m", "--module", "module", default=None, help="Run a module as `python -m` does.")
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    metavar="PATH",
    help="Write the profile; format from the extension: .prof (pstats), .speedscope.json, "
    ".json (hpkit), .collapsed, .svg (flame graph), .html. Repeatable.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "pstats", "speedscope", "collapsed", "svg", "html"]),
    default=None,
    help="Format of every -o file, instead of guessing from the extension.",
)
@click.option("--html", "html", default=None, metavar="PATH", help="Also write the HTML page.")
@click.option(
    "--func",
    "funcs",
    multiple=True,
    metavar="NAME",
    help="lines mode: count the lines of this function (NAME or Class.method in the "
    "program, or module:qualname). Repeatable; @profile selects functions too.",
)
@click.option(
    "--subprocesses/--no-subprocesses",
    default=False,
    show_default=True,
    help="Follow forked and spawned Python child processes and merge their profiles.",
)
@click.option(
    "--heap-every",
    type=click.FloatRange(min=0.01),
    default=None,
    metavar="SECONDS",
    help="Record live objects by type every SECONDS (heapy's view, over time).",
)
@click.option(
    "--memory-sample-bytes",
    type=click.IntRange(min=1),
    default=DEFAULT_MEMORY_SAMPLE_BYTES,
    show_default=True,
    help="memory mode: mean bytes between sampled allocations (smaller: finer, slower).",
)
@click.option("--top", type=click.IntRange(min=1), default=15, show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="No terminal report.")
@click.argument("program", nargs=-1, type=click.UNPROCESSED)
def profile_command(
    mode: Mode,
    rate: float | None,
    module: str | None,
    outputs: tuple[str, ...],
    fmt: str | None,
    html: str | None,
    funcs: tuple[str, ...],
    subprocesses: bool,
    heap_every: float | None,
    memory_sample_bytes: int,
    top: int,
    quiet: bool,
    program: tuple[str, ...],
) -> None:
    """Profile a Python program: hpkit profile [OPTIONS] SCRIPT [ARGS]... or -m MODULE."""
    from hpkit.profile import _run
    from hpkit.profile import outputs as out

    if module is None and not program:
        raise click.UsageError("give a script to run, or -m MODULE")
    target = (
        _run.Target(module=module, args=list(program))
        if module is not None
        else _run.Target(script=program[0], args=list(program[1:]))
    )
    if funcs and mode != "lines":
        raise click.UsageError("--func needs --mode lines")
    files: list[tuple[Path, str]] = []
    try:
        for output in outputs:
            files.append((_check_writable(output), out.format_for(output, fmt)))
        if html is not None:
            files.append((_check_writable(html), "html"))
    except HpkitError as e:
        raise click.UsageError(str(e)) from None
    try:
        result = _run.run(
            target,
            mode=mode,
            rate_hz=rate,
            memory_sample_bytes=memory_sample_bytes,
            heap_every=heap_every,
            funcs=list(funcs),
            subprocesses=subprocesses,
        )
    except _run.ProgramError as e:
        click.echo(f"Error: {e}", err=True)
        sys.exit(e.exit_code)
    except HpkitError as e:
        click.echo(f"Error: {e}", err=True)
        sys.exit(2)
    console = Console(stderr=True)
    if not console.is_terminal:
        console.width = max(console.width, 120)
    if not quiet:
        out.render_terminal(result, console, top=top)
    failed = False
    for path, kind in files:
        try:
            out.write(result, path, kind)
            if not quiet:
                console.print(f"[dim]wrote {kind} profile:[/dim] {path}")
        except OSError as e:
            click.echo(f"Error: cannot write the profile to {path}: {e.strerror or e}", err=True)
            failed = True
    code = result.exit_code
    sys.exit(code if code or not failed else 1)
