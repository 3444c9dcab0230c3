"""Running a task's callable, and carrying its exception to the caller.

An exception raised by a task is re-raised on the caller with its own
type; its formatted traceback, headed by the worker that ran it, becomes
the ``__cause__`` (a ``RemoteTraceback``), like CPython's process pools.
Map-style helpers run a whole chunk of items in one task.

What a task sends back must travel: :func:`reply` serialises it on the
worker and puts a ``SerializationError`` naming the culprit in place of
what cannot be sent, or cannot be rebuilt from its pickle.
"""
from __future__ import annotations

import os
import sys
from functools import reduce
from itertools import accumulate
from typing import Any, Callable, List, Optional, Tuple

from greenlet import GreenletExit

from .._transport import protocol as P
from ..errors import RemoteTraceback, SerializationError

_where = (f"the serial run (pid {os.getpid()}) on host "
          f"{os.uname().nodename}")


#: this process is a copy that a task forked (the hub tests it after
#: each task: an attribute read, not a call, on the per-task path)
forked = False


def note_fork() -> None:
    """Fork hook of a worker: in the child, a task's ``os.fork()``."""
    global forked
    forked = True


def leave_forked(fn: Any, args: tuple) -> None:
    """End this process, a child that the task ``fn(*args)`` forked and
    that returned from the task: it would go on as a copy of its worker,
    on the worker's connections, and the job would hang."""
    print(f"scoop_hpc: task {describe_task(fn, args)} forked a process "
          f"(pid {os.getpid()}) that returned from the task: a child "
          f"forked in a task must end with os._exit(); it exits with "
          f"code 70", file=sys.stderr, flush=True)
    os._exit(70)


def set_location(worker: str, size: int) -> None:
    """Name this process in the tracebacks it sends to callers."""
    global _where
    _where = (f"worker {worker} of {size} (pid {os.getpid()}) on host "
              f"{os.uname().nodename}")


def describe_callable(fn: Any) -> str:
    """Return a short name for ``fn``: its qualified name, or its type."""
    name = getattr(fn, "__qualname__", None)
    if name is None:
        func = getattr(fn, "func", None)  # functools.partial
        if func is not None:
            return f"partial({describe_callable(func)})"
        return type(fn).__qualname__
    return name


def is_chunk(fn: Any, args: tuple) -> bool:
    """Whether ``fn(*args)`` is a chunk of a map (its ``args[0]`` is the
    mapped callable, its ``args[1]`` the items)."""
    return fn in (map_chunk, reduce_chunk, scan_chunk) and len(args) > 1


def kind_of(fn: Any, args: tuple) -> Any:
    """The callable whose tasks ``fn(*args)`` is one of: the mapped
    callable, for a chunk of a map."""
    return args[0] if is_chunk(fn, args) else fn


def describe_task(fn: Any, args: tuple) -> str:
    """Name a task by its callable; a map chunk by the mapped callable."""
    if is_chunk(fn, args):
        return f"a chunk of {fn.__name__[:-6]} {describe_callable(args[0])}"
    return describe_callable(fn)


def task_parts(fn: Any, args: tuple, kwargs: dict) -> List[Tuple[str, Any]]:
    """What the caller gave for ``fn(*args, **kwargs)``, each part named as
    the caller knows it: for a chunk of a map, the mapped callable, its
    reducer, each item's arguments and the map's keyword arguments."""
    if not is_chunk(fn, args):
        return ([("the callable", fn)]
                + [(f"argument {i}", a) for i, a in enumerate(args)]
                + [(f"keyword argument {k!r}", v) for k, v in kwargs.items()])
    mapped, *reducer, items, star, extra = args
    parts = [("the mapped callable", mapped)]
    parts += [("the reducer", r) for r in reducer]
    for item in items:
        parts += ([(f"argument {i} of an item", a) for i, a in enumerate(item)]
                  if star else [("an item", item)])
    return parts + [(f"keyword argument {k!r}", v) for k, v in extra.items()]


