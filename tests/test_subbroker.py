"""Sub-brokers under the job's broker, on real ZeroMQ sockets (inproc):
the root broker, two sub-brokers (hosts A and B) and their workers, all
stepped by the test one turn at a time."""
import time

import pytest
import zmq

from scoop_hpc._transport import protocol as P
from scoop_hpc._transport.signing import SignedEndpoint, SignedRouter
from scoop_hpc._transport.zmq import ZmqEndpoint, ZmqRouter
from scoop_hpc.broker import Broker
from scoop_hpc.subbroker import SubBroker

pytestmark = pytest.mark.timeout(20)
TOKEN = b"job-secret"


class Rig:
    """The root broker at inproc://root; sub-brokers and workers."""

    def __init__(self, size: int) -> None:
        P.set_key(TOKEN)
        self.context = zmq.Context()
        self.ends = []
        self.root = Broker(SignedRouter(
            ZmqRouter(self.context, "inproc://root"), TOKEN), size)
        self.nodes = {}

    def endpoint(self, address: str, identity: bytes):
        end = SignedEndpoint(ZmqEndpoint(self.context, address, identity),
                             TOKEN)
        self.ends.append(end)
        return end

    def node(self, name: bytes) -> SubBroker:
        up = self.endpoint("inproc://root", name)
        side = self.endpoint("inproc://root", name + b"/side")
        up.send([P.header(P.HELLO), P.pack(
            {"name": name.decode(), "pid": 1, "host": name.decode(),
             "node": True})])
        self.root.step(0.2)
        welcome = up.recv(1)
        assert P.kind_of(welcome) == P.WELCOME
        side.send([P.header(P.SIDE_HELLO), name])
        router = SignedRouter(ZmqRouter(self.context, f"inproc://{name.decode()}"),
                              TOKEN)
        router.watch(up.socket)
        router.watch(side.socket)
        self.ends.append(router)
        node = self.nodes[name] = SubBroker(router, up, side, welcome)
        self.pump()
        return node

    def worker(self, name: bytes, at: str = "inproc://root", cpus=None):
        main = self.endpoint(at, name)
        side = self.endpoint(at, name + b"/side")
        info = {"name": name.decode(), "pid": None, "host": at}
        if cpus is not None:
            info["cpus"] = cpus
        main.send([P.header(P.HELLO), P.pack(info)])
        self.pump()
        assert P.kind_of(main.recv(1)) == P.WELCOME
        side.send([P.header(P.SIDE_HELLO), name])
        main.send([P.header(P.HAVE_WORK), P.pack(1)])   # it submitted
        self.pump()
        return main, side

    def pump(self, turns: int = 3) -> None:
        for _ in range(turns):
            self.root.step(0.01)
            for node in self.nodes.values():
                node.turn(0.01)

    def close(self) -> None:
        for end in self.ends:
            end.close()
        self.root.router.close()
        self.context.destroy(linger=0)


@pytest.fixture
def rig():
    made = []

    def make(size):
        made.append(Rig(size))
        return made[0]
    yield make
    for each in made:
        each.close()


def _tasks(owner, *seqs):
    index = [(owner, seq, False, 1) for seq in seqs]
    return [P.header(P.TASKS), P.pack(index),
            *[f"payload {s}".encode() for s in seqs]]


def _results(owner, *seqs):
    return [P.header(P.RESULTS), owner, P.pack(0),
            P.pack([(seq, True, 0.1, 0.1, 1) for seq in seqs]),
            *[f"result {s}".encode() for s in seqs]]


def _recv(end, kind, timeout=1.0):
    """The next message of ``kind`` on ``end`` (others are skipped)."""
    while True:
        frames = end.recv(timeout)
        assert frames is not None, f"no {kind!r} message"
        if P.kind_of(frames) == kind:
            return frames


def _hosts_a_and_b(make, size: int) -> Rig:
    """A root for ``size`` workers, with sub-brokers nA and nB."""
    rig = make(size)
    rig.node(b"nA")
    rig.node(b"nB")
    return rig


