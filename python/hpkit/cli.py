"""The ``hpkit`` command line: ``hpkit lab`` runs the book's experiments, ``hpkit machine``
describes this machine.

Bad input (an unknown experiment, a malformed ``--param``) ends with a one-line
``Error: ...`` and exit status 1 or 2, never a traceback.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.padding import Padding
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from hpkit import __version__, lab
from hpkit.errors import HpkitError
from hpkit.lab import host, runner, tables
from hpkit.lab.report import write_report
from hpkit.profile._cli import profile_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hpkit")
def main() -> None:
    """hpkit: High Performance Python as a toolkit, with a Rust core."""


main.add_command(profile_command)


def _console(*, stderr: bool = False) -> Console:
    """A console that does not squeeze tables to 80 columns when piped to a file or CI log."""
    console = Console(stderr=stderr)
    if not console.is_terminal:
        console.width = max(console.width, 150)
    return console


def _describe_machine(console: Console, *, quick: bool) -> dict[str, Any]:
    """:func:`hpkit.machine.describe` with its steps on a spinner and its warnings (a busy
    machine, say) as one readable line each instead of Python's warning format."""
    with (
        warnings.catch_warnings(record=True) as caught,
        console.status("Describing this machine") as status,
    ):
        warnings.simplefilter("always")
        info = host.describe(
            quick=quick, progress=lambda step: status.update(f"Describing this machine: {step}")
        )
    for warning in caught:
        console.print(Text(f"Warning: {warning.message}", style="yellow"))
    return info


def _parse_params(pairs: tuple[str, ...]) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise lab.ParamError(f"--param expects KEY=VALUE, got {pair!r}")
        overrides[key.strip()] = value.strip()
    return overrides


def _list_experiments(console: Console) -> None:
    table = Table(title="hpkit lab experiments", title_style="bold", header_style="bold")
    table.add_column("Name", style="bold cyan")
    table.add_column("Chapter", justify="right")
    table.add_column("Title")
    table.add_column("Full (the book's sizes)", style="dim")
    table.add_column("--quick", style="dim")
    for experiment in lab.experiments():
        full = " ".join(f"{p.name}={p.full}" for p in experiment.params)
        quick = " ".join(f"{p.name}={p.quick}" for p in experiment.params)
        table.add_row(experiment.name, str(experiment.chapter), experiment.title, full, quick)
    console.print(table)
    console.print(
        "Run one with [bold]hpkit lab NAME[/], every one with [bold]hpkit lab all[/]; "
        "[bold]--quick[/] for small sizes, [bold]--param KEY=VALUE[/] for any size, "
        "[bold]--report DIR[/] for an HTML report."
    )


@main.command("lab")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--quick", is_flag=True, help="Small sizes: the whole lab in about a minute.")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a parameter, e.g. --param width=2000 (repeatable).",
)
@click.option(
    "--repeats",
    type=click.IntRange(min=1),
    help="Time every implementation exactly N times (default: adaptive).",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write all results, parameters and the machine description as JSON.",
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write a self-contained HTML report (DIR/index.html) with plots.",
)
def lab_command(
    names: tuple[str, ...],
    quick: bool,
    params: tuple[str, ...],
    repeats: int | None,
    json_path: Path | None,
    report_dir: Path | None,
) -> None:
    """Run the book's experiments: check every implementation's answer, then time it.

    With no NAME, list the experiments; with no NAME but run options (--quick, --json,
    --report, --param, --repeats), run them all. NAME may be 'all'.
    """
    console = _console()
    if not names and not (quick or params or repeats or json_path or report_dir):
        _list_experiments(console)
        return
    try:
        selected = lab.select(names or ("all",))
        planned = runner.plan(selected, quick=quick, overrides=_parse_params(params))
    except HpkitError as error:
        raise click.ClickException(str(error)) from None

    machine = _describe_machine(console, quick=quick)
    console.print(Text.assemble(("Machine: ", "bold"), host.cpu_line(machine)))

    def show(result: lab.ExperimentResult) -> None:
        console.print()
        console.print(tables.rich_table(result, machine, console.width))
        for note in tables.footnotes(result):
            console.print(Padding(Text(f"• {note}", style="dim"), (0, 0, 0, 2), expand=False))

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        run = runner.run_lab(
            planned,
            quick=quick,
            policy=runner.policy_for(quick=quick, repeats=repeats),
            machine=machine,
            progress=progress,
            on_result=show,
        )
    _write_outputs(run, json_path, report_dir, console)
    failed = [
        f"{result.experiment.name}: {row.name}"
        for result in run.experiments
        for row in result.unexpected_failures()
    ]
    if failed:
        raise click.ClickException(f"{len(failed)} FAILED: {', '.join(failed)}")


def _write_outputs(
    run: lab.LabRun, json_path: Path | None, report_dir: Path | None, console: Console
) -> None:
    try:
        if json_path is not None:
            run.write_json(json_path)
            console.print(f"Wrote {json_path}")
        if report_dir is not None:
            index = write_report(run, report_dir)
            console.print(f"Wrote {index}")
    except OSError as error:
        raise click.ClickException(f"cannot write results: {error}") from None


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the description as JSON.")
@click.option("--quick", is_flag=True, help="Skip the slower probes.")
def machine(as_json: bool, quick: bool) -> None:
    """Describe this machine: CPU, caches, SIMD, measured limits, software."""
    from hpkit import machine as machine_module

    info = _describe_machine(_console(stderr=True), quick=quick)
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
    else:
        _console().print(machine_module.render(info))
