"""Simulated workers for ``bench/scale.py``: many endpoints per process.

Each simulated worker is what the broker sees of a real one
(``scoop_hpc/_worker.py``, ``scoop_hpc/_runtime/hub.py``): a DEALER named
``wN`` and its side DEALER ``wN/side``, both speaking the real protocol
with real signatures (``_transport.protocol``, ``_transport.signing``):

* main: HELLO, then on WELCOME a REQUEST for its credit of tasks; on TASKS
  at once one RESULTS per owner (pre-built payloads), the first carrying
  the credit again;
* side: SIDE_HELLO after the WELCOME, NOTHING to every STEAL, a HEARTBEAT
  as often as the hub's side thread sends one in a job of that size.

The *root* (``w0``) owns every task: its side answers each STEAL with as
many tiny pre-built tasks as asked, and its main socket receives the
results. Nobody checks the broker's signatures or unpickles a payload,
and no work is done, so that the broker is what limits the rate.

Counters live in shared memory (``Shared``): each process adds to its own
slot, the parent reads them; ``stop`` tells every process to leave.
"""
import multiprocessing
import os
import resource
import select
import signal
import time

import zmq

from scoop_hpc._procs import die_with_parent
from scoop_hpc._transport import protocol as P
from scoop_hpc._transport.signing import WORKER, Seal
from scoop_hpc._transport.zmq import readable, recv_frames, send_frames

ROOT = b"w0"
BEAT_GROUPS = 10    # heartbeats are spread over this many slices a period
_POLL_MS = 50

FORK = multiprocessing.get_context("fork")


class Shared:
    """Counters in shared memory, one slot per process (no locks needed).

    Slot ``i`` of each counter belongs to client ``i``, the last one to
    the root. ``tasks``: tasks received by the workers; ``results``:
    results received by the root; ``nothing``: STEALs answered NOTHING;
    ``beats``: heartbeats sent. ``stop``: set by the parent to end the
    round.
    """

    COUNTERS = ("tasks", "results", "nothing", "beats")

    def __init__(self, procs):
        for name in self.COUNTERS:
            setattr(self, name, FORK.RawArray("q", procs + 1))
        self.stop = FORK.RawValue("b", 0)

    def snapshot(self):
        """``{counter: total so far}``."""
        return {name: sum(getattr(self, name)) for name in self.COUNTERS}


