"""How much of a task's wall time its thread ran or waited to run: the
task's *CPU demand*.

A task that computes keeps its thread on a CPU, or waiting in the run
queue for one when its host has more busy processes than CPUs; a task
that waits (on a file, the network, a lock, another task) sleeps. So
the CPU demand of a task tells the two apart on a crowded host too,
where a computing task's CPU time alone is a fraction of its wall time:

- a thread that never blocked over the task (Linux counts the times a
  thread gives up its CPU to sleep: ``getrusage``'s voluntary context
  switches) demanded a CPU all along, whether it ran, waited in the run
  queue, or lost its virtual CPU to the host machine for a while (time
  that no counter of the guest shows);
- a thread that blocked demanded its on-CPU time (``time.thread_time``)
  and its time runnable but not running (the second field of Linux's
  ``/proc/thread-self/schedstat``, exact when read by the running thread
  itself).

Measuring a task costs about 6 us (both counters at its start, the
switches alone at its end when the thread never blocked); where
schedstat cannot be read (not Linux), the CPU time alone is used, and
where the thread's context switches cannot be counted, only the second
rule holds.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Optional, Tuple

try:
    import resource
    _RUSAGE_THREAD: Optional[int] = resource.RUSAGE_THREAD
except (ImportError, AttributeError):   # not Linux
    _RUSAGE_THREAD = None

_fd: Optional[int] = None
_owner: Optional[int] = None    # the thread whose schedstat _fd reads

Mark = Tuple[float, int]        # (demand so far, sleeps so far)


def demand() -> float:
    """Seconds this thread has run or waited to run (see above)."""
    cpu = time.thread_time()
    if _owner is None:
        _open()
    if _fd is None or _owner != threading.get_ident():
        return cpu
    try:
        return cpu + int(os.pread(_fd, 64, 0).split()[1]) * 1e-9
    except (OSError, IndexError, ValueError):
        return cpu


def _sleeps() -> int:
    """How many times this thread has blocked (-1: not known here)."""
    if _RUSAGE_THREAD is None:
        return -1
    return resource.getrusage(_RUSAGE_THREAD).ru_nvcsw


def mark() -> Mark:
    """Where this thread stands, for :func:`since`."""
    return demand(), _sleeps()


def since(start: Mark, wall: float) -> float:
    """The CPU demand of this thread since ``start``, ``wall`` seconds
    ago: all of it if the thread never blocked meanwhile (see above)."""
    sleeps = _sleeps()
    if sleeps >= 0 and sleeps == start[1]:
        return wall
    return demand() - start[0]


def _open() -> None:
    """Open the schedstat of this thread, the first to ask (a worker's
    main thread, which runs its tasks); others get their CPU time."""
    global _fd, _owner
    _owner = threading.get_ident()
    try:
        _fd = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
    except OSError:
        _fd = None
