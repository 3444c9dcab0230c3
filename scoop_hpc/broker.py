"""The broker: spreads tasks over workers and relays their results.

::

    worker A (owner)                broker                      worker B
      submit -> local deque
      <- STEAL n (side socket) ---  B asked for work (REQUEST),
      -- TASKS (oldest half) ---->  pool empty: steal from A
                                    pool -> B within its credit -- TASKS ->
                                                                   run
      <----------- RESULTS ------  relayed to the owner  <-- RESULTS --

Work is pulled, never pushed: a worker asks for ``n`` tasks (its credit)
when it has nothing to run, and holds at most that many ahead. Tasks stay
in the deque of the worker that submitted them until somebody idles; then
the broker asks a busy worker's side thread for its oldest tasks (the
largest subtrees of a nested computation), so a long task never strands
queued ones. A worker that had nothing to give is asked again after a
back-off that doubles, and at once when it announces new work.

The broker never unpickles a payload: it reads the small envelopes only.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from typing import Deque, Dict, List, Optional

from ._transport import protocol as P
from .errors import TransportError

log = logging.getLogger("scoop_hpc.broker")

_BACKOFF_MIN = 0.002
_BACKOFF_MAX = 1.0
_BURST = 1000          # messages handled per step at most
_GREETINGS = (P.HELLO, P.SIDE_HELLO)


class _Worker:
    """What the broker knows of one worker."""

    __slots__ = ("identity", "name", "pid", "host", "credit", "side",
                 "stealing", "next_try", "delay")

    def __init__(self, identity: bytes, info: dict) -> None:
        self.identity = identity
        self.name = info.get("name", identity.decode(errors="replace"))
        self.pid = info.get("pid")
        self.host = info.get("host")
        self.credit = 0
        self.side: Optional[bytes] = None
        self.stealing = False
        self.next_try = 0.0
        self.delay = _BACKOFF_MIN

    def reset_backoff(self) -> None:
        self.next_try = 0.0
        self.delay = _BACKOFF_MIN


class Broker:
    """Routes tasks, results and shared constants between workers.

    The router signs and checks every message (``signing.SignedRouter``):
    what reaches the broker comes from a holder of the job's secret.

    Args:
        router: the bound endpoint (``base.RouterEndpoint``).
        size: the number of workers of the job.
    """

    def __init__(self, router, size: int) -> None:
        self.router = router
        self.size = size
        self.workers: Dict[bytes, _Worker] = {}
        self._sides: Dict[bytes, _Worker] = {}
        self._order: List[_Worker] = []
        self._rotor = 0
        self.pool: Deque = deque()
        self.constants: Dict[str, list] = {}
        self._retry_at: Optional[float] = None
        self._closing = False
        self.peak = 0              # the longest the pool has been
        self.stats: Dict[bytes, tuple] = {}   # worker -> (done, queued)
        self._handlers = {
            P.HELLO: self._on_hello, P.SIDE_HELLO: self._on_side_hello,
            P.REQUEST: self._on_request, P.TASKS: self._on_tasks,
            P.NOTHING: self._on_nothing, P.HAVE_WORK: self._on_have_work,
            P.STATS: self._on_stats,
            P.RESULTS: self._on_results, P.SET_CONST: self._on_set_const,
        }

    # -- the loop ------------------------------------------------------------
    def step(self, timeout: Optional[float]) -> None:
        """Handle every message that arrives within ``timeout`` seconds.

        Returns after the first wait that ends without a message (or on a
        watched file descriptor), or after ``_BURST`` messages, so that the
        caller hears signals and dead workers under a steady stream. Tasks
        are matched with credit once, after the messages of the step.
        """
        wait = self._retry_wait(timeout)
        for _ in range(_BURST):
            got = self.router.recv(wait)
            if got is None:
                break
            self.handle(*got)
            wait = 0
        self._feed()

    def handle(self, peer: bytes, frames: list) -> None:
        """Dispatch one message from ``peer``; drop malformed ones."""
        try:
            kind = P.kind_of(frames)
            handler = self._handlers[kind]
        except (TransportError, KeyError):
            log.warning("dropped a malformed message from %r", peer)
            return
        if kind not in _GREETINGS and peer not in self.workers \
                and peer not in self._sides:
            log.warning("dropped a message from %r: not a worker of this "
                        "job", peer)
            return
        try:
            handler(peer, frames)
        except TransportError as exc:
            log.warning("dropped a message from %r: %s", peer, exc)

    def resize(self, size: int) -> None:
        """Tell every worker that the job now has ``size`` workers."""
        self.size = size
        message = [P.header(P.SIZE), P.pack(size)]
        for worker in self._order:
            self.router.send(worker.identity, message)

    def shutdown(self) -> None:
        """Tell every worker to leave, and those that join later too."""
        self._closing = True
        head = [P.header(P.SHUTDOWN)]
        for worker in self._order:
            self.router.send(worker.identity, head)
            if worker.side is not None:
                self.router.send(worker.side, head)

    # -- handlers ------------------------------------------------------------
    def _on_hello(self, peer: bytes, frames: list) -> None:
        worker = _Worker(peer, P.unpack(frames[1]))
        if peer not in self.workers:
            self._order.append(worker)
        else:
            self._order[self._order.index(self.workers[peer])] = worker
        self.workers[peer] = worker
        index, payload = [], []
        for name, value in self.constants.items():
            index.append((name, len(value)))
            payload.extend(value)
        info = {"size": self.size, "broker": "broker",
                "constants": index}
        self.router.send(peer, [P.header(P.WELCOME), P.pack(info),
                                *payload])
        log.debug("worker %s joined (pid %s on %s)", worker.name,
                  worker.pid, worker.host)
        if self._closing:
            self.router.send(peer, [P.header(P.SHUTDOWN)])

    def _on_side_hello(self, peer: bytes, frames: list) -> None:
        worker = self.workers.get(bytes(frames[1]))
        if worker is None:
            raise TransportError("side channel of an unknown worker")
        worker.side = peer
        self._sides[peer] = worker
        if self._closing:
            self.router.send(peer, [P.header(P.SHUTDOWN)])

    def _on_request(self, peer: bytes, frames: list) -> None:
        self.workers[peer].credit = P.unpack(frames[1])

    def _on_tasks(self, peer: bytes, frames: list) -> None:
        items = P.split_items(P.unpack(frames[1]), frames, 2)
        self.pool.extend(items)
        self.peak = max(self.peak, len(self.pool))
        worker = self._sides.get(peer)
        if worker is not None:
            worker.stealing = False
            worker.reset_backoff()

    def _on_nothing(self, peer: bytes, frames: list) -> None:
        worker = self._sides[peer]
        worker.stealing = False
        worker.next_try = time.monotonic() + worker.delay
        worker.delay = min(worker.delay * 2, _BACKOFF_MAX)

    def _on_stats(self, peer: bytes, frames: list) -> None:
        done, queued = P.unpack(frames[1])
        self.stats[peer] = (int(done), int(queued))

    def progress(self) -> tuple:
        """``(workers joined, tasks done, tasks queued)`` as last told."""
        done = sum(entry[0] for entry in self.stats.values())
        queued = len(self.pool) + sum(e[1] for e in self.stats.values())
        return len(self.workers), done, queued

    def _on_have_work(self, peer: bytes, frames: list) -> None:
        self.workers[peer].reset_backoff()

    def _on_results(self, peer: bytes, frames: list) -> None:
        owner = bytes(frames[1])
        if not self.router.send(owner, frames):
            log.debug("results for worker %r dropped: it has left", owner)
        credit = P.unpack(frames[2])
        if credit:
            self.workers[peer].credit = credit

    def _on_set_const(self, peer: bytes, frames: list) -> None:
        name = bytes(frames[1]).decode()
        if name in self.constants:
            error = f"shared constant {name!r} is already defined"
        else:
            error = None
            value = list(frames[2:])
            self.constants[name] = value
            message = [P.header(P.CONST), frames[1], *value]
            for worker in self._order:
                if worker.identity != peer:
                    self.router.send(worker.identity, message)
        self.router.send(peer, [P.header(P.CONST_ACK), frames[1],
                                P.pack(error)])

    # -- scheduling ----------------------------------------------------------
    def _feed(self) -> None:
        """Hand pooled tasks to workers with credit; steal if none left.

        A task goes back to the worker that submitted it only when no
        other worker wants work: its owner may have given it away on
        purpose (it waits for it with a timeout).
        """
        pool = self.pool
        hungry = [w for w in self._order if w.credit]
        while pool and hungry:
            owner = pool[0][0][0]
            worker = next((w for w in hungry if w.identity != owner),
                          hungry[0])
            batch = [pool.popleft()]
            while (pool and len(batch) < worker.credit
                   and (pool[0][0][0] != worker.identity
                        or len(hungry) == 1)):
                batch.append(pool.popleft())
            self._send_tasks(worker, batch)
            worker.credit = 0  # a request is answered once: a worker that
            hungry.remove(worker)  # got less asks again when it idles
            if len(batch) > 1:
                worker.reset_backoff()
        if hungry:
            self._steal(hungry)
        else:
            self._retry_at = None

    def _send_tasks(self, worker: _Worker, items: list) -> None:
        index = [entry for entry, _ in items]
        message = [P.header(P.TASKS), P.pack(index)]
        for _, payload in items:
            message.extend(payload)
        self.router.send(worker.identity, message)

    def _steal(self, hungry: List[_Worker]) -> None:
        """Ask other workers' side threads for tasks for ``hungry`` ones."""
        wanted = sum(w.credit for w in hungry)
        alone = hungry[0] if len(hungry) == 1 else None
        now = time.monotonic()
        self._retry_at = None
        order = self._order
        count = len(order)
        asked = 0
        for offset in range(count):
            worker = order[(self._rotor + offset) % count]
            if worker is alone or worker.side is None or worker.stealing:
                continue
            if worker.next_try > now:
                if self._retry_at is None or worker.next_try < self._retry_at:
                    self._retry_at = worker.next_try
                continue
            worker.stealing = True
            self.router.send(worker.side, [P.header(P.STEAL),
                                           P.pack(wanted)])
            asked += 1
            if asked >= wanted:
                break
        self._rotor = (self._rotor + 1) % max(count, 1)

    def _retry_wait(self, timeout: Optional[float]) -> Optional[float]:
        """Shorten ``timeout`` to the next steal retry, if one is due."""
        if self._retry_at is None:
            return timeout
        wait = max(0.0, self._retry_at - time.monotonic())
        return wait if timeout is None else min(wait, timeout)
