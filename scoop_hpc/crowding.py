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

The module also keeps who asks for work (a worker's ``credit``, set
through :meth:`Hosts.ask`): in the order they last asked, and by host,
the seated ones apart; the latest to ask is served first, being awake.
Finding the worker for a task then looks at each host once and at its
seated workers, not at every idle worker: on a full host hundreds of
them wait, and a scan of them all at every step of the broker made a
step cost more the larger the job.

The broker's worker records carry ``host``, ``cpus`` and ``identity``,
and the fields this module keeps: ``place`` (their :class:`Host`),
``credit``, ``computing`` (marked tasks held, not counting those that
went home to their owner), ``seated`` and ``owns``.
"""
from __future__ import annotations

from typing import Dict, Iterator, List, Optional, Set


class Host:
    """The workers of one host, its CPUs, how many of them hold marked
    tasks, the owners of marked tasks among its workers, and those that
    ask for work (all, and the seated ones), in the order they last
    asked."""

    __slots__ = ("workers", "cpus", "holding", "owners", "asking",
                 "asking_seated")

    def __init__(self) -> None:
        self.workers = self.cpus = self.holding = 0
        self.owners: List = []
        self.asking: Dict = {}          # worker -> None: an ordered set
        self.asking_seated: Dict = {}

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
    """Each host's workers, CPUs and processes computing, and the
    workers that ask for work."""

    def __init__(self) -> None:
        self.by_name: Dict[str, Host] = {}
        self.crowded: Set[Host] = set()   # more workers than CPUs
        self.excess = 0   # workers beyond their hosts' CPUs, all hosts
        self.asking: Dict = {}     # every worker with credit, in the
        #                            order they last asked
        self.unplaced: Dict = {}   # those of them counted on no host
        self.credit = 0            # their credit, all together

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
        """``worker`` left: its host counts it no more, nobody gives it
        work."""
        self.ask(worker, 0)
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
        _seat(worker, worker.computing > 0)

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
            _seat(worker, worker.credit > 0)

    def ask(self, worker, credit: int) -> None:
        """``worker`` asks for ``credit`` tasks (0: for none, or it was
        served). It goes to the end of the order: the latest to ask is
        served first, being awake, its caches warm."""
        self.credit += credit - worker.credit
        worker.credit = credit
        place = worker.place
        mine = self.unplaced if place is None else place.asking
        self.asking.pop(worker, None)
        mine.pop(worker, None)
        if place is not None:
            place.asking_seated.pop(worker, None)
        if credit:
            self.asking[worker] = None
            mine[worker] = None
            if place is not None and worker.seated:
                place.asking_seated[worker] = None

    def taker(self, owner: bytes, computes: bool, full: Set[Host],
              workers: dict) -> Optional[object]:
        """Who of the workers that ask gets a task of ``owner`` next, the
        latest to ask first: another worker if one may take it (for a
        task that computes, one whose host is not ``full`` or that
        computes already, a seated one first), else its owner if it asks
        (``workers`` finds it), else nobody."""
        if not computes:
            for worker in reversed(self.asking):
                if worker.identity != owner:
                    return worker
        else:
            places = self.by_name.values()
            for place in places:
                blocked = place in full
                for worker in reversed(place.asking_seated):
                    if worker.identity != owner and (
                            worker.computing or not blocked):
                        return worker
            for place in places:
                if place not in full:
                    for worker in reversed(place.asking):
                        if worker.identity != owner:
                            return worker
            for worker in reversed(self.unplaced):
                if worker.identity != owner:
                    return worker
        home = workers.get(owner)
        return home if home is not None and home.credit else None

    def unblocked(self, full: Set[Host]) -> Iterator:
        """The workers that ask and may get work: on a ``full`` host,
        only the seated ones."""
        for place in self.by_name.values():
            yield from (place.asking_seated if place in full
                        else place.asking)
        yield from self.unplaced


def _seat(worker, seated: bool) -> None:
    """Give ``worker`` (on a host) its seat, or take it."""
    worker.seated = seated
    if seated and worker.credit:
        worker.place.asking_seated[worker] = None
    else:
        worker.place.asking_seated.pop(worker, None)
