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


MANY_LINES = """
    from scoop_hpc import futures

    def chatter(i):
        for k in range(1500):
            print(f"{i}:" + "abcdefghijklmnopqrstuvwxyz"[i % 26] * 60)
        return i

    if __name__ == "__main__":
        print(sum(futures.map(chatter, range(4))))
"""


@pytest.mark.parametrize("unbuffered", ["", "1"])
def test_lines_of_workers_printing_at_once_come_whole(program, unbuffered):
    """Each print is one write(2): another worker's line cannot come into
    it, with PYTHONUNBUFFERED set too (where Python writes the newline of
    a print apart)."""
    run = launch(["-n", "2", program(MANY_LINES)],
                 env={"PYTHONUNBUFFERED": unbuffered})
    assert run.returncode == 0, run
    lines = run.stdout.splitlines()
    assert lines[-1] == "6" and len(lines) == 4 * 1500 + 1, lines[-3:]
    broken = [line for line in lines[:-1]
              if len(line) != 62 or line[2:] != line[2] * 60]
    assert not broken, broken[:3]
