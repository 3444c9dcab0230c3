"""The Future of one task, with PEP 3148 semantics.

A Future lives in the process that submitted it (its *owner*). The task
may run there, in a greenlet, or be handed to another worker, whose result
message completes the Future here. Waiting never blocks the process: the
waiting greenlet yields to the hub, which keeps running other tasks.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, List, Optional

from ..errors import CancelledError, InvalidStateError

log = logging.getLogger("scoop_hpc")

PENDING = "PENDING"        # in the owner's queue, not started
RUNNING = "RUNNING"        # running here, or handed to another worker
CANCELLED = "CANCELLED"
FINISHED = "FINISHED"


class Future:
    """The result of a task that runs somewhere in the job.

    Created by :func:`scoop_hpc.futures.submit`, never directly.
    """

    __slots__ = ("_hub", "_seq", "_state", "_result", "_exception",
                 "_callbacks", "_waiters", "_fn", "_args", "_kwargs",
                 "_payload", "_reserved", "duration", "__weakref__")

    def __init__(self, hub, seq: int, fn: Callable, args: tuple,
                 kwargs: dict, payload: list) -> None:
        self._hub = hub
        self._seq = seq
        self._state = PENDING
        self._result: Any = None
        self._exception: Optional[BaseException] = None
        self._callbacks: Optional[List[Callable]] = None
        self._waiters: Optional[list] = None
        self._fn = fn
        self._args = args
        self._kwargs = kwargs
        self._payload = payload
        self._reserved = 0  # waiters with a deadline: run it elsewhere
        #: Seconds the task ran, where it ran; None until it is done.
        self.duration: Optional[float] = None

    def __repr__(self) -> str:
        name = getattr(self._fn, "__qualname__", None)
        what = f" {name}" if name else ""
        return f"<Future {self.id}{what} state={self._state.lower()}>"

    def __reduce__(self):
        """Refuse to travel: a Future lives in the process that submitted
        it, and its result reaches only that process."""
        raise TypeError(
            "a Future cannot be sent to another worker (it lives in the "
            "process that submitted it): pass its result (future.result()) "
            "instead, or submit the work from inside the task that needs it")

    @property
    def id(self) -> tuple:
        """``(owner worker identity, sequence number)``, as in SCOOP."""
        return (self._hub.identity, self._seq)

    # -- PEP 3148 ------------------------------------------------------------
    def cancel(self) -> bool:
        """Cancel the task if it has not started; return True if done so."""
        if self._state is CANCELLED:
            return True
        with self._hub.state_lock:
            if self._state is not PENDING:
                return False
            self._state = CANCELLED
        self._release()
        self._finish()
        return True

    def cancelled(self) -> bool:
        """Return True if the task was cancelled."""
        return self._state is CANCELLED

    def running(self) -> bool:
        """Return True while the task runs (here or on another worker)."""
        return self._state is RUNNING

    def done(self) -> bool:
        """Return True if the task finished or was cancelled."""
        return self._state is FINISHED or self._state is CANCELLED

    def result(self, timeout: Optional[float] = None) -> Any:
        """Return the task's value, waiting up to ``timeout`` seconds.

        Raises:
            CancelledError: the task was cancelled.
            TimeoutError: the task did not finish in time.
            Exception: whatever the task raised, with the task's traceback
                attached as ``__cause__`` (a ``RemoteTraceback``).
        """
        if not self.done():
            self._hub.wait_done(self, timeout)
        if self._state is CANCELLED:
            raise CancelledError()
        if self._exception is not None:
            raise self._exception
        return self._result

    def exception(self, timeout: Optional[float] = None
                  ) -> Optional[BaseException]:
        """Return the task's exception (None if it succeeded).

        Raises:
            CancelledError: the task was cancelled.
            TimeoutError: the task did not finish in time.
        """
        if not self.done():
            self._hub.wait_done(self, timeout)
        if self._state is CANCELLED:
            raise CancelledError()
        return self._exception

    def add_done_callback(self, fn: Callable[["Future"], Any]) -> None:
        """Call ``fn(future)`` in this process once the future is done.

        Called at once if the future is already done. An exception from
        ``fn`` is logged and ignored.
        """
        if self.done():
            _call(fn, self)
            return
        if self._callbacks is None:
            self._callbacks = []
        self._callbacks.append(fn)

    # -- SCOOP compatibility -------------------------------------------------
    @property
    def resultValue(self) -> Any:  # noqa: N802 - SCOOP's name
        return self._result

    @property
    def exceptionValue(self) -> Optional[BaseException]:  # noqa: N802
        return self._exception

    # -- completion (runtime side) -------------------------------------------
    def set_result(self, value: Any) -> None:
        """Complete the future with ``value`` (used by the runtime)."""
        self._complete(value, None)

    def set_exception(self, exc: BaseException) -> None:
        """Complete the future with ``exc`` (used by the runtime)."""
        self._complete(None, exc)

    def _complete(self, value: Any, exc: Optional[BaseException]) -> None:
        if self.done():
            raise InvalidStateError(f"{self!r} is already done")
        self._result = value
        self._exception = exc
        self._state = FINISHED
        self._release()
        self._finish()

    def _release(self) -> None:
        self._fn = self._args = self._kwargs = self._payload = None

    def _finish(self) -> None:
        callbacks = self._callbacks
        if callbacks is not None:
            self._callbacks = None
            self._hub.run_callbacks(self, callbacks)
        waiters = self._waiters
        if waiters is not None:
            self._waiters = None
            for waiter in waiters:
                waiter.notify(self)


def _call(fn: Callable, future: Future) -> None:
    try:
        fn(future)
    except Exception:  # noqa: BLE001 - PEP 3148: log and go on
        log.exception("exception calling callback for %r", future)


def call_callbacks(future: Future, callbacks: List[Callable]) -> None:
    """Run ``callbacks`` for ``future`` in order, logging their errors."""
    for fn in callbacks:
        _call(fn, future)
