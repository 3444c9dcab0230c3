"""The hub: one per process; runs tasks in greenlets, talks to the broker.

::

    submit() -> Future -> local deque ----------------------+
                              |  (side thread: oldest half  |
                              |   to the broker on STEAL)   v
    broker -> TASKS --------> local deque -> runner greenlet -> result
    broker -> RESULTS ------> Future.set_result -> waiter -> runnable
                                                   callbacks

The hub loop gives priority to resumed greenlets (tasks whose awaited
futures completed), then runs the newest queued task (depth first, as in
work stealing); a top-level map's chunks are queued at the other end
(``mapping.py``), so that they run in order. A greenlet that waits
switches back to the hub, so a waiting task never blocks its worker.
When nothing is runnable the hub flushes results, asks the broker for
work (credit) and blocks on its endpoint until a message or a timer is
due; when the last queued task starts and tasks of its function take
milliseconds, it asks ahead.

A program that submits for a long while (a loop of single submits) does
not wait, so the hub loop does not run. In a job with more workers than
CPUs, ``submit`` looks at what arrived every ``_LOOK_EVERY`` seconds
while tasks it gave away are out, and notes the CPU demand that their
results report. They then tell, within milliseconds, whether that
function's tasks compute (``pace.py``), and the tasks given away next
are marked so: on a crowded host a new function's tasks stop going to
every idle worker long before the program waits. The messages wait in
an inbox for the hub loop: nothing completes inside ``submit`` (no
callback runs there, no map's window moves under it). Where every worker
has a CPU, the marks change nothing, and submit does not look.

In such a job, a process that asked for work and then submits a task of
a function that computes takes its request back (a REQUEST of 0 tasks):
it went back to work of its own on its CPU, as a root does whose map
ended while it waited and that starts the next one. The broker then
counts it as computing (``crowding.py``), not as an idle worker whose
CPU another may take. Tasks that wait leave the request standing: the
workers of a full host fetch no work, and such tasks are for them.

The side thread owns the second endpoint and answers STEAL requests from
the broker even while this process runs a long task: it takes the tasks
at the far end of the queue, the oldest but a top-level map's newest
chunks (lock-free ``deque.popleft``), and sends their payloads,
serialised at submit time, to the broker. It also sends a heartbeat every
2.5 seconds (more often under a heartbeat timeout under 10 s, less often
past 2,500 workers: ``heartbeat_period``), which the broker answers: a
worker that hears nothing from the broker for the job's heartbeat
timeout leaves (the launcher is gone). A *watched* worker (``watched``:
forked by the launcher, its broker, it dies with it) is not answered,
and listens for no answer.
"""
from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import sys
import threading
import time
from collections import deque
from typing import Any, Callable, Dict, List, Optional

from greenlet import GreenletExit, getcurrent, greenlet

import scoop_hpc

from .._transport import protocol as P
from ..errors import SerializationError, WorkerLostError
from ..errors import TimeoutError as FuturesTimeout
from . import cpuclock, execution
from .constants import SharedConstants
from .future import PENDING, RUNNING, Future, call_callbacks
from .pace import Pace
from .waiting import Waiter

_RESULT_BATCH = 64     # results buffered per flush at most
_RESULT_AGE = 0.002    # seconds a buffered result may wait
_IDLE_TICK = 2.5       # seconds between liveness checks when idle (each
#                        wakes the process, which costs where workers
#                        outnumber CPUs)
_POLL_INTERVAL = 0.0002  # seconds between looks at the socket when busy
_LOOK_EVERY = 0.001    # ... and while the program submits, tasks out
BUSY_SAMPLE = 16       # short tasks: the CPU demand of one in this many
_MAX_IDLE_RUNNERS = 256
_TIMER_FLOOR = 1024    # timer heap size below which it is never compacted
_BEAT = 2.5            # seconds between heartbeats, at least; the broker
_BEATS = 1000          # ... hears about this many a second at most (a beat
#                        every size/_BEATS s), but a quarter of the
#                        heartbeat timeout apart at most


