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
when it has nothing to run, or for one as its last task starts when its
tasks take milliseconds (pace.py), and holds at most that many ahead.
Tasks stay in the deque of the worker that submitted them until somebody
asks; then the broker asks a busy worker's side thread for its oldest
tasks (the largest subtrees of a nested computation), so a long task never
strands queued ones. When a request of a worker whose tasks are long
empties the pool, the broker steals again at once for its next one (a
*restock*): waking a busy worker's side thread takes milliseconds on a
loaded node, so it is done while the worker just served is busy. A
worker that had nothing to give, or has just joined, is *quiet*: it is
not asked until it announces new work (HAVE_WORK: its first submit
does, as does a task it parks for others or leaves queued while it
resumes another) or is handed more than one task. Its answer and its
announcement travel on different sockets, so each carries the worker's
count of announcements: a NOTHING that looked before the latest
announcement does not silence it. An idle job thus wakes no worker for
steals, however many workers it has.

Crowded hosts (``crowding.py``): on a host with more workers than CPUs,
tasks marked by their owners as ones that compute go to a worker only
while the host has a CPU free of computing processes (workers holding
such tasks, busy owners), or to one that holds some already; the owner
may always take its own back. The other workers of the host wait with
their credit, and only the seated ones among them ask for steals (what
these bring waits in the pool for a CPU, unless it is a task that
waits), until a CPU comes free. Unmarked tasks go to every idle worker.

Every worker hears how many CPUs the job's workers have between them (a
worker beyond its host's CPUs adds none): in SIZE, at most every
``TELL_CPUS_EVERY`` seconds as workers join and leave. A map of a
function that computes cuts its chunks by that count, not by the workers
(``_runtime/mapping.py``). A sub-broker says how many of its host's
workers have no CPU of their own (STATS).

The broker never unpickles a payload: it reads the small envelopes only.

A worker forked by the launcher, this broker's process, dies with it
and says so (``watched`` in its HELLO): its heartbeats are not answered.

Liveness and replay: the broker keeps, for every task it hands to a
worker other than its owner, who runs it and its payload frames (the
*flight*, dropped when its result passes), so it can replay a task with
nobody else's help. A worker is *lost* when the launcher or an agent sees
it die, or when its side thread's heartbeats stop for ``heartbeat``
seconds (a hang, SIGSTOP, a lost network; the root is watched by the
launcher instead). Its flights go back to the pool, each at most
``retries`` times; past that the owner gets a ``WorkerLostError`` as the
task's result. Tasks it owned are forgotten (nobody awaits them), and
whatever it sends later is dropped and answered with SHUTDOWN, so no
result reaches its owner twice.

Sub-brokers (``subbroker.py``): a host's workers may join a sub-broker
on their host instead, which joins this broker as one peer (HELLO with
``info["node"]``) and names the workers behind it (ATTACH). Results for
those workers go to their sub-broker (``routes``); a task returns *home*
when it goes to the sub-broker of its owner. Losing a sub-broker loses
its workers, and runs again what it held; losing a worker behind one
tells the sub-broker (LOST), which runs that worker's tasks again on its
host.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from typing import Collection, Deque, Dict, List, Optional, Tuple

from ._transport import protocol as P
from .crowding import Host, Hosts
from .errors import TransportError, WorkerLostError

log = logging.getLogger("scoop_hpc.broker")

_BURST = 1000          # messages handled per step at most
_GREETINGS = (P.HELLO, P.SIDE_HELLO)
HEARTBEAT_TIMEOUT = 10.0   # seconds of silence that make a worker lost
RETRIES = 3                # replays of a task whose worker was lost
ROOT = b"w0"               # watched by its launcher, not by heartbeats
TELL_CPUS_EVERY = 0.5      # seconds between SIZE messages as the job's
#                            CPUs change


def _count(frames: list, what: str = "announcement count") -> int:
    """The count a HAVE_WORK or NOTHING (its announcements) or a REQUEST
    (its credit) carries."""
    count = P.unpack(frames[1]) if len(frames) > 1 else None
    if type(count) is not int or count < 0:
        raise TransportError(f"malformed {what} {count!r:.40}")
    return count


def tasks_message(items: list) -> list:
    """A TASKS message carrying ``items`` ((entry, payload frames) each)."""
    message = [P.header(P.TASKS), P.pack([entry for entry, _ in items])]
    for _, payload in items:
        message.extend(payload)
    return message


