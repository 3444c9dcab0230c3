"""Who asks for work, by host: crowding.Hosts on the broker's records."""
import pytest

from scoop_hpc.broker import _Worker
from scoop_hpc.crowding import Hosts

pytestmark = pytest.mark.timeout(20)


def _join(hosts, name, cpus=2, host="n1"):
    info = {"name": name, "host": host}
    if cpus:
        info["cpus"] = cpus
    worker = _Worker(name.encode(), info)
    hosts.join(worker)
    return worker


def test_the_latest_to_ask_is_served_first():
    hosts = Hosts()
    a, b, c = (_join(hosts, name) for name in "abc")
    for worker in (a, b, c):
        hosts.ask(worker, 2)
    assert hosts.taker(b"w0", False, set(), {}) is c
    assert hosts.taker(b"w0", True, set(), {}) is c
    hosts.ask(a, 8)                         # asks again: now the latest
    assert list(hosts.asking) == [b, c, a] and hosts.credit == 12
    assert hosts.taker(b"w0", True, set(), {}) is a
    assert hosts.taker(b"a", True, set(), {}) is c   # not its owner
    hosts.ask(b, 0)                         # served
    hosts.leave(c)                          # lost
    assert list(hosts.asking) == [a] and hosts.credit == 8
    assert list(a.place.asking) == [a] and c.credit == 0


def test_on_a_full_host_only_seated_workers_that_compute_take_more():
    """Two CPUs, the owner busy and one worker holding marked tasks:
    of 200 workers that ask, the holder is the taker."""
    hosts = Hosts()
    owner = _join(hosts, "w0")
    waiting = [_join(hosts, f"w{i}") for i in range(1, 200)]
    holder = _join(hosts, "w200")
    hosts.own(owner)
    for worker in waiting:
        hosts.ask(worker, 2)
    hosts.hold(holder, 2)
    full = hosts.full_places()
    assert full == {holder.place}
    assert hosts.taker(b"w0", True, full, {}) is None   # all must wait
    assert list(hosts.unblocked(full)) == []
    hosts.ask(holder, 2)                    # it asks ahead: seated
    assert hosts.taker(b"w0", True, full, {}) is holder
    assert list(hosts.unblocked(full)) == [holder]
    assert hosts.taker(b"w0", False, full, {}) is holder  # the latest


def test_a_seat_follows_the_tasks_held_and_the_request():
    hosts = Hosts()
    worker = _join(hosts, "a")
    place = worker.place
    hosts.hold(worker, 1)
    hosts.ask(worker, 2)
    assert list(place.asking_seated) == [worker]
    hosts.ask(worker, 0)                    # served, still holding
    hosts.release(worker, 1)                # asks for nothing: no seat
    assert not worker.seated and not place.asking_seated
    hosts.hold(worker, 1)
    hosts.release(worker, 1)
    hosts.ask(worker, 2)                    # asks again, unseated
    assert list(place.asking) == [worker] and not place.asking_seated


def test_workers_counted_on_no_host_take_tasks_that_compute():
    hosts = Hosts()
    node = _join(hosts, "sub", cpus=0)      # a sub-broker: no host count
    hosts.ask(node, 4)
    assert node.place is None and list(hosts.unplaced) == [node]
    assert hosts.taker(b"w0", True, set(), {}) is node
    hosts.leave(node)
    assert not hosts.unplaced and hosts.credit == 0
