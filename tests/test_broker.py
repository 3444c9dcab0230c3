"""The broker against real ZeroMQ sockets (inproc), one message at a time."""
import time

import pytest
import zmq

from scoop_hpc import broker as broker_mod
from scoop_hpc._transport import protocol as P
from scoop_hpc._transport.signing import SignedEndpoint, SignedRouter
from scoop_hpc._transport.zmq import ZmqEndpoint, ZmqRouter
from scoop_hpc.broker import Broker
from scoop_hpc.errors import WorkerLostError

pytestmark = pytest.mark.timeout(20)
TOKEN = b"job-secret"


@pytest.fixture
def rig():
    context = zmq.Context()
    router = SignedRouter(ZmqRouter(context, "inproc://broker"), TOKEN)
    broker = Broker(router, size=2)
    ends = []
    welcomes = {}

    def worker(name: bytes, announce: bool = True, cpus=None,
               watched: bool = False):
        """A worker that joined, and has work to give if ``announce``; on
        a host of ``cpus`` CPUs if given; one that dies with the broker
        if ``watched``."""
        main = SignedEndpoint(
            ZmqEndpoint(context, "inproc://broker", name), TOKEN)
        side = SignedEndpoint(
            ZmqEndpoint(context, "inproc://broker", name + b"/side"), TOKEN)
        info = {"name": name.decode(), "pid": 100 + len(ends), "host": "n1"}
        if cpus is not None:
            info["cpus"] = cpus
        if watched:
            info["watched"] = True
        main.send([P.header(P.HELLO), P.pack(info)])
        broker.step(0.5)
        welcome = main.recv(1)
        assert P.kind_of(welcome) == P.WELCOME
        welcomes[name] = welcome
        side.send([P.header(P.SIDE_HELLO), name])
        if announce:
            main.send([P.header(P.HAVE_WORK), P.pack(1)])
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


def _tasks(owner, *seqs, computes=False):
    index = [(owner, seq, computes, 1) for seq in seqs]
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
    assert list(broker.pool)[0][0] == (b"a", 3, False, 1)  # one left over


def test_the_next_steal_goes_to_a_worker_not_asked_last(rig):
    """a and c have work; b's requests are answered by each in turn."""
    broker, worker = rig
    broker.size = 3
    _, a_side = worker(b"a")
    b_main, _ = worker(b"b", announce=False)
    _, c_side = worker(b"c")
    b_main.send([P.header(P.REQUEST), P.pack(1)])
    broker.step(0.05)
    assert P.kind_of(a_side.recv(1)) == P.STEAL
    assert c_side.recv(0.05) is None
    a_side.send(_tasks(b"a", 1))
    broker.step(0.05)               # b is served, then its restock is
    assert P.kind_of(b_main.recv(1)) == P.TASKS     # asked of c
    assert P.kind_of(c_side.recv(1)) == P.STEAL
    assert a_side.recv(0.05) is None


def _steals_of(side, steps, broker):
    """How many STEALs ``side`` gets over ``steps`` broker steps."""
    count = 0
    for _ in range(steps):
        broker.step(0.01)
        while side.recv(0) is not None:
            count += 1
    return count


def _a_asked_for_b(rig):
    """Workers a (it announced work) and b (hungry): a is asked for work;
    returns the broker and a's two ends."""
    broker, worker = rig
    a_main, a_side = worker(b"a")
    b_main, _ = worker(b"b")
    b_main.send([P.header(P.REQUEST), P.pack(2)])
    broker.step(0.05)
    assert P.kind_of(a_side.recv(1)) == P.STEAL
    return broker, a_main, a_side


def test_a_worker_with_nothing_is_asked_again_only_once_it_announces(rig):
    broker, a_main, a_side = _a_asked_for_b(rig)
    a_side.send([P.header(P.NOTHING), P.pack(1)])
    assert _steals_of(a_side, 30, broker) == 0   # b is still hungry
    a_main.send([P.header(P.HAVE_WORK), P.pack(2)])
    assert _steals_of(a_side, 3, broker) == 1