def test_a_task_runs_on_another_host_and_its_results_come_home(rig):
    rig = _hosts_a_and_b(rig, 2)
    a_main, a_side = rig.worker(b"a1", "inproc://nA")
    b_main, _ = rig.worker(b"b1", "inproc://nB")
    assert rig.root.routes == {b"a1": b"nA", b"b1": b"nB"}
    assert rig.root.progress()[0] == 2        # workers, not sub-brokers
    b_main.send([P.header(P.REQUEST), P.pack(3)])
    rig.pump()
    steal = _recv(a_side, P.STEAL)             # B's host had nothing
    assert P.unpack(steal[1]) == 3
    a_side.send(_tasks(b"a1", 1, 2, 3, 4))
    rig.pump()
    got = _recv(b_main, P.TASKS)
    assert [e[1] for e in P.unpack(got[1])] == [1, 2, 3]
    assert [i[0] for i in rig.nodes[b"nA"].pool] == [
        (b"a1", 4, False, 1)]                   # home
    assert set(rig.root.flights) == {(b"a1", 1), (b"a1", 2), (b"a1", 3)}
    for seq in (1, 2, 3):
        b_main.send(_results(b"a1", seq))
    rig.pump()
    home = _recv(a_main, P.RESULTS)          # one message for all three
    assert [e[0] for e in P.unpack(home[3])] == [1, 2, 3]
    assert [bytes(f) for f in home[4:]] == [b"result 1", b"result 2",
                                            b"result 3"]
    assert rig.root.flights == {} and rig.nodes[b"nB"].flights == {}
    assert rig.root.done == 3


def test_a_task_that_returns_to_its_host_is_left_to_its_sub_broker(rig):
    rig = rig(3)
    rig.node(b"nA")
    a_main, a_side = rig.worker(b"a1", "inproc://nA")
    a2_main, _ = rig.worker(b"a2", "inproc://nA")
    w0_main, w0_side = rig.worker(b"w0")
    a2_main.send([P.header(P.REQUEST), P.pack(1)])
    rig.pump()
    a_side.send(_tasks(b"a1", 1))             # stolen on its own host
    rig.pump()
    assert P.unpack(_recv(a2_main, P.TASKS)[1])[0][:2] == (b"a1", 1)
    assert rig.root.flights == {}             # the root never saw it
    assert list(rig.nodes[b"nA"].flights) == [(b"a1", 1)]
    a2_main.send(_results(b"a1", 1))
    rig.pump()
    assert bytes(_recv(a_main, P.RESULTS)[4]) == b"result 1"


def test_constants_set_behind_a_sub_broker_reach_every_host(rig):
    rig = _hosts_a_and_b(rig, 3)
    a_main, _ = rig.worker(b"a1", "inproc://nA")
    a2_main, _ = rig.worker(b"a2", "inproc://nA")
    b_main, _ = rig.worker(b"b1", "inproc://nB")
    a_main.send([P.header(P.SET_CONST), b"k", b"mac", b"value"])
    rig.pump()
    ack = _recv(a_main, P.CONST_ACK)
    assert P.unpack(ack[2]) is None
    for end in (a2_main, b_main):
        const = _recv(end, P.CONST)
        assert [bytes(f) for f in const[1:]] == [b"k", b"mac", b"value"]
    b_main.send([P.header(P.SET_CONST), b"k", b"mac", b"other"])
    rig.pump()
    assert "already defined" in P.unpack(_recv(b_main, P.CONST_ACK)[2])
    late, _ = rig.worker(b"b2", "inproc://nB")
    assert [bytes(f) for f in rig.nodes[b"nB"].constants["k"]] == [
        b"mac", b"value"]


