"""Run a program under a profiling session, as ``hpkit profile`` does.

The program runs in this process, as ``python script.py`` or ``python -m module`` would
run it (``__main__``, ``sys.argv``, ``sys.path[0]``), so the profile sees it exactly. Its
ending is kept: the exit status of ``sys.exit``, 1 and Python's own traceback for an
uncaught exception, 130 for Ctrl-C; the profile is written in every case. Threads the
program started are waited for while still sampling, as the interpreter would wait.

Child processes (``subprocesses=True``): forked children (``multiprocessing``'s fork
start method, ``os.fork``) keep profiling after the fork; spawned Python children
(``multiprocessing`` spawn/forkserver, ``subprocess`` running Python) start a session
from a ``sitecustomize`` put on their ``PYTHONPATH``. Each child writes its profile to a
shared directory when it exits (normally, by ``sys.exit``, or by SIGTERM as
``Pool.terminate()`` sends), and the parent merges them, each child's threads under
``pid N``. A child killed by SIGKILL or leaving by ``os._exit`` outside multiprocessing
leaves no profile.
"""

from __future__ import annotations

import ast
import atexit
import functools
import importlib.util
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpkit.profile._model import Mode, Profile
from hpkit.profile._session import Session

CHILD_ENV = "HPKIT_PROFILE_CHILD"
BOOTSTRAP_DIR = Path(__file__).with_name("_bootstrap")


class ProgramError(Exception):
    """The program cannot be started: missing script, syntax error, unknown module."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Target:
    """What to run: a script path or a module name, and its arguments."""

    script: str | None = None
    module: str | None = None
    args: list[str] = field(default_factory=list)

    @property
    def argv0(self) -> str:
        return self.script if self.script is not None else f"-m {self.module}"


def split_func_targets(funcs: list[str]) -> tuple[set[str], dict[str, set[str]]]:
    """``--func`` values: ``name`` or ``Class.method`` in the program itself, or
    ``module:qualname`` in an imported module."""
    main: set[str] = set()
    modules: dict[str, set[str]] = {}
    for spec in funcs:
        module, sep, qualname = spec.partition(":")
        if sep:
            if not module or not qualname:
                raise ProgramError(f"--func expects NAME or MODULE:QUALNAME, got {spec!r}")
            modules.setdefault(module, set()).add(qualname)
        else:
            main.add(spec)
    return main, modules


def prepare(target: Target, main_funcs: set[str]) -> Callable[[], None]:
    """Check the program and return a callable that runs it. Raises :class:`ProgramError`
    before anything of the program has run when it cannot be started."""
    if target.script is not None:
        return _prepare_script(target.script, target.args, main_funcs)
    assert target.module is not None
    return _prepare_module(target.module, target.args)


def _prepare_script(script: str, args: list[str], funcs: set[str]) -> Callable[[], None]:
    path = Path(script)
    if not path.exists():
        raise ProgramError(f"no such script: {script}")
    if path.is_dir():
        main = path / "__main__.py"
        if not main.is_file():
            raise ProgramError(f"{script} is a directory without a __main__.py")
        path = main
    try:
        source = path.read_bytes()
    except OSError as e:
        raise ProgramError(f"cannot read {script}: {e.strerror or e}") from None
    filename = str(path)
    try:
        tree = ast.parse(source, filename=filename)
        if funcs:
            from hpkit.profile import _lines

            tree = _lines.instrument_tree(tree, filename, funcs)
        code = compile(tree, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as e:
        raise ProgramError(_syntax_message(e, script), exit_code=1) from None

    def run() -> None:
        module = types.ModuleType("__main__")
        module.__dict__.update(
            __file__=filename, __builtins__=__builtins__, __cached__=None, __spec__=None
        )
        sys.modules["__main__"] = module
        sys.argv[:] = [script, *args]
        sys.path[0] = str(path.parent.resolve())
        exec(code, module.__dict__)

    return run


def _prepare_module(module: str, args: list[str]) -> Callable[[], None]:
    import runpy

    # As `python -m`: the current directory is where modules are looked for first (the
    # `hpkit` launcher's own directory is not). `run` restores sys.path[0] afterwards.
    sys.path[0] = os.getcwd()
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as e:  # a parent package is missing or broken
        raise ProgramError(f"cannot find module {module!r}: {e}") from None
    except SyntaxError as e:
        raise ProgramError(_syntax_message(e, module), exit_code=1) from None
    if spec is None:
        raise ProgramError(f"no module named {module!r}")
    if spec.submodule_search_locations is not None:
        main_name = module + ".__main__"
        if importlib.util.find_spec(main_name) is None:
            raise ProgramError(f"{module!r} is a package without a __main__ module")

    def run() -> None:
        sys.argv[:] = [module, *args]
        sys.path[0] = os.getcwd()
        runpy.run_module(module, run_name="__main__", alter_sys=True)

    return run


def _syntax_message(e: SyntaxError | ValueError, name: str) -> str:
    if isinstance(e, SyntaxError):
        where = f"{e.filename or name}, line {e.lineno}" if e.lineno else (e.filename or name)
        text = f"\n    {e.text.rstrip()}" if e.text else ""
        return f"syntax error in {where}: {e.msg}{text}"
    return f"cannot compile {name}: {e}"


def exit_code_of(code: object) -> int:
    """The process exit status ``sys.exit(code)`` gives (printing a non-int code)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF if code >= 0 else code % 256
    print(code, file=sys.stderr)
    return 1