def test_a_worker_that_just_joined_is_asked_once_it_announces(rig):
    broker, worker = rig
    a_main, a_side = worker(b"a", announce=False)
    b_main, _ = worker(b"b")
    b_main.send([P.header(P.REQUEST), P.pack(2)])
    assert _steals_of(a_side, 10, broker) == 0
    a_main.send([P.header(P.HAVE_WORK), P.pack(1)])
    assert _steals_of(a_side, 3, broker) == 1


def test_a_nothing_that_looked_before_an_announcement_is_not_believed(rig):
    """The announcement (main socket) may overtake the NOTHING (side
    socket) that the worker sent before it: the counts tell."""
    broker, a_main, a_side = _a_asked_for_b(rig)
    a_main.send([P.header(P.HAVE_WORK), P.pack(2)])
    broker.step(0.05)
    a_side.send([P.header(P.NOTHING), P.pack(1)])
    assert _steals_of(a_side, 3, broker) == 1


def _served_from_a_steal(rig, credit):
    """b asks for ``credit`` tasks, a's side gives exactly that many, b
    gets them; returns a's side, b's main and the sequence numbers."""
    broker, worker = rig
    _, a_side = worker(b"a")
    b_main, _ = worker(b"b")
    b_main.send([P.header(P.REQUEST), P.pack(credit)])
    broker.step(0.05)
    assert P.kind_of(a_side.recv(1)) == P.STEAL
    a_side.send(_tasks(b"a", *range(1, credit + 1)))
    broker.step(0.05)
    return a_side, b_main, [e[1] for e in P.unpack(b_main.recv(1)[1])]


def test_a_request_that_empties_the_pool_restocks_it(rig):
    broker, _ = rig
    a_side, b_main, got = _served_from_a_steal(rig, 2)
    assert got == [1, 2]
    steal = a_side.recv(1)          # at once, before b asks again
    assert P.kind_of(steal) == P.STEAL and P.unpack(steal[1]) == 2
    a_side.send(_tasks(b"a", 3, 4))
    broker.step(0.05)
    b_main.send([P.header(P.REQUEST), P.pack(2)])
    broker.step(0.05)
    assert [e[1] for e in P.unpack(b_main.recv(1)[1])] == [3, 4]


def test_requests_for_many_short_tasks_are_not_restocked(rig):
    a_side, _, got = _served_from_a_steal(rig, 8)
    assert got == list(range(1, 9))
    assert a_side.recv(0.2) is None


def test_results_are_relayed_to_their_owner(rig):
    broker, worker = rig
    a_main, _ = worker(b"a")
    b_main, _ = worker(b"b")
    b_main.send([P.header(P.RESULTS), b"a", P.pack(0),
                 P.pack([(1, True, 0.1, 0.1, 1)]), b"value"])
    broker.step(0.05)
    got = a_main.recv(1)
    assert P.kind_of(got) == P.RESULTS and bytes(got[4]) == b"value"


def test_results_carry_the_senders_next_request(rig):
    broker, worker = rig
    worker(b"a")
    b_main, _ = worker(b"b")
    b_main.send([P.header(P.RESULTS), b"a", P.pack(2),
                 P.pack([(1, True, 0.1, 0.1, 1)]), b"value"])
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
    altered[1] = P.pack([(b"a", 2, False, 2)])     # a changed envelope
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


# -- lost workers ------------------------------------------------------------
def _take(end, wait=0.2):
    """Every message waiting at ``end``, as ``(kind, frames)``."""
    got = []
    frames = end.recv(wait)
    while frames is not None:
        got.append((P.kind_of(frames), frames))
        frames = end.recv(0.02)
    return got


def _only(end, kind):
    return [frames for k, frames in _take(end) if k == kind]


def _result(owner, seq, value=b"value"):
    return [P.header(P.RESULTS), owner, P.pack(0),
            P.pack([(seq, True, 0.1, 0.1, 1)]), value]


