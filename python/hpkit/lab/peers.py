"""Getting peer libraries (Numba, Cython, ...) ready, or saying precisely why not.

Every chapter compares hpkit with the same peers, so the "is it installed, can it
compile" logic lives here once. Failures raise :class:`~hpkit.lab.model.Skip` with a note
that tells the reader what to install; the runner then shows the row as skipped.
"""

from __future__ import annotations

import importlib
import os
import shlex
import shutil
import sysconfig
from pathlib import Path
from types import ModuleType

from hpkit.lab.model import Skip


def require(module: str, install: str | None = None) -> ModuleType:
    """Import a peer, or skip with ``pip install <install>`` as the note."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise Skip(f"{module} is not installed (pip install {install or module})") from None


def cache_dir() -> Path:
    """Where compiled peers are kept between runs: ``$HPKIT_CACHE_DIR`` or the XDG cache."""
    explicit = os.environ.get("HPKIT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hpkit"


def cython_module(name: str) -> ModuleType:
    """Import ``hpkit.lab.<name>`` from its shipped ``.pyx``, compiling it on first use.

    pyximport builds into ``cache_dir()/cython`` and rebuilds only when the ``.pyx``
    changes, so later runs import at once. The import hook is removed again afterwards so
    it cannot affect any other import.
    """
    pyximport = require("pyximport", install="cython")
    # distutils compiles with $CC when set, else the compiler Python was built with
    compiler = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")[0]
    if shutil.which(compiler) is None:
        raise Skip(f"Cython needs a C compiler; {compiler!r} was not found")
    hooks = pyximport.install(build_dir=str(cache_dir() / "cython"), language_level=3)
    try:
        return importlib.import_module(f"hpkit.lab.{name}")
    except ImportError as error:
        first_line = (str(error).strip().splitlines() or ["no message"])[-1]
        raise Skip(f"Cython could not build {name}.pyx: {first_line}") from None
    finally:
        pyximport.uninstall(*hooks)
