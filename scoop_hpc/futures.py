"""The SCOOP futures API: ``from scoop_hpc import futures``.

Every function may be called from the main program and from inside tasks
(nested parallelism): a task that waits yields its worker to other tasks.
Run a program with ``python -m scoop_hpc [-n N] program.py``; run without
the launcher, it runs serially in one process (with one warning).
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any, Callable, Iterable, Iterator, List, Optional

from ._runtime import execution, mapping
from ._runtime.context import check_not_importing, current
from ._runtime.future import Future
from ._runtime.waiting import Waiter, deadline_after
from .errors import CancelledError, TimeoutError  # noqa: F401 (API)

__all__ = [
    "Future", "submit", "map", "map_as_completed", "mapReduce",
    "map_reduce", "mapScan", "map_scan", "as_completed", "wait",
    "shutdown", "FIRST_COMPLETED", "FIRST_EXCEPTION", "ALL_COMPLETED",
    "DoneAndNotDoneFutures", "CancelledError", "TimeoutError",
]

FIRST_COMPLETED = "FIRST_COMPLETED"
FIRST_EXCEPTION = "FIRST_EXCEPTION"
ALL_COMPLETED = "ALL_COMPLETED"

DoneAndNotDoneFutures = namedtuple("DoneAndNotDoneFutures", "done not_done")

_shut_down = False


def submit(func: Callable, /, *args: Any, **kwargs: Any) -> Future:
    """Schedule ``func(*args, **kwargs)`` and return its Future.

    ``func`` is positional-only, as in ``concurrent.futures``: every
    keyword, ``func=`` too, goes to ``func``.

    Raises:
        SerializationError: ``func`` or an argument cannot be sent to
            another worker; the message names which.
        RuntimeError: :func:`shutdown` was called before.
        MainGuardError: called by the program's top level while a worker
            imports it (the main code lacks its ``__main__`` guard).
    """
    _check("submit", func)
    return current().submit(func, args, kwargs)


def map(func: Callable, /, *iterables: Iterable,  # noqa: A001 - SCOOP's
        timeout: Optional[float] = None, **kargs: Any) -> Iterator[Any]:
    """Return an iterator of ``func(*items, **kargs)``, in order.

    Items are consumed lazily and sent in adaptively sized chunks; the
    results come back in the order of the items. ``func`` is
    positional-only: every keyword but ``timeout`` goes to ``func``.

    Raises:
        TimeoutError: from the iterator, when a result is not available
            ``timeout`` seconds after the call (0 or less: at once).
        Exception: from the iterator, whatever ``func`` raised for an item,
            after the values of the items before it.
    """
    _check("map", func, iterables)
    return mapping.values(mapping.ordered(
        current(), execution.map_chunk, func, iterables, (), kargs,
        timeout))


def map_as_completed(func: Callable, /, *iterables: Iterable,
                     timeout: Optional[float] = None,
                     **kargs: Any) -> Iterator[Any]:
    """Like :func:`map`, but yield each result as soon as it is ready."""
    _check("map_as_completed", func, iterables)
    return mapping.values(mapping.completed(
        current(), execution.map_chunk, func, iterables, (), kargs,
        timeout))


def mapReduce(mapFunc: Callable, reductionFunc: Callable,  # noqa: N802,N803
              /, *iterables: Iterable, **kargs: Any) -> Any:
    """Return ``reduce(reductionFunc, map(mapFunc, *iterables))``.

    Each chunk is mapped and reduced on the worker that holds it; the
    partial results are then combined in order, so ``reductionFunc`` must
    be associative. Returns None for no items, the mapped item for one.
    """
    _check("mapReduce", mapFunc, iterables)
    timeout = kargs.pop("timeout", None)
    result, first = None, True
    for partial, failure in mapping.ordered(
            current(), execution.reduce_chunk, mapFunc, iterables,
            (reductionFunc,), kargs, timeout):
        if failure is not None:
            raise execution.unwrap(failure)
        if first:
            result, first = partial, False
        else:
            result = reductionFunc(result, partial)
    return result


def mapScan(mapFunc: Callable, reductionFunc: Callable,  # noqa: N802,N803
            /, *iterables: Iterable, **kargs: Any) -> List[Any]:
    """Return the prefix reductions of the mapped items, as a list.

    Equal to ``list(itertools.accumulate(map(mapFunc, *iterables),
    reductionFunc))``; each chunk is mapped and scanned on a worker.
    """
    _check("mapScan", mapFunc, iterables)
    timeout = kargs.pop("timeout", None)
    out: List[Any] = []
    for scanned, failure in mapping.ordered(
            current(), execution.scan_chunk, mapFunc, iterables,
            (reductionFunc,), kargs, timeout):
        if failure is not None:
            raise execution.unwrap(failure)
        if out and scanned:
            carry = out[-1]
            out.extend(reductionFunc(carry, value) for value in scanned)
        else:
            out.extend(scanned)
    return out


map_reduce = mapReduce
map_scan = mapScan


def as_completed(fs: Iterable[Future],
                 timeout: Optional[float] = None) -> Iterator[Future]:
    """Yield the futures of ``fs`` as they complete (finish or cancel).

    Raises:
        TimeoutError: from the iterator, if some are still unfinished
            ``timeout`` seconds after the call (at once after those
            already done, for a timeout of 0 or less).
    """
    futures = list(dict.fromkeys(fs))
    deadline = deadline_after(timeout)
    return _as_completed(current(), futures, deadline)


def _as_completed(hub, futures: List[Future], deadline) -> Iterator[Future]:
    waiter = Waiter(hub, futures)
    left = len(futures)
    try:
        while left:
            if not waiter.wait(deadline):
                raise TimeoutError(
                    f"{left} (of {len(futures)}) futures unfinished")
            while waiter.fired:
                left -= 1
                yield waiter.fired.popleft()
    finally:
        waiter.close()


def wait(fs: Iterable[Future], timeout: Optional[float] = None,
         return_when: str = ALL_COMPLETED) -> DoneAndNotDoneFutures:
    """Wait for the futures of ``fs``; return ``(done, not_done)`` sets.

    Args:
        timeout: seconds to wait at most; None (or, as in SCOOP, a
            negative number) waits without limit.
        return_when: FIRST_COMPLETED, FIRST_EXCEPTION or ALL_COMPLETED.
    """
    if return_when not in (FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED):
        raise ValueError(f"return_when must be FIRST_COMPLETED, "
                         f"FIRST_EXCEPTION or ALL_COMPLETED, not "
                         f"{return_when!r}")
    futures = set(fs)
    done = {f for f in futures if f.done()}
    not_done = futures - done
    if timeout is not None and timeout < 0:
        timeout = None      # SCOOP's "wait without limit"
    deadline = deadline_after(timeout)
    waiter = Waiter(current(), not_done)
    try:
        while not_done and not _satisfied(done, return_when):
            if not waiter.wait(deadline):
                break
            while waiter.fired:
                fut = waiter.fired.popleft()
                done.add(fut)
                not_done.discard(fut)
    finally:
        waiter.close()
    return DoneAndNotDoneFutures(done, not_done)


def _satisfied(done: set, return_when: str) -> bool:
    if return_when == FIRST_COMPLETED:
        return bool(done)
    if return_when == FIRST_EXCEPTION:
        return any(not f.cancelled() and f._exception is not None
                   for f in done)
    return False


def shutdown(wait: bool = True) -> None:  # noqa: A002 - PEP 3148 name
    """Refuse new tasks; with ``wait``, wait for this process's futures."""
    global _shut_down
    _shut_down = True
    if wait:
        current().wait_all_own()


def _check(call: str, func: Callable,
           iterables: Optional[tuple] = None) -> None:
    """Refuse ``futures.<call>(func, *iterables)`` that cannot run."""
    check_not_importing(f"futures.{call}")
    if _shut_down:
        raise RuntimeError("cannot schedule new futures after shutdown")
    if not callable(func):
        raise TypeError(f"func must be callable, not {type(func).__name__}")
    if iterables == ():
        raise TypeError("map needs at least one iterable")
