"""The pace of a hub: credit, steals and result batching from durations."""
import functools
import time

import pytest

from scoop_hpc._runtime import cpuclock, pace
from scoop_hpc._runtime.pace import Pace


def quick(x):
    return x


def slow(x):
    return x


def test_a_new_worker_asks_for_little_and_gives_half():
    p = Pace()
    assert p.credit() == pace.PREFETCH
    assert p.give(2, 100) == 50
    assert not p.quick(quick)


@pytest.mark.parametrize("seconds, credit", [
    (1e-7, pace.MAX_CREDIT), (1e-4, 20), (5e-4, 4), (0.01, pace.PREFETCH)])
def test_credit_holds_about_hold_seconds_of_work(seconds, credit):
    p = Pace()
    for _ in range(100):
        p.record(quick, seconds)
    assert p.credit() == credit


def test_short_tasks_stay_where_they_were_submitted():
    p = Pace()
    for _ in range(50):
        p.record(quick, 1e-5)
    assert p.short and p.give(64, 10_000) == 64
    for _ in range(50):
        p.record(slow, 0.5)
    assert not p.short and p.give(2, 10_000) == 5000


def test_quick_is_per_function_and_follows_the_latest_durations():
    p = Pace()
    for _ in range(50):
        p.record(quick, 1e-5)
    assert p.quick(quick) and not p.quick(slow)
    p.record(quick, 1.0)          # one slow call: no longer known quick
    assert not p.quick(quick)


def test_closures_and_partials_share_a_name_and_the_table_is_bounded():
    p = Pace()
    for i in range(1000):
        p.record(lambda x: x, 1e-5)           # a new object each time
        p.record(functools.partial(quick, i), 1e-5)
    assert p.quick(lambda y: y) and p.quick(functools.partial(slow, 1))
    for i in range(2 * pace._MAX_KINDS):
        p.record(type(f"T{i}", (), {}), 1e-5)
    assert len(p._kinds) <= pace._MAX_KINDS


@pytest.mark.parametrize("seconds, ahead", [
    (None, False), (1e-4, False), (0.005, True), (0.5, False)])
def test_ask_ahead_only_for_tasks_of_milliseconds(seconds, ahead):
    p = Pace()
    if seconds is not None:
        for _ in range(20):
            p.record(slow, seconds)
    assert p.ahead(slow) is ahead


def test_a_function_computes_once_its_tasks_demanded_a_cpu_most_of_the_time():
    p = Pace()
    assert not p.computes(quick)          # not seen: not marked
    p.note_busy(quick, 0.004, 0.0039)
    p.note_busy(slow, 0.3, 0.001)
    assert p.computes(quick) and not p.computes(slow)
    for _ in range(4):                    # it lost the CPU a while
        p.note_busy(quick, 0.004, 0.001)
    assert p.computes(quick)
    for _ in range(8):                    # its tasks began to wait
        p.note_busy(quick, 0.3, 0.001)
    assert not p.computes(quick)


def test_a_threads_cpu_demand_counts_running_not_sleeping():
    start = cpuclock.demand()
    end = time.thread_time() + 0.02
    while time.thread_time() < end:
        pass
    spun = cpuclock.demand() - start
    time.sleep(0.05)
    slept = cpuclock.demand() - start - spun
    assert spun >= 0.02 and slept < 0.01


def test_a_thread_that_never_blocked_demanded_a_cpu_all_along():
    """Its whole wall time counts, though a host that takes its virtual
    CPU away for a while shows that time in no counter; a thread that
    slept counts its CPU time and run-queue wait only."""
    start = cpuclock.mark()
    end = time.thread_time() + 0.001   # under the GIL's switch interval
    while time.thread_time() < end:
        pass
    assert cpuclock.since(start, 1.0) == 1.0
    start = cpuclock.mark()
    time.sleep(0.05)
    assert cpuclock.since(start, 0.05) < 0.01
