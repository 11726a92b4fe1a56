"""Chapter 7: compiling to C - every way the book compiles Python, on the same two kernels.

One table per workload (:class:`~hpkit.lab.model.Case`): the chapter 2 Julia set and the
chapter 6 diffusion step, each as pure Python, the book's best numpy, numexpr, Numba
(one thread and ``prange``), Cython (compiled on first use by pyximport) and PyPy, beside
hpkit. The rows are *the same implementations* as in ``hpkit lab julia`` and ``hpkit lab
diffusion`` - taken from those experiments by name, with their setup, their answer check
(Julia: equal to pure Python pixel for pixel; diffusion: numpy order S bit for bit or
within abs 1e-15) and their notes - so the two chapters cannot drift apart. The only new
piece is the Cython diffusion kernel (``_diffusion_cython.pyx``). The FFI call-overhead
microbenchmark of the chapter is ``hpkit lab ffi``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping

import numpy as np

from hpkit import kernels
from hpkit.lab import ch02_julia, ch06_diffusion
from hpkit.lab.model import (
    Case,
    Check,
    Experiment,
    Implementation,
    Kind,
    Param,
    Params,
    Skip,
    Workload,
)
from hpkit.lab.peers import cython_module

Setup = Callable[[Params], Workload]

_JULIA = ch02_julia.EXPERIMENT
_DIFFUSION = ch06_diffusion.EXPERIMENT
_WORKLOADS = {"julia": _JULIA, "diffusion": _DIFFUSION}


def _row(experiment: Experiment, name: str) -> Implementation:
    return next(i for i in experiment.implementations if i.name == name)


def _case(params: Params) -> str:
    case = params["case"]
    assert isinstance(case, str)
    return case


def _per_case(setups: Mapping[str, Setup | str]) -> Setup:
    """A setup that runs the case's implementation, or skips with the given reason."""

    def setup(params: Params) -> Workload:
        chosen = setups[_case(params)]
        if isinstance(chosen, str):
            raise Skip(chosen)
        return chosen(params)

    return setup


def _cython_diffusion(params: Params) -> Workload:
    module = cython_module("_diffusion_cython")
    n, steps = ch06_diffusion.sizes(params)
    grid = np.ascontiguousarray(ch06_diffusion.book.initial_grid(n))
    dt, d = ch06_diffusion.DT, ch06_diffusion.D
    return lambda: ch06_diffusion.Run(module.evolve(grid, steps, dt, d), "S")


def _pypy(params: Params) -> Workload:
    found = shutil.which("pypy3") or shutil.which("pypy")
    where = f"found at {found}" if found else "not installed here"
    raise Skip(
        "PyPy is another interpreter, not a library: it cannot run inside this CPython "
        f"process ({where}); time the pure-Python code under pypy3 separately"
    )


