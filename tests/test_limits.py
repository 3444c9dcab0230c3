"""Resources over a job's life: file descriptors each process holds,
the open-files limit, and what long runs leave behind."""
from __future__ import annotations

import os

import pytest

from .conftest import PYTHON, launch, run_watched, scratch_tmpdir

pytestmark = pytest.mark.timeout(120)

# The root compares what every worker (the launcher's children) holds
# with what the launcher holds.
FDS = """
    import contextlib
    import os
    import psutil
    from scoop_hpc import futures

    def square(x):
        return x * x

    def held(pid):
        out = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):    # closed meanwhile
                out.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
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


PMI = """
    import os
    from scoop_hpc import futures

    def pmi(_):
        fd = os.environ.get("PMI_FD")
        held = fd is not None and os.path.exists(f"/proc/self/fd/{fd}")
        return fd if fd is None else (fd, held)

    if __name__ == "__main__":
        print("pmi", set(futures.map(pmi, range(20))), pmi(0))
"""


def test_a_worker_is_not_told_of_the_pmi_connection_it_does_not_hold(
        program):
    """Under ``srun --mpi=pmi2`` (and Hydra's mpiexec) the launcher holds
    its PMI connection as descriptor ``PMI_FD``; a worker closes it, so a
    task that loaded mpi4py wrote PMI's init to a closed descriptor (or
    to the one of its own sockets that got the number) and aborted the
    job. Without ``PMI_FD`` a worker's MPI starts on its own (a
    singleton)."""
    environ = dict(os.environ, PYTHONUNBUFFERED="1")
    with scratch_tmpdir(environ):
        run = run_watched(
            ["bash", "-c", f'exec 9</dev/null; PMI_FD=9 exec "$0" -m '
                           f'scoop_hpc -n 3 {program(PMI)}', PYTHON],
            env=environ)
    assert run.returncode == 0, run
    assert "pmi {None} None" in run.stdout, run


SUM = """
    from scoop_hpc import futures

    def square(x):
        return x * x

    if __name__ == "__main__":
        print("sum", sum(futures.map(square, range(1000))))
"""


def _limited(soft: int, hard: int, args: list) -> list:
    """The launcher's command line ``args`` under ``ulimit -n``."""
    return [PYTHON, "-c",
            "import os, resource, sys; resource.setrlimit("
            f"resource.RLIMIT_NOFILE, ({soft}, {hard})); os.execv("
            "sys.executable, [sys.executable, '-m', 'scoop_hpc', "
            "*sys.argv[1:]])", *args]


def test_the_launcher_raises_a_low_soft_limit_of_open_files(program):
    """40 workers need about 150 descriptors in the launcher: under
    ``ulimit -Sn 48`` libzmq aborted it (SIGABRT); the launcher now raises
    its soft limit up to the hard one."""
    environ = dict(os.environ)
    with scratch_tmpdir(environ):
        run = run_watched(_limited(48, 4096, ["-n", "40", program(SUM)]),
                          env=environ)
    assert run.returncode == 0, run
    assert "sum 332833500" in run.stdout, run


def test_a_hard_limit_of_open_files_too_low_is_named_before_start(program):
    """When the hard limit is too low the launcher says so, with what to
    do, and starts nothing (exit code 2, as for a usage error)."""
    environ = dict(os.environ)
    with scratch_tmpdir(environ):
        run = run_watched(_limited(48, 48, ["-n", "40", program(SUM)]),
                          env=environ)
    assert run.returncode == 2, run
    assert not run.pids, run
    assert "need about 144 open files, but the limit is 48 (ulimit -n) " \
           "and cannot be raised past 48" in run.stderr, run
    assert "ulimit -n 144" in run.stderr, run
    assert "Too many open files" not in run.stderr, run


# Growth over rounds, after a warm-up, in objects the root's collector
# tracks: a table that keeps one entry a round grows by thousands.
GROWTH = """
    import gc
    import sys
    from scoop_hpc import futures, shared

    def one_round(r):
        shared.getConst(f"missing{r}", timeout=0)

    if __name__ == "__main__":
        rounds = int(sys.argv[1])
        for r in range(100):
            one_round(-r)
        gc.collect()
        before = len(gc.get_objects())
        for r in range(rounds):
            one_round(r)
        gc.collect()
        print("growth", len(gc.get_objects()) - before)
"""


def test_polling_constants_that_never_come_keeps_nothing(program):
    """``getConst(name, timeout)`` of a name nobody defines left an entry
    behind for each name: 20,000 polls of new names grew the root by
    20,000 objects (3.2 MB)."""
    run = launch(["-n", "2", program(GROWTH), "20000"])
    assert run.returncode == 0, run
    assert int(run.stdout.split()[1]) < 2000, run


TIMELINE = """
    import tracemalloc
    from scoop_hpc import futures

    def nothing(x):
        return x

    def tasks(count):
        futures.wait([futures.submit(nothing, i) for i in range(count)])

    if __name__ == "__main__":
        tasks(1000)
        tracemalloc.start()
        for _ in range(10):
            tasks(5000)
        print("bytes", tracemalloc.get_traced_memory()[0])
"""


def test_timeline_records_take_tens_of_bytes_a_task(program, tmp_path):
    """Under ``--timeline`` a worker keeps a record of every task until
    it leaves: a tuple with a name of its own, 130 bytes a task (1.3 GB
    for ten million tasks); now about 20."""
    trace = tmp_path / "run.json"
    run = launch(["-n", "1", "--timeline", trace, program(TIMELINE)])
    assert run.returncode == 0, run
    assert int(run.stdout.split()[1]) < 50 * 50_000, run
    assert trace.stat().st_size > 50 * 50_000, run    # every task is there
