"""Shared constants as one process sees them.

A value set here travels to the broker, which keeps it, hands it to every
other worker (and to workers that join later) and answers the setter; the
setter returns only then, so a task submitted afterwards sees the constant
wherever it runs. Values that arrive are decoded on first read.
"""
from __future__ import annotations

import time
from collections import deque
from typing import Any, Dict, List, Optional

from .._transport import protocol as P
from ..errors import ConstantError
from .waiting import Waiter


class SharedConstants:
    """The constants known to one hub, and the greenlets waiting for some.

    Args:
        hub: the hub whose endpoint and greenlets this serves.
    """

    def __init__(self, hub) -> None:
        self.hub = hub
        self.values: Dict[str, Any] = {}
        self._frames: Dict[str, list] = {}     # arrived, not yet decoded
        self._readers: Dict[str, List[Waiter]] = {}
        self._acks: Dict[str, deque] = {}      # setters, in request order

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def welcome(self, items: list) -> None:
        """Take the constants listed in the broker's welcome."""
        for (name, _), payload in items:
            self._frames[name] = payload

    def get(self, name: str, timeout: Optional[float]) -> Any:
        """Return constant ``name``, waiting up to ``timeout`` for it.

        Returns None when the constant is still unknown after ``timeout``.
        """
        if self._known(name):
            return self.values[name]
        deadline = None if timeout is None else time.monotonic() + timeout
        waiter = Waiter(self.hub)
        self._readers.setdefault(name, []).append(waiter)
        try:
            waiter.wait(deadline)
        finally:
            waiter.close()
            readers = self._readers.get(name)
            if readers is not None and waiter in readers:
                readers.remove(waiter)
                if not readers:      # a name polled once, never defined
                    del self._readers[name]
        return self.values[name] if self._known(name) else None

    def set(self, values: Dict[str, Any]) -> None:
        """Define constants job-wide; wait until the broker has them.

        Raises:
            ConstantError: a name is already defined.
            SerializationError: a value cannot be serialised.
        """
        payloads = {}
        for name, value in values.items():
            if name in self.values or name in self._frames:
                raise _already_defined(name)
            payloads[name] = P.dumps(value, value)
        endpoint = self.hub.endpoint
        if endpoint is None:
            self.values.update(values)
            return
        setters = {}
        for name, payload in payloads.items():
            setters[name] = Waiter(self.hub)
            # the broker answers in order: several tasks of this process
            # may be defining the same name at once
            self._acks.setdefault(name, deque()).append(setters[name])
            endpoint.send([P.header(P.SET_CONST), name.encode(), *payload])
        refused = []
        for name, waiter in setters.items():
            waiter.wait(None)
            if waiter.fired[0] is not None:
                refused.append(name)
            else:
                self.values[name] = values[name]
                self._wake_readers(name)
        if refused:
            raise _already_defined(", ".join(refused))

    def on_const(self, frames: list) -> None:
        """A constant defined elsewhere arrived."""
        name = bytes(frames[1]).decode()
        self._frames[name] = list(frames[2:])
        self._wake_readers(name)

    def on_ack(self, frames: list) -> None:
        """The broker's answer to this process's oldest definition."""
        name = bytes(frames[1]).decode()
        setters = self._acks.get(name)
        if not setters:
            return
        waiter = setters.popleft()
        if not setters:
            del self._acks[name]
        waiter.notify(P.unpack(frames[2]))

    def _known(self, name: str) -> bool:
        if name not in self.values and name in self._frames:
            self.values[name] = P.loads(self._frames.pop(name))
        return name in self.values

    def _wake_readers(self, name: str) -> None:
        for waiter in self._readers.pop(name, ()):
            waiter.notify(name)


def _already_defined(names: str) -> ConstantError:
    return ConstantError(
        f"shared constant {names} is already defined; constants cannot be "
        f"changed: give the new value another name")
