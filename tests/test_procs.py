"""_procs: reap collects exited workers, and only them; a forked child
dies with its parent, and can tell."""
import os
import signal
import subprocess
import sys
import time

import pytest

from scoop_hpc import _procs

pytestmark = pytest.mark.timeout(20)


def _reaped(children, seconds=5.0):
    """What ``reap`` collects within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done = _procs.reap(children)
        if done:
            return done
        time.sleep(0.01)
    return []


def test_a_running_worker_is_left_and_a_dead_one_collected():
    worker = subprocess.Popen(["sleep", "30"])
    children = {worker.pid: "w1"}
    try:
        assert _procs.reap(children) == []
        worker.kill()
        assert _reaped(children) == [(worker.pid, "w1", -signal.SIGKILL)]
        assert children == {}
    finally:
        worker.kill()


def test_a_child_that_is_not_a_worker_is_left_to_its_owner():
    worker = subprocess.Popen(["sleep", "30"])
    other = subprocess.Popen(["sh", "-c", "exit 7"])   # an ssh, say
    children = {worker.pid: "w1"}
    try:
        time.sleep(0.2)                                 # other has exited
        assert _procs.reap(children) == []
        assert other.wait(5) == 7                       # not taken from it
        assert children == {worker.pid: "w1"}
    finally:
        worker.kill()
        worker.wait()


def test_a_worker_collected_elsewhere_counts_as_killed():
    gone = subprocess.Popen(["true"])
    gone.wait()
    children = {gone.pid: "w2"}
    assert _procs.reap(children) == [(gone.pid, "w2", -signal.SIGKILL)]


def test_a_forked_child_can_tell_that_it_dies_with_its_parent():
    alone = subprocess.run(
        [sys.executable, "-c", "from scoop_hpc import _procs; "
         "print(_procs.dies_with_parent())"],
        capture_output=True, text=True, timeout=15)
    assert alone.stdout == "False\n", alone
    pid = _procs.fork(lambda: 0 if _procs.dies_with_parent() else 3,
                      os.getpid())
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
