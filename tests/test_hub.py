"""One hub against a bare ZeroMQ router standing for the broker."""
import threading
import time

import pytest
import zmq

from scoop_hpc._runtime import execution
from scoop_hpc._runtime import hub as hub_module
from scoop_hpc._runtime.hub import Hub, _Foreign
from scoop_hpc._transport import protocol as P
from scoop_hpc._transport.zmq import ZmqEndpoint, ZmqRouter
from scoop_hpc.errors import RemoteTraceback, SerializationError

pytestmark = pytest.mark.timeout(20)
_BROKER = {}   # what probe() sees: the router, and what it heard


def probe():
    """A task that reports what the broker heard before the task began."""
    got = _BROKER["router"].recv(0.2)
    _BROKER["heard"].append(None if got is None else got[1])
    return "done"


@pytest.fixture
def hub():
    context = zmq.Context()
    router = ZmqRouter(context, "inproc://broker")
    endpoint = ZmqEndpoint(context, "inproc://broker", b"w1")
    _BROKER.update(router=router, heard=[])
    yield Hub(b"w1", endpoint, size=2)
    _BROKER.clear()
    endpoint.close()
    router.close()
    context.destroy(linger=0)


@pytest.mark.parametrize("seconds, asks_ahead", [
    (None, False), (0.005, True), (2.0, False)])
def test_the_last_task_asks_ahead_when_tasks_take_milliseconds(
        hub, seconds, asks_ahead):
    if seconds is not None:
        for _ in range(10):
            hub.pace.record(probe, seconds)
    heard = _BROKER["heard"]
    hub.local.append(_Foreign(b"w0", 1, False, P.dumps((probe, (), {}))))
    hub.run(lambda: bool(heard))
    if asks_ahead:
        assert P.kind_of(heard[0]) == P.REQUEST
        assert P.unpack(heard[0][1]) == 1
    else:
        assert heard == [None]
    results = _BROKER["router"].recv(1)[1]  # the result reaches the broker
    assert P.kind_of(results) == P.RESULTS


class _Unsendable(Exception):
    """An exception that holds a lock: it cannot travel back."""

    def __init__(self, text):
        super().__init__(text)
        self.lock = threading.Lock()


def _returns_a_lock():
    return threading.Lock()


def _raises_unsendable():
    raise _Unsendable("kept here")


@pytest.mark.parametrize("fn, says", [
    (_returns_a_lock, "the result of task _returns_a_lock could not be sent "
                      "back: cannot serialise _thread.lock"),
    (_raises_unsendable, "the exception of task _raises_unsendable could not "
                         "be sent back: cannot serialise "
                         "tests.test_hub._Unsendable (_Unsendable('kept "
                         "here'))"),
])
def test_what_cannot_travel_back_fails_the_task_saying_what(hub, fn, says):
    """Another worker's task whose value or exception does not pickle:
    its owner gets a SerializationError naming the task and the object,
    with the remote traceback of the exception."""
    hub.local.append(_Foreign(b"w0", 7, False, P.dumps((fn, (), {}))))
    hub.run(lambda: not hub.local and not hub.runnable)
    message = _BROKER["router"].recv(1)[1]
    assert P.kind_of(message) == P.RESULTS
    [((seq, ok, *_), payload)] = P.split_items(P.unpack(message[3]),
                                               message, 4)
    assert (seq, ok) == (7, False)
    error = execution.unwrap(P.loads(payload))
    assert isinstance(error, SerializationError)
    assert says in str(error), error
    if fn is _raises_unsendable:
        assert isinstance(error.__cause__, RemoteTraceback)
        assert "in _raises_unsendable" in str(error.__cause__)


class _Side:
    """The side socket of ``_give_away``: keeps what it was sent."""

    def __init__(self):
        self.sent = []

    def send(self, frames):
        self.sent.append(frames)


def _heard(router):
    frames = router.recv(1)
    assert frames is not None, "the broker heard nothing"
    return P.kind_of(frames[1]), P.unpack(frames[1][1])


def test_work_that_arrives_after_a_steal_found_none_is_announced(hub):
    """A STEAL answered NOTHING (side socket) may have overtaken a batch
    of tasks (main socket): the batch is announced, counted past it."""
    router, side = _BROKER["router"], _Side()
    hub.dry = False
    hub._give_away(side, 1)
    assert P.kind_of(side.sent[0]) == P.NOTHING
    seen = P.unpack(side.sent[0][1])
    hub._on_tasks([P.header(P.TASKS),
                   P.pack([(b"w0", 1, False, 1), (b"w0", 2, False, 1)]),
                   b"a", b"b"])
    assert _heard(router) == (P.HAVE_WORK, seen + 1)
    hub.submit(abs, (-1,), {})          # announced already: no message
    assert router.recv(0.1) is None
    hub._give_away(side, 1)             # the oldest goes; then a submit
    hub._give_away(side, 9)             # ... after another NOTHING
    hub._give_away(side, 9)
    assert P.kind_of(side.sent[-1]) == P.NOTHING
    hub.submit(abs, (-2,), {})
    assert _heard(router) == (P.HAVE_WORK, P.unpack(side.sent[-1][1]) + 1)


def _tasks(items):
    """A TASKS message from the broker: ``(owner, seq, payload)`` each."""
    return [P.header(P.TASKS),
            P.pack([(owner, seq, False, len(payload))
                    for owner, seq, payload in items]),
            *[frame for _, _, payload in items for frame in payload]]