def _print_program_traceback(exc: BaseException) -> None:
    """Python's own report of an uncaught exception, without hpkit's frames."""
    tb = exc.__traceback__
    here = str(Path(__file__).parent)
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(here):
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb)


def _wait_for_threads() -> None:
    """Join the program's non-daemon threads, as the interpreter does at exit."""
    while True:
        pending = [
            t
            for t in threading.enumerate()
            if t is not threading.current_thread() and not t.daemon and t.is_alive()
        ]
        if not pending:
            return
        for t in pending:
            t.join()


def run(
    target: Target,
    *,
    mode: Mode,
    rate_hz: float | None,
    memory_sample_bytes: int,
    heap_every: float | None,
    funcs: list[str],
    subprocesses: bool,
) -> Profile:
    """Run ``target`` under a session; return its profile with ``exit_code`` set."""
    main_funcs, module_funcs = split_func_targets(funcs)
    if target.module is not None and main_funcs:
        module_funcs.setdefault(target.module, set()).update(main_funcs)
        main_funcs = set()
    saved_main = sys.modules.get("__main__")
    saved_argv, saved_path0 = list(sys.argv), sys.path[0] if sys.path else ""
    try:
        program = prepare(target, main_funcs)
    except ProgramError:
        sys.path[0] = saved_path0
        raise
    uninstall_hook: Callable[[], None] | None = None
    swapped: list[tuple[Any, Any]] = []
    if module_funcs:
        from hpkit.errors import InvalidInputError
        from hpkit.profile import _lines

        later = {m: q for m, q in module_funcs.items() if m not in sys.modules}
        uninstall_hook = _lines.install_import_hook(later)
        try:
            for name, qualnames in module_funcs.items():
                if name in sys.modules:  # imported already (by hpkit itself, say)
                    for qualname in sorted(qualnames):
                        func = _lines.instrument_module_function(sys.modules[name], qualname)
                        counters = _lines.find_counters(func.__code__)
                        if counters and counters[0].original_code is not None:
                            swapped.append((func, counters[0].original_code))
        except InvalidInputError as e:
            uninstall_hook()
            raise ProgramError(f"--func: {e}") from None
    child_dir = Path(tempfile.mkdtemp(prefix="hpkit-profile-")) if subprocesses else None
    env_before = _export_child_settings(child_dir, mode, rate_hz, memory_sample_bytes, heap_every)
    session = Session(
        mode,
        rate_hz=rate_hz,
        memory_sample_bytes=memory_sample_bytes,
        heap_every=heap_every,
        command=[target.argv0, *target.args],
        on_fork_child=functools.partial(arm_child_dump, child_dir=child_dir) if child_dir else None,
    )
    from hpkit.profile import _decorator

    exit_code, error = 0, None
    runner_pid = os.getpid()
    _decorator.activate(mode)
    session.start()
    try:
        try:
            program()
            _wait_for_threads()
        except SystemExit as e:
            exit_code = exit_code_of(e.code)
        except KeyboardInterrupt:
            exit_code, error = 130, "KeyboardInterrupt"
            print("\nInterrupted (Ctrl-C): the profile so far is kept.", file=sys.stderr)
        except BaseException as e:  # the program's own error: report it as Python would
            exit_code, error = 1, f"{type(e).__name__}: {e}"
            _print_program_traceback(e)
    finally:
        if os.getpid() != runner_pid:
            # A child forked by the program (os.fork) that left through our frames: it
            # must not write the parent's outputs. Its own exit writes its profile.
            raise SystemExit(exit_code)
        profile = session.stop()
        _decorator.deactivate()
        if uninstall_hook is not None:
            uninstall_hook()
        for func, code in swapped:
            func.__code__ = code
        _restore_env(env_before)
        if saved_main is not None:
            sys.modules["__main__"] = saved_main
        sys.argv[:] = saved_argv
        if sys.path:
            sys.path[0] = saved_path0
    profile.exit_code, profile.error = exit_code, error
    trim_runner_frames(profile)
    if child_dir is not None:
        merge_children(profile, child_dir)
        shutil.rmtree(child_dir, ignore_errors=True)
    return profile


def _runner_file(filename: str) -> bool:
    """Frames of what starts the program: hpkit's command line, click, runpy."""
    if filename in ("<frozen runpy>",) or filename.endswith(os.sep + "runpy.py"):
        return True
    here = Path(__file__).resolve().parent
    roots = (str(here), str(here.parent / "cli.py"), str(here.parent / "__main__.py"))
    import click

    return filename.startswith(roots) or filename.startswith(str(Path(click.__file__).parent))


