"""What the program and its tasks print reaches the console by the line,
even from a worker killed before it could flush (a batch job's output is
a file, not a terminal: Python would buffer it)."""
from __future__ import annotations

import pytest

from .conftest import launch

pytestmark = pytest.mark.timeout(60)

# Each task prints a line (no flush), says so with a file, and runs on;
# the root ends once both said so: the busy workers are killed.
CHATTY = """
    import os, sys, time
    import scoop_hpc
    from scoop_hpc import futures

    def chatty(i):
        print("task", i, "ran on", scoop_hpc.WORKER_NAME)
        open(os.path.join(sys.argv[1], f"printed-{i}"), "w").close()
        time.sleep(30)

    if __name__ == "__main__":
        print("root starts")
        running = [futures.submit(chatty, i) for i in range(2)]
        while len(os.listdir(sys.argv[1])) < 2:
            time.sleep(0.02)
        print("root ends")
"""

BUFFERED = {"PYTHONUNBUFFERED": ""}      # as in a batch job


def test_a_killed_workers_printed_lines_are_not_lost(program, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    run = launch(["-n", "3", program(CHATTY), str(marks)], env=BUFFERED)
    assert run.returncode == 0, run
    lines = run.stdout.splitlines()
    assert lines[0] == "root starts" and lines[-1] == "root ends", run
    assert {line.rsplit(" ", 1)[0] for line in lines[1:-1]} == {
        "task 0 ran on", "task 1 ran on"}, run
