"""How many of a host's CPUs the broker has filled with short tasks.

A batch of short tasks (a request for more than ``LONG_TASKS_CREDIT``
tasks: microseconds each, about 2 ms in all) costs little to run and much
to move: where a host's workers outnumber its CPUs, every such batch
handed to one more of them wakes a process that must take a CPU from the
others, the owner of the tasks among them, which then runs its own tasks
more slowly than it could have alone. So on such a host the broker keeps
at most one worker per CPU holding a batch of short tasks, one less on
the broker's own host (the broker and, on the launcher's host, the root,
which submits the tasks and takes their results, keep a CPU busy). The
others wait: the owner runs its own tasks, and a holder that asks again,
within the 2 ms a batch lasts, frees its CPU. A batch held for ``STALE``
seconds no longer counts (its tasks were not short after all).

Long tasks are never held back: workers may outnumber CPUs on purpose,
for tasks that wait on files or the network, and a request for long
tasks says nothing of their CPU use. A host whose CPUs are unknown is
never full.

The broker's workers are seen through ``identity``, ``host`` (its name),
``node`` (a sub-broker: never counted) and ``credit`` (the request).
"""
from __future__ import annotations

import os
import time
from typing import Dict, Iterable, Optional

from ._transport.protocol import LONG_TASKS_CREDIT

STALE = 0.05     # seconds after which a short batch no longer holds a CPU


def cpus_here() -> list:
    """The CPUs this process may run on, for a worker's HELLO."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:          # no affinity on this platform
        return list(range(os.cpu_count() or 1))


def _short(worker) -> bool:
    return worker.credit > LONG_TASKS_CREDIT and not worker.node


class _Host:
    __slots__ = ("workers", "cpus", "holders", "reserve")

    def __init__(self, reserve: int) -> None:
        self.workers = 0        # joined and not lost
        self.cpus: set = set()  # the union of its workers' CPUs
        self.holders: Dict[bytes, float] = {}  # short batch -> since
        self.reserve = reserve

    def room(self, now: float) -> Optional[int]:
        """How many more workers may take a batch of short tasks (None:
        any number)."""
        cpus = len(self.cpus)
        if not 0 < cpus < self.workers:
            return None
        since = now - STALE
        busy = sum(1 for t in self.holders.values() if t > since)
        return max(1, cpus - self.reserve) - busy


class Occupancy:
    """Counts, per host, the workers that run a batch of short tasks.

    Args:
        here: the host the broker runs on (one CPU kept for it).
    """

    def __init__(self, here: Optional[str] = None) -> None:
        self.here = os.uname().nodename if here is None else here
        self._hosts: Dict[str, _Host] = {}

    def join(self, worker, cpus: Iterable) -> None:
        """``worker`` joined, able to run on ``cpus``."""
        if worker.node or worker.host is None:
            return
        entry = self._hosts.get(worker.host)
        if entry is None:
            entry = self._hosts[worker.host] = _Host(
                int(worker.host == self.here))
        entry.workers += 1
        entry.cpus.update(cpu for cpu in cpus if type(cpu) is int)

    def leave(self, worker) -> None:
        """``worker`` left or was lost."""
        entry = None if worker.node else self._hosts.get(worker.host)
        if entry is not None:
            entry.workers -= 1
            entry.holders.pop(worker.identity, None)

    def served(self, worker) -> None:
        """``worker`` got a batch for its request (``credit``)."""
        entry = self._hosts.get(worker.host) if _short(worker) else None
        if entry is not None:
            entry.holders[worker.identity] = time.monotonic()

    def idle(self, worker) -> None:
        """``worker`` asks for work again: it ran what it held."""
        entry = self._hosts.get(worker.host)
        if entry is not None:
            entry.holders.pop(worker.identity, None)

    def gate(self) -> "Gate":
        """What each host has room for now, for one round of matching."""
        return Gate(self._hosts, time.monotonic())


class Gate:
    """The room of every host, as one round of matching uses it up."""

    __slots__ = ("_hosts", "_now", "_room")

    def __init__(self, hosts: Dict[str, _Host], now: float) -> None:
        self._hosts = hosts
        self._now = now
        self._room: Dict[str, Optional[int]] = {}

    def fits(self, worker) -> bool:
        """Whether the request of ``worker`` may be met now: one for long
        tasks always, one for short tasks while its host has room."""
        if not _short(worker):
            return True
        host = worker.host
        if host not in self._room:
            entry = self._hosts.get(host)
            self._room[host] = None if entry is None \
                else entry.room(self._now)
        room = self._room[host]
        return room is None or room > 0

    def take(self, worker) -> None:
        """The request of ``worker`` is met, or a steal made for it."""
        if _short(worker) and self._room.get(worker.host) is not None:
            self._room[worker.host] -= 1
