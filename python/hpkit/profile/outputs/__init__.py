"""Every way a :class:`~hpkit.profile._model.Profile` leaves hpkit: files for other tools
(pstats, speedscope, collapsed stacks), pictures (flame graph SVG, an HTML report) and
the terminal summary.

:func:`write` picks the format from the file name unless told, renders the whole file in
memory and writes it with one call, so a rendering error leaves no partial file behind.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hpkit.errors import InvalidInputError
from hpkit.profile._model import Profile
from hpkit.profile.outputs.collapsed import collapsed_text
from hpkit.profile.outputs.flamegraph import flamegraph_svg
from hpkit.profile.outputs.html import html_report
from hpkit.profile.outputs.pstats import pstats_bytes
from hpkit.profile.outputs.speedscope import speedscope_json
from hpkit.profile.outputs.terminal import render_terminal

FORMATS = ("json", "pstats", "speedscope", "collapsed", "svg", "html")

# Longest suffix first: ".speedscope.json" before ".json".
_SUFFIXES: tuple[tuple[str, str], ...] = (
    (".speedscope.json", "speedscope"),
    (".json", "json"),
    (".prof", "pstats"),
    (".pstats", "pstats"),
    (".collapsed", "collapsed"),
    (".folded", "collapsed"),
    (".txt", "collapsed"),
    (".svg", "svg"),
    (".html", "html"),
    (".htm", "html"),
)

_RENDER: dict[str, Callable[[Profile], bytes]] = {
    "pstats": pstats_bytes,
    "speedscope": lambda p: speedscope_json(p).encode(),
    "collapsed": lambda p: collapsed_text(p).encode(),
    "svg": lambda p: flamegraph_svg(p).encode(),
    "html": lambda p: html_report(p).encode(),
}


def format_for(path: str | Path, explicit: str | None = None) -> str:
    """The output format: ``explicit`` if given, else from the file name's extension."""
    if explicit is not None:
        fmt = explicit.strip().lower()
        if fmt not in FORMATS:
            raise InvalidInputError(
                f"unknown profile format {explicit!r}; choose one of {', '.join(FORMATS)}"
            )
        return fmt
    name = Path(path).name.lower()
    for suffix, fmt in _SUFFIXES:
        if name.endswith(suffix):
            return fmt
    known = ", ".join(suffix for suffix, _ in _SUFFIXES)
    raise InvalidInputError(
        f"cannot tell the profile format from {str(path)!r}: use one of the extensions"
        f" {known}, or name a format ({', '.join(FORMATS)})"
    )


def write(profile: Profile, path: str | Path, fmt: str | None = None) -> Path:
    """Write ``profile`` to ``path`` in ``fmt`` (by default from the extension) and return
    the path. ``OSError`` propagates for the caller to report."""
    path = Path(path)
    fmt = format_for(path, fmt)
    if fmt == "json":
        profile.save(path)  # serialises fully before opening the file
    else:
        content = _RENDER[fmt](profile)
        path.write_bytes(content)
    return path


__all__ = [
    "FORMATS",
    "collapsed_text",
    "flamegraph_svg",
    "format_for",
    "html_report",
    "pstats_bytes",
    "render_terminal",
    "speedscope_json",
    "write",
]
