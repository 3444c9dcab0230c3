"""How long this thread has run or waited to run: a task's *CPU demand*.

A task that computes keeps its thread on a CPU, or waiting in the run
queue for one when its host has more busy processes than CPUs; a task
that waits (on a file, the network, a lock, another task) sleeps. So
the CPU demand of a task, on-CPU time (``time.thread_time``) plus time
runnable but not running (the second field of Linux's
``/proc/thread-self/schedstat``, exact when read by the running thread
itself), tells the two apart on a crowded host too, where a computing
task's CPU time alone is a fraction of its wall time. Reading both costs
about 2 us; where schedstat cannot be read (not Linux), the CPU time
alone is used.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Optional

_fd: Optional[int] = None
_owner: Optional[int] = None    # the thread whose schedstat _fd reads


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


def _open() -> None:
    """Open the schedstat of this thread, the first to ask (a worker's
    main thread, which runs its tasks); others get their CPU time."""
    global _fd, _owner
    _owner = threading.get_ident()
    try:
        _fd = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
    except OSError:
        _fd = None