class _Foreign:
    """A task received from the broker, owned by another worker."""

    __slots__ = ("owner", "seq", "computes", "payload")
    _reserved = 0  # nobody here waits for it: parked only in strict waits

    def __init__(self, owner: bytes, seq: int, computes: bool,
                 payload: list) -> None:
        self.owner = owner
        self.seq = seq
        self.computes = computes   # as its owner marked it (pace.py)
        self.payload = payload


class _Job:
    """Something the hub runs in a runner greenlet: a callable."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn


class _Alarm:
    """A timer of the hub that runs a callable (see ``Hub.call_later``)."""

    __slots__ = ("hub", "fn")
    generation = 0  # never outdated, unlike a waiter's deadline

    def __init__(self, hub: "Hub", fn: Callable[[], Any]) -> None:
        self.hub = hub
        self.fn = fn

    def _wake(self) -> None:
        self.hub.runnable.append(_Job(self.fn))


class Hub:
    """The task scheduler of one process.

    Args:
        identity: this worker's identity on the transport.
        endpoint: the connection to the broker, or None to run serially.
        size: the number of workers of the job.
    """

    def __init__(self, identity: bytes = b"w0", endpoint=None,
                 size: int = 1) -> None:
        self.identity = identity
        self.endpoint = endpoint
        self.size = size
        self.cpus = size  # workers with a CPU of their own (the broker's)
        self.greenlet = getcurrent()
        self.thread = threading.get_ident()
        self.runnable: deque = deque()
        self.local: deque = deque()
        self.parked: deque = deque()  # reserved tasks, for other workers
        self.remote: Dict[int, Future] = {}
        self.timers: list = []
        self._timer_limit = _TIMER_FLOOR
        self.state_lock = threading.Lock()
        self.asked = False  # a request for work awaits its answer
        # the broker takes a new worker for one with nothing to give:
        self.dry = endpoint is not None  # the next submit announces work
        self.announced = 0  # announcements of new work so far
        self.stopping = False
        self.draining = False      # the job ends: start no more tasks
        self.strict = 0            # main-program waits with a deadline
        self.holding = 0           # ... of them on futures: see Waiter.wait
        self.deferred: list = []   # resumed tasks they hold back
        self.root_greenlet = None  # the greenlet running the main program
        self._looping = 0
        self._next_look = 0.0      # when submit() looks at messages next
        self._inbox: deque = deque()  # messages it took (demand noted)
        self._running_own: set = set()
        self.idle_tick: Optional[Callable[[], None]] = None
        self.watched = False   # dies with the broker: hears no answers
        # called by the side thread when the broker tells this worker to
        # leave, while the main thread may still run a task (mpirun.py)
        self.told_to_leave: Optional[Callable[[], None]] = None
        self.recorder = None       # activity.Recorder, under -v/--timeline
        self.stats_every = 0.0     # seconds between progress reports (0: none)
        self.constants = SharedConstants(self)
        self._runners: List[greenlet] = []
        self._seq = itertools.count(1)
        self._tseq = itertools.count()
        self._results: Dict[bytes, tuple] = {}
        self._pending = 0
        self._first_pending = 0.0
        self.pace = Pace()
        self._foreign_run = 0      # tasks of others run here
        self._handlers = {
            P.TASKS: self._on_tasks, P.RESULTS: self._on_results,
            P.CONST: self.constants.on_const,
            P.CONST_ACK: self.constants.on_ack,
            P.SHUTDOWN: self._on_shutdown, P.SIZE: self._on_size,
            P.DRAIN: self._on_drain,
        }

    # -- joining the job -----------------------------------------------------
    def join(self, info: dict, side=None, timeout: float = 60.0) -> dict:
        """Say hello to the broker and wait for its welcome.

        Returns the broker's info; starts the steal thread on ``side``.

        Raises:
            TimeoutError: no welcome within ``timeout`` seconds.
        """
        self.endpoint.send([P.header(P.HELLO), P.pack(info)])
        deadline = time.monotonic() + timeout
        while True:
            frames = self.endpoint.recv(max(0.0,
                                            deadline - time.monotonic()))
            if frames is None:
                raise FuturesTimeout(
                    f"no answer from the broker within {timeout:g} s")
            if P.kind_of(frames) == P.WELCOME:
                break
            self._handle(frames)
        welcome = P.unpack(frames[1])
        self.size = welcome["size"]
        self.cpus = welcome.get("cpus", self.size)
        self.constants.welcome(P.split_items(welcome["constants"], frames,
                                             2))
        if side is not None:
            thread = threading.Thread(
                target=self._side_loop,
                args=(side, welcome.get("heartbeat", 0)),
                name="scoop_hpc-steal", daemon=True)
            thread.start()
        return welcome

    # -- submitting ----------------------------------------------------------
    def submit(self, fn: Callable, args: tuple, kwargs: dict,
               oldest_first: bool = False) -> Future:
        """Queue ``fn(*args, **kwargs)``; serialise it now (fail early).

        The newest queued task runs first, depth first; ``oldest_first``
        queues it behind the others instead (a top-level map's chunks:
        ``mapping.py``)."""
        self.check_thread()
        try:
            payload = P.dumps((fn, args, kwargs), fn)
        except SerializationError:
            raise _culprit(fn, args, kwargs) from None
        fut = Future(self, next(self._seq), fn, args, kwargs, payload)
        if oldest_first:
            self.local.appendleft(fut)
        else:
            self.local.append(fut)
        if self.asked and self.cpus < self.size \
                and self.pace.computes(execution.kind_of(fn, args)):
            self._withdraw()
        if self.dry:
            self._announce()
        elif self.remote and self.cpus < self.size \
                and time.monotonic() >= self._next_look:
            self._look()
        return fut

    def _look(self) -> None:
        """Note the CPU demand the results that arrived report, and keep
        the messages for the hub loop (see the module's docstring)."""
        self._next_look = time.monotonic() + _LOOK_EVERY
        endpoint = self.endpoint
        while endpoint.readable():
            frames = endpoint.recv(0)
            if frames is None:      # it was a message that was dropped
                return
            items = None
            if P.kind_of(frames) == P.RESULTS:
                items = P.split_items(P.unpack(frames[3]), frames, 4)
                self._note_demand(items)
            self._inbox.append((frames, items))

    def _withdraw(self) -> None:
        """Take back the request for work that awaits its answer: this
        process went back to computing work of its own (see the module's
        docstring). It asks again when it idles."""
        self.asked = False
        self.endpoint.send([P.header(P.REQUEST), P.pack(0)])

    def _announce(self) -> None:
        """Tell the broker of queued work: a steal found none here since
        the last time (``dry``, see ``_give_away``)."""
        self.dry = False
        self.announced += 1
        self.endpoint.send([P.header(P.HAVE_WORK), P.pack(self.announced)])

    # -- waiting -------------------------------------------------------------
    def wait_done(self, fut: Future, timeout: Optional[float]) -> None:
        """Block the current greenlet until ``fut`` is done.

        Raises:
            TimeoutError: ``timeout`` seconds passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        waiter = Waiter(self, (fut,))
        try:
            if not waiter.wait(deadline):
                raise FuturesTimeout()
        finally:
            waiter.close()

    def wait_all_own(self) -> None:
        """Wait until the futures queued or sent away from here are done."""
        while True:
            pending = [f for f in [*self.local, *self.parked,
                                   *self.remote.values(), *self._running_own]
                       if type(f) is Future and not f.done()
                       and f._hub is self]
            if not pending:
                return
            for fut in pending:
                self.wait_done(fut, None)

    def suspend(self, waiter: Waiter, deadline: Optional[float]) -> None:
        """Switch away until ``waiter`` is notified or ``deadline`` passes."""
        current = getcurrent()
        self.check_thread()
        if deadline is not None:
            heapq.heappush(self.timers, (deadline, next(self._tseq), waiter,
                                         waiter.generation))
            if len(self.timers) > self._timer_limit:
                self._compact_timers()
        waiter.greenlet = current
        if current is self.greenlet:
            self._loop(lambda: waiter.scheduled)
        else:
            self.greenlet.switch()
        waiter.scheduled = False
        waiter.greenlet = None
        waiter.generation += 1

    def call_later(self, delay: float, fn: Callable[[], Any]) -> None:
        """Run ``fn()`` in a runner greenlet once ``delay`` seconds have
        passed and the hub loop looks (not while a task runs here)."""
        heapq.heappush(self.timers, (time.monotonic() + delay,
                                     next(self._tseq), _Alarm(self, fn), 0))

    def check_thread(self) -> None:
        """Refuse use from a thread other than the program's.

        Raises:
            RuntimeError: called from another thread.
        """
        if threading.get_ident() != self.thread:
            raise RuntimeError(
                "scoop_hpc futures can only be submitted and waited on from "
                "the thread that runs the program; hand work to it with a "
                "queue")

    def run_callbacks(self, fut: Future, callbacks: List[Callable]) -> None:
        """Run done-callbacks now, or soon in a runner if in the hub loop."""
        if self._looping and getcurrent() is self.greenlet:
            self.runnable.append(_Job(lambda: call_callbacks(fut,
                                                             callbacks)))
        else:
            call_callbacks(fut, callbacks)

    # -- the loop ------------------------------------------------------------
    def run(self, until: Callable[[], bool]) -> None:
        """Run tasks and serve messages until ``until()`` is true."""
        self._loop(until)
        self._flush_results()

    def run_main(self, main: Callable[[], Any]) -> None:
        """Run ``main`` in a runner greenlet and serve until it returns."""
        done = []

        def root() -> None:
            self.root_greenlet = getcurrent()
            done.append(main())
        self.runnable.append(_Job(root))
        self.run(lambda: bool(done) or self.stopping)

    def _loop(self, until: Callable[[], bool]) -> None:
        self._looping += 1
        try:
            self._serve(until)
        finally:
            self._looping -= 1

    def _serve(self, until: Callable[[], bool]) -> None:
        runnable, local, endpoint = self.runnable, self.local, self.endpoint
        clock = time.monotonic
        next_poll = next_stats = 0.0
        while not until():
            now = clock()
            if now >= next_poll:  # asking the socket costs microseconds
                next_poll = now + _POLL_INTERVAL
                if endpoint is not None and (self._inbox
                                             or endpoint.readable()):
                    self._drain()
                if self.stats_every and now >= next_stats:
                    next_stats = now + self.stats_every
                    self._send_stats()
                if self._pending and now - self._first_pending > _RESULT_AGE:
                    self._flush_results()
            if self.timers and self.timers[0][0] <= now:
                self._fire_timers()
            if runnable:
                item = runnable.popleft()
                if self.dry and (local or self.parked):
                    self._announce()  # queued work waits behind it
                if type(item) is Waiter:
                    if self.holding and _unawaited(item):
                        self.deferred.append(item)  # see Waiter.wait
                        continue
                    item.greenlet.switch()
                else:
                    self._start(item)
                continue
            try:
                if self.draining:
                    raise IndexError
                item = local.pop()
            except IndexError:
                if self.deferred and self.resume_deferred():
                    continue
                if not until():  # a timer or message may have done it
                    self._idle()
                continue
            if (self.strict or item._reserved) and self.size > 1:
                self.parked.append(item)  # for other workers: see Waiter
                if self.dry:    # after the append: see _give_away
                    self._announce()
                continue
            if self.dry and local:
                self._announce()
            self._start(item)

    def _send_stats(self) -> None:
        """Tell the broker how far this worker got (``--progress``)."""
        if self.endpoint is not None:
            queued = len(self.local) + len(self.parked)
            self.endpoint.send([P.header(P.STATS),
                                P.pack((self.recorder.tasks, queued))])

    def unpark(self) -> None:
        """Queue again the parked tasks that nobody reserves any more."""
        parked = self.parked
        for _ in range(len(parked)):
            try:
                item = parked.popleft()
            except IndexError:  # the side thread gave the rest away
                return
            (parked if item._reserved else self.local).append(item)
        if self.dry and (self.local or parked):
            self._announce()   # the side thread may have looked between

    def resume_deferred(self) -> bool:
        """Resume the tasks held back by a timed wait of the main
        program that are now awaited, or all of them once no such wait
        holds them (see ``Waiter.wait``); returns whether any was."""
        runnable = self.runnable
        before = len(runnable)
        keep: list = []
        for waiter in self.deferred:
            (keep if self.holding and _unawaited(waiter)
             else runnable).append(waiter)
        self.deferred = keep
        return len(runnable) > before

    def _start(self, item: Any) -> None:
        runners = self._runners
        runner = runners.pop() if runners else greenlet(self._runner,
                                                        self.greenlet)
        runner.switch(item)

    def _runner(self, item: Any) -> None:
        me = getcurrent()
        while True:
            me.task = item    # what it runs: see _unawaited
            kind = type(item)
            if kind is Future:
                self._run_own(item)
            elif kind is _Foreign:
                self._run_foreign(item)
            else:
                item.fn()
            if len(self._runners) >= _MAX_IDLE_RUNNERS:
                return
            self._runners.append(getcurrent())
            item = self.greenlet.switch()

    @property
    def idle_timeout(self) -> Optional[float]:
        """How long an idle wait lasts without timers: for ever for a
        watched process (nothing to look for), unless it reports
        progress (its reports go from the hub loop)."""
        if self.watched and not self.stats_every:
            return None
        return _IDLE_TICK

    def _idle(self) -> None:
        timeout = self.idle_timeout
        if self.timers:
            timeout = max(0.0, self.timers[0][0] - time.monotonic())
        if self.endpoint is None:
            if not self.timers:
                raise RuntimeError(
                    "deadlock: the program waits for something that no "
                    "task can complete")
            time.sleep(timeout)
            return
        if self._inbox:        # see _look
            self._drain()
            return
        wanted = self._wants_work()
        if wanted or self._pending:
            self._flush_results(self.pace.credit() if wanted else 0)
        frames = self.endpoint.recv(timeout)
        if frames is not None:
            self._handle(frames)
        elif self.idle_tick is not None:
            self.idle_tick()

    def _compact_timers(self) -> None:
        """Drop the timers of waits that ended early (long timeouts pile up).

        A timer stays in the heap after its wait ended, until its deadline;
        rebuilding the heap when it doubles keeps it in proportion to the
        waits in progress.
        """
        self.timers = [entry for entry in self.timers
                       if entry[2].generation == entry[3]]
        heapq.heapify(self.timers)
        self._timer_limit = max(_TIMER_FLOOR, 2 * len(self.timers))

    def _fire_timers(self) -> None:
        timers = self.timers
        now = time.monotonic()
        while timers and timers[0][0] <= now:
            _, _, waiter, generation = heapq.heappop(timers)
            if waiter.generation == generation:
                waiter._wake()

    # -- running tasks -------------------------------------------------------
    def _run_own(self, fut: Future) -> None:
        if fut._state is not PENDING:
            return
        fn, args = fut._fn, fut._args
        self._before(fn)
        fut._state = RUNNING
        running = self._running_own
        running.add(fut)
        start = time.perf_counter()
        try:
            value = fn(*args, **fut._kwargs)
        except BaseException as exc:  # noqa: BLE001 - goes to the caller
            if execution.forked:
                execution.leave_forked(fn, args)
            fut.duration = time.perf_counter() - start
            fut.set_exception(execution.Failure(exc, fut._fn).unwrap())
            if isinstance(exc, (GreenletExit, KeyboardInterrupt)):
                raise  # this greenlet is being killed / the user said stop
        else:
            if execution.forked:
                execution.leave_forked(fn, args)
            fut.duration = time.perf_counter() - start
            fut.set_result(value)
        finally:
            running.discard(fut)
            self.pace.record(fn, fut.duration)
            if self.recorder is not None:
                self.recorder.add(fn, args, start, fut.duration)

    def _before(self, fn: Callable) -> bool:
        """Talk to the broker before a task of ``fn`` starts, if it should
        (returns whether it did).

        Buffered results leave unless ``fn`` is quick. If this is the last
        task here and its kind takes milliseconds, the next task is asked
        for now, to arrive while this one runs (see pace.py).
        """
        if (self.size > 1 and not self.local and not self.runnable
                and self.endpoint is not None and self._wants_work()
                and self.pace.ahead(fn)):
            self._flush_results(1)
            return True
        if self._pending and not self.pace.quick(fn):
            self._flush_results()  # this task may take a while
            return True
        return False

    def _wants_work(self) -> bool:
        """Whether to ask the broker for tasks now."""
        return not (self.asked or self.stopping or self.strict
                    or self.draining)

    def _run_foreign(self, task: _Foreign) -> None:
        # the CPU demand costs about 6 us a task: measured for every task
        # while tasks take a millisecond or more, for one in BUSY_SAMPLE
        # when they are shorter (their owner needs no more to mark them),
        # but for every task of a function whose tasks here took
        # MEASURE_FROM or more, or are not known yet (measured from the
        # unpickled task on: a first map's items here, after quick ones)
        self._foreign_run += 1
        sample = not self.pace.short \
            or not self._foreign_run % BUSY_SAMPLE
        start = time.perf_counter()
        mark = cpuclock.mark() if sample else None
        try:
            fn, args, kwargs = P.loads(task.payload)
        except BaseException as exc:  # noqa: BLE001 - goes to the caller
            fn, args = None, ()
            value, ok = execution.Failure(exc, None), False
        else:
            late = not sample and self.pace.measures(fn)
            if self._before(fn) or late:
                sample = sample or late
                start = time.perf_counter()
                mark = cpuclock.mark() if sample else None
            try:
                value, ok = fn(*args, **kwargs), True
            except BaseException as exc:  # noqa: BLE001 - to the caller
                value, ok = execution.Failure(exc, fn), False
            if execution.forked:
                execution.leave_forked(fn, args)
        duration = time.perf_counter() - start
        busy = -1.0 if mark is None else cpuclock.since(mark, duration)
        self.pace.record(fn, duration)
        if self.recorder is not None:
            self.recorder.add(fn, args, start, duration)
        frames, ok = execution.reply(fn, args, value, ok)
        self._queue_result(task.owner, task.seq, ok, duration, busy, frames)

    # -- results -------------------------------------------------------------
    def _queue_result(self, owner: bytes, seq: int, ok: bool,
                      duration: float, busy: float, frames: list) -> None:
        batch = self._results.get(owner)
        if batch is None:
            batch = self._results[owner] = ([], [])
        batch[0].append((seq, ok, duration, busy, len(frames)))
        batch[1].extend(frames)
        if not self._pending:
            self._first_pending = time.monotonic()
        self._pending += 1
        if self._pending >= _RESULT_BATCH:
            self._flush_results()

    def _flush_results(self, credit: int = 0) -> None:
        """Send the buffered results, asking for ``credit`` tasks with them.

        The credit rides on the first results message; with no results it
        goes alone, as a REQUEST.
        """
        if credit:
            self.asked = True
        if not self._pending:
            if credit:
                self.endpoint.send([P.header(P.REQUEST), P.pack(credit)])
            return
        head = P.header(P.RESULTS)
        for owner, (index, frames) in self._results.items():
            self.endpoint.send([head, owner, P.pack(credit), P.pack(index),
                                *frames])
            credit = 0
        self._results.clear()
        self._pending = 0

    # -- messages ------------------------------------------------------------
    def _drain(self) -> None:
        inbox = self._inbox
        while inbox:     # taken by _look: the demand of results is noted
            frames, items = inbox.popleft()
            if items is None:
                self._handle(frames)
            else:
                self._complete(items)
        endpoint = self.endpoint
        while endpoint.readable():
            frames = endpoint.recv(0)
            if frames is None:      # it was a message that was dropped
                return
            self._handle(frames)

    def _handle(self, frames: list) -> None:
        handler = self._handlers.get(P.kind_of(frames))
        if handler is None:
            raise P.TransportError(
                f"unexpected message {bytes(frames[0])!r} from the broker")
        handler(frames)

    def _on_tasks(self, frames: list) -> None:
        items = P.split_items(P.unpack(frames[1]), frames, 2)
        self.asked = False  # the broker answers a request once
        # newest first onto the stack: the batch runs in the order it was
        # submitted, as it would have over workers taking one task each
        for (owner, seq, computes, _), payload in reversed(items):
            if owner != self.identity:
                self.local.append(_Foreign(owner, seq, computes, payload))
                continue
            fut = self.remote.pop(seq, None)  # came back home
            if fut is not None and fut._state is RUNNING:
                fut._state = PENDING
                self.local.append(fut)
        if self.dry and len(items) > 1:  # a steal may have overtaken them:
            self._announce()  # one may be stranded behind a long one

    def _on_results(self, frames: list) -> None:
        items = P.split_items(P.unpack(frames[3]), frames, 4)
        self._note_demand(items)
        self._complete(items)

    def _note_demand(self, items: list) -> None:
        """Tell the pace the CPU demand of the tasks whose results are
        ``items`` (of a RESULTS message) and were measured (see
        ``_run_foreign``)."""
        remote = self.remote
        for (seq, _, duration, busy, _), _ in items:
            if busy < 0:       # most results of quick tasks: not measured
                continue
            fut = remote.get(seq)
            if fut is not None and not fut.done():
                self.pace.note_busy(execution.kind_of(fut._fn, fut._args),
                                    duration, busy)

    def _complete(self, items: list) -> None:
        """Complete the futures whose results are ``items``."""
        for (seq, ok, duration, _, _), payload in items:
            fut = self.remote.pop(seq, None)
            if fut is None or fut.done():
                continue
            fut.duration = duration
            try:
                value = P.loads(payload)
            except Exception as exc:  # noqa: BLE001 - the task's error
                fut.set_exception(_unrebuilt(fut, ok, exc))
                continue
            if ok:
                fut.set_result(value)
            else:
                if type(value) is WorkerLostError:
                    value.args = (f"{value}: " + execution.describe_task(
                        fut._fn, fut._args),)
                fut.set_exception(value)

    def _on_shutdown(self, frames: list) -> None:
        self.stopping = True

    def _on_drain(self, frames: list) -> None:
        self.draining = True

    def _on_size(self, frames: list) -> None:
        self.size = P.unpack(frames[1])
        self.cpus = P.unpack(frames[2]) if len(frames) > 2 else self.size
        scoop_hpc.SIZE = self.size

    # -- the side thread -----------------------------------------------------
    def _side_loop(self, side, timeout: float) -> None:
        """Answer steals; beat; leave if the broker is silent too long."""
        side.send([P.header(P.SIDE_HELLO), self.identity])
        beat = heartbeat_period(self.size, timeout)
        heard = next_beat = now = time.monotonic()
        while True:
            try:
                frames = side.recv(
                    None if beat is None
                    else max(0.0, next_beat - time.monotonic()))
            except Exception:  # noqa: BLE001 - the transport was closed
                side.close()
                return
            now, last = time.monotonic(), now
            if beat is not None and now - last > timeout / 2:
                heard = now   # a long pause was this process's own
            if frames is not None:
                heard = now
                kind = P.kind_of(frames)
                if kind == P.STEAL:
                    self._give_away(side, P.unpack(frames[1]))
                elif kind == P.SHUTDOWN:
                    side.close()
                    if self.told_to_leave is not None:
                        self.told_to_leave()
                    return
            if beat is None or now < next_beat:
                continue
            if now - heard > timeout and not self.watched:
                _broker_gone(self.identity, now - heard)
            # a broker that is gone cannot be told: the silence says it
            with contextlib.suppress(Exception):
                side.send([P.header(P.HEARTBEAT)])
            next_beat = now + beat
            beat = heartbeat_period(self.size, timeout)  # the job grew?

    def _give_away(self, side, wanted: int) -> None:
        """Send the tasks at the far end of the queue to the broker: the
        oldest, but a top-level map's newest chunks (see pace.py)."""
        local, parked = self.local, self.parked
        computes = self.pace.computes
        self.dry = True  # before looking: a submit from now on announces
        seen = self.announced  # ... and counts past what was seen here
        take = self.pace.give(wanted, len(local))
        index: list = []
        frames: list = []
        while len(index) < take:
            try:
                item = parked.popleft() if parked else local.popleft()
            except IndexError:
                break
            if type(item) is _Foreign:
                index.append((item.owner, item.seq, item.computes,
                              len(item.payload)))
                frames.extend(item.payload)
                continue
            with self.state_lock:
                if item._state is not PENDING:
                    continue
                item._state = RUNNING
            self.remote[item._seq] = item
            index.append((self.identity, item._seq, computes(
                execution.kind_of(item._fn, item._args)),
                len(item._payload)))
            frames.extend(item._payload)
        if index:
            self.dry = False
            side.send([P.header(P.TASKS), P.pack(index), *frames])
        else:
            side.send([P.header(P.NOTHING), P.pack(seen)])


def _unawaited(waiter: Waiter) -> bool:
    """Whether the greenlet of ``waiter`` runs a task of this process's
    that nothing here waits for: no waiter, no done-callback (a task of
    another worker may be awaited there; any other job is short)."""
    task = getattr(waiter.greenlet, "task", None)
    return (type(task) is Future and not task._waiters
            and not task._callbacks)


def heartbeat_period(size: int, timeout: float) -> Optional[float]:
    """Seconds between a worker's heartbeats in a job of ``size`` workers
    whose heartbeat timeout is ``timeout`` (0: none, and None is returned).

    >>> heartbeat_period(16, 10), heartbeat_period(16, 2)
    (2.5, 0.5)
    >>> heartbeat_period(5000, 60)
    5.0
    """
    if not timeout:
        return None
    return min(max(_BEAT, size / _BEATS), timeout / 4)


def _broker_gone(identity: bytes, silence: float) -> None:
    """Leave at once: the broker (the launcher) is gone."""
    print(f"scoop_hpc: worker {identity.decode(errors='replace')} heard "
          f"nothing from the broker for {silence:.0f} s: the launcher is "
          f"gone; leaving", file=sys.stderr, flush=True)
    os._exit(1)


def _unrebuilt(fut: Future, ok: bool, exc: Exception) -> SerializationError:
    """The error of ``fut``, whose result (or exception) arrived but could
    not be rebuilt in this process; ``exc`` says why (and is its cause).
    The worker checks that an exception rebuilds (``execution.reply``):
    this happens where a class differs between the two processes."""
    task = execution.describe_task(fut._fn, fut._args)
    if not execution.is_chunk(fut._fn, fut._args):
        task = f"task {task}"           # not "a chunk of map f"
    error = SerializationError(
        f"the {'result' if ok else 'exception'} of {task} could not be "
        f"rebuilt in this process: {type(exc).__name__}: "
        f"{exc}; its class must be importable here, as on the worker, and "
        f"rebuild from its pickle")
    error.__cause__ = exc
    return error


def _culprit(fn: Callable, args: tuple, kwargs: dict) -> SerializationError:
    """Find which of the callable and arguments cannot be serialised (of
    a map's chunk: which of the map's callable, items and arguments)."""
    task = execution.describe_task(fn, args)
    for label, obj in execution.task_parts(fn, args, kwargs):
        try:
            P.dumps(obj, obj)
        except SerializationError as exc:
            return SerializationError(
                f"cannot submit {task}: {label} {exc.subject} cannot be "
                f"serialised: {exc.reason}; {P.ADVICE}")
    return SerializationError(f"cannot submit {task}: the task does not "
                              f"serialise")
