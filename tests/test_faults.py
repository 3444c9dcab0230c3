"""Faults during a run: workers killed or stopped, the root or the
launcher lost, walltime signals. Each test runs the real launcher and
checks that the answer is the serial one, that the run ends, and that no
process is left behind (tests/README.md records the figures)."""
import contextlib
import os
import random
import re
import signal
import subprocess
import time

import psutil
import pytest

from .conftest import (
    PYTHON,
    alive,
    assert_no_orphans,
    launch,
    scratch_tmpdir,
    wait_gone,
)

pytestmark = pytest.mark.timeout(120)

MAP = """
    import os, time
    from scoop_hpc import futures
    def square(x):
        time.sleep(0.001)
        return x * x
    if __name__ == "__main__":
        print("root", os.getpid(), flush=True)
        got = list(futures.map(square, range(10000)))
        print(got == [x * x for x in range(10000)], sum(got))
"""

TREE = """
    import os, time
    from scoop_hpc import futures
    def node(depth):
        if depth == 0:
            time.sleep(0.004)
            return 1
        return sum(futures.map(node, [depth - 1] * 2))
    if __name__ == "__main__":
        print("root", os.getpid(), flush=True)
        print(node(11))
"""


class Job:
    """A launcher run whose workers a test may signal while it runs."""

    def __init__(self, path, *options, argv=(), env=None) -> None:
        environ = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "scoop_hpc", *options, str(path), *argv],
            env=environ,
            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.family: set = set()
        self.start = time.monotonic()
        line = self.proc.stdout.readline()
        assert line.startswith("root "), (line, self.proc.stderr.read())
        self.root = int(line.split()[1])

    def workers(self) -> set:
        """The live local workers other than the root."""
        try:
            kids = {p.pid for p in psutil.Process(self.proc.pid).children()}
        except psutil.NoSuchProcess:
            return set()
        self.family |= kids
        return alive(kids) - {self.root}

    def finish(self, timeout: float = 90.0):
        """Wait for the end; return ``(code, stdout, stderr, seconds)``."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        finally:
            for pid in alive(self.family | {self.proc.pid}):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.communicate()
        assert_no_orphans(self.family)
        return (self.proc.returncode, out, err,
                time.monotonic() - self.start)


def kill_randomly(job: Job, kills: int, every: float, seed: int) -> list:
    """SIGKILL ``kills`` random non-root workers, one each ``every`` s,
    always leaving one alive; return the pids killed."""
    rng = random.Random(seed)
    killed = []
    due = time.monotonic() + every
    while job.proc.poll() is None and len(killed) < kills:
        workers = job.workers()
        if time.monotonic() >= due and len(workers) > 1:
            victim = rng.choice(sorted(workers))
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)
            due += every
        time.sleep(0.01)
    return killed


@pytest.mark.parametrize("seed", [1, 2])
def test_a_map_of_10000_items_survives_random_sigkills(program, seed):
    job = Job(program(MAP), "-n", "6", "--retries", "4", "-v")
    killed = kill_randomly(job, 4, 0.3, seed)
    code, out, err, _ = job.finish()
    expected = sum(x * x for x in range(10000))
    assert (code, out) == (0, f"True {expected}\n"), err
    assert len(killed) == 4, err
    assert err.count("is lost: it was killed by SIGKILL") == 4, err
    # the summary counts the faults as the log reported them
    again = sum(int(n) for n in re.findall(r"; (\d+) of its tasks run again",
                                           err))
    assert (f"faults: 4 workers lost, {again} tasks run again, 0 given up"
            in err), err


@pytest.mark.parametrize("seed", [1, 2])
def test_a_nested_tree_survives_random_sigkills(program, seed):
    job = Job(program(TREE), "-n", "6", "--retries", "4")
    killed = kill_randomly(job, 4, 0.3, seed)
    code, out, err, _ = job.finish()
    assert (code, out) == (0, "2048\n"), err
    assert len(killed) == 4, err
    assert err.count("is lost: it was killed by SIGKILL") == 4, err


def test_a_stopped_worker_is_lost_and_its_tasks_replayed(program):
    job = Job(program(MAP), "-n", "3", "--heartbeat-timeout", "2")
    time.sleep(0.5)
    victim = min(job.workers())
    os.kill(victim, signal.SIGSTOP)
    code, out, err, _ = job.finish()
    expected = sum(x * x for x in range(10000))
    assert (code, out) == (0, f"True {expected}\n"), err
    assert f"(pid {victim} on host" in err, err
    assert "is lost: no heartbeat for 2." in err, err


def test_the_roots_loss_ends_the_job_with_a_message(program):
    job = Job(program(MAP), "-n", "3")
    job.workers()
    time.sleep(0.3)
    os.kill(job.root, signal.SIGKILL)
    code, _, err, seconds = job.finish()
    assert code == 128 + signal.SIGKILL
    assert f"worker w0 (pid {job.root}) was killed by SIGKILL" in err, err
    assert "the job ends" in err and seconds < 15


def test_a_stopped_launcher_keeps_its_workers_and_a_killed_one_ends_them(
        program):
    """The launcher's own workers die with it (``PR_SET_PDEATHSIG``): they
    wait while it is stopped, past the heartbeat timeout, and hear no
    answers to their beats, nor need any; killed, it takes them along.
    (Workers of other hosts leave when it stops answering: ``test_ssh``.)"""
    env: dict = {}
    with scratch_tmpdir(env, check=False):   # SIGKILL: no clean-up
        job = Job(program(TREE.replace("node(11)", "node(40)")), "-n", "3",
                  "--heartbeat-timeout", "2", env=env)
        workers = job.workers() | {job.root}
        os.kill(job.proc.pid, signal.SIGSTOP)
        try:
            time.sleep(4)
            assert alive(workers) == workers
        finally:
            os.kill(job.proc.pid, signal.SIGKILL)
            os.kill(job.proc.pid, signal.SIGCONT)
        assert not wait_gone(workers, 5)
        _, _, err, _ = job.finish()
    assert "heard nothing from the broker" not in err, err


DRAINED = """
    import os, sys, time
    from scoop_hpc import futures
    def slow(x):
        open(os.path.join(sys.argv[1], f"start-{x}"), "w").close()
        time.sleep(1.5)
        open(os.path.join(sys.argv[1], f"done-{x}"), "w").close()
        return x
    if __name__ == "__main__":
        print("root", os.getpid(), flush=True)
        print(list(futures.map(slow, range(30))))