def _implementations() -> tuple[Implementation, ...]:
    threads = kernels.default_threads()
    one_thread_julia = f"hpkit 1 thread {kernels.best_simd()}"

    def both(
        kind: Kind,
        name: str,
        julia: str | Setup,
        diffusion: str | Setup,
        *,
        note: str,
        workers: int | None = None,
        serial: str | None = None,
    ) -> Implementation:
        """A row running chapter 2's implementation named ``julia`` on the Julia case and
        chapter 6's named ``diffusion`` on the other (or a setup, or a reason to skip)."""

        def pick(experiment: Experiment, chosen: str | Setup) -> Setup | str:
            if callable(chosen):
                return chosen
            names = {i.name for i in experiment.implementations}
            return _row(experiment, chosen).setup if chosen in names else chosen

        setups = {"julia": pick(_JULIA, julia), "diffusion": pick(_DIFFUSION, diffusion)}
        return Implementation(name, kind, _per_case(setups), note, workers, serial)

    return (
        both(
            Kind.REFERENCE,
            "pure Python",
            "pure Python",
            "pure Python",
            note="the book's loops (Julia: complex lists; diffusion: corrected list code)",
        ),
        both(
            Kind.NUMPY,
            "numpy",
            "numpy",
            "numpy in-place",
            note="the book's best numpy (Julia: masked update; diffusion: in-place np.roll)",
        ),
        both(
            Kind.PEER,
            "numexpr",
            "numexpr compiles one array expression; the escape loop (a while per point) "
            "has no numexpr form",
            "numexpr",
            note="evaluate('next_grid*D*dt+grid') after the in-place Laplacian",
        ),
        both(Kind.PEER, "Numba @njit", "Numba @njit", "Numba @njit", note="1 thread", workers=1),
        both(
            Kind.PEER,
            "Numba prange",
            "Numba prange",
            "Numba prange",
            note=f"rows over {threads} threads (static chunks)",
            workers=threads,
            serial="Numba @njit",
        ),
        both(
            Kind.PEER,
            "Cython",
            "Cython",
            _cython_diffusion,
            note="typed memoryviews, boundscheck/wraparound off, -ffp-contract=off, 1 thread",
            workers=1,
        ),
        both(Kind.PEER, "PyPy", _pypy, _pypy, note="the book runs the pure-Python code"),
        both(
            Kind.HPKIT,
            "hpkit 1 thread",
            one_thread_julia,
            "hpkit 1 thread",
            note=f"Rust, {kernels.best_simd()}",
            workers=1,
        ),
        both(
            Kind.HPKIT,
            "hpkit all threads",
            "hpkit all threads",
            "hpkit all threads",
            note=f"Rust, {threads} threads (rayon work stealing: dynamic)",
            workers=threads,
            serial="hpkit 1 thread",
        ),
    )


def _canonical(params: Params, output: object) -> object:
    return _WORKLOADS[_case(params)].canonical(params, output)


def _validate(params: Params, output: object, oracle: object) -> Check:
    return _WORKLOADS[_case(params)].validate(params, output, oracle)


def _fallback_oracle(params: Params) -> object:
    fallback = _WORKLOADS[_case(params)].fallback_oracle
    return None if fallback is None else fallback(params)


EXPERIMENT = Experiment(
    name="compile",
    chapter=7,
    title="Compiling to C: the same kernels through every compiler",
    params=(
        Param("case", full="all", quick="all", help="workload: 'julia', 'diffusion' or 'all'"),
        Param("width", full=1000, quick=300, help="Julia: points per side", minimum=1),
        Param("max_iter", full=300, quick=300, help="Julia: most iterations", minimum=0),
        Param("n", full=512, quick=128, help="diffusion: grid points per side", minimum=3),
        Param("steps", full=100, quick=20, help="diffusion: time steps", minimum=0),
    ),
    cases=(
        Case("julia", full={}, quick={}),
        Case("diffusion", full={}, quick={}),
    ),
    implementations=_implementations(),
    canonical=_canonical,
    validate=_validate,
    fallback_oracle=_fallback_oracle,
    notes=(
        "Each table's rows are the chapter 2 (Julia) or chapter 6 (diffusion) "
        "implementations of the same name, with the same answer check: Julia counts equal "
        "to pure Python pixel for pixel; diffusion equal to numpy order S bit for bit "
        "(hpkit, Cython) or within abs 1e-15 (own op order).",
        "Scheduling: the Julia set's rows are very uneven (rows through the set run to "
        "max_iter). Numba's prange hands each thread a fixed block of rows (static), so a "
        "thread with the set's middle rows finishes last; hpkit splits rows into rayon "
        "tasks that idle threads steal (dynamic), which keeps every core busy to the end. "
        "Diffusion's rows all cost the same, so static and dynamic agree there.",
        "Compilers not in-process: PyPy (another interpreter) is listed with a note; "
        "Shed Skin and Pythran, also in the book, are not installed by hpkit[peers].",
    ),
)