class _Worker:
    """What the broker knows of one worker."""

    __slots__ = ("identity", "name", "pid", "host", "node", "cpus",
                 "place", "computing", "seated", "owns", "credit", "side",
                 "stealing", "quiet", "announced", "seen", "watched")

    def __init__(self, identity: bytes, info: dict) -> None:
        self.identity = identity
        self.name = info.get("name", identity.decode(errors="replace"))
        self.pid = info.get("pid")
        self.host = info.get("host")
        self.node = bool(info.get("node"))    # a sub-broker
        cpus = info.get("cpus")
        self.cpus = cpus if type(cpus) is int and not self.node else 0
        self.place: Optional[Host] = None     # set by ``Hosts.join``
        self.computing = 0       # marked tasks it holds (crowding.py)
        self.seated = self.owns = False
        self.credit = 0
        self.side: Optional[bytes] = None
        self.stealing = False
        self.quiet = True        # nothing to give until it announces
        self.announced = 0       # its latest HAVE_WORK's count
        self.seen = time.monotonic()
        self.watched = info.get("watched") is True  # dies with the broker

    def describe(self) -> str:
        what = "sub-broker" if self.node else "worker"
        return f"{what} {self.name} (pid {self.pid} on host {self.host})"


class Broker:
    """Routes tasks, results and shared constants between workers.

    The router signs and checks every message (``signing.SignedRouter``):
    what reaches the broker comes from a holder of the job's secret.

    Args:
        router: the bound endpoint (``base.RouterEndpoint``).
        size: the number of workers of the job.
        heartbeat: seconds without a heartbeat after which a worker is
            lost (0: never).
        retries: how many times a task whose worker was lost runs again
            before its future fails with ``WorkerLostError``.
    """

    def __init__(self, router, size: int,
                 heartbeat: float = HEARTBEAT_TIMEOUT,
                 retries: int = RETRIES) -> None:
        self.router = router
        self.size = size
        self.heartbeat = heartbeat
        self.retries = retries
        # (owner, seq) -> [assignee or None (pooled), item, replays]
        self.flights: Dict[tuple, list] = {}
        self.lost: Dict[bytes, str] = {}    # identity -> why
        self.replays = self.failures = 0    # tasks run again / given up
        self.workers_lost = 0                # sub-brokers are not counted
        self.newly_lost: List[bytes] = []   # by heartbeat, for the launcher
        self._gone: set = set()              # lost identities, sides too
        self.done = 0                        # results relayed
        self.draining = False
        self._next_check = time.monotonic()
        self.workers: Dict[bytes, _Worker] = {}
        self._sides: Dict[bytes, _Worker] = {}
        self._order: List[_Worker] = []
        # workers that may be asked to give work: a side socket, work
        # announced, no steal unanswered; in the order they became so
        self._givers: Dict[_Worker, None] = {}
        self.pool: Deque = deque()
        self.routes: Dict[bytes, bytes] = {}   # worker -> its sub-broker
        self.constants: Dict[str, list] = {}
        self._closing = False
        self.peak = 0              # the longest the pool has been
        self.stats: Dict[bytes, tuple] = {}   # worker -> (done, queued)
        self.hosts = Hosts()
        self.sub_excess: Dict[bytes, int] = {}  # sub-broker -> its workers
        #                                         beyond their host's CPUs
        self._cpus_told = size
        self._next_tell = 0.0
        self._handlers = {
            P.HELLO: self._on_hello, P.SIDE_HELLO: self._on_side_hello,
            P.REQUEST: self._on_request, P.TASKS: self._on_tasks,
            P.NOTHING: self._on_nothing, P.HAVE_WORK: self._on_have_work,
            P.STATS: self._on_stats,
            P.RESULTS: self._on_results, P.SET_CONST: self._on_set_const,
            P.HEARTBEAT: self._on_heartbeat,
            P.ATTACH: self._on_attach, P.LOST: self._on_lost,
        }

    # -- the loop ------------------------------------------------------------
    def step(self, timeout: Optional[float]) -> None:
        """Handle every message that arrives within ``timeout`` seconds.

        Returns after the first wait that ends without a message (or on a
        watched file descriptor), or after ``_BURST`` messages, so that the
        caller hears signals and dead workers under a steady stream. Tasks
        are matched with credit once, after the messages of the step.
        """
        for _ in range(_BURST):
            got = self.router.recv(timeout)
            if got is None:
                break
            self.handle(*got)
            timeout = 0
        self._feed()
        now = time.monotonic()
        if self.heartbeat and now >= self._next_check \
                and not self._closing:  # told to leave: none beats
            self._check_heartbeats(now)
        if now >= self._next_tell and self._cpus_told != self.cpus():
            self._tell_size(now)

    def handle(self, peer: bytes, frames: list) -> None:
        """Dispatch one message from ``peer``; drop malformed ones."""
        try:
            kind = P.kind_of(frames)
            handler = self._handlers[kind]
        except (TransportError, KeyError):
            log.warning("dropped a malformed message from %r", peer)
            return
        if peer in self._gone:
            log.debug("dropped a message from lost worker %r", peer)
            self.router.send(peer, [P.header(P.SHUTDOWN)])
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
        self._tell_size(time.monotonic())

    def cpus(self) -> int:
        """How many of the job's workers have a CPU of their own."""
        return max(1, self.size - self.hosts.excess
                   - sum(self.sub_excess.values()))

    def _tell_size(self, now: float) -> None:
        """Tell every worker the job's workers and CPUs."""
        self._cpus_told = cpus = self.cpus()
        self._next_tell = now + TELL_CPUS_EVERY
        self._to_workers([P.header(P.SIZE), P.pack(self.size), P.pack(cpus)])

    def drain(self) -> None:
        """Hand out no more tasks; tell every worker to start none."""
        self.draining = True
        self._to_workers([P.header(P.DRAIN)])

    def _to_workers(self, message: list, but: Optional[bytes] = None) -> None:
        """Send ``message`` to every worker (but ``but``)."""
        for worker in self._order:
            if worker.identity != but:
                self.router.send(worker.identity, message)

    def _publish(self, name: bytes, value: list,
                 but: Optional[bytes] = None) -> None:
        """Keep constant ``name`` for later joiners and send it to every
        worker (but ``but``, who set it)."""
        self.constants[name.decode()] = value
        self._to_workers([P.header(P.CONST), name, *value], but)

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
            old = self.workers[peer]
            self.hosts.leave(old)
            self._givers.pop(old, None)
            self._order[self._order.index(old)] = worker
        self.workers[peer] = worker
        self.hosts.join(worker)
        index, payload = [], []
        for name, value in self.constants.items():
            index.append((name, len(value)))
            payload.extend(value)
        info = {"size": self.size, "cpus": self.cpus(), "broker": "broker",
                "constants": index, "heartbeat": self.heartbeat,
                "retries": self.retries}
        self.router.send(peer, [P.header(P.WELCOME), P.pack(info),
                                *payload])
        log.debug("worker %s joined (pid %s on %s)", worker.name,
                  worker.pid, worker.host)
        if self._closing:
            self.router.send(peer, [P.header(P.SHUTDOWN)])

    def _on_side_hello(self, peer: bytes, frames: list) -> None:
        worker = self.workers.get(bytes(frames[1]))
        if worker is None:
            if bytes(frames[1]) in self._gone:
                self._gone.add(peer)
                self.router.send(peer, [P.header(P.SHUTDOWN)])
                return
            raise TransportError("side channel of an unknown worker")
        worker.side = peer
        self._sides[peer] = worker
        self._may_give(worker)
        if self._closing:
            self.router.send(peer, [P.header(P.SHUTDOWN)])

    def _on_request(self, peer: bytes, frames: list) -> None:
        self.hosts.ask(self.workers[peer], _count(frames, "credit"))

    def _on_tasks(self, peer: bytes, frames: list) -> None:
        items = P.split_items(P.unpack(frames[1]), frames, 2)
        flights = self.flights
        worker = self._sides.get(peer)
        owns = False
        for entry, _ in items:
            if len(entry) != 4 or type(entry[0]) is not bytes \
                    or type(entry[1]) is not int \
                    or type(entry[2]) is not bool:
                raise TransportError(f"malformed task entry {entry!r:.60}")
            flight = flights.get((entry[0], entry[1]))
            if flight is not None:       # given away again: pooled
                if flight[0] is not None and entry[2]:
                    self.hosts.release(self.workers.get(flight[0]), 1)
                flight[0] = None
            elif entry[2] and worker is not None \
                    and entry[0] == worker.identity:
                owns = True
        self.pool.extend(items)
        self.peak = max(self.peak, len(self.pool))
        if worker is not None:
            worker.stealing = False
            self._may_give(worker)
            if owns:
                self.hosts.own(worker)

    def _on_nothing(self, peer: bytes, frames: list) -> None:
        worker = self._sides[peer]
        worker.stealing = False
        if _count(frames) >= worker.announced:
            worker.quiet = True
        self._may_give(worker)

    def _on_stats(self, peer: bytes, frames: list) -> None:
        done, queued, *excess = P.unpack(frames[1])
        self.stats[peer] = (int(done), int(queued))
        if excess and self.workers[peer].node:
            self.sub_excess[peer] = max(0, int(excess[0]))

    def progress(self) -> tuple:
        """``(workers joined, tasks done, tasks queued)`` as last told."""
        done = sum(entry[0] for entry in self.stats.values())
        queued = len(self.pool) + sum(e[1] for e in self.stats.values())
        joined = len(self.routes) + sum(1 for w in self._order
                                        if not w.node)
        return joined, done, queued

    def _on_have_work(self, peer: bytes, frames: list) -> None:
        worker = self.workers[peer]
        worker.announced = max(worker.announced, _count(frames))
        worker.quiet = False
        self._may_give(worker)

    def _on_results(self, peer: bytes, frames: list) -> None:
        owner = bytes(frames[1])
        index = P.unpack(frames[3])
        flights = self.flights
        computed = 0       # tasks that compute, which ``peer`` held
        try:
            for entry in index:
                flight = flights.pop((owner, entry[0]), None)
                if flight is not None and flight[1][0][2] \
                        and flight[0] == peer:
                    computed += 1
        except (TypeError, IndexError, KeyError) as exc:
            raise TransportError(f"malformed results index: {exc}") from None
        self.done += len(index)
        self._deliver(owner, frames, index)
        worker = self.workers[peer]
        credit = P.unpack(frames[2])
        if credit:
            self.hosts.ask(worker, credit)
        if computed:
            self.hosts.release(worker, computed)

    def _deliver(self, owner: bytes, frames: list, index: list) -> None:
        """Send a RESULTS message to ``owner``, or to its sub-broker."""
        if owner in self.lost or not self.router.send(
                self.routes.get(owner, owner), frames):
            log.debug("results for worker %r dropped: it has left", owner)

    def _on_heartbeat(self, peer: bytes, frames: list) -> None:
        worker = self._sides.get(peer) or self.workers[peer]
        worker.seen = time.monotonic()
        if not worker.watched:   # it needs to hear that the broker lives
            self.router.send(peer, [P.header(P.HEARTBEAT)])

    def _on_attach(self, peer: bytes, frames: list) -> None:
        if not self.workers[peer].node:
            raise TransportError("ATTACH from a worker, not a sub-broker")
        for identity in P.unpack(frames[1]):
            identity = bytes(identity)
            if identity in self._gone or identity in self.workers:
                self.router.send(peer, [P.header(P.LOST), identity, P.pack(
                    "its name is taken or was lost already")])
            else:
                self.routes[identity] = peer

    def _on_lost(self, peer: bytes, frames: list) -> None:
        """A sub-broker lost a worker (or did what this broker told it):
        the tasks it ran again or gave up count here too."""
        if not self.workers[peer].node:
            raise TransportError("LOST from a worker, not a sub-broker")
        identity = bytes(frames[1])
        replayed, failed = P.unpack(frames[3])
        self.replays += replayed
        self.failures += failed
        if self.routes.get(identity) == peer:
            self.lose(identity, str(P.unpack(frames[2])))

    def _on_set_const(self, peer: bytes, frames: list) -> None:
        name = bytes(frames[1])
        if name.decode() in self.constants:
            error = f"shared constant {name.decode()!r} is already defined"
        else:
            error = None
            self._publish(name, list(frames[2:]), peer)
        self.router.send(peer, [P.header(P.CONST_ACK), frames[1],
                                P.pack(error)])

    # -- scheduling ----------------------------------------------------------
    def _feed(self) -> None:
        """Hand pooled tasks to workers with credit; steal if none left.

        A task goes back to the worker that submitted it only when no
        other worker wants work: its owner may have given it away on
        purpose (it waits for it with a timeout). A task marked as one
        that computes goes to a worker of a crowded host only while that
        host has a CPU free of computing processes (``crowding.py``);
        else it waits in the pool, and blocked workers ask for no steals.
        """
        if self.draining:
            return
        pool = self.pool
        home = self.routes.get
        hosts = self.hosts
        asking = hosts.asking
        full = hosts.full_places()   # more as the step goes on
        served: List[Tuple[_Worker, int]] = []   # and what each asked
        while pool and asking:
            entry = pool[0][0]
            owner = home(entry[0], entry[0])
            worker = hosts.taker(owner, entry[2], full, self.workers)
            if worker is None:
                break               # it waits for a CPU
            going_home = worker.identity == owner  # nobody else may
            allowed = worker.computing or worker.place not in full
            batch = [pool.popleft()]
            while pool and len(batch) < worker.credit:
                entry = pool[0][0]
                mine = home(entry[0], entry[0]) == worker.identity
                if mine and len(asking) > 1 and not going_home \
                        or entry[2] and not mine and not allowed:
                    break
                batch.append(pool.popleft())
            self._send_tasks(worker, batch)
            served.append((worker, worker.credit))
            hosts.ask(worker, 0)  # a request is answered once: a worker
            if len(batch) > 1:    # that got less asks again when it idles
                worker.quiet = False
                self._may_give(worker)
            if worker.place is not None and worker.place.full():
                full.add(worker.place)
        if pool or not self._givers:
            return
        if full:    # on a full host, only the seated may get work
            hungry: Collection[_Worker] = list(hosts.unblocked(full))
            wanted = sum(w.credit for w in hungry)
        else:
            hungry, wanted = asking, hosts.credit
        if hungry:
            self._steal(hungry, wanted)
            return
        # restock for those just served that run long tasks: they will ask
        # again, as much as before (short tasks run fastest where they were
        # submitted: they are not fetched before they are wanted)
        restock = [(w, asked) for w, asked in served
                   if asked <= P.LONG_TASKS_CREDIT]
        if restock:
            self._steal([w for w, _ in restock],
                        sum(asked for _, asked in restock))

    def _send_tasks(self, worker: _Worker, items: list) -> None:
        assignee = worker.identity
        flights = self.flights
        home = self.routes.get
        computing = 0
        for item in items:
            entry = item[0]
            key = (entry[0], entry[1])
            if home(entry[0], entry[0]) == assignee:   # home: its owner
                flights.pop(key, None)    # (or its sub-broker) has it
                continue
            computing += entry[2]
            flight = flights.get(key)
            if flight is None:
                flights[key] = [assignee, item, 0]
            else:
                flight[0], flight[1] = assignee, item
        self.hosts.hold(worker, computing)
        self.router.send(worker.identity, tasks_message(items))

    def _steal(self, hungry: Collection[_Worker], wanted: int) -> None:
        """Ask other workers' side threads for ``wanted`` tasks for
        ``hungry`` ones; quiet workers have nothing to give. Those asked
        go to the end of the order once they answer."""
        alone = next(iter(hungry)) if len(hungry) == 1 else None
        asked = []
        for worker in self._givers:
            if worker is not alone:
                asked.append(worker)
                if len(asked) >= wanted:
                    break
        steal = [P.header(P.STEAL), P.pack(wanted)]
        for worker in asked:
            worker.stealing = True
            del self._givers[worker]
            self.router.send(worker.side, steal)

    def _may_give(self, worker: _Worker) -> None:
        """Count ``worker`` among those that may be asked to give work,
        or not, as its side socket, its announcements and its steals
        say."""
        if worker.side is not None and not worker.quiet \
                and not worker.stealing:
            self._givers[worker] = None
        else:
            self._givers.pop(worker, None)

    # -- losing workers ------------------------------------------------------
    def _check_heartbeats(self, now: float) -> None:
        """Declare lost the workers silent for ``heartbeat`` seconds.

        If the broker itself was held up (the machine stalled), their
        silence may be its own fault: they get another period.
        """
        period = min(1.0, self.heartbeat / 4)
        stalled = now - self._next_check > self.heartbeat / 2
        self._next_check = now + period
        if stalled:
            for worker in self._order:
                worker.seen = max(worker.seen, now - period)
            return
        limit = now - self.heartbeat
        for worker in [w for w in self._order if w.seen < limit
                       and w.side is not None and w.identity != ROOT]:
            self.newly_lost.append(worker.identity)
            self.lose(worker.identity, f"no heartbeat for "
                                       f"{now - worker.seen:.1f} s")

    def lose(self, identity: bytes, why: str) -> bool:
        """Forget a worker that died or stopped answering, or a sub-broker
        and the workers behind it; run what they held again elsewhere.
        Returns False if it was lost already."""
        if identity in self.lost:
            return False
        worker = self.workers.pop(identity, None)
        is_node = worker is not None and worker.node
        gone = [identity]
        if is_node:
            gone += [w for w, node in self.routes.items() if node == identity]
        for each in gone:
            self.lost[each] = why
            self._gone.add(each)
        node = self.routes.pop(identity, None)
        for each in gone[1:]:
            del self.routes[each]
        if worker is not None:
            self.hosts.leave(worker)
            self.sub_excess.pop(identity, None)
        if node is not None:     # it runs its tasks again on its host
            self.router.send(node, [P.header(P.LOST), identity, P.pack(why)])
        self._drop_owned()
        replayed = failed = 0
        if worker is not None:
            self._order.remove(worker)
            self._givers.pop(worker, None)
            if worker.side is not None:
                self._sides.pop(worker.side, None)
                self._gone.add(worker.side)
                self.router.send(worker.side, [P.header(P.SHUTDOWN)])
            self.router.send(identity, [P.header(P.SHUTDOWN)])
            replayed, failed = self._replay(worker, why)
            self.replays += replayed
            self.failures += failed
        who = worker.describe() if worker else f"worker {identity.decode()}"
        workers = len(gone) - 1 if is_node else 1
        if is_node:
            who += f" and the {workers} workers behind it"
        if node is not None:
            what = f"sub-broker {self.workers[node].name} runs its tasks again"
        else:
            what = f"{replayed} of its tasks run again, {failed} failed"
        log.warning("%s is lost: %s; %s; the job goes on with %d workers",
                    who, why, what, self.size - workers)
        self.workers_lost += workers
        self._shrink(identity, why, workers)
        return True

    def _shrink(self, identity: bytes, why: str, workers: int) -> None:
        """The job lost ``workers`` workers (``identity`` and why)."""
        self.resize(self.size - workers)

    def _drop_owned(self) -> None:
        """Forget the tasks of lost workers: nobody awaits their results."""
        lost = self.lost
        for key in [key for key in self.flights if key[0] in lost]:
            del self.flights[key]
        self.pool = deque(item for item in self.pool
                          if item[0][0] not in lost)

    def _replay(self, worker: _Worker, why: str) -> Tuple[int, int]:
        """Put the tasks the lost ``worker`` held back in the pool; fail
        those replayed ``retries`` times already. Returns both counts."""
        identity = worker.identity
        replay, failures = [], {}
        for key, flight in list(self.flights.items()):
            if flight[0] == identity:
                if flight[2] >= self.retries:
                    del self.flights[key]
                    failures.setdefault(key[0], []).append(
                        (key[1], flight[2]))
                else:
                    flight[0] = None
                    flight[2] += 1
                    replay.append(flight[1])
        self.pool.extendleft(reversed(replay))
        for owner, seqs in failures.items():
            self._fail(owner, seqs, worker, why)
        return len(replay), sum(map(len, failures.values()))

    def _fail(self, owner: bytes, seqs: list, worker: _Worker,
              why: str) -> None:
        """Send ``owner`` a WorkerLostError for each of ``seqs``."""
        index, payload = [], []
        for seq, replays in seqs:
            frames = P.dumps(WorkerLostError(
                f"{worker.describe()} was lost ({why}) while it held task "
                f"{seq} of worker {owner.decode(errors='replace')}; the "
                f"task had run on {replays + 1} lost workers (--retries "
                f"{self.retries})"))
            index.append((seq, False, 0.0, -1.0, len(frames)))
            payload.extend(frames)
        self._deliver(owner, [P.header(P.RESULTS), owner, P.pack(0),
                              P.pack(index), *payload], index)
