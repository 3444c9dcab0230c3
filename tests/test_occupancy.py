"""How many workers of a host the broker lets hold short tasks."""
import os
from types import SimpleNamespace

import pytest

from scoop_hpc.occupancy import Occupancy, cpus_here

pytestmark = pytest.mark.timeout(10)


def _worker(name, host="a", credit=64, node=False):
    return SimpleNamespace(identity=name.encode(), host=host, credit=credit,
                           node=node)


def _joined(occupancy, count, host="a", cpus=(0, 1)):
    workers = [_worker(f"w{i}", host) for i in range(count)]
    for worker in workers:
        occupancy.join(worker, cpus)
    return workers


def _fitting(occupancy, workers):
    """Which of ``workers`` one round of matching lets through."""
    gate, fit = occupancy.gate(), []
    for worker in workers:
        if gate.fits(worker):
            gate.take(worker)
            fit.append(worker.identity)
    return fit


def test_a_crowded_host_takes_one_short_batch_per_cpu():
    occupancy = Occupancy(here="broker-host")
    workers = _joined(occupancy, 5)
    assert _fitting(occupancy, workers) == [b"w0", b"w1"]
    occupancy.served(workers[0])
    assert _fitting(occupancy, workers[1:]) == [b"w1"]
    occupancy.idle(workers[0])
    assert _fitting(occupancy, workers[1:]) == [b"w1", b"w2"]


def test_the_brokers_own_host_keeps_a_cpu_but_never_the_last():
    occupancy = Occupancy(here="a")
    workers = _joined(occupancy, 5, cpus=(0, 1, 2, 3))
    assert len(_fitting(occupancy, workers)) == 3
    lone = Occupancy(here="a")
    assert len(_fitting(lone, _joined(lone, 3, cpus=(0,)))) == 1


def test_a_host_with_a_cpu_per_worker_or_unknown_cpus_is_never_full():
    occupancy = Occupancy(here="x")
    roomy = _joined(occupancy, 2, host="a", cpus=(0, 1))
    unknown = _joined(occupancy, 5, host="b", cpus=())
    assert len(_fitting(occupancy, roomy + unknown)) == 7


def test_the_cpus_of_a_host_are_those_of_all_its_workers():
    occupancy = Occupancy(here="x")
    workers = [_worker(f"w{i}") for i in range(4)]
    for i, worker in enumerate(workers):       # bound one CPU each
        occupancy.join(worker, [i])
    assert len(_fitting(occupancy, workers)) == 4


def test_long_tasks_and_sub_brokers_always_fit():
    occupancy = Occupancy(here="x")
    workers = _joined(occupancy, 4, cpus=(0,))
    occupancy.served(workers[0])
    long_ = _worker("long", credit=2)
    node = _worker("node", credit=64, node=True)
    occupancy.join(node, (0,))                 # not counted
    assert _fitting(occupancy, [*workers[1:], long_, node]) == [
        b"long", b"node"]


def test_a_worker_that_leaves_frees_its_cpu_and_its_place():
    occupancy = Occupancy(here="x")
    workers = _joined(occupancy, 3, cpus=(0, 1))
    occupancy.served(workers[0])
    occupancy.served(workers[1])
    assert _fitting(occupancy, workers[2:]) == []
    occupancy.leave(workers[0])
    occupancy.leave(workers[1])                # now 1 worker, 2 CPUs
    assert _fitting(occupancy, workers[2:]) == [b"w2"]


def test_a_worker_reports_the_cpus_it_may_run_on():
    assert cpus_here() == sorted(os.sched_getaffinity(0))
