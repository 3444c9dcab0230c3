"""A sub-broker: one host's broker, under the job's broker.

With ``--sub-brokers`` the agent of every remote host forks one, and that
host's workers join it on a private ipc socket instead of the job's
broker (the *root*)::

    worker w5 --\\                  TASKS, in batches       /-- worker w9
    worker w6 ---- sub-broker n5 ==== root broker ==== sub-broker n9
    worker w7 --/   (host a)        RESULTS, one message    (host b)
                                    per owner and step

To its workers a sub-broker is the broker (``Broker``, whose rules it
keeps on its host: pool, steals, flights, replay, heartbeats). To the
root it is one peer that joins like a worker (HELLO, with
``info["node"]``), names the workers behind it (ATTACH), and asks for as
many tasks as its hungry workers want, when stealing on its host found
none. A STEAL from the root is served from its pool, then from its
workers' queues. Results for an owner on another host leave in one
message per owner at the end of each step. Constants, SIZE, DRAIN and
SHUTDOWN pass through it (the job's CPUs in SIZE are the root's count:
the sub-broker tells the root, in STATS, how many of its host's workers
have no CPU of their own); a worker it loses it reports (LOST), and the
root tells it of those the agent saw die. The root answers for what a
sub-broker holds: if the sub-broker is lost, so are its workers, and its
tasks run again elsewhere.

So the root handles one peer and a few batched messages per host instead
of two sockets and a few messages per task for every worker.
"""
from __future__ import annotations

import logging
import os
import select
import signal
import sys
import time
from collections import deque
from typing import Callable, Dict, List, Optional

from . import _procs
from ._runtime.hub import heartbeat_period
from ._transport import protocol as P
from ._transport.signing import SignedEndpoint, SignedRouter
from .broker import Broker, tasks_message
from .errors import TransportError

log = logging.getLogger("scoop_hpc.subbroker")

_STEP = 0.5          # seconds, at most, between two looks at the root
_STATS_EVERY = 1.0   # seconds between progress reports to the root
_JOIN_TIMEOUT = 60.0