def _hand_out(broker, owner_side, taker, owner, seq):
    """Have ``taker`` get task ``seq`` of ``owner`` through a steal."""
    taker.send([P.header(P.REQUEST), P.pack(1)])
    broker.step(0.05)
    owner_side.send(_tasks(owner, seq))
    broker.step(0.05)
    got = _only(taker, P.TASKS)
    assert [e[1] for e in P.unpack(got[0][1])] == [seq]
    return got[0]


@pytest.fixture
def trio(rig):
    broker, worker = rig
    ends = {name: worker(name) for name in (b"a", b"b", b"c")}
    broker.resize(3)
    for main, _ in ends.values():
        _take(main, 0.05)
    return broker, ends


def test_a_lost_workers_task_runs_again_and_its_late_result_is_dropped(
        trio):
    broker, ends = trio
    (a_main, a_side), (b_main, b_side), (c_main, _) = ends.values()
    first = _hand_out(broker, a_side, b_main, b"a", 1)
    assert broker.flights[(b"a", 1)][0] == b"b"
    assert broker.lose(b"b", "it was killed by SIGKILL")
    assert not broker.lose(b"b", "again")              # once only
    assert _only(b_main, P.SHUTDOWN) and _only(b_side, P.SHUTDOWN)
    assert [P.unpack(f[1]) for f in _only(a_main, P.SIZE)] == [2]
    c_main.send([P.header(P.REQUEST), P.pack(1)])
    broker.step(0.05)
    again = _only(c_main, P.TASKS)[0]
    assert [bytes(f) for f in again[1:]] == [bytes(f) for f in first[1:]]
    b_main.send(_result(b"a", 1, b"late"))              # after its loss
    broker.step(0.05)
    assert _only(b_main, P.SHUTDOWN)                    # told to leave
    c_main.send(_result(b"a", 1, b"right"))
    broker.step(0.05)
    results = _only(a_main, P.RESULTS)
    assert [bytes(f[4]) for f in results] == [b"right"]
    assert not broker.flights


def test_past_its_retries_a_task_fails_naming_worker_host_and_task(trio):
    broker, ends = trio
    (a_main, a_side), (b_main, _), (c_main, _) = ends.values()
    broker.retries = 1
    _hand_out(broker, a_side, b_main, b"a", 7)
    broker.lose(b"b", "no heartbeat for 10.0 s")
    c_main.send([P.header(P.REQUEST), P.pack(1)])
    broker.step(0.05)
    assert _only(c_main, P.TASKS)                       # replay 1 of 1
    broker.lose(b"c", "it exited with code 3")
    got = _only(a_main, P.RESULTS)
    assert len(got) == 1
    (seq, ok, _, _, count), = P.unpack(got[0][3])
    assert (seq, ok) == (7, False)
    error = P.loads(got[0][4:4 + count])
    assert isinstance(error, WorkerLostError)
    assert str(error).startswith(
        "worker c (pid 104 on host n1) was lost (it exited with code 3) "
        "while it held task 7 of worker a; the task had run on 2 lost "
        "workers (--retries 1)"), error
    assert not broker.flights and not broker.pool


def test_tasks_of_a_lost_owner_are_forgotten(trio):
    broker, ends = trio
    (a_main, a_side), (b_main, _), (c_main, _) = ends.values()
    _hand_out(broker, a_side, b_main, b"a", 1)
    a_side.send(_tasks(b"a", 2, 3))                     # pooled
    broker.step(0.05)
    broker.lose(b"a", "it was killed by SIGKILL")
    assert not broker.pool and not broker.flights
    b_main.send(_result(b"a", 1))
    broker.step(0.05)
    assert not _only(a_main, P.RESULTS)                 # nobody awaits it