def remote_text(exc: BaseException, fn: Any) -> str:
    """Format ``exc``'s traceback under a header naming where it ran
    (``fn`` None: the task itself could not be unpickled there)."""
    import traceback
    tb = exc.__traceback__
    if tb is not None and tb.tb_next is not None:
        tb = tb.tb_next  # drop the runtime's own frame
    lines = traceback.format_exception(type(exc), exc, tb)
    header = (f"task {describe_callable(fn)} raised on {_where}"
              if fn is not None else _UNLOADED.format(where=_where))
    return f'\n"""\n### {header}\n{"".join(lines)}"""'


_UNLOADED = (
    "a task could not be rebuilt on {where}: what it calls and what it is "
    "given must be found there by name, so define them at the top level of "
    "the program or of a module, not under its "
    "`if __name__ == \"__main__\":` guard")


def attach(exc: BaseException, text: str) -> BaseException:
    """Make ``text`` the cause of ``exc`` and drop its local frames."""
    exc.__cause__ = RemoteTraceback(text)
    exc.__traceback__ = None
    return exc


def rebuild(exc: BaseException, text: str) -> BaseException:
    """Unpickling hook of :class:`Failure`."""
    return attach(exc, text)


class Failure:
    """An exception on its way back to the caller, with its traceback text.

    Pickling a ``Failure`` yields the exception itself, cause attached,
    once unpickled; :meth:`unwrap` does the same without a round trip.
    """

    __slots__ = ("exc", "text")

    def __init__(self, exc: BaseException, fn: Any,
                 text: Optional[str] = None) -> None:
        self.text = remote_text(exc, fn) if text is None else text
        self.exc = exc

    def __reduce__(self):
        return rebuild, (self.exc, self.text)

    def unwrap(self) -> BaseException:
        return attach(self.exc, self.text)


def unwrap(error: Any) -> Optional[BaseException]:
    """Return the exception carried by ``error`` (a Failure, or rebuilt)."""
    if isinstance(error, Failure):
        return error.unwrap()
    return error


# -- chunks of a map --------------------------------------------------------
def map_chunk(fn: Callable, items: list, star: bool,
              kwargs: dict) -> Tuple[List[Any], Optional[Failure]]:
    """Apply ``fn`` to each item; stop at the first exception.

    Returns the values computed so far and the failure, if any, so that an
    ordered map yields every value before the failing one. Any exception
    stops the chunk this way, ``SystemExit`` and ``KeyboardInterrupt``
    too, as they end a single task; only ``GreenletExit`` (the runner is
    being killed) goes on up.
    """
    out: List[Any] = []
    append = out.append
    try:
        if star:
            for args in items:
                append(fn(*args, **kwargs))
        elif kwargs:
            for arg in items:
                append(fn(arg, **kwargs))
        else:
            for arg in items:
                append(fn(arg))
    except GreenletExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - carried to the caller
        return out, Failure(exc, fn)
    return out, None


def reduce_chunk(fn: Callable, reducer: Callable, items: list, star: bool,
                 kwargs: dict) -> Tuple[Any, Optional[Failure]]:
    """Map then reduce one chunk where its data is (the worker)."""
    values, failure = map_chunk(fn, items, star, kwargs)
    if failure is not None:
        return None, failure
    try:
        return reduce(reducer, values), None
    except GreenletExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - as in map_chunk
        return None, Failure(exc, reducer)


def scan_chunk(fn: Callable, reducer: Callable, items: list, star: bool,
               kwargs: dict) -> Tuple[List[Any], Optional[Failure]]:
    """Map then prefix-reduce one chunk (``itertools.accumulate``)."""
    values, failure = map_chunk(fn, items, star, kwargs)
    if failure is not None:
        return [], failure
    try:
        return list(accumulate(values, reducer)), None
    except GreenletExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - as in map_chunk
        return [], Failure(exc, reducer)


