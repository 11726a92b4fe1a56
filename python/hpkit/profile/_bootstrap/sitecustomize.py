"""Put on a child's PYTHONPATH by ``hpkit profile --subprocesses``: profile this Python
process too, then run the ``sitecustomize`` this one shadows, if there is one."""

import importlib.machinery
import importlib.util
import os
import sys

if os.environ.get("HPKIT_PROFILE_CHILD"):
    try:
        from hpkit.profile._run import start_child_from_env

        start_child_from_env()
    except Exception as e:  # the child must run even when it cannot be profiled
        print(f"hpkit profile: not profiling child {os.getpid()}: {e}", file=sys.stderr)

_here = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.machinery.PathFinder.find_spec(
    "sitecustomize", [p for p in sys.path if os.path.abspath(p or ".") != _here]
)
if _spec is not None and _spec.loader is not None:
    _module = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_module)