def test_a_stolen_task_is_replayed_by_whoever_holds_it(trio):
    broker, ends = trio
    (a_main, a_side), (b_main, b_side), (c_main, _) = ends.values()
    _hand_out(broker, a_side, b_main, b"a", 1)
    c_main.send([P.header(P.REQUEST), P.pack(1)])
    broker.step(0.05)
    b_side.send(_tasks(b"a", 1))                        # b gives it on
    broker.step(0.05)
    assert _only(c_main, P.TASKS)
    assert broker.flights[(b"a", 1)][0] == b"c"
    broker.lose(b"b", "it was killed by SIGKILL")       # holds nothing
    assert not broker.pool
    broker.lose(b"c", "it was killed by SIGKILL")
    assert [e[0][:2] for e in broker.pool] == [(b"a", 1)]


def test_silent_workers_are_lost_and_beating_ones_answered(trio):
    broker, ends = trio
    (a_main, a_side), (b_main, b_side), (c_main, c_side) = ends.values()
    broker.heartbeat = 0.3
    for _ in range(15):          # the broker looks once a second at most
        a_side.send([P.header(P.HEARTBEAT)])
        c_side.send([P.header(P.HEARTBEAT)])
        broker.step(0)
        time.sleep(0.1)
    broker.step(0)
    assert broker.newly_lost == [b"b"] and set(broker.lost) == {b"b"}
    assert "no heartbeat for" in broker.lost[b"b"]
    assert len(_only(a_side, P.HEARTBEAT)) == 15


def test_workers_told_to_leave_are_not_lost_for_their_silence(trio):
    """After SHUTDOWN workers stop beating while they leave (the launcher
    serves the broker meanwhile): none is lost, no task runs again."""
    broker, ends = trio
    broker.heartbeat = 0.3
    broker.shutdown()
    for _ in range(15):          # the broker looks once a second at most
        broker.step(0)
        time.sleep(0.1)
    assert not broker.newly_lost and not broker.lost


def test_a_watched_workers_heartbeats_are_not_answered(rig):
    """A worker that dies with the broker's process (forked by the
    launcher) is not answered: it listens for no answer. Its beats still
    keep it alive."""
    broker, worker = rig
    _, a_side = worker(b"a")
    _, b_side = worker(b"b", watched=True)
    broker.heartbeat = 0.3
    for _ in range(15):
        for side in (a_side, b_side):
            side.send([P.header(P.HEARTBEAT)])
        broker.step(0)
        time.sleep(0.1)
    broker.step(0)
    assert not broker.lost
    assert len(_only(a_side, P.HEARTBEAT)) == 15
    assert not _only(b_side, P.HEARTBEAT)


def test_a_lost_worker_that_says_hello_again_is_sent_away(trio):
    broker, ends = trio
    (_, _), (b_main, _), _ = ends.values()
    broker.lose(b"b", "no heartbeat for 10.0 s")
    _take(b_main)
    b_main.send([P.header(P.HELLO), P.pack({"name": "b"})])
    broker.step(0.05)
    assert [k for k, _ in _take(b_main)] == [P.SHUTDOWN]
    assert b"b" not in broker.workers


def test_draining_hands_out_nothing(trio):
    broker, ends = trio
    (a_main, a_side), (b_main, _), _ = ends.values()
    a_side.send(_tasks(b"a", 1))
    broker.step(0.05)
    broker.drain()
    assert _only(a_main, P.DRAIN)
    b_main.send([P.header(P.REQUEST), P.pack(1)])
    broker.step(0.05)
    assert [k for k, _ in _take(b_main)] == [P.DRAIN]
    assert len(broker.pool) == 1


def test_malformed_entries_from_a_member_are_dropped(trio, caplog):
    broker, ends = trio
    (a_main, a_side), (b_main, _), _ = ends.values()
    a_side.send([P.header(P.TASKS), P.pack([([1], 2, False, 1)]),
                 b"x"])
    b_main.send([P.header(P.RESULTS), b"a", P.pack(0), P.pack([1, 2])])
    broker.step(0.05)
    assert caplog.text.count("malformed") == 2
    assert not broker.pool and not _only(a_main, P.RESULTS)


