"""Resources over a job's life: file descriptors each process holds,
the open-files limit, and what long runs leave behind."""
from __future__ import annotations

import pytest

from .conftest import launch

pytestmark = pytest.mark.timeout(120)

# The root compares what every worker (the launcher's children) holds
# with what the launcher holds.
FDS = """
    import os
    import psutil
    from scoop_hpc import futures

    def square(x):
        return x * x

    def held(pid):
        out = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                out.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except OSError:
                pass
        return {each for each in out if each.startswith("socket:")}

    if __name__ == "__main__":
        assert sum(futures.map(square, range(2000))) > 0
        launcher = psutil.Process().parent()
        workers = launcher.children()
        shared = set()
        for worker in workers:
            shared |= held(worker.pid) & held(launcher.pid)
        fds = sorted(w.num_fds() for w in workers)
        print("fds", len(fds), fds[0], fds[-1], "shared", len(shared))
"""


def test_a_worker_holds_none_of_the_launchers_sockets(program):
    """A worker keeps none of its parent's descriptors: not the broker's
    socket, nor its connections to the workers forked before it (which
    gave the last of 64 workers 138 descriptors where the first had
    22)."""
    run = launch(["-n", "12", program(FDS)])
    assert run.returncode == 0, run
    words = run.stdout.split()
    count, fewest, most = map(int, words[1:4])
    assert count == 12, run
    assert words[4:] == ["shared", "0"], run
    assert most <= fewest + 4, run
