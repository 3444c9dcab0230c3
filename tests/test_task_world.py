"""What a task's code meets on a worker besides its arguments: standard
input, processes it starts with multiprocessing, the environment."""
from __future__ import annotations

import json
import os

import pytest

from scoop_hpc.threadcaps import VARIABLES

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


SPAWN = """
    import multiprocessing, sys, time
    from concurrent.futures import ProcessPoolExecutor
    import scoop_hpc
    from scoop_hpc import futures

    class Point:
        def __init__(self, x):
            self.x = x

    def norm(point):
        return point.x * point.x

    def pool(i):
        time.sleep(0.3)
        context = multiprocessing.get_context(sys.argv[1])
        with ProcessPoolExecutor(2, mp_context=context) as pool:
            total = sum(pool.map(norm, [Point(x) for x in range(4)]))
        return scoop_hpc.WORKER_NAME, total

    if __name__ == "__main__":
        done = list(futures.map(pool, range(6)))
        print(sorted({total for _, total in done}),
              len({name for name, _ in done} - {"w0"}) > 0)
"""


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_a_spawned_pool_in_a_task_finds_the_programs_names(program,
                                                            method):
    """A process that a task starts with the spawn or forkserver method
    (macOS's default, Linux's from Python 3.14) resolves what the
    program defines: on a worker other than the root, that is
    ``SCOOP_WORKER.name``, which it did not know (the pool broke)."""
    run = launch(["-n", "3", program(SPAWN), method], timeout=45)
    assert run.returncode == 0, run
    assert run.stdout == "[14] True\n", run


THREADS = """
    import json, os, socket, sys, time
    from scoop_hpc import futures
    from scoop_hpc.threadcaps import VARIABLES

    def seen(i):
        time.sleep(0.1)
        return (socket.gethostname(), len(os.sched_getaffinity(0)),
                tuple(os.environ.get(name) for name in VARIABLES))

    if __name__ == "__main__":
        tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 20
        print(json.dumps(sorted(set(futures.map(seen, range(tasks))))))
"""


@pytest.mark.parametrize("options, env, expect", [
    ([], {}, "share"),                          # CPUs // 2 workers
    ([], {"OMP_NUM_THREADS": "3"}, "user"),     # the user's choice
    (["--threads-per-worker", "5"], {"OMP_NUM_THREADS": "3"}, "5"),
    (["--threads-per-worker", "off"], {}, "unset"),
])
def test_workers_cap_the_threads_of_numeric_libraries(program, options,
                                                       env, expect,
                                                       monkeypatch):
    """Each worker's BLAS and OpenMP get its share of the host's CPUs
    (N workers on N CPUs ran N x N threads), unless the environment
    sets one of the variables; --threads-per-worker N or off."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    run = launch(["-n", "2", *options, program(THREADS)], env=env)
    assert run.returncode == 0, run
    [(_, cpus, values)] = json.loads(run.stdout)
    wanted = {"share": [str(max(cpus // 2, 1))] * len(VARIABLES),
              "user": ["3"] + [None] * (len(VARIABLES) - 1),
              "5": ["5"] * len(VARIABLES),
              "unset": [None] * len(VARIABLES)}[expect]
    assert values == wanted, run
