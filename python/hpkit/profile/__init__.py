"""hpkit.profile: find the bottleneck first (the book's chapter 2), at low overhead.

* ``hpkit profile script.py`` (or ``-m module``, or ``python -m hpkit.profile``):
  ``--mode sample`` samples every thread's stack (function and line; time running
  Python, in native calls, and idle kept apart), ``--mode lines`` counts every line of
  the selected functions exactly, ``--mode memory`` samples allocations per line and
  records RSS over time. Outputs: a terminal report, pstats (``-o x.prof``),
  speedscope JSON, collapsed stacks, a flame graph SVG and one self-contained HTML page.
* :func:`profile` - the ``@profile`` decorator, free unless the program runs under
  ``hpkit profile``.
* :class:`Profiler` - the same in code: ``with Profiler() as p: ...``.
* :func:`timer` - the book's timing decorator and a context manager, with statistics.
* :func:`heap` - live objects by type, and the difference of two snapshots.
* :func:`dis` - bytecode beside each source line, with hit counts from a lines run.
* IPython: ``%load_ext hpkit`` gives ``%hprun``/``%%hprun`` (sample) and ``%hlprun``.
"""

from __future__ import annotations

from hpkit.profile._bytecode import dis
from hpkit.profile._decorator import profile
from hpkit.profile._heap import HeapDiff, HeapRecorder, HeapSnapshot, heap
from hpkit.profile._model import Frame, Profile
from hpkit.profile._session import Profiler
from hpkit.profile._timer import TimerStats, timer

__all__ = [
    "Frame",
    "HeapDiff",
    "HeapRecorder",
    "HeapSnapshot",
    "Profile",
    "Profiler",
    "TimerStats",
    "dis",
    "heap",
    "profile",
    "timer",
]
