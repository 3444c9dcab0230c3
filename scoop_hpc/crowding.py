"""Crowded hosts: at most one worker per CPU runs tasks that compute.

A worker's HELLO says how many CPUs it may use (its affinity); the
broker counts each host's workers. An owner marks the tasks it gives
away that *compute* (their function's tasks ran on a CPU, or waited for
one, most of their time: ``_runtime/pace.py``). On a host with more
workers than CPUs such tasks go to at most one worker per CPU at a time:
more would only take turns on the CPUs, each woken process costing the
others its switches, messages and caches. A worker that holds some may
get more (it is awake, and counted); the others wait with their credit
until a CPU comes free: a holder's results, a holder giving its queued
ones away, or its loss. Tasks not marked (their function waits, or has
not been seen yet) go to every idle worker.

The broker's worker records carry ``host`` and ``cpus`` (from HELLO),
``place`` (their :class:`Host`, set here) and ``computing`` (how many
marked tasks they hold, not counting those that went home to their
owner).
"""
from __future__ import annotations

from typing import Dict


class Host:
    """The workers of one host, its CPUs, and how many of the workers
    hold tasks that compute."""

    __slots__ = ("workers", "cpus", "computing")

    def __init__(self) -> None:
        self.workers = self.cpus = self.computing = 0

    def full(self) -> bool:
        """Whether a worker holding no task that computes may get none:
        the host has more workers than CPUs, and as many computing."""
        return self.workers > self.cpus <= self.computing


class Hosts:
    """Each host's count of workers, CPUs and workers computing."""

    def __init__(self) -> None:
        self.by_name: Dict[str, Host] = {}

    def join(self, worker) -> None:
        """Count ``worker`` on its host, if it said how many CPUs it has
        (a sub-broker does not: it keeps its host's count itself)."""
        if worker.cpus > 0:
            place = self.by_name.get(worker.host)
            if place is None:
                place = self.by_name[worker.host] = Host()
            place.workers += 1
            place.cpus = max(place.cpus, worker.cpus)
            worker.place = place

    @staticmethod
    def leave(worker) -> None:
        """``worker`` left: its host counts it no more."""
        place = worker.place
        if place is not None:
            place.workers -= 1
            if worker.computing:
                place.computing -= 1
            worker.place, worker.computing = None, 0

    @staticmethod
    def may_compute(worker) -> bool:
        """Whether ``worker`` may get tasks that compute: it holds some,
        or its host is not counted, or not full."""
        place = worker.place
        return bool(worker.computing) or place is None or not place.full()

    @staticmethod
    def hold(worker, count: int) -> None:
        """``worker`` was handed ``count`` more tasks that compute."""
        if worker.place is not None:
            if not worker.computing:
                worker.place.computing += 1
            worker.computing += count

    @staticmethod
    def release(worker, count: int) -> None:
        """``worker`` (None: it was lost) holds ``count`` tasks that
        compute no more: they ended, or it gave them away."""
        if worker is not None and worker.computing:
            worker.computing = max(0, worker.computing - count)
            if not worker.computing:
                worker.place.computing -= 1