def _held_on(rig, node: bytes, worker_main, other_side, seqs):
    """w0's tasks ``seqs`` handed through the root to ``worker_main``
    behind ``node`` (whose other worker had nothing to give); returns
    w0's endpoints."""
    w0_main, w0_side = rig.worker(b"w0")
    worker_main.send([P.header(P.REQUEST), P.pack(len(seqs))])
    rig.pump()
    _recv(other_side, P.STEAL)
    other_side.send([P.header(P.NOTHING), P.pack(0)])
    rig.pump()
    _recv(w0_side, P.STEAL)
    w0_side.send(_tasks(b"w0", *seqs))
    rig.pump()
    got = _recv(worker_main, P.TASKS)
    assert [e[1] for e in P.unpack(got[1])] == list(seqs)
    assert all(f[0] == node for f in rig.root.flights.values())
    return w0_main, w0_side


def test_a_lost_sub_broker_loses_its_workers_and_its_tasks_run_again(rig):
    rig = rig(3)
    rig.node(b"nB")
    b_main, _ = rig.worker(b"b1", "inproc://nB")
    _, b2_side = rig.worker(b"b2", "inproc://nB")
    _held_on(rig, b"nB", b_main, b2_side, (1, 2))
    assert rig.root.lose(b"nB", "its agent ended")
    assert rig.root.size == 1                  # w0 alone
    assert {b"nB", b"b1", b"b2"} <= set(rig.root.lost)
    assert rig.root.workers_lost == 2        # the sub-broker is not one
    assert rig.root.replays == 2
    assert rig.root.routes == {}
    assert [item[0][1] for item in rig.root.pool] == [1, 2]
    assert all(f[0] is None and f[2] == 1
               for f in rig.root.flights.values())
    assert _recv(rig.nodes[b"nB"].up, P.SHUTDOWN)


def test_a_worker_lost_behind_a_sub_broker_is_replayed_on_its_host(rig):
    rig = rig(3)
    rig.node(b"nA")
    a_main, _ = rig.worker(b"a1", "inproc://nA")
    a2_main, a2_side = rig.worker(b"a2", "inproc://nA")
    w0_main, _ = _held_on(rig, b"nA", a_main, a2_side, (7,))
    a2_main.send([P.header(P.REQUEST), P.pack(1)])
    assert rig.root.lose(b"a1", "it was killed by SIGKILL")  # the agent saw
    rig.pump()
    assert rig.root.size == 2 and b"a1" not in rig.root.routes
    got = _recv(a2_main, P.TASKS)               # run again on host A
    assert P.unpack(got[1])[0][:2] == (b"w0", 7)
    assert rig.nodes[b"nA"].replays == 1
    assert rig.root.replays == 1                # told with LOST
    assert rig.root.flights[(b"w0", 7)][0] == b"nA"   # still A's
    a2_main.send(_results(b"w0", 7))
    rig.pump()
    assert bytes(_recv(w0_main, P.RESULTS)[4]) == b"result 7"
    assert rig.root.flights == {}


def test_a_worker_its_sub_broker_loses_is_reported_to_the_root(rig):
    rig = rig(3)
    node = rig.node(b"nA")
    rig.worker(b"a1", "inproc://nA")
    rig.worker(b"a2", "inproc://nA")
    assert node.lose(b"a2", "no heartbeat for 10.0 s")
    rig.pump()
    assert rig.root.lost[b"a2"] == "no heartbeat for 10.0 s"
    assert rig.root.size == 2 and node.size == 2   # the root's SIZE


def test_workers_behind_sub_brokers_hear_the_jobs_cpus(rig):
    """Host A: 3 workers on 1 CPU; host B: 1 worker on 4 CPUs: 2 CPUs."""
    rig = _hosts_a_and_b(rig, 4)
    ends = [rig.worker(name, "inproc://nA", cpus=1)[0]
            for name in (b"a1", b"a2", b"a3")]
    ends.append(rig.worker(b"b1", "inproc://nB", cpus=4)[0])
    heard = {}
    deadline = time.monotonic() + 4    # told every second at most
    while len(heard) < 4 or set(heard.values()) != {(4, 2)}:
        assert time.monotonic() < deadline, heard
        rig.pump()
        for index, end in enumerate(ends):
            while (frames := end.recv(0)) is not None:
                if P.kind_of(frames) == P.SIZE:
                    heard[index] = (P.unpack(frames[1]),
                                    P.unpack(frames[2]))
    assert rig.root.cpus() == 2
