"""The broker against real ZeroMQ sockets (inproc), one message at a time."""
import pytest
import zmq

from scoop_hpc._transport import protocol as P
from scoop_hpc._transport.signing import SignedEndpoint, SignedRouter
from scoop_hpc._transport.zmq import ZmqEndpoint, ZmqRouter
from scoop_hpc.broker import Broker

pytestmark = pytest.mark.timeout(20)
TOKEN = b"job-secret"


@pytest.fixture
def rig():
    context = zmq.Context()
    router = SignedRouter(ZmqRouter(context, "inproc://broker"), TOKEN)
    broker = Broker(router, size=2)
    ends = []
    welcomes = {}

    def worker(name: bytes):
        main = SignedEndpoint(
            ZmqEndpoint(context, "inproc://broker", name), TOKEN)
        side = SignedEndpoint(
            ZmqEndpoint(context, "inproc://broker", name + b"/side"), TOKEN)
        main.send([P.header(P.HELLO), P.pack({"name": name.decode()})])
        broker.step(0.5)
        welcome = main.recv(1)
        assert P.kind_of(welcome) == P.WELCOME
        welcomes[name] = welcome
        side.send([P.header(P.SIDE_HELLO), name])
        broker.step(0.05)
        ends.extend([main, side])
        return main, side

    worker.welcomes = welcomes
    worker.context = context
    yield broker, worker
    for end in ends:
        end.close()
    router.close()
    context.destroy(linger=0)


def _tasks(owner, *seqs):
    index = [(owner, seq, 1) for seq in seqs]
    return [P.header(P.TASKS), P.pack(index),
            *[f"payload {s}".encode() for s in seqs]]


def test_idle_worker_steals_from_a_busy_one(rig):
    broker, worker = rig
    a_main, a_side = worker(b"a")
    b_main, _ = worker(b"b")
    b_main.send([P.header(P.REQUEST), P.pack(2)])
    broker.step(0.05)
    steal = a_side.recv(1)
    assert P.kind_of(steal) == P.STEAL and P.unpack(steal[1]) == 2
    a_side.send(_tasks(b"a", 1, 2, 3))
    broker.step(0.05)
    got = b_main.recv(1)
    assert P.kind_of(got) == P.TASKS
    assert [e[1] for e in P.unpack(got[1])] == [1, 2]   # credit 2
    assert list(broker.pool)[0][0] == (b"a", 3, 1)      # one left over


def test_results_are_relayed_to_their_owner(rig):
    broker, worker = rig
    a_main, _ = worker(b"a")
    b_main, _ = worker(b"b")
    b_main.send([P.header(P.RESULTS), b"a", P.pack(0),
                 P.pack([(1, True, 0.1, 1)]), b"value"])
    broker.step(0.05)
    got = a_main.recv(1)
    assert P.kind_of(got) == P.RESULTS and bytes(got[4]) == b"value"


def test_results_carry_the_senders_next_request(rig):
    broker, worker = rig
    worker(b"a")
    b_main, _ = worker(b"b")
    b_main.send([P.header(P.RESULTS), b"a", P.pack(2),
                 P.pack([(1, True, 0.1, 1)]), b"value"])
    broker.step(0.05)
    assert broker.workers[b"b"].credit == 2


def test_a_task_goes_home_only_when_nobody_else_wants_it(rig):
    broker, worker = rig
    a_main, a_side = worker(b"a")
    b_main, _ = worker(b"b")
    a_main.send([P.header(P.REQUEST), P.pack(1)])
    b_main.send([P.header(P.REQUEST), P.pack(1)])
    broker.step(0.05)
    a_main.send(_tasks(b"a", 7))
    broker.step(0.05)
    assert b_main.recv(0.5) is not None
    assert a_main.recv(0.05) is None


def test_constants_reach_everyone_once(rig):
    broker, worker = rig
    a_main, _ = worker(b"a")
    b_main, _ = worker(b"b")
    a_main.send([P.header(P.SET_CONST), b"k", b"v"])
    broker.step(0.05)
    assert P.unpack(a_main.recv(1)[2]) is None          # ack, no error
    assert bytes(b_main.recv(1)[2]) == b"v"
    b_main.send([P.header(P.SET_CONST), b"k", b"w"])
    broker.step(0.05)
    assert "already defined" in P.unpack(b_main.recv(1)[2])
    worker(b"c")                                        # late joiner
    welcome = worker.welcomes[b"c"]
    assert P.unpack(welcome[1])["constants"] == [("k", 1)]
    assert bytes(welcome[2]) == b"v"


def test_a_malformed_message_is_dropped(rig, caplog):
    broker, worker = rig
    a_main, _ = worker(b"a")
    a_main.send([b"garbage"])
    broker.step(0.05)
    assert "malformed" in caplog.text


def test_a_stranger_without_the_secret_is_never_served(rig, caplog):
    broker, worker = rig
    context = worker.context
    plain = ZmqEndpoint(context, "inproc://broker", b"x")
    wrong = SignedEndpoint(ZmqEndpoint(context, "inproc://broker", b"y"),
                           b"job-secreT")
    hello = [P.header(P.HELLO), P.pack({"name": "x"})]
    for stranger in (plain, wrong):
        stranger.send(hello)
        stranger.send(_tasks(stranger.identity, 1))    # work from a stranger
        stranger.send([P.header(P.REQUEST), P.pack(1)])
        broker.step(0.05)
        assert stranger.recv(0.1) is None
    assert not broker.workers and not broker.pool
    assert caplog.text.count("unsigned message") == 3
    assert caplog.text.count("wrong signature") == 3
    plain.close()
    wrong.close()


def test_a_replayed_or_altered_message_is_dropped(rig, caplog):
    broker, worker = rig
    a_main, _ = worker(b"a")
    raw = a_main._endpoint
    signed = a_main._seal.sign(_tasks(b"a", 1), b"a")
    raw.send(signed)
    broker.step(0.05)
    assert len(broker.pool) == 1
    raw.send(signed)                               # the same message again
    altered = list(signed)
    altered[1] = P.pack([(b"a", 2, 2)])            # a changed envelope
    raw.send(altered)
    raw.send(signed[:-2] + signed[-1:])            # a frame cut out
    broker.step(0.05)
    assert len(broker.pool) == 1
    assert "replayed message" in caplog.text
    assert caplog.text.count("wrong signature") == 2


def test_a_message_from_the_broker_is_not_taken_back(rig, caplog):
    broker, worker = rig
    a_main, _ = worker(b"a")
    broker.resize(4)
    reflected = a_main._endpoint.recv(1)           # signed by the broker
    a_main._endpoint.send(reflected)
    broker.step(0.05)
    assert "wrong signature" in caplog.text


def test_resize_tells_every_worker(rig):
    broker, worker = rig
    a_main, _ = worker(b"a")
    b_main, _ = worker(b"b")
    broker.resize(5)
    for main in (a_main, b_main):
        got = main.recv(1)
        assert P.kind_of(got) == P.SIZE and P.unpack(got[1]) == 5


def test_a_worker_joining_after_shutdown_is_told_to_leave(rig):
    broker, worker = rig
    a_main, a_side = worker(b"a")
    broker.shutdown()
    for end in (a_main, a_side):
        assert P.kind_of(end.recv(1)) == P.SHUTDOWN
    late_main, late_side = worker(b"late")        # checks its welcome
    assert P.kind_of(late_main.recv(1)) == P.SHUTDOWN
    assert P.kind_of(late_side.recv(1)) == P.SHUTDOWN