class SubBroker(Broker):
    """The broker of one host's workers, itself a peer of the root.

    Args:
        router: the bound endpoint the host's workers join.
        up, up_side: endpoints to the root (its main and side identity,
            as a worker has).
        welcome: the root's WELCOME message (its frames).
    """

    def __init__(self, router, up, up_side, welcome: list) -> None:
        info = P.unpack(welcome[1])
        self.root_cpus = info.get("cpus", info["size"])
        super().__init__(router, info["size"], info["heartbeat"],
                         info["retries"])
        for (name, _), value in P.split_items(info["constants"], welcome, 2):
            self.constants[name] = value
        self.up, self.up_side = up, up_side
        self.asked = 0          # the credit last asked of the root
        self.to_give = 0        # tasks the root wants from this host
        self.dry = True         # the root thinks this host has nothing
        self.announced = 0      # announcements of new work to the root
        self.outbox: Dict[bytes, tuple] = {}   # owner -> (index, payload)
        self.setting: Dict[bytes, deque] = {}  # name -> (who, value)
        self.pids: Dict[bytes, int] = {}
        self._told = (0, 0)     # replays and failures the root knows of
        self._excess_told = 0   # workers beyond the host's CPUs, ditto
        self.heard = time.monotonic()
        self._next_beat = self._next_stats = 0.0
        self._up_handlers = {
            P.TASKS: self._up_tasks, P.STEAL: self._up_steal,
            P.RESULTS: self._up_results, P.CONST: self._up_const,
            P.CONST_ACK: self._up_const_ack, P.SIZE: self._up_size,
            P.DRAIN: lambda frames: self.drain(),
            P.SHUTDOWN: lambda frames: self.shutdown(),
            P.LOST: self._up_lost, P.HEARTBEAT: lambda frames: None,
        }

    # -- the loop ------------------------------------------------------------
    def serve(self, stop: Callable[[], bool]) -> None:
        """Serve the host's workers and the root until ``stop()``.

        Raises:
            RootGone: the root was silent for ``heartbeat`` seconds.
        """
        while not stop():
            self.turn(_STEP)

    def turn(self, timeout: float) -> None:
        """Handle what the workers and the root sent within ``timeout``
        seconds (less when a heartbeat is due); send what it gives."""
        self.step(max(0.0, min(timeout, self._next_beat - time.monotonic())))
        self._from_root()
        self._feed()
        self._flush()
        self._housekeeping()

    def _from_root(self) -> None:
        for end in (self.up, self.up_side):
            while True:
                frames = end.recv(0)
                if frames is None:
                    break
                self.heard = time.monotonic()
                try:
                    self._up_handlers[P.kind_of(frames)](frames)
                except (TransportError, KeyError) as exc:
                    log.warning("dropped a message from the broker: %s",
                                exc)

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if self.heartbeat and now - self.heard > self.heartbeat:
            raise RootGone(f"heard nothing from the job's broker for "
                           f"{now - self.heard:.0f} s")
        if now >= self._next_beat:
            self.up_side.send([P.header(P.HEARTBEAT)])
            beat = heartbeat_period(self.size, self.heartbeat)
            self._next_beat = now + (beat or _STEP)
        excess = self.hosts.excess
        if ((self.stats or excess != self._excess_told)
                and now >= self._next_stats):
            self._next_stats = now + _STATS_EVERY
            self._excess_told = excess
            done, queued = self.progress()[1:]
            self.up.send([P.header(P.STATS),
                          P.pack((done, queued, excess))])
        while self.newly_lost:      # silent: make sure they are gone
            pid = self.pids.get(self.newly_lost.pop())
            if pid:
                _procs.kill_trees([pid])

    # -- the host's workers --------------------------------------------------
    def _on_hello(self, peer: bytes, frames: list) -> None:
        super()._on_hello(peer, frames)
        self.pids[peer] = self.workers[peer].pid
        self.up.send([P.header(P.ATTACH), P.pack([peer])])

    def _on_have_work(self, peer: bytes, frames: list) -> None:
        super()._on_have_work(peer, frames)
        self._announce()

    def _announce(self) -> None:
        """Tell the root of work here, if its last STEAL found none."""
        if self.dry:
            self.dry = False
            self.announced += 1
            self.up.send([P.header(P.HAVE_WORK), P.pack(self.announced)])

    def _on_set_const(self, peer: bytes, frames: list) -> None:
        """The root decides: the first to set a name wins, job-wide."""
        name = bytes(frames[1])
        self.setting.setdefault(name, deque()).append((peer, frames[2:]))
        self.up.send([P.header(P.SET_CONST), *frames[1:]])

    def _deliver(self, owner: bytes, frames: list, index: list) -> None:
        """Results go to a worker of this host, or wait in the outbox for
        the step's one message per owner to the root."""
        if owner in self.workers or owner in self.lost:
            super()._deliver(owner, frames, index)
            return
        entry = self.outbox.get(owner)
        if entry is None:
            entry = self.outbox[owner] = ([], [])
        entry[0].extend(index)
        entry[1].extend(frames[4:])

    def _flush(self) -> None:
        for owner, (index, payload) in self.outbox.items():
            self.up.send([P.header(P.RESULTS), owner, P.pack(0),
                          P.pack(index), *payload])
        self.outbox.clear()

    def _shrink(self, identity: bytes, why: str, workers: int) -> None:
        """Tell the root, with the tasks run again or given up since the
        last loss; the root says how many workers the job has (SIZE)."""
        counts = (self.replays - self._told[0], self.failures - self._told[1])
        self._told = (self.replays, self.failures)
        self.up.send([P.header(P.LOST), identity, P.pack(why),
                      P.pack(counts)])

    # -- scheduling ----------------------------------------------------------
    def _feed(self) -> None:
        """The host's workers first; what is left, the root may have.

        The credit they still want is asked of the root at once, while
        the host's workers are asked to give (tasks that come from both
        wait in the pool, which the root may steal from). The request
        grows as workers get hungry and is withdrawn when none is: not
        a message for every change."""
        super()._feed()
        if self.draining:
            return
        if self.to_give:
            self._give()
        wanted = self.hosts.credit
        if wanted > self.asked or (self.asked and not wanted):
            self.asked = wanted
            self.up.send([P.header(P.REQUEST), P.pack(wanted)])

    def _give(self) -> None:
        """Answer the root's STEAL: from the pool, else from the workers'
        queues (their answers come in a later step), else NOTHING."""
        pool = self.pool
        if pool:
            items = [pool.popleft()
                     for _ in range(min(self.to_give, len(pool)))]
            for entry, _ in items:      # the root answers for them now
                self.flights.pop((entry[0], entry[1]), None)
            self.up_side.send(tasks_message(items))
            self.to_give = 0
        elif not any(w.stealing for w in self._order):
            self.up_side.send([P.header(P.NOTHING),
                               P.pack(self.announced)])
            self.to_give = 0
            self.dry = True

    # -- the root's messages -------------------------------------------------
    def _up_tasks(self, frames: list) -> None:
        self.asked = 0          # a request is answered once
        items = P.split_items(P.unpack(frames[1]), frames, 2)
        self.pool.extend(items)
        self.peak = max(self.peak, len(self.pool))
        if len(items) > 1:      # the root's STEAL may have overtaken them
            self._announce()

    def _up_steal(self, frames: list) -> None:
        self.to_give = max(1, P.unpack(frames[1]))
        if not self.pool:
            self._steal([], self.to_give)

    def _up_results(self, frames: list) -> None:
        owner = bytes(frames[1])
        if owner in self.workers and owner not in self.lost:
            self.router.send(owner, frames)

    def _up_const(self, frames: list) -> None:
        self._publish(bytes(frames[1]), list(frames[2:]))

    def _up_const_ack(self, frames: list) -> None:
        name = bytes(frames[1])
        waiting = self.setting.get(name)
        if not waiting:
            return
        peer, value = waiting.popleft()
        if not waiting:
            del self.setting[name]
        if P.unpack(frames[2]) is None:   # set: the others learn it here
            self._publish(name, list(value), peer)
        self.router.send(peer, frames)

    def cpus(self) -> int:
        """The job's CPUs, as the root counts them."""
        return self.root_cpus

    def _up_size(self, frames: list) -> None:
        if len(frames) > 2:
            self.root_cpus = P.unpack(frames[2])
        self.resize(P.unpack(frames[1]))

    def _up_lost(self, frames: list) -> None:
        self.lose(bytes(frames[1]), str(P.unpack(frames[2])))


