"""Programs that tasks start: they get the usual signal dispositions (a
worker's own ignoring of SIGINT and SIGTERM is not inherited), and they
end with the job, whether their worker is killed or leaves when told to
(``launch`` fails a test whose job leaves any process behind)."""
from __future__ import annotations

import pytest

from .conftest import launch

pytestmark = pytest.mark.timeout(60)

CHILDREN = """
    import os, subprocess, sys, time
    import scoop_hpc
    from scoop_hpc import futures

    def terminated(i):
        child = subprocess.Popen(["sleep", "30"])
        child.terminate()
        return child.wait(timeout=5)

    def daemon(i):              # returns, its program left running
        subprocess.Popen(["sleep", "60"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
        return i

    def sleeper(i):
        child = subprocess.Popen(["sleep", "60"])
        open(os.path.join(sys.argv[1], f"started-{i}"), "w").close()
        child.wait()

    if __name__ == "__main__":
        print("root", terminated(0))
        codes = futures.map(terminated, range(6), timeout=20)
        print("tasks", sorted(set(codes)))
        subprocess.Popen(["sleep", "60"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)   # the root's own
        list(futures.map(daemon, range(4), timeout=20))
        running = [futures.submit(sleeper, i) for i in range(2)]
        futures.wait(running, timeout=0.2)  # left to the other workers
        while len(os.listdir(sys.argv[1])) < 2:
            time.sleep(0.02)
"""


def test_a_tasks_programs_take_signals_and_end_with_the_job(program,
                                                             tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    run = launch(["-n", "3", program(CHILDREN), str(marks)])
    assert run.returncode == 0, run
    assert run.stdout == "root -15\ntasks [-15]\n", run


FORKED = """
    import multiprocessing, os, signal, time
    from scoop_hpc import futures

    def forked(i):          # a child forked by the task, not exec'd
        ready, go = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.write(go, b"up")
            time.sleep(3)
            os._exit(0)
        os.read(ready, 2)
        os.kill(pid, signal.SIGTERM)
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

    def pool(i):            # its exit terminates the pool's workers
        with multiprocessing.get_context("fork").Pool(2) as workers:
            workers.map_async(time.sleep, [30, 30])
            time.sleep(0.3)
        return "ended"

    if __name__ == "__main__":
        print("forked", sorted(set(futures.map(forked, range(4)))))
        print("pool", sorted(set(futures.map(pool, range(4)))))
"""


@pytest.mark.timeout(40)
def test_processes_a_task_forks_take_sigterm(program):
    """A process forked by a task (``os.fork``, a ``multiprocessing``
    pool) gets Python's signal handlers back: with the worker's own,
    SIGTERM did nothing, and leaving a ``Pool`` block waited forever
    for its workers."""
    run = launch(["-n", "2", program(FORKED)], timeout=25)
    assert run.returncode == 0, run
    assert run.stdout == "forked [-15]\npool ['ended']\n", run


RETURNING = """
    import os
    from scoop_hpc import futures

    def forks(i):           # the child forgets os._exit
        pid = os.fork()
        if pid == 0:
            return "child"
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

    if __name__ == "__main__":
        print(sorted(set(futures.map(forks, range(4)))))
        print(futures.submit(forks, 0).result())
"""


@pytest.mark.timeout(40)
def test_a_forked_child_that_returns_from_its_task_leaves(program):
    """A child forked in a task that returns from the task (no
    ``os._exit``) went on as a copy of its worker, on its connections:
    the job hung. It now says so and exits with code 70."""
    run = launch(["-n", "2", program(RETURNING)], timeout=25)
    assert run.returncode == 0, run
    assert run.stdout == "[70]\n70\n", run
    assert "a child forked in a task must end with os._exit()" \
        in run.stderr, run
