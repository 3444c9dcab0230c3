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