class RootGone(Exception):
    """The job's broker stopped answering: the job is over."""


def run(identity: bytes, address: str, bind: str, token: bytes,
        curve=None, debug: bool = False,
        stop_fd: Optional[int] = None) -> int:
    """Join the job's broker at ``address`` as ``identity``; serve the
    host's workers on ``bind`` until the pipe ``stop_fd`` is closed at its
    other end (the agent's, once they have left, or the agent is gone),
    or without one, until SIGTERM. Returns the exit code."""
    import zmq

    import scoop_hpc

    from ._transport.zmq import ZmqEndpoint, ZmqRouter
    from .logs import configure_logging
    name = identity.decode()
    scoop_hpc.IS_RUNNING, scoop_hpc.WORKER_NAME = True, name  # in its logs
    configure_logging(0, debug=debug)
    stopping: List[int] = []
    if stop_fd is None:
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    P.set_key(token)
    context = zmq.Context()
    up = SignedEndpoint(ZmqEndpoint(context, address, identity, curve),
                        token)
    up_side = SignedEndpoint(ZmqEndpoint(
        context, address, identity + b"/side", curve, send_timeout=1.0),
        token)
    router: Optional[SignedRouter] = None
    try:
        # bound first: the workers, forked next, need not retry connecting
        router = SignedRouter(ZmqRouter(context, bind), token)
        welcome = _join(up, name)
        if welcome is None:
            return 1
        up_side.send([P.header(P.SIDE_HELLO), identity])
        router.watch(up.socket)
        router.watch(up_side.socket)
        if stop_fd is not None:
            router.watch(stop_fd)
        broker = SubBroker(router, up, up_side, welcome)
        try:
            broker.serve(lambda: bool(stopping) or (
                stop_fd is not None and _closed(stop_fd)))
        except RootGone as exc:
            print(f"scoop_hpc: sub-broker {name}: {exc}: the launcher is "
                  f"gone; its workers leave", file=sys.stderr, flush=True)
            broker.shutdown()
            return 1
        return 0
    finally:
        for end in (up, up_side, router):
            if end is not None:
                end.close()
        context.destroy(linger=0)


def _closed(fd: int) -> bool:
    """Whether the pipe ``fd`` reached its end (its writer closed it)."""
    return bool(select.select([fd], [], [], 0)[0]) and not os.read(fd, 512)


def _join(up, name: str) -> Optional[list]:
    """Say hello to the job's broker; return its WELCOME, or None."""
    info = {"name": name, "pid": os.getpid(), "host": os.uname().nodename,
            "node": True}
    up.send([P.header(P.HELLO), P.pack(info)])
    deadline = time.monotonic() + _JOIN_TIMEOUT
    while True:
        frames = up.recv(max(0.0, deadline - time.monotonic()))
        if frames is None:
            print(f"scoop_hpc: sub-broker {name}: no answer from the job's "
                  f"broker within {_JOIN_TIMEOUT:g} s", file=sys.stderr)
            return None
        if P.kind_of(frames) == P.WELCOME:
            return frames