"""


@pytest.mark.parametrize("sig, everyone, options", [
    (signal.SIGTERM, False, ()),
    (signal.SIGTERM, True, ()),        # a batch system's walltime, scancel
    (signal.SIGUSR1, True, ("--drain-signal", "USR1")),
])
def test_a_drained_job_finishes_running_tasks_then_stops(
        program, tmp_path, sig, everyone, options):
    job = Job(program(DRAINED), "-n", "3", "--drain-grace", "4", *options,
              argv=[str(tmp_path)])
    time.sleep(0.8)                      # every worker runs a task
    targets = job.workers() | {job.root} if everyone else set()
    for pid in targets | {job.proc.pid}:
        os.kill(pid, sig)
    code, out, err, seconds = job.finish()
    started = {p.name[6:] for p in tmp_path.glob("start-*")}
    done = {p.name[5:] for p in tmp_path.glob("done-*")}
    assert code == 128 + sig and out == "", err
    assert started == done and 1 <= len(done) <= 6, (started, done)
    assert f"received {signal.Signals(sig).name}: draining" in err
    assert f"the job was stopped by {signal.Signals(sig).name}" in err, err
    assert seconds < 15


def test_slurm_job_end_time_drains_ahead_of_the_end(program, tmp_path):
    end = time.time() + 15 + 2 + 1.5      # margin, grace, then 1.5 s
    job = Job(program(DRAINED), "-n", "2", "--drain-grace", "2",
              argv=[str(tmp_path)], env={"SLURM_JOB_END_TIME": str(end)})
    code, _, err, seconds = job.finish()
    assert code == 128 + signal.SIGTERM, err
    assert "SLURM_JOB_END_TIME" in err and seconds < 12, err
    assert len(list(tmp_path.glob("done-*"))) < 30


STREAM = """
    import resource, sys
    from scoop_hpc import futures
    def inc(x):
        return x + 1
    def items(n):
        yield from range(n)
    if __name__ == "__main__":
        for n in (10**6, 3 * 10**6):
            total = sum(futures.map(inc, items(n)))
            assert total == n * (n + 1) // 2
            print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_a_map_over_a_generator_streams_in_bounded_memory(program):
    run = launch(["-n", "2", program(STREAM)], timeout=100)
    assert run.returncode == 0, run
    first, second = (int(kib) for kib in run.stdout.split())
    assert second - first < 8 * 1024, (first, second)   # KiB
    assert first < 100 * 1024