def test_a_task_that_comes_back_to_be_parked_is_announced(hub):
    """A task awaited here with a timeout, given away, comes back alone
    (nobody else asked) after a steal found nothing: it is parked for
    other workers, so the broker must hear that this worker has work."""
    router, side = _BROKER["router"], _Side()
    fut = hub.submit(abs, (-1,), {})
    assert _heard(router) == (P.HAVE_WORK, 1)
    hub._give_away(side, 1)
    hub._give_away(side, 1)
    assert P.kind_of(side.sent[-1]) == P.NOTHING
    fut._reserved += 1                  # a wait with a timeout holds it
    hub._on_tasks(_tasks([(b"w1", fut._seq, fut._payload)]))
    assert router.recv(0.1) is None     # one task: it may run at once
    hub.run(lambda: bool(hub.parked))
    assert _heard(router) == (P.HAVE_WORK, 2)


def test_a_task_that_waits_behind_a_resumed_one_is_announced(hub):
    """A task that arrived alone waits while a resumed task (here a job)
    runs first: the broker must hear of it, as it may take long."""
    router, side = _BROKER["router"], _Side()
    hub._give_away(side, 1)
    payload = P.dumps((abs, (-1,), {}))
    hub._on_tasks(_tasks([(b"w0", 1, payload)]))
    ran = []
    hub.runnable.append(hub_module._Job(lambda: ran.append(
        router.recv(0.5))))
    hub.run(lambda: bool(ran))
    assert P.kind_of(ran[0][1]) == P.HAVE_WORK


def _spin():
    """2 ms of this thread's CPU time."""
    end = time.thread_time() + 0.002
    while time.thread_time() < end:
        pass
    _BROKER["heard"].append("spun")


def _busy_reported(hub, fn):
    """Run a task of ``fn`` from another worker; the CPU demand its
    result reports."""
    hub.local.append(_Foreign(b"w0", 1, False, P.dumps((fn, (), {}))))
    hub.run(lambda: bool(_BROKER["heard"]))
    _BROKER["heard"].clear()
    while True:
        frames = _BROKER["router"].recv(1)[1]
        if P.kind_of(frames) == P.RESULTS:
            return P.unpack(frames[3])[0][3]


def test_a_new_functions_cpu_demand_is_measured_after_quick_tasks(hub):
    """Recent tasks took microseconds (one in BUSY_SAMPLE measured), but
    the first task of a function not seen here is measured, as are the
    next ones while they take long enough."""
    def quick_tasks():
        for _ in range(50):
            hub.pace.record(probe, 1e-5)
        assert hub.pace.short
    quick_tasks()
    assert _busy_reported(hub, _spin) >= 0.0015
    assert _busy_reported(hub, _spin) >= 0.0015
    quick_tasks()           # (the spins may have taken long on a busy CPU)
    assert _busy_reported(hub, probe) == -1.0   # quick: not this one


def test_a_program_that_keeps_submitting_hears_of_the_tasks_it_gave_away(
        hub):
    """A program that submits and never waits still notes the CPU demand
    that results report: it learns that their function computes, and
    marks the tasks it gives away next. The results complete their
    futures in the hub loop, not inside ``submit`` (no callback runs
    there). Only in a job with more workers than CPUs: elsewhere the
    marks change nothing."""
    router, side = _BROKER["router"], _Side()
    hub.cpus = 1
    first = hub.submit(_spin, (), {})
    called = []
    first.add_done_callback(called.append)
    assert _heard(router)[0] == P.HAVE_WORK
    hub._give_away(side, 1)
    entry = P.unpack(side.sent[-1][1])[0]
    assert entry[2] is False            # a function not seen: unmarked
    payload = P.dumps("spun")
    router.send(b"w1", [P.header(P.RESULTS), b"w1", P.pack(0),
                        P.pack([(entry[1], True, 0.002, 0.002,
                                 len(payload))]), *payload])
    deadline = time.monotonic() + 2
    while not hub.pace.computes(_spin) and time.monotonic() < deadline:
        hub.submit(_spin, (), {})
        time.sleep(0.002)
    assert hub.pace.computes(_spin)
    assert not first.done() and not called
    hub._give_away(side, 1)
    assert P.unpack(side.sent[-1][1])[0][2] is True
    hub.local.clear()                   # (the spins are not wanted here)
    hub.run(first.done)
    assert first.result() == "spun" and called == [first]


@pytest.mark.parametrize("cpus, computes, takes_back", [
    (1, True, True), (1, False, False), (2, True, False)])
def test_a_process_that_asked_for_work_takes_it_back_when_it_computes(
        hub, cpus, computes, takes_back):
    """In a job with more workers than CPUs, a process whose request for
    work awaits its answer and that goes back to computing work of its
    own (a root whose map ended starts the next one) takes the request
    back, so that the broker counts it as computing; it asks again when
    it idles. Tasks that wait leave it standing, as does a job where
    every worker has a CPU."""
    router = _BROKER["router"]
    hub.cpus, hub.dry = cpus, False
    hub.pace.note_busy(execution.kind_of(abs, (-1,)), 0.01,
                       0.01 if computes else 0.0)
    assert hub.pace.computes(execution.kind_of(abs, (-1,))) is computes
    hub._flush_results(2)
    assert _heard(router) == (P.REQUEST, 2)
    fut = hub.submit(abs, (-1,), {})
    if takes_back:
        assert _heard(router) == (P.REQUEST, 0)
    assert router.recv(0.1) is None
    hub.run(fut.done)
    assert fut.result() == 1
    if takes_back:
        hub.run(lambda: hub.asked)      # idle: it asks again
        assert _heard(router) == (P.REQUEST, hub.pace.credit())
