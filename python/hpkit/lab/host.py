"""The machine the lab runs on, as :mod:`hpkit.machine` describes it.

Timings mean little without the CPU next to them (WORKLOADS.md, "Conventions"), and
"% of peak" needs the machine's limits; both come from one ``describe()`` per lab run.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Mapping
from typing import Any


def describe(*, quick: bool, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The machine description (``quick`` shortens the probes); ``progress`` sees each step."""
    from hpkit import machine  # imported late: its probes are only wanted by a run

    return machine.describe(quick=quick, progress=progress)


def dig(info: Mapping[str, Any], path: str) -> Any:
    """``dig(info, "cpu.model")``: a nested value, or ``None`` where any level is missing."""
    node: Any = info
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def cpu_line(info: Mapping[str, Any]) -> str:
    """``AMD EPYC 9R14, 2 logical cores`` - printed next to every table of timings."""
    model = dig(info, "cpu.model") or platform.processor() or "unknown CPU"
    cores = dig(info, "cpu.logical_cores")
    return f"{model}, {cores} logical cores" if cores else str(model)


def summary(info: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The facts a reader of the lab's results needs, as (label, value) pairs."""
    facts = [
        ("CPU", dig(info, "cpu.model")),
        ("Physical cores", dig(info, "cpu.physical_cores")),
        ("Logical cores", dig(info, "cpu.logical_cores")),
        ("hpkit threads", dig(info, "threads")),
        ("Peak GFLOP/s (FMA)", _number(dig(info, "limits.peak_gflops"))),
        ("Peak GFLOP/s (no FMA)", _number(dig(info, "limits.peak_gflops_no_fma"))),
        ("DRAM bandwidth GB/s", _number(dig(info, "limits.dram_bandwidth_gbs"))),
        ("Python", platform.python_version()),
        ("numpy", dig(info, "software.numpy")),
    ]
    return [(label, str(value)) for label, value in facts if value is not None]


def _number(value: Any) -> str | None:
    return f"{value:,.1f}" if isinstance(value, int | float) else None
