"""Chapter 7: what a call across the foreign-function boundary costs.

The same trivial Rust function (``a + b`` on 64-bit integers, in ``hpkit._native``) is
called ``calls`` times from a Python loop through each route the chapter discusses: a
PyO3 function (how hpkit exposes everything), ``ctypes`` and ``cffi`` (ABI mode) on its
C export ``hpkit_ffi_add``. A plain Python function, the C builtin ``operator.add`` and
the bare loop frame the numbers. The work is nothing, so the time per call *is* the
overhead: argument conversion, the call machinery, converting the result back. It is why
hpkit's kernels take whole arrays per call (one crossing, millions of elements) and never
one element per call. No known answer exists (WORKLOADS.md); each route must return 3.
"""

from __future__ import annotations

import ctypes
import operator
from collections.abc import Callable
from typing import Any

from hpkit import _native
from hpkit.lab.model import (
    Check,
    Experiment,
    Implementation,
    Kind,
    Param,
    Params,
    Per,
    Workload,
)
from hpkit.lab.peers import require

#: the exported C symbol (crates/hpkit-py/src/ffi.rs)
SYMBOL = "hpkit_ffi_add"


def _calls(params: Params) -> int:
    calls = params["calls"]
    assert isinstance(calls, int)
    return calls


def _loop(function: Callable[[int, int], Any], calls: int) -> Workload:
    def run() -> object:
        for _ in range(calls):
            function(1, 2)
        return function(1, 2)

    return run


def python_add(a: int, b: int) -> int:
    return a + b


def _python(params: Params) -> Workload:
    return _loop(python_add, _calls(params))


def _builtin(params: Params) -> Workload:
    return _loop(operator.add, _calls(params))


def _bare_loop(params: Params) -> Workload:
    calls = _calls(params)

    def run() -> object:
        for _ in range(calls):
            pass
        return 1 + 2

    return run


def _pyo3(params: Params) -> Workload:
    return _loop(_native.ffi_add, _calls(params))


def _ctypes(params: Params) -> Workload:
    library = ctypes.CDLL(_native.__file__)
    add = getattr(library, SYMBOL)
    add.argtypes = [ctypes.c_int64, ctypes.c_int64]
    add.restype = ctypes.c_int64
    return _loop(add, _calls(params))


def _cffi(params: Params) -> Workload:
    cffi = require("cffi")
    ffi = cffi.FFI()
    ffi.cdef(f"int64_t {SYMBOL}(int64_t a, int64_t b);")
    library = ffi.dlopen(_native.__file__)
    return _loop(getattr(library, SYMBOL), _calls(params))


def _validate(params: Params, output: object, oracle: object) -> Check:
    if output == 3:
        return Check(True, "returned 3")
    return Check(False, f"returned {output!r}, not 3")


EXPERIMENT = Experiment(
    name="ffi",
    chapter=7,
    title="Foreign-function call overhead: one trivial Rust function, four routes",
    params=(Param("calls", full=1_000_000, quick=200_000, help="calls per run", minimum=1),),
    implementations=(
        Implementation("Python function", Kind.REFERENCE, _python, "def add(a, b): return a + b"),
        Implementation("bare loop", Kind.PEER, _bare_loop, "for _ in range(calls): pass"),
        Implementation("builtin operator.add", Kind.PEER, _builtin, "a C function of CPython"),
        Implementation(
            "PyO3 (hpkit._native)", Kind.HPKIT, _pyo3, "#[pyfunction] fn ffi_add(a: i64, b: i64)"
        ),
        Implementation(
            "ctypes", Kind.PEER, _ctypes, f"CDLL(_native.__file__).{SYMBOL}, argtypes set"
        ),
        Implementation("cffi (ABI mode)", Kind.PEER, _cffi, f"ffi.dlopen(...).{SYMBOL}"),
    ),
    validate=_validate,
    per=Per("call", lambda params: _calls(params)),
    notes=(
        "Each row times a Python loop making `calls` calls with the arguments (1, 2); "
        "'Best per call' includes the loop's own cost (the 'bare loop' row).",
        "ctypes and cffi call the same machine code as PyO3, through the C export "
        f"{SYMBOL} of hpkit's extension module; cffi's API (compiled) mode, which would be "
        "faster than its ABI mode, needs a C build step and is not measured.",
    ),
)
