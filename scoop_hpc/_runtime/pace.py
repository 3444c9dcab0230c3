"""How much work a worker asks for, gives away, and holds results for.

A message costs tens of microseconds; a task may cost one. So the hub
measures how long its tasks run and sizes its traffic to them:

- **credit** (tasks asked for when idle): about ``HOLD`` seconds of work,
  ``PREFETCH`` at least (long or unknown tasks: work only travels to a
  worker that is idle), ``MAX_CREDIT`` at most;
- **asking ahead**: when the last queued task starts and its function's
  tasks are known to take ``AHEAD_MIN`` to ``AHEAD_MAX`` seconds, the next
  task is asked for at once and arrives while this one runs: a request's
  round trip (about a millisecond when every CPU is busy) is then hidden.
  Not for longer tasks: the round trip hardly matters there, and a task
  that arrives is not stealable until the running one ends;
- **steals** (tasks given away on the broker's STEAL): what is wanted; at
  least half of the queue too when tasks are long, so that one steal
  balances two workers, but not when they are short, because a short task
  runs fastest where it was submitted and the broker asks again as it needs;
- **results**: sent before the next task starts, unless that task's
  function is known to be quick; then results travel together, at most
  ``RESULT_AGE`` late (the hub loop checks their age between tasks).

It also remembers how long the items of each mapped function took at
the end of its last map: ``mapping.py`` sends no probe ahead of the next
map when items that long would go one a chunk anyway. Only that: a
function whose items were quick may be given far bigger ones next time,
so a map never starts with chunks cut to an earlier map's items.

And, for the tasks this process submits, whether each function's tasks
*compute*: the worker that runs a task reports its CPU demand (the time
its thread ran or waited to run, or all of it if the thread never
blocked, ``cpuclock``) beside its wall time, and a function whose tasks
demanded a CPU for ``COMPUTES`` of their time or more (a running mean)
computes, until the mean falls below ``COMPUTES / 2``: a task of a
function that computes may block a moment, then lose a few milliseconds
to the machine (a virtual CPU taken away by its host), and look idle for
them, while tasks that sleep or wait show a few percent. Its
tasks are marked so when they are given away: on a host with more
workers than CPUs the broker hands such tasks out only while a CPU is
free of computing processes (``crowding.py``), while tasks that wait (on
files, the network, other tasks) still go to every idle worker. A
function not yet seen is not marked; in a job with more workers than
CPUs its owner hears how its first tasks went within milliseconds, even
while the program submits (``hub.py``).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

from .._transport import protocol as P

PREFETCH = P.LONG_TASKS_CREDIT  # tasks asked for at a time, at least
MAX_CREDIT = 64        # ... and at most, when tasks are short
HOLD = 0.002           # seconds of work asked for at a time
AHEAD_MIN = 0.001      # seconds a task lasts (mean) for asking ahead ...
AHEAD_MAX = 0.05       # ... up to this
_WEIGHT = 0.25         # of the newest duration in the running means
_FLOOR = 1e-6          # seconds: a task takes at least this in the means
_MAX_KINDS = 256       # functions whose durations are kept, at most
COMPUTES = 0.5         # CPU demand / wall time of tasks that compute
MEASURE_FROM = 0.00025  # seconds a task lasts (mean) for its CPU demand
#                         to be measured whatever the recent tasks were


def _kind(fn: Any) -> Tuple[Any, Any]:
    """A hashable name for the function of a task (closures unpickled
    anew each time share it)."""
    return (getattr(fn, "__module__", None),
            getattr(fn, "__qualname__", type(fn).__qualname__))


def _note(means: Dict[Tuple[Any, Any], float], key: Tuple[Any, Any],
          value: float) -> None:
    """Move the running mean ``means[key]`` towards ``value``."""
    mean = means.get(key)
    if mean is None:
        if len(means) >= _MAX_KINDS:
            means.clear()
        means[key] = value
    else:
        means[key] = mean + (value - mean) * _WEIGHT


class Pace:
    """Running means of task durations: the whole process's, and each
    function's."""

    __slots__ = ("grain", "_kinds", "_items", "_busy", "_computing")

    def __init__(self) -> None:
        self.grain = HOLD        # a worker starts as if tasks were long
        self._kinds: Dict[Tuple[Any, Any], float] = {}
        self._items: Dict[Any, float] = {}  # code -> seconds an item
        self._busy: Dict[Tuple[Any, Any], float] = {}  # demand share
        self._computing: set = set()   # kinds whose tasks compute

    def record(self, fn: Callable, seconds: float) -> None:
        """Count a task of ``fn`` that ran for ``seconds``."""
        seconds = max(seconds, _FLOOR)
        self.grain += (seconds - self.grain) * _WEIGHT
        _note(self._kinds, _kind(fn), seconds)

    def note_busy(self, fn: Callable, seconds: float, busy: float) -> None:
        """Count a task of ``fn`` (the mapped function, for a chunk) that
        ran elsewhere for ``seconds``, ``busy`` of them on a CPU or
        waiting for one."""
        key = _kind(fn)
        _note(self._busy, key, min(1.0, busy / max(seconds, _FLOOR)))
        share = self._busy[key]
        if share >= COMPUTES:
            if len(self._computing) >= _MAX_KINDS:
                self._computing.clear()
            self._computing.add(key)
        elif share < COMPUTES / 2:
            self._computing.discard(key)

    def computes(self, fn: Callable) -> bool:
        """Whether tasks of ``fn`` are known to keep their CPU busy."""
        return _kind(fn) in self._computing

    def note_items(self, fn: Callable, seconds: float) -> None:
        """Remember that the items of a map of ``fn`` take ``seconds``."""
        code = getattr(fn, "__code__", None)   # a partial's cost varies
        if code is None:
            return
        if code not in self._items and len(self._items) >= _MAX_KINDS:
            self._items.clear()
        self._items[code] = seconds

    def item_time(self, fn: Callable) -> Optional[float]:
        """How long the items of the last map of ``fn`` took (None: not
        known)."""
        return self._items.get(getattr(fn, "__code__", None))

    @property
    def short(self) -> bool:
        """Whether recent tasks ran for well under ``HOLD`` each."""
        return self.grain * PREFETCH < HOLD

    def credit(self) -> int:
        """How many tasks to ask the broker for."""
        return max(PREFETCH, min(MAX_CREDIT, round(HOLD / self.grain)))

    def quick(self, fn: Callable) -> bool:
        """Whether tasks of ``fn`` are known to be short (results may then
        wait for the next one)."""
        return self._kinds.get(_kind(fn), HOLD) * PREFETCH < HOLD

    def measures(self, fn: Callable) -> bool:
        """Whether tasks of ``fn`` are long enough, or new enough here,
        for the CPU demand of each to be measured."""
        return self._kinds.get(_kind(fn), HOLD) >= MEASURE_FROM

    def ahead(self, fn: Callable) -> bool:
        """Whether to ask for the next task as the last queued one, of
        ``fn``, starts (see the module's docstring)."""
        mean = self._kinds.get(_kind(fn))
        return mean is not None and AHEAD_MIN <= mean <= AHEAD_MAX

    def give(self, wanted: int, queued: int) -> int:
        """How many of ``queued`` tasks to hand over when ``wanted`` are
        asked for."""
        if self.short:
            return wanted
        return max(wanted, (queued + 1) // 2)
