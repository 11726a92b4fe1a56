"""The registry of experiments: one ``chNN_topic.py`` module per book chapter.

Each chapter module defines ``EXPERIMENT``; it is found by its file name, so adding a
chapter is adding a file - nothing else to edit. A chapter with several workloads defines
``EXPERIMENTS`` (a sequence) and ``GROUP``, a name that selects all of them at once
(``hpkit lab primes`` runs ``primes-range``, ``primes-numbers``, ...). Modules are
imported on first use so ``hpkit --help`` stays fast and a chapter's heavy imports cost
nothing until it runs.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
import re

from hpkit.errors import InvalidInputError
from hpkit.lab.model import Experiment

_CHAPTER_MODULE = re.compile(r"ch\d\d_\w+")
_registry: dict[str, Experiment] = {}
#: group name -> the names of its experiments, in the chapter's order
_groups: dict[str, list[str]] = {}
_discovered = False


class UnknownExperimentError(InvalidInputError):
    """No experiment has the requested name."""


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True
    import hpkit.lab as package

    for module in pkgutil.iter_modules(package.__path__):
        if _CHAPTER_MODULE.fullmatch(module.name):
            chapter = importlib.import_module(f"hpkit.lab.{module.name}")
            members = tuple(getattr(chapter, "EXPERIMENTS", ())) or (chapter.EXPERIMENT,)
            for experiment in members:
                register(experiment)
            group = getattr(chapter, "GROUP", None)
            if group:
                register_group(group, [e.name for e in members])


def register_group(group: str, names: list[str]) -> None:
    """Let ``group`` select the experiments ``names`` (a chapter's several workloads)."""
    if group == "all" or group in _registry:
        raise InvalidInputError(f"group name {group!r} is already an experiment name or 'all'")
    _groups[group] = list(names)


def register(experiment: Experiment, *, replace: bool = False) -> None:
    """Add an experiment (chapter modules are added automatically).

    Refuses a second experiment of the same name unless ``replace`` is true, so two
    chapters cannot silently shadow each other.
    """
    if experiment.name == "all":
        raise InvalidInputError("'all' is reserved: it selects every experiment")
    if not replace and experiment.name in _registry:
        raise InvalidInputError(f"an experiment named {experiment.name!r} is already registered")
    _registry[experiment.name] = experiment


def unregister(name: str) -> None:
    """Remove an experiment (tests use this to clean up one they injected)."""
    _registry.pop(name, None)


def experiments() -> list[Experiment]:
    """Every experiment, in book order."""
    _discover()
    return sorted(_registry.values(), key=lambda e: (e.chapter, e.name))


def get(name: str) -> Experiment:
    """The experiment called ``name``; a clear error with a suggestion otherwise."""
    _discover()
    try:
        return _registry[name]
    except KeyError:
        names = [e.name for e in experiments()] + sorted(_groups)
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UnknownExperimentError(
            f"unknown experiment {name!r}{hint} (experiments: {', '.join(names)}, or 'all')"
        ) from None


def select(names: list[str] | tuple[str, ...]) -> list[Experiment]:
    """The experiments named on the command line, in the given order; ``all`` is every
    one, a group name (see :func:`register_group`) all of its experiments."""
    if "all" in names:
        return experiments()
    chosen: list[Experiment] = []
    for name in names:
        _discover()
        for member in _groups.get(name, [name]):
            experiment = get(member)
            if experiment not in chosen:
                chosen.append(experiment)
    return chosen