@pytest.fixture
def crowded(rig):
    """Owner a and three hungry workers on a host of 2 CPUs."""
    broker, worker = rig
    broker.size = 4
    a_main, a_side = worker(b"a", cpus=2)
    takers = [worker(name, announce=False, cpus=2)[0]
              for name in (b"b", b"c", b"d")]
    for end in takers:
        end.send([P.header(P.REQUEST), P.pack(2)])
    broker.step(0.05)
    assert P.kind_of(a_side.recv(1)) == P.STEAL
    return broker, a_main, a_side, takers


def _served(takers):
    """Which takers got tasks, and the sequence numbers each got."""
    got = {}
    for index, end in enumerate(takers):
        for frames in _only(end, P.TASKS):
            got.setdefault(index, []).extend(
                e[1] for e in P.unpack(frames[1]))
    return got


def _results_of(end, seqs, credit=0):
    end.send([P.header(P.RESULTS), b"a", P.pack(credit),
              P.pack([(seq, True, 0.1, 0.1, 1) for seq in seqs]),
              *[b"v"] * len(seqs)])


def test_tasks_that_compute_go_to_one_process_per_cpu_of_a_crowded_host(
        crowded):
    """2 CPUs: the owner, busy, computes on one; one worker on the other."""
    broker, a_main, a_side, takers = crowded
    a_side.send(_tasks(b"a", *range(1, 9), computes=True))
    broker.step(0.05)
    first = _served(takers)
    assert list(map(len, first.values())) == [2]        # credit 2
    assert len(broker.pool) == 6                        # they wait
    holder = next(iter(first))
    _results_of(takers[holder], first[holder], credit=2)   # asks again:
    broker.step(0.05)                                      # keeps its seat
    again = _served(takers)
    assert list(again) == [holder] and len(again[holder]) == 2
    _results_of(takers[holder], again[holder])     # done, asks no more:
    broker.step(0.05)                              # another takes the CPU
    then = _served(takers)
    assert len(then) == 1 and holder not in then
    _only(a_main, P.RESULTS)


def test_tasks_that_wait_go_to_every_idle_worker_of_a_crowded_host(crowded):
    broker, _, a_side, takers = crowded
    a_side.send(_tasks(b"a", *range(1, 7)))
    broker.step(0.05)
    assert sorted(map(len, _served(takers).values())) == [2, 2, 2]


def test_a_crowded_hosts_waiting_tasks_go_home_to_their_owner(crowded):
    broker, a_main, a_side, takers = crowded
    a_side.send(_tasks(b"a", *range(1, 9), computes=True))
    broker.step(0.05)
    assert len(_served(takers)) == 1
    a_main.send([P.header(P.REQUEST), P.pack(8)])   # the owner is idle:
    broker.step(0.05)                              # its CPU is free too
    assert sorted(map(len, _served(takers).values())) == [2]
    home = _only(a_main, P.TASKS)
    assert [e[1] for e in P.unpack(home[0][1])] == [5, 6, 7, 8]
    assert not broker.pool


def test_a_seat_is_not_a_cpu_once_the_owner_is_back_at_work(crowded):
    """Two workers were seated while the owner waited; it takes its
    request back and computes again: one of them gets its next tasks,
    the other waits for a CPU though seated."""
    broker, a_main, a_side, takers = crowded
    a_side.send(_tasks(b"a", *range(1, 7), computes=True))
    broker.step(0.05)
    a_main.send([P.header(P.REQUEST), P.pack(2)])   # the owner waits:
    broker.step(0.05)                              # a second seat
    first = _served(takers)
    assert sorted(map(len, first.values())) == [2, 2]
    assert len(_only(a_main, P.TASKS)) == 1         # and two go home
    for holder, seqs in first.items():              # both ask again
        _results_of(takers[holder], seqs, credit=2)
    a_main.send([P.header(P.REQUEST), P.pack(2)])   # so does the owner
    broker.step(0.05)
    a_main.send([P.header(P.REQUEST), P.pack(0)])   # back at work
    a_side.send(_tasks(b"a", *range(7, 15), computes=True))
    broker.step(0.05)
    then = _served(takers)
    assert list(map(len, then.values())) == [2] and set(then) <= set(first)
    assert len(broker.pool) == 6
    _only(a_main, P.RESULTS)


