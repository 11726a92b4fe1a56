"""The self-contained HTML report: one ``index.html`` that opens anywhere, offline.

CSS is inline and pictures are embedded as base64 PNG (also written beside it as files,
for slides and papers); there is no JavaScript and no external resource, so the report
can be mailed, archived or attached to an issue as it is.
"""

from __future__ import annotations

import base64
import datetime
import html
from pathlib import Path

from hpkit import __version__
from hpkit.lab import host, plots, tables
from hpkit.lab.results import ExperimentResult, LabRun

_CSS = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --band: #f6f8fa;
        --ok: #1a7f37; --failed: #cf222e; --skipped: #9a6700; --hpkit: #0a6e5c; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1320px; padding: 2rem 1.5rem 4rem; color: var(--ink);
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
h1 { font-size: 1.8rem; margin: 0; }
h2 { font-size: 1.3rem; margin: 2.5rem 0 0.25rem; border-bottom: 1px solid var(--line);
     padding-bottom: 0.3rem; }
.sub, .params, figcaption, .notes, footer { color: var(--muted); }
.sub { margin: 0.25rem 0 0; }
.params { margin: 0.3rem 0 0.8rem; font-size: 0.9rem; }
dl.machine { display: grid; grid-template-columns: repeat(2, max-content minmax(12rem, 1fr));
             gap: 0.2rem 1.5rem; margin: 0.8rem 0 0; }
dl.machine dt { color: var(--muted); }
dl.machine dd { margin: 0; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.82rem; width: 100%; }
th, td { padding: 0.3rem 0.5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { text-align: left; background: var(--band); vertical-align: bottom; }
td:first-child { white-space: nowrap; }
td:last-child { min-width: 16rem; }  /* the notes: wide tables scroll rather than squeeze */
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fbfcfd; }
caption { caption-side: bottom; text-align: right; color: var(--muted); font-size: 0.8rem;
          padding-top: 0.3rem; }
.ok { color: var(--ok); font-weight: 600; }
.failed { color: var(--failed); font-weight: 700; }
.skipped { color: var(--skipped); }
.hpkit { color: var(--hpkit); font-weight: 600; }
.dim { color: var(--muted); }
.notes { font-size: 0.85rem; padding-left: 1.2rem; }
.figures { display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: flex-start; }
figure { margin: 0; flex: 1 1 420px; max-width: 640px; }
figure.wide { flex-basis: 100%; max-width: 900px; }
figure img { width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
figcaption { font-size: 0.85rem; margin-top: 0.3rem; }
.unavailable { color: var(--skipped); }
footer { margin-top: 3rem; font-size: 0.8rem; }
"""


def write_report(run: LabRun, directory: Path) -> Path:
    """Write ``directory/index.html``, each picture as a PNG and the results as
    ``results.json`` beside it; the path of ``index.html``."""
    directory.mkdir(parents=True, exist_ok=True)
    run.write_json(directory / "results.json")
    no_plots = plots.unavailable_reason()
    cpu = host.cpu_line(run.machine)
    sections = [_experiment_section(r, cpu, directory, no_plots) for r in run.experiments]
    facts = "".join(
        f"<dt>{_e(label)}</dt><dd>{_e(value)}</dd>" for label, value in host.summary(run.machine)
    )
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hpkit lab report</title>
<style>{_CSS}</style>
</head>
<body>
<header>
<h1>hpkit lab</h1>
<p class="sub">High Performance Python, reproduced and timed · hpkit {_e(__version__)}
· {_e(_when(run.created))}</p>
</header>
<section>
<h2>This machine</h2>
<dl class="machine">{facts}</dl>
</section>
{"".join(sections)}
<footer>Every timed row was first checked against the book's pure-Python answer; FAILED
rows are wrong answers and were never timed; skipped rows could not run here.
The same results, with every timed run and the full machine description:
<a href="results.json">results.json</a>.</footer>
</body>
</html>
"""
    index = directory / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def _experiment_section(
    result: ExperimentResult, cpu: str, directory: Path, no_plots: str | None
) -> str:
    experiment = result.experiment
    head = "".join(
        f'<th class="{"num" if c.numeric else ""}">{_e(c.header)}</th>'
        for c in tables.columns(result)
    )
    numeric = [c.numeric for c in tables.columns(result)]
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{_classes(cell.style, is_num)}">{_e(cell.text)}</td>'
            for cell, is_num in zip(cells, numeric, strict=True)
        )
        + "</tr>"
        for cells in tables.rows(result)
    )
    notes = "".join(f"<li>{_e(note)}</li>" for note in tables.footnotes(result))
    params = " · ".join(f"{_e(k)} = {_e(str(v))}" for k, v in result.params.items())
    mode = "quick" if result.quick else "full (the book's sizes)"
    return f"""
<section id="{_e(experiment.name + result.case_suffix)}">
<h2>Ch{experiment.chapter} · {_e(experiment.name)} — {_e(experiment.title)}</h2>
<p class="params">{params} · {_e(mode)}</p>
<div class="table-wrap"><table>
<caption>{_e(cpu)}</caption>
<thead><tr>{head}</tr></thead>
<tbody>{body}</tbody>
</table></div>
<ul class="notes">{notes}</ul>
{_figures(result, directory, no_plots)}
</section>
"""


def _figures(result: ExperimentResult, directory: Path, no_plots: str | None) -> str:
    if no_plots is not None:
        return f'<p class="unavailable">Plots unavailable: {_e(no_plots)}.</p>'
    pictures: list[tuple[str, str, bytes, str]] = []  # file stem, caption, PNG, CSS class
    chart = plots.speedup_chart(result)
    name = result.experiment.name + result.case_suffix
    if chart is not None:
        caption = "Speedup over pure Python, best run of each checked implementation."
        pictures.append((f"{name}-speedup", caption, chart, "wide"))
    if result.oracle is not None:
        for figure in result.experiment.figures:
            png = plots.experiment_figure(figure, result)
            pictures.append((figure.name + result.case_suffix, figure.caption, png, ""))
    items = []
    for stem, caption, png, css_class in pictures:
        (directory / f"{stem}.png").write_bytes(png)
        data = base64.b64encode(png).decode("ascii")
        items.append(
            f'<figure class="{css_class}">'
            f'<img src="data:image/png;base64,{data}" alt="{_e(caption)}">'
            f'<figcaption>{_e(caption)} <span class="dim">({_e(stem)}.png)</span>'
            "</figcaption></figure>"
        )
    return f'<div class="figures">{"".join(items)}</div>' if items else ""


def _when(iso: str) -> str:
    """``2026-11-26T16:22:28+00:00`` -> ``2026-11-26 16:22 UTC``."""
    moment = datetime.datetime.fromisoformat(iso).astimezone(datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _classes(style: str, numeric: bool) -> str:
    return " ".join(filter(None, [style, "num" if numeric else ""]))


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)