# -- sending the outcome back -----------------------------------------------
def reply(fn: Any, args: tuple, value: Any, ok: bool) -> Tuple[list, bool]:
    """Serialise the outcome of the task ``fn(*args)`` for its owner.

    ``value`` is what the task returned (``ok``) or its :class:`Failure`.
    Returns the payload frames and whether they carry a value (else a
    failure). What cannot travel becomes a ``SerializationError`` that
    names it: a value that does not serialise, or an exception that does
    not, or that cannot be rebuilt from its pickle (checked here, where
    its class is at hand: see :func:`_portable`); an exception's error
    keeps the task's traceback as its cause. Of a map's chunk, the values
    before the item at fault travel, and the item's error follows them.
    """
    if not ok:
        where = f"task {describe_task(fn, args)}"
        return P.dumps(_portable(value, where)), False
    if not is_chunk(fn, args):
        try:
            return P.dumps(value, value), True
        except SerializationError as exc:
            error = SerializationError(
                f"the result of task {describe_task(fn, args)} could not "
                f"be sent back: {exc}")
            return P.dumps(Failure(error, fn)), False
    values, failure = value
    if failure is not None:
        where = (_item(fn, args, len(values)) if fn is map_chunk
                 else describe_task(fn, args))
        failure = _portable(failure, where)
    try:
        return P.dumps((values, failure)), True
    except SerializationError as exc:
        return P.dumps(_first_unsent(fn, args, values, exc)), True


def _first_unsent(fn: Any, args: tuple, values: Any,
                  exc: SerializationError) -> Tuple[Any, Failure]:
    """The values of a chunk before the first that does not serialise, and
    an error naming that one (``exc`` names the chunk's outcome)."""
    if isinstance(values, list):     # a map's or a scan's chunk
        for index, item in enumerate(values):
            try:
                P.dumps(item, item)
            except SerializationError as error:
                return values[:index], Failure(SerializationError(
                    f"the value of {_item(fn, args, index)} could not be "
                    f"sent back: {error}"), args[0])
    error = SerializationError(f"the value of {describe_task(fn, args)} "
                               f"could not be sent back: {exc}")
    return (None if fn is reduce_chunk else []), Failure(error, args[0])


def _item(fn: Any, args: tuple, index: int) -> str:
    """Name item ``index`` of the chunk ``fn(*args)`` as the call it was:
    ``item f(3) of a map``."""
    items, star = args[-3], args[-2]
    call = items[index] if star else (items[index],)
    text = ", ".join(_short(arg, 40) for arg in call)
    return (f"item {describe_callable(args[0])}({text}) of a "
            f"{fn.__name__[:-6]}")


def _portable(failure: Failure, where: str) -> Failure:
    """``failure``, if its exception travels: serialised, then rebuilt
    from its pickle (an exception class whose ``__init__`` needs other
    arguments than ``self.args`` pickles but does not rebuild); else a
    ``SerializationError`` saying why, with the same traceback."""
    exc = failure.exc
    try:
        P.loads(P.dumps(failure, exc))
        return failure
    except SerializationError as error:
        reason = str(error)
    except Exception as error:  # noqa: BLE001 - whatever rebuilding raised
        name = type(exc).__qualname__
        reason = (f"{_short(exc, 80)} cannot be rebuilt from its pickle "
                  f"(a call {name}(*exc.args)): {type(error).__name__}: "
                  f"{error}; pass every argument of {name}.__init__ on "
                  f"to super().__init__(), or define {name}.__reduce__")
    return Failure(SerializationError(
        f"the exception of {where} could not be sent back: {reason}"),
        None, failure.text)


def _short(obj: Any, limit: int) -> str:
    """``repr(obj)``, cut to ``limit`` characters."""
    try:
        text = repr(obj)
    except Exception:  # noqa: BLE001 - a broken __repr__
        text = object.__repr__(obj)
    return text if len(text) <= limit else text[:limit - 3] + "..."