def test_an_owner_that_joined_late_takes_its_own_back_on_a_full_host(rig):
    """The owner's own tasks go home when nobody else may take them,
    wherever it stands among the workers that ask."""
    broker, worker = rig
    broker.size = 3
    b_main, _ = worker(b"b", announce=False, cpus=1)
    c_main, _ = worker(b"c", announce=False, cpus=1)
    a_main, a_side = worker(b"a", cpus=1)
    for end in (b_main, c_main):
        end.send([P.header(P.REQUEST), P.pack(2)])
    broker.step(0.05)
    assert P.kind_of(a_side.recv(1)) == P.STEAL
    a_side.send(_tasks(b"a", 1, 2, 3, 4, computes=True))
    broker.step(0.05)                   # the owner computes: none may go
    assert not _served([b_main, c_main]) and len(broker.pool) == 4
    a_main.send([P.header(P.REQUEST), P.pack(2)])   # now it waits
    broker.step(0.05)
    assert list(map(len, _served([b_main, c_main]).values())) == [2]
    home = _only(a_main, P.TASKS)
    assert [e[1] for e in P.unpack(home[0][1])] == [3, 4]
    assert not broker.pool


def test_a_lost_workers_cpu_goes_to_another(crowded):
    broker, _, a_side, takers = crowded
    a_side.send(_tasks(b"a", *range(1, 5), computes=True))
    broker.step(0.05)
    first = _served(takers)
    lost = next(iter(first))
    broker.lose(b"bcd"[lost:lost + 1], "it exited with code 1")
    broker.step(0.05)
    then = _served(takers)      # its two tasks run again, on another
    assert len(then) == 1 and lost not in then
    assert sorted(next(iter(then.values()))) == sorted(first[lost])


def _sizes(end):
    """The (workers, CPUs) of the SIZE messages ``end`` got."""
    return [(P.unpack(f[1]), P.unpack(f[2])) for f in _only(end, P.SIZE)]


def test_workers_hear_how_many_cpus_the_jobs_workers_have(rig,
                                                          monkeypatch):
    """2 CPUs for 4 workers on one host, 1 for another worker: 3 CPUs.
    The count is told as it changes, at most every TELL_CPUS_EVERY."""
    broker, worker = rig
    clock = [time.monotonic()]
    monkeypatch.setattr(broker_mod.time, "monotonic", lambda: clock[0])
    broker.resize(5)
    ends = [worker(name, announce=False, cpus=2)[0]
            for name in (b"a", b"b", b"c", b"d")]
    assert P.unpack(worker.welcomes[b"d"][1])["cpus"] == 5 - 2
    assert _sizes(ends[0]) == []             # told at most every ...
    clock[0] += broker_mod.TELL_CPUS_EVERY
    broker.step(0)
    assert _sizes(ends[0]) == [(5, 3)]
    broker.lose(b"d", "it exited with code 1")   # b, c and a: 1 too many
    assert _sizes(ends[0]) == [(4, 3)]
    broker.lose(b"c", "it exited with code 1")
    assert _sizes(ends[0]) == [(3, 3)]


def test_a_sub_brokers_workers_beyond_their_cpus_count_too(rig):
    broker, _ = rig
    context = rig[1].context
    node = SignedEndpoint(ZmqEndpoint(context, "inproc://broker", b"n1"),
                          TOKEN)
    node.send([P.header(P.HELLO), P.pack({"name": "n1", "pid": 7,
                                          "host": "h", "node": True})])
    broker.resize(10)
    broker.step(0.05)
    node.send([P.header(P.STATS), P.pack((0, 0, 6))])   # 8 on 2 CPUs
    broker.step(0.05)
    assert broker.cpus() == 4
    broker.lose(b"n1", "it exited with code 1")
    assert broker.cpus() == broker.size
    node.close()