def trim_runner_frames(profile: Profile) -> None:
    """Drop the frames of hpkit's own launcher from the root of every stack, so stacks
    start at the program's ``<module>``; samples left with nothing (the launcher waiting
    for the program's threads) are dropped."""
    runner = {i for i, f in enumerate(profile.frames) if _runner_file(f.filename)}
    if not runner:
        return
    kept = []
    for s in profile.samples:
        start = 0
        while start < len(s.stack) and s.stack[start][0] in runner:
            start += 1
        if start < len(s.stack):
            s.stack = s.stack[start:]
            kept.append(s)
    profile.samples = kept
    for a in profile.allocations:
        start = 0
        while start < len(a.stack) - 1 and a.stack[start][0] in runner:
            start += 1
        a.stack = a.stack[start:]


# ---------------------------------------------------------------------- child processes


def _export_child_settings(
    child_dir: Path | None,
    mode: Mode,
    rate_hz: float | None,
    memory_sample_bytes: int,
    heap_every: float | None,
) -> dict[str, str | None]:
    """Tell spawned Python children to profile themselves; returns what to restore."""
    keys = (CHILD_ENV, "PYTHONPATH")
    before = {k: os.environ.get(k) for k in keys}
    if child_dir is None:
        return before
    os.environ[CHILD_ENV] = json.dumps(
        {
            "dir": str(child_dir),
            "mode": mode,
            "rate_hz": rate_hz,
            "memory_sample_bytes": memory_sample_bytes,
            "heap_every": heap_every,
        }
    )
    # The bootstrap's sitecustomize imports hpkit: the package's own directory must be
    # importable in the child even when hpkit is not installed in its interpreter.
    package_root = str(Path(__file__).resolve().parents[2])
    parts = [str(BOOTSTRAP_DIR), package_root]
    if before["PYTHONPATH"]:
        parts.append(before["PYTHONPATH"])
    os.environ["PYTHONPATH"] = os.pathsep.join(parts)
    return before


def _restore_env(before: dict[str, str | None]) -> None:
    for key, value in before.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def arm_child_dump(session: Session, child_dir: Path) -> None:
    """Write ``session``'s profile to ``child_dir/<pid>.json`` when this process ends:
    at exit, at multiprocessing's exit (which skips atexit), or on SIGTERM. A SIGTERM
    that arrives while the profile is being written (``Pool.terminate()`` racing a
    worker's own exit) waits for the write to finish, then ends the process as it would
    have."""
    state = {"started": False, "finished": False, "terminate": False}

    def terminate() -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    def dump() -> None:
        if state["started"]:
            return
        state["started"] = True
        try:
            if session.running:
                session.stop().save(child_dir / f"{os.getpid()}.json")
        except Exception as e:  # never break the child's own exit
            print(f"hpkit profile: child {os.getpid()} profile lost: {e}", file=sys.stderr)
        finally:
            state["finished"] = True
        if state["terminate"]:
            terminate()

    def on_term(signum: int, frame: Any) -> None:
        if state["started"] and not state["finished"]:
            state["terminate"] = True  # dump() ends the process when it is done
            return
        dump()
        terminate()

    atexit.register(dump)
    if "multiprocessing" in sys.modules:
        from multiprocessing import util

        util.Finalize(None, dump, exitpriority=100)
        # A multiprocessing child clears its finalizers right after the fork (in
        # Process._bootstrap), then runs the after-fork hooks: register again there.
        util.register_after_fork(session, lambda _: util.Finalize(None, dump, exitpriority=100))
    if threading.current_thread() is threading.main_thread():
        try:
            if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
                signal.signal(signal.SIGTERM, on_term)
        except (ValueError, OSError):
            pass


def start_child_from_env() -> None:
    """In a spawned child (the bootstrap ``sitecustomize``): profile this process."""
    raw = os.environ.get(CHILD_ENV)
    if not raw:
        return
    try:
        settings = json.loads(raw)
        child_dir = Path(settings["dir"])
        if not child_dir.is_dir():
            return
        session = Session(
            settings["mode"],
            rate_hz=settings["rate_hz"],
            memory_sample_bytes=settings["memory_sample_bytes"],
            heap_every=settings["heap_every"],
            command=list(sys.argv),
            on_fork_child=functools.partial(arm_child_dump, child_dir=child_dir),
        )
        from hpkit.profile import _decorator

        _decorator.activate(settings["mode"])
        session.start()
        arm_child_dump(session, child_dir)
    except Exception as e:  # a child must run even when its profile cannot
        print(f"hpkit profile: not profiling child {os.getpid()}: {e}", file=sys.stderr)


def merge_children(profile: Profile, child_dir: Path) -> None:
    """Merge every child's profile from ``child_dir`` into ``profile``."""
    for path in sorted(child_dir.glob("*.json")):
        try:
            child = Profile.load(path)
        except (OSError, ValueError, KeyError) as e:
            print(
                f"hpkit profile: skipping unreadable child profile {path.name}: {e}",
                file=sys.stderr,
            )
            continue
        profile.merge(child, label=f"pid {path.stem}")