def raise_fd_limit():
    """Raise this process's open-file limit to its hard limit; return it.

    Every DEALER costs a few descriptors (its connection and its
    mailbox), so 2,000 simulated workers need more than the usual 1,024.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def start(target, *args):
    """Fork a process running ``target(*args)`` that dies with this one."""
    proc = FORK.Process(target=_child, args=(os.getpid(), target, args),
                        daemon=True)
    proc.start()
    return proc


def _child(parent, target, args):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent(parent)
    target(*args)


class _Endpoints:
    """The DEALERs of one process, an epoll set over them, one seal.

    ``zmq.Poller`` costs about 1 us per socket and call (1.8 ms for 2,000
    sockets on a 2-CPU machine), which would make the simulated workers,
    not the broker, the bottleneck; so each socket's ``ZMQ_FD`` sits in
    an epoll set instead, and a socket is read until ``ZMQ_EVENTS`` says
    it is empty whenever its fd wakes up or it has sent (a send may take
    the fd's wake-up for a message that is waiting).
    """

    def __init__(self, address, key, sockets):
        raise_fd_limit()
        P.set_key(key, payloads=False)  # a local job: no payload MACs
        self.context = zmq.Context()
        self.context.set(zmq.MAX_SOCKETS, sockets + 64)
        self.address = address
        self.seal = Seal(key, WORKER)
        self.epoll = select.epoll()
        self.by_fd = {}     # ZMQ_FD -> socket
        self.names = {}     # socket -> its identity
        self.sent = set()   # sockets that sent since they were read

    def dealer(self, identity):
        """A DEALER named ``identity``, connected and polled."""
        sock = self.context.socket(zmq.DEALER)
        sock.setsockopt(zmq.IDENTITY, identity)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 0)
        sock.setsockopt(zmq.RCVHWM, 0)
        sock.connect(self.address)
        fd = sock.getsockopt(zmq.FD)
        self.epoll.register(fd, select.EPOLLIN)
        self.by_fd[fd] = sock
        self.names[sock] = identity
        return sock

    def send(self, sock, frames):
        """Sign ``frames`` as the worker ``sock`` belongs to; send them."""
        send_frames(sock, self.seal.sign(frames, self.names[sock]))
        self.sent.add(sock)

    def serve(self, shared, handle, tick):
        """Call ``handle(sock, frames)`` for every message and ``tick(now)``
        at least every 50 ms, until ``shared.stop``; then close all."""
        poll, by_fd, sent = self.epoll.poll, self.by_fd, self.sent
        try:
            while not shared.stop.value:
                ready = [by_fd[fd] for fd, _ in poll(_POLL_MS / 1000)]
                tick(time.monotonic())
                while ready or sent:
                    ready.extend(sent)
                    sent.clear()
                    for sock in ready:
                        while readable(sock):
                            handle(sock, recv_frames(sock))
                    ready = []
        finally:
            self.epoll.close()
            self.context.destroy(linger=0)


def _hello(endpoints, sock, name, cpus):
    info = {"name": name, "pid": os.getpid(), "host": os.uname().nodename}
    if cpus:                  # all on one host of ``cpus`` CPUs
        info["cpus"] = cpus
    endpoints.send(sock, [P.header(P.HELLO), P.pack(info)])


class _Beats:
    """Heartbeats from every side socket, each once every ``period``
    seconds (``hub.heartbeat_period``), in slices."""

    def __init__(self, endpoints, sides, counter, slot, period):
        self.endpoints = endpoints
        self.sides = sides
        self.counter, self.slot = counter, slot
        self.slice = 0
        self.step = period / BEAT_GROUPS
        self.next = time.monotonic() + self.step
        self.frames = [P.header(P.HEARTBEAT)]

    def __call__(self, now):
        if now < self.next:
            return
        self.next = now + self.step
        send, frames = self.endpoints.send, self.frames
        group = self.sides[self.slice::BEAT_GROUPS]
        for side in group:
            send(side, frames)
        self.counter[self.slot] += len(group)
        self.slice = (self.slice + 1) % BEAT_GROUPS


def serve_workers(address, key, first, count, shared, slot, want, beat,
                  cpus=0):
    """Run the simulated workers ``w<first>`` .. ``w<first+count-1>``,
    each asking for ``want`` tasks at a time (on a host of ``cpus``
    CPUs, if not 0)."""
    ends = _Endpoints(address, key, 2 * count)
    side_of = {}
    for index in range(first, first + count):
        name = "w%d" % index
        main = ends.dealer(name.encode())
        side_of[main] = ends.dealer(name.encode() + b"/side")
        _hello(ends, main, name, cpus)
    beats = _Beats(ends, [], shared.beats, slot, beat)
    mains = set(side_of)
    tasks, nothings = shared.tasks, shared.nothing
    send = ends.send
    results_head = P.header(P.RESULTS)
    nothing = [P.header(P.NOTHING), P.pack(0)]   # never announces work
    request = [P.header(P.REQUEST), P.pack(want)]
    credit = P.pack(want)
    payload = P.dumps(None)             # every result: ``None``
    size = len(payload)
    kind_tasks, kind_welcome, kind_steal = (P.header(k) for k in (
        P.TASKS, P.WELCOME, P.STEAL))

    def handle(sock, frames):
        head = frames[0].bytes
        if sock in mains:
            if head == kind_tasks:
                index = P.unpack(frames[1])
                tasks[slot] += len(index)
                by_owner = {}
                for owner, seq, _, _ in index:
                    by_owner.setdefault(owner, []).append(
                        (seq, True, 0.0, 0.0, size))
                given = credit
                for owner, done in by_owner.items():
                    send(sock, [results_head, owner, given, P.pack(done),
                                *payload * len(done)])
                    given = P.pack(0)
            elif head == kind_welcome:
                side = side_of[sock]
                send(side, [P.header(P.SIDE_HELLO), ends.names[sock]])
                beats.sides.append(side)
                send(sock, request)
        elif head == kind_steal:
            send(sock, nothing)
            nothings[slot] += 1

    ends.serve(shared, handle, beats)


def serve_root(address, key, shared, slot, beat, cpus=0):
    """Run the root ``w0``: it owns every task and receives the results.
    On a host of ``cpus`` CPUs (not 0) its tasks are marked as tasks
    that compute, and it never asks for work: it is busy on a CPU."""
    ends = _Endpoints(address, key, 2)
    main = ends.dealer(ROOT)
    side = ends.dealer(ROOT + b"/side")
    _hello(ends, main, ROOT.decode(), cpus)
    beats = _Beats(ends, [], shared.beats, slot, beat)
    payload = P.dumps((abs, (-1,), {}))   # every task: ``abs(-1)``
    size = len(payload)
    heads = {k: P.header(k) for k in (P.TASKS, P.RESULTS, P.WELCOME,
                                      P.STEAL)}
    seqs = iter(range(1, 1 << 62))
    computes = bool(cpus)

    def handle(sock, frames):
        head = frames[0].bytes
        if head == heads[P.RESULTS]:
            shared.results[slot] += len(P.unpack(frames[3]))
        elif head == heads[P.STEAL]:
            wanted = max(1, P.unpack(frames[1]))
            index = [(ROOT, next(seqs), computes, size)
                     for _ in range(wanted)]
            ends.send(side, [heads[P.TASKS], P.pack(index),
                             *payload * wanted])
        elif head == heads[P.WELCOME]:
            ends.send(side, [P.header(P.SIDE_HELLO), ROOT])
            ends.send(main, [P.header(P.HAVE_WORK), P.pack(1)])  # always
            beats.sides.append(side)

    ends.serve(shared, handle, beats)
