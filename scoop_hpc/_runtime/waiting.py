"""Waiting for futures without blocking the process.

A :class:`Waiter` registers on futures (or, for shared constants, on a
name); the greenlet that waits switches to the hub, and a completion puts
it back on the hub's runnable queue. Deadlines are timers of the hub.
"""
from __future__ import annotations

import time
from collections import deque
from typing import Any, Optional

from greenlet import getcurrent

from .future import Future


def deadline_after(timeout: Optional[float]) -> Optional[float]:
    """The monotonic time ``timeout`` seconds from now (None: no deadline).

    A negative timeout is a deadline already past, as in
    ``concurrent.futures``; SCOOP's ``wait`` reads it as no deadline, and
    says so itself.
    """
    if timeout is None:
        return None
    return time.monotonic() + timeout


def time_left(deadline: Optional[float]) -> Optional[float]:
    """Seconds until ``deadline`` (never negative), None without one."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())


class Waiter:
    """A greenlet waiting for futures (or constants) to complete."""

    __slots__ = ("hub", "greenlet", "fired", "scheduled", "generation",
                 "futures", "reserved")

    def __init__(self, hub, futures=()) -> None:
        self.hub = hub
        self.greenlet = None
        self.fired: deque = deque()
        self.scheduled = False
        self.generation = 0
        self.futures = []
        self.reserved = False
        for fut in futures:
            self.add(fut)

    def add(self, fut: Future) -> None:
        """Also wait for ``fut`` (reserved too, if this wait has a deadline).
        """
        if fut.done():
            self.fired.append(fut)
            return
        if fut._waiters is None:
            fut._waiters = []
        fut._waiters.append(self)
        self.futures.append(fut)
        if self.reserved:
            fut._reserved += 1

    def notify(self, obj: Any) -> None:
        self.fired.append(obj)
        self._wake()

    def _wake(self) -> None:
        """Resume the suspended greenlet (if any) once."""
        if self.scheduled or self.greenlet is None:
            return
        self.scheduled = True
        if self.greenlet is not self.hub.greenlet:
            self.hub.runnable.append(self)

    def wait(self, deadline: Optional[float]) -> bool:
        """Wait until something fired; False if ``deadline`` passed first.

        With a deadline, the awaited tasks still queued here are left to
        other workers: running one here would hold the timeout hostage.
        While the main program waits with a deadline, its process runs no
        queued task at all (other workers take them), so that the timeout
        fires on time. If every other worker is busy, a parked task waits:
        the wait still ends on time, and the task runs here once no wait
        holds it. Nor, while it waits for futures, does a task started
        here resume (its awaited futures completed) if nothing here waits
        for it: no waiter, no done-callback (``hub._unawaited``); it
        resumes once no such wait holds it. A task that something awaits
        resumes: the main program may wait for it, directly or through
        other tasks, and held back it would turn a wait that would have
        ended in time into a timeout, and a loop of timed waits into a
        hang; so does a task of another worker, whose owner may await it.
        A task that waits with a deadline only leaves its awaited tasks to
        others, so nested waits keep every worker busy: its worker goes on
        with its other queued tasks, and its timeout fires late by the
        rest of one that started meanwhile (a task is never pre-empted).
        """
        hub = self.hub
        strict = deadline is not None and getcurrent() is hub.root_greenlet
        holds = strict and bool(self.futures)
        if deadline is not None and not self.reserved:
            self.reserved = True
            for fut in self.futures:
                fut._reserved += 1
        hub.strict += strict
        hub.holding += holds
        try:
            while not self.fired:
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                hub.suspend(self, deadline)
            return True
        finally:
            hub.strict -= strict
            hub.holding -= holds
            if strict and not hub.strict:
                hub.unpark()
            if holds and hub.deferred:
                hub.resume_deferred()

    def close(self) -> None:
        """Stop listening to the futures that have not fired."""
        for fut in self.futures:
            waiters = fut._waiters
            if waiters is not None and self in waiters:
                waiters.remove(self)
            if self.reserved:
                fut._reserved -= 1
        if self.reserved:
            self.reserved = False
            self.hub.unpark()
        self.futures = []
