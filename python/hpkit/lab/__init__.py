"""The book's experiments, reproduced, checked and timed on this machine (``hpkit lab``).

One module per chapter, ``chNN_topic.py``, defines ``EXPERIMENT``: an
:class:`Experiment` with its parameters (quick and full sizes), its implementations
(reference, numpy, peers, hpkit), a validator and optionally a limit model and figures.
The runner checks each implementation's first output against the pure-Python oracle
before timing it, so a wrong answer is shown FAILED and never gets a time.

Adding a chapter: create ``python/hpkit/lab/chNN_topic.py`` with ``EXPERIMENT = ...``;
the registry finds it by its name. Shared pieces live here: :mod:`~hpkit.lab.peers`
(import or compile Numba/Cython peers, or skip with a note), :mod:`~hpkit.lab.host`
(the machine's limits), :mod:`~hpkit.lab.tables` and :mod:`~hpkit.lab.report` (output).
"""

from __future__ import annotations

from hpkit.lab.model import (
    Case,
    Check,
    Experiment,
    Figure,
    Implementation,
    Kind,
    LimitModel,
    Metric,
    Param,
    ParamError,
    Params,
    ParamValue,
    Per,
    Skip,
    Workload,
)
from hpkit.lab.registry import (
    UnknownExperimentError,
    experiments,
    get,
    register,
    register_group,
    select,
    unregister,
)
from hpkit.lab.results import ExperimentResult, ImplResult, LabRun, Status
from hpkit.lab.runner import plan, policy_for, run_experiment, run_lab

__all__ = [
    "Case",
    "Check",
    "Experiment",
    "ExperimentResult",
    "Figure",
    "ImplResult",
    "Implementation",
    "Kind",
    "LabRun",
    "LimitModel",
    "Metric",
    "Param",
    "ParamError",
    "ParamValue",
    "Params",
    "Per",
    "Skip",
    "Status",
    "UnknownExperimentError",
    "Workload",
    "experiments",
    "get",
    "plan",
    "policy_for",
    "register",
    "register_group",
    "run_experiment",
    "run_lab",
    "select",
    "unregister",
]
