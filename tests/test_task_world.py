"""What a task's code meets on a worker besides its arguments: standard
input, processes it starts with multiprocessing, the environment."""
from __future__ import annotations

import os

import pytest

from .conftest import launch

pytestmark = pytest.mark.timeout(60)

STDIN = """
    import sys, time
    import scoop_hpc
    from scoop_hpc import futures

    def ask(i):
        if scoop_hpc.WORKER_NAME == "w0":    # the program's stdin
            time.sleep(0.5)
            return "root"
        time.sleep(0.1)
        try:
            return input()
        except EOFError:
            return "EOF"

    if __name__ == "__main__":
        print("root read", sys.stdin.readline().strip())
        print(sorted(set(futures.map(ask, range(8)))))
"""


def test_workers_but_the_root_read_stdin_from_dev_null(program):
    """The root reads the launcher's stdin, as the program would; a task
    on another worker reads end-of-file, as on remote hosts and in a
    ``ProcessPoolExecutor``, instead of waiting for the next line of a
    terminal (or of a pipe that stays open) forever."""
    read, write = os.pipe()
    try:
        os.write(write, b"first line\n")
        run = launch(["-n", "2", program(STDIN)], stdin=read, timeout=20)
    finally:
        os.close(read)
        os.close(write)
    assert run.returncode == 0, run
    assert run.stdout == "root read first line\n['EOF', 'root']\n", run
