"""Crowded hosts: at most one process per CPU runs tasks that compute.

A worker's HELLO says how many CPUs it may use (its affinity); the
broker counts each host's workers. An owner marks the tasks it gives
away that *compute* (their function's tasks ran on a CPU, or waited for
one, most of their time: ``_runtime/pace.py``). On a host with more
workers than CPUs, such tasks go to a worker only while the host has a
CPU that no process computing holds: more would only take turns on the
CPUs, each woken process costing the others its switches, messages and
caches. Computing are

- the workers that hold marked tasks (handed them, their results not
  yet passed);
- the owners of marked tasks on the host that are busy (asking for no
  work): a job's root cuts and consumes a map's chunks on a CPU of its
  own.

A worker handed marked tasks is *seated*: it keeps its seat while it
holds some or asks for more, and a seated worker is served first when
its host has a CPU free (it is awake, its caches warm). A seat is not a
CPU: a seated worker that holds nothing waits like the others while
the host is full, so that a root that went back to work after a pause
(its credit withdrawn, ``_runtime/hub.py``) does not make one process
too many. A worker that holds marked tasks may get more (it is on a
CPU already), and an owner may always take its own tasks back; the
others wait with their credit until a CPU comes free. Tasks not marked
(their function waits, or has not been seen yet) go to every idle
worker.

The broker's worker records carry ``host``, ``cpus`` and ``credit``, and
the fields this module keeps: ``place`` (their :class:`Host`),
``computing`` (marked tasks held, not counting those that went home to
their owner), ``seated`` and ``owns``.
"""
from __future__ import annotations

from typing import Dict, List, Set


class Host:
    """The workers of one host, its CPUs, how many of them hold marked
    tasks, and the owners of marked tasks among its workers."""

    __slots__ = ("workers", "cpus", "holding", "owners")

    def __init__(self) -> None:
        self.workers = self.cpus = self.holding = 0
        self.owners: List = []

    def excess(self) -> int:
        """How many of the host's workers have no CPU of their own."""
        return max(0, self.workers - self.cpus)

    def full(self) -> bool:
        """Whether a worker that holds no marked task may get none: the
        host has more workers than CPUs, and a process computing on
        each."""
        if self.workers <= self.cpus:
            return False
        busy = self.holding
        for owner in self.owners:
            if not owner.computing and not owner.credit:
                busy += 1
        return busy >= self.cpus


class Hosts:
    """Each host's workers, CPUs and processes computing."""

    def __init__(self) -> None:
        self.by_name: Dict[str, Host] = {}
        self.crowded: Set[Host] = set()   # more workers than CPUs
        self.excess = 0   # workers beyond their hosts' CPUs, all hosts

    def join(self, worker) -> None:
        """Count ``worker`` on its host, if it said how many CPUs it has
        (a sub-broker does not: it keeps its host's count itself)."""
        if worker.cpus > 0:
            place = self.by_name.get(worker.host)
            if place is None:
                place = self.by_name[worker.host] = Host()
            self.excess -= place.excess()
            place.workers += 1
            place.cpus = max(place.cpus, worker.cpus)
            self.excess += place.excess()
            worker.place = place
            if place.workers > place.cpus:
                self.crowded.add(place)

    def leave(self, worker) -> None:
        """``worker`` left: its host counts it no more."""
        place = worker.place
        if place is not None:
            self.excess -= place.excess()
            place.workers -= 1
            self.excess += place.excess()
            if place.workers <= place.cpus:
                self.crowded.discard(place)
            if worker.computing:
                place.holding -= 1
            if worker.owns:
                place.owners.remove(worker)
            worker.place, worker.computing = None, 0
            worker.seated = worker.owns = False

    @staticmethod
    def own(worker) -> None:
        """``worker`` gave away marked tasks of its own."""
        if worker.place is not None and not worker.owns:
            worker.owns = True
            worker.place.owners.append(worker)

    def full_places(self) -> Set[Host]:
        """The hosts where only workers that hold marked tasks may get
        more."""
        return {place for place in self.crowded if place.full()}

    @staticmethod
    def hold(worker, count: int) -> None:
        """``worker`` was handed ``count`` marked tasks (0: only others,
        and it holds no marked task: it leaves its seat)."""
        if worker.place is None:
            return
        if count and not worker.computing:
            worker.place.holding += 1
        worker.computing += count
        worker.seated = worker.computing > 0

    @staticmethod
    def release(worker, count: int) -> None:
        """``worker`` (None: it was lost) holds ``count`` marked tasks no
        more: they ended, or it gave them away. It keeps its seat while
        it holds others, or asks for more (set its credit first)."""
        if worker is None or not worker.computing:
            return
        worker.computing = max(0, worker.computing - count)
        if not worker.computing:
            worker.place.holding -= 1
            worker.seated = worker.credit > 0
