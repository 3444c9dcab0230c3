"""Leaving a process without Python's teardown of its modules.

A normal exit clears every module and collects what they held: tens of
milliseconds for the launcher, which has cleaned up by then (its workers
gone, its sockets closed, its folder removed), and for a forked worker,
whose parent's modules it holds too. ``finish`` does what a normal exit
must (wait for non-daemon threads, run the exit handlers, flush the
standard streams), then ``os._exit``.
"""
from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading


def finish(code: int) -> None:
    """Leave this process now with ``code``."""
    try:
        _join_threads()
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                stream.flush()
        os._exit(code)


def leave(code: int) -> None:
    """End a command with ``code``: at once (``finish``), unless MPI was
    loaded here, whose library's own exit handlers tell the MPI launcher
    that this rank ended well (``os._exit`` skips them)."""
    if "mpi4py.MPI" in sys.modules:
        sys.exit(code)
    finish(code)


def _join_threads() -> None:
    """Wait for the program's non-daemon threads, as Python's exit does."""
    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not current and not thread.daemon:
            thread.join()
