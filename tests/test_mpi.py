"""Under mpiexec: the API behaviour tests on both transports, and MPI's
own failures.

The behaviour tests of test_futures.py run again here, unchanged, against
jobs started as ``mpiexec -n N python -m scoop_hpc --transport T``: one
rank and three ranks on this host, and four ranks over node1 and node2 of
the sshd rig (``mpiexec -launcher ssh -f /tmp/rigs/mpi/hostfile``, written
by ``../shared/rigs/mpi-up.sh``). They need mpiexec beside this Python
(PyPI's ``mpich`` wheel) and mpi4py; without them they are skipped, unless
``SCOOP_HPC_RIGS=required`` (as in CI), where they fail.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from scoop_hpc.mpiworld import World, detect

from .conftest import (
    PYTHON,
    ROOT,
    assert_no_orphans,
    run_watched,
    scratch_tmpdir,
)
from .test_futures import (  # noqa: F401 - collected here, on MPI
    PROGRAM,
    collect,
    test_behaviour,
    test_exit_code_of_the_program,
    test_result_timeout_is_prompt,
    test_runtime_constants,
    test_serial_run_warns_once,
    test_work_spreads_over_workers,
)
from .test_launcher import SLEEPER

pytestmark = [pytest.mark.mpi, pytest.mark.timeout(180)]

HOSTFILE = Path("/tmp/rigs/mpi/hostfile")
HOST_RANKS = 4     # node1:2, node2:2 in the rig's hostfile


def _find_mpiexec():
    beside = Path(PYTHON).with_name("mpiexec")
    return str(beside) if os.access(beside, os.X_OK) else shutil.which(
        "mpiexec")


MPIEXEC = _find_mpiexec()
MISSING = None
if MPIEXEC is None:
    MISSING = "no mpiexec (MPI_RIG_VENV=$PWD/.venv bash ../shared/rigs/" \
              "mpi-up.sh installs PyPI's mpich)"
elif importlib.util.find_spec("mpi4py") is None:
    MISSING = "mpi4py is not installed (pip install 'scoop_hpc[mpi]')"


def _needs(reason):
    if reason is None:
        return
    if os.environ.get("SCOOP_HPC_RIGS") == "required":
        pytest.fail(f"required rig missing: {reason}")
    pytest.skip(reason)


def _hosts_missing():
    if not HOSTFILE.exists():
        return f"{HOSTFILE} is missing (../shared/rigs/mpi-up.sh)"
    try:
        done = subprocess.run(
            ["ssh", "-oBatchMode=yes", "-oConnectTimeout=3", "node1",
             "hostname"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"ssh node1 fails: {exc}"
    if done.returncode != 0:
        return "the sshd rig is not up (bash ../shared/rigs/sshd-up.sh)"
    return None


def job_pids(marker: str) -> set:
    """Pids of scoop_hpc processes, on any host, whose command line holds
    ``marker`` (the program's path): mpiexec's ranks over ssh are not its
    descendants."""
    pids = set()
    for proc in psutil.process_iter(["cmdline"]):
        line = " ".join(proc.info["cmdline"] or ())
        if marker in line and "scoop_hpc" in line and proc.pid != os.getpid():
            pids.add(proc.pid)
    return pids


def mpirun(ranks, args, *, hosts=False, transport="zmq", timeout=120.0,
           env=None, cwd=None, cleans_up=True):
    """Run ``mpiexec -n RANKS python -m scoop_hpc --transport T ARGS``;
    fail if any of its processes, here or on the rig's hosts, survives,
    or (``cleans_up``: rank 0 is not killed by another's MPI_Abort) if it
    leaves anything in its TMPDIR."""
    _needs(MISSING)
    cmd = [MPIEXEC]
    if hosts:
        _needs(_hosts_missing())
        cmd += ["-launcher", "ssh", "-f", HOSTFILE]
    cmd += ["-n", ranks, PYTHON, "-m", "scoop_hpc", "--transport",
            transport, *args]
    environ = dict(os.environ, PYTHONUNBUFFERED="1")
    environ.update(env or {})
    with scratch_tmpdir(environ, check=cleans_up):
        run = run_watched(cmd, cwd=cwd or ROOT, timeout=timeout, env=environ)
    # the program's path marks this job's processes (not its arguments:
    # "0" is in the command lines of other jobs on this machine too)
    marker = next((str(a) for a in args if str(a).endswith(".py")),
                  str(args[-1]))
    assert_no_orphans(job_pids(marker))
    return run


CONFIGS = [("zmq", 1), ("zmq", 3), ("mpi", 1), ("mpi", 3),
           ("zmq", "hosts"), ("mpi", "hosts")]


@pytest.fixture(scope="module", params=CONFIGS,
                ids=[f"{t}-{n}" for t, n in CONFIGS])
def outcome(request):
    transport, ranks = request.param
    hosts = ranks == "hosts"
    ranks = HOST_RANKS if hosts else ranks
    run = mpirun(ranks, [PROGRAM, "7"], hosts=hosts, transport=transport,
                 timeout=150)
    return collect(run, ranks)


# -- what only MPI has --------------------------------------------------------

@pytest.mark.parametrize("environ, expected", [
    ({"PMI_RANK": "1", "PMI_SIZE": "3"}, (1, 3)),
    ({"OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "4"}, (2, 4)),
    ({"PMIX_RANK": "0"}, (0, None)),
    ({"PMIX_RANK": "5", "SLURM_STEP_NUM_TASKS": "8"}, (5, 8)),
    ({"SLURM_STEP_ID": "0", "SLURM_PROCID": "3",
      "SLURM_STEP_NUM_TASKS": "4"}, (3, 4)),
    ({"SLURM_STEP_ID": "0", "SLURM_PROCID": "0",
      "SLURM_STEP_NUM_TASKS": "1"}, None),      # srun -n 1: not a job of N
    ({"SLURM_PROCID": "0", "SLURM_NTASKS": "4"}, None),  # a batch script
    ({"SLURM_STEP_ID": "0", "SLURM_PROCID": "0", "SLURM_STEP_NUM_TASKS": "1",
      "PMI_RANK": "0", "PMI_SIZE": "1"}, None),  # srun -n 1, PMI too
    ({"PATH": "/bin"}, None),
])
def test_detect_reads_the_launchers_variables(environ, expected):
    found = detect(environ)
    if expected is None:
        assert found is None
    else:
        assert isinstance(found, World)
        assert (found.rank, found.size) == expected


@pytest.mark.parametrize("variables", [
    {"PMI_RANK": "0", "PMI_SIZE": "3"},
    {"OMPI_COMM_WORLD_RANK": "0", "OMPI_COMM_WORLD_SIZE": "3"},
])
def test_launcher_and_library_mismatch_is_explained(program, variables):
    """Each process sees a world of one: an error, not three programs."""
    _needs(MISSING)
    path = program("print('the program ran')\n")
    run = run_watched([PYTHON, "-m", "scoop_hpc", path], timeout=60,
                      env=dict(os.environ, **variables))
    assert run.returncode == 1, run
    assert "the program ran" not in run.stdout
    assert "sees a world of 1" in run.stderr, run
    assert "mpiexec of the library mpi4py was built against" in run.stderr


def test_srun_without_pmi_is_explained(program):
    """srun --mpi=none starts the tasks without PMI: each sees a world of
    one, and the fix is srun's --mpi, not another mpi4py."""
    _needs(MISSING)
    path = program("print('the program ran')\n")
    run = run_watched([PYTHON, "-m", "scoop_hpc", path], timeout=60,
                      env=dict(os.environ, SLURM_STEP_ID="0",
                               SLURM_PROCID="0", SLURM_STEP_NUM_TASKS="4"))
    assert run.returncode == 1, run
    assert "the program ran" not in run.stdout
    assert ("srun started 4 tasks (SLURM_PROCID=0, SLURM_STEP_NUM_TASKS=4 "
            "(srun)), but gave them no PMI") in run.stderr, run
    assert "Start it with srun --mpi=pmi2" in run.stderr, run
    assert "reinstall mpi4py" not in run.stderr, run


def test_mismatch_speaks_once(program):
    """Only the process the launcher calls rank 0 prints the error."""
    _needs(MISSING)
    path = program("print('the program ran')\n")
    run = run_watched([PYTHON, "-m", "scoop_hpc", path], timeout=60,
                      env=dict(os.environ, PMI_RANK="2", PMI_SIZE="3"))
    assert (run.returncode, run.stdout) == (1, ""), run
    assert "sees a world" not in run.stderr


def test_one_rank_asking_for_workers_runs_the_ordinary_launcher(program):
    """``mpiexec -n 1 python -m scoop_hpc -n 2``: two forked workers."""
    path = program("""
        import scoop_hpc
        from scoop_hpc import futures
        if __name__ == "__main__":
            print(scoop_hpc.SIZE, scoop_hpc.BROKER_ADDRESS.split(":")[0])
    """)
    run = mpirun(1, ["-n", "2", path])
    assert (run.returncode, run.stdout) == (0, "2 ipc\n"), run


def test_options_that_cannot_apply_are_usage_errors(program):
    path = program("print('the program ran')\n")
    run = mpirun(3, ["-n", "2", path])
    assert run.returncode == 2, run
    assert run.stderr.count("-n 2: MPI started 3 ranks") == 1
    run = mpirun(2, ["--hosts", "a", "b", path])
    assert run.returncode == 2, run
    assert "give hosts to mpiexec" in run.stderr
    run = mpirun(2, ["--sub-brokers", "yes", path])
    assert run.returncode == 2, run
    assert "sub-brokers need the launcher's agents" in run.stderr


def test_drain_signal_is_refused(program):
    """A signal ends an MPI job at once: --drain-signal, which would
    promise a drain, is a usage error said once."""
    run = mpirun(3, ["--drain-signal", "USR1", program(
        "print('the program ran')\n")])
    assert run.returncode == 2, run
    assert run.stderr.count(
        "error: --drain-signal USR1: under an MPI launcher a signal ends "
        "the MPI job at once") == 1, run
    assert "the program ran" not in run.stdout, run


@pytest.mark.parametrize("args, env, says", [
    (["--encrypt"], {}, "--encrypt and --bind-all apply to the launcher's"),
    (["--bind-all"], {}, "--encrypt and --bind-all apply to the launcher's"),
    (["--log", "/no/such/dir/job.log"], {},
     "--log /no/such/dir/job.log: cannot write this file"),
    (["--no-such-option"], {}, "unrecognized arguments: --no-such-option"),
    ([], {"SCOOP_HPC_TRANSPORT": "tcp"},
     "SCOOP_HPC_TRANSPORT=tcp: unknown transport"),
    (["missing.py"], {}, "Path does not exist: missing.py"),
    (["-m", "no.such.mod"], {}, "No module named 'no.such.mod'"),
], ids=["encrypt", "bind-all", "log", "option", "variable", "path",
        "module"])
def test_usage_errors_are_said_once(program, args, env, says):
    """Every rank parses the command line; rank 0 alone says what is
    wrong, and every rank exits 2."""
    if args[-1:] not in (["missing.py"], ["no.such.mod"]):
        args = [*args, str(program("print('the program ran')\n"))]
    _needs(MISSING)
    cmd = [MPIEXEC, "-n", "3", PYTHON, "-m", "scoop_hpc", *args]
    environ = dict(os.environ, **env)
    with scratch_tmpdir(environ):
        run = run_watched(cmd, cwd=ROOT, timeout=60, env=environ)
    assert run.returncode == 2, run
    assert run.stderr.count(says) == 1, run
    assert run.stderr.count("usage:") == 1, run
    assert "the program ran" not in run.stdout, run


def test_a_thread_level_too_low_for_mpi_is_said_once(program):
    """--transport mpi needs MPI_THREAD_MULTIPLE: every rank sees the
    lower level, rank 0 alone says so, without a traceback or MPI_Abort."""
    run = mpirun(3, [program("print('the program ran')\n")],
                 transport="mpi", timeout=60,
                 env={"MPI4PY_RC_THREAD_LEVEL": "serialized"})
    assert run.returncode == 1, run
    assert run.stderr.count("the MPI transport needs MPI_THREAD_MULTIPLE, "
                            "and this MPI library was initialised with a "
                            "lower thread level") == 1, run
    assert "Traceback" not in run.stderr, run
    assert "MPI_Abort" not in run.stderr, run
    assert "the program ran" not in run.stdout, run


SIZE_AND_SOCKETS = """
    import gc, time, zmq, scoop_hpc
    from scoop_hpc import futures

    def where(_):
        time.sleep(0.05)
        contexts = any(isinstance(o, zmq.Context) for o in gc.get_objects())
        return (scoop_hpc.WORKER_NAME,
                scoop_hpc.BROKER_ADDRESS.split(":")[0], contexts)

    if __name__ == "__main__":
        seen = {name: (scheme, contexts) for name, scheme, contexts
                in futures.map(where, range(30))}
        print(scoop_hpc.SIZE, *sorted(seen))
        print(*sorted(set(seen.values())))
"""


@pytest.mark.parametrize("transport, seen", [
    ("mpi", "('mpi', False)"), ("zmq", "('ipc', True)")])
def test_every_rank_is_a_worker_and_mpi_uses_no_zeromq(program, transport,
                                                       seen):
    run = mpirun(3, [program(SIZE_AND_SOCKETS)], transport=transport)
    assert run.returncode == 0, run
    assert run.stdout.splitlines() == ["3 w0 w1 w2", seen], run


@pytest.mark.parametrize("transport", ["zmq", "mpi"])
def test_ranks_cap_the_threads_of_numeric_libraries(program, transport,
                                                    monkeypatch):
    """Each rank gets its host's CPUs over that host's ranks in
    OMP_NUM_THREADS and the like, as the launcher's workers do."""
    from scoop_hpc.threadcaps import VARIABLES

    from .test_task_world import THREADS
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    run = mpirun(3, [program(THREADS)], transport=transport)
    assert run.returncode == 0, run
    [(_, cpus, values)] = json.loads(run.stdout)
    assert values == [str(max(cpus // 3, 1))] * len(VARIABLES), run


@pytest.mark.parametrize("variable, seen", [
    ("mpi", "('mpi', False)"), ("", "('ipc', True)")])  # empty: default
def test_transport_from_the_environment(program, variable, seen):
    path = program(SIZE_AND_SOCKETS)
    _needs(MISSING)
    run = run_watched([MPIEXEC, "-n", "2", PYTHON, "-m", "scoop_hpc", path],
                      timeout=60, cwd=ROOT,
                      env=dict(os.environ, SCOOP_HPC_TRANSPORT=variable))
    assert run.returncode == 0, run
    assert run.stdout.splitlines() == ["2 w0 w1", seen], run


def test_mpi_transport_without_a_launcher_is_one_worker(program):
    """``python -m scoop_hpc --transport mpi``: an MPI singleton."""
    _needs(MISSING)
    run = run_watched([PYTHON, "-m", "scoop_hpc", "--transport", "mpi",
                       program(SIZE_AND_SOCKETS)], timeout=60, cwd=ROOT)
    assert run.returncode == 0, run
    assert run.stdout.splitlines() == ["1 w0", "('mpi', False)"], run


BAD_WORKER = """
    import time, scoop_hpc
    if not scoop_hpc.IS_ORIGIN:
        raise RuntimeError("no such thing on this worker")
    time.sleep(60)
"""
DYING_TASK = """
    import os, scoop_hpc
    from scoop_hpc import futures

    def task(i):
        if scoop_hpc.WORKER_NAME != "w0":
            os._exit(3)
        import time
        time.sleep(0.05)
        return i

    if __name__ == "__main__":
        print(list(futures.map(task, range(40))))
"""
GIL_TASK = """
    import time
    from scoop_hpc import futures

    def hog(_):
        return sum(range(10 ** 12))     # one call into C: the GIL held

    if __name__ == "__main__":
        futures.submit(hog, 1)
        time.sleep(1)
        print("root done")
"""


@pytest.mark.parametrize("transport", ["zmq", "mpi"])
@pytest.mark.parametrize("source, says", [
    (BAD_WORKER, "could not load the program"),
    (DYING_TASK, ""),
    (GIL_TASK, "did not leave within 8 s of the end of the root program"),
], ids=["bad-worker", "dying-task", "gil-task"])
def test_a_failing_rank_ends_the_whole_job(program, transport, source, says):
    """A rank that fails, dies or cannot leave (its task holds the GIL, so
    it cannot end itself) ends the MPI job, in time. Rank 0 leaves no
    socket folder when it is the one that ends the job (a rank that cannot
    leave); another rank's MPI_Abort kills it outright."""
    run = mpirun(3, [program(source)], transport=transport, timeout=40,
                 cleans_up=source is GIL_TASK)
    assert run.returncode != 0, run
    assert run.seconds < 20, run
    assert says in run.stderr, run


STUCK_TASK = """
    import sys, time
    from scoop_hpc import futures

    def stuck(_):
        time.sleep(60)

    if __name__ == "__main__":
        futures.submit(stuck, 1), futures.submit(stuck, 2)
        time.sleep(1)
        print("root done")
        sys.exit(int(sys.argv[1]))
"""
SLOW_IMPORT = """
    import sys, time
    import scoop_hpc
    if not scoop_hpc.IS_ORIGIN:
        time.sleep(30)
    from scoop_hpc import futures

    if __name__ == "__main__":
        print("root done")
        sys.exit(int(sys.argv[1]))
"""


@pytest.mark.parametrize("transport", ["zmq", "mpi"])
@pytest.mark.parametrize("code", [0, 3])
@pytest.mark.parametrize("source, says", [
    (STUCK_TASK, "still ran a task 3 s after the end of the root program; "
                 "it leaves without finishing the task"),
    (SLOW_IMPORT, "when the root program ended; it leaves without "
                  "finishing the import"),
], ids=["stuck-task", "slow-import"])
def test_busy_workers_leave_with_the_roots_exit_code(program, transport,
                                                     code, source, says):
    """Workers that still run a task 3 s after the root program ended, or
    still import the program, leave on their own when told to: the job's
    exit code is the root program's, without MPI_Abort, and each such
    rank says what it was doing."""
    run = mpirun(3, [program(source), str(code)], transport=transport,
                 timeout=40)
    assert (run.returncode, run.stdout) == (code, "root done\n"), run
    assert run.seconds < 20, run
    assert run.stderr.count(says) == 2, run
    assert "MPI_Abort" not in run.stderr, run


@pytest.mark.parametrize("transport, sig", [
    ("zmq", signal.SIGINT), ("mpi", signal.SIGINT), ("zmq", signal.SIGTERM)])
def test_a_stop_signal_at_mpiexec_ends_the_job_at_once(
        program, transport, sig):
    """mpiexec passes a Ctrl-C (or a SIGTERM) to every rank: one line, exit
    code 128 + the signal, no traceback, nothing left in TMPDIR or the
    process table."""
    _needs(MISSING)
    path = str(program(SLEEPER))
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with scratch_tmpdir(env):
        proc = subprocess.Popen(
            [MPIEXEC, "-n", "3", PYTHON, "-m", "scoop_hpc", "--transport",
             transport, path], cwd=ROOT, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert proc.stdout.readline() == "started\n"
            time.sleep(0.5)           # the tasks are running
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 128 + sig, err
    assert err.count(f"received {sig.name}: stopping the MPI job") == 1, err
    assert "Traceback" not in err, err
    assert_no_orphans(job_pids(path))


def test_bad_interface_across_hosts_ends_the_job_with_its_reason(program):
    """ZeroMQ over two hosts needs a TCP address: a wrong --interface is
    said once, without a traceback, and ends every rank."""
    run = mpirun(HOST_RANKS, ["--interface", "nosuch0",
                              program(SIZE_AND_SOCKETS)], hosts=True,
                 timeout=60)
    assert run.returncode != 0, run
    assert "error: --interface nosuch0: no such interface" in run.stderr, run
    assert "Traceback" not in run.stderr, run


def test_syntax_error_is_said_once(program):
    run = mpirun(3, [program("x = (\n")], transport="mpi")
    assert run.returncode == 1, run
    assert run.stderr.count("SyntaxError") == 1, run
    assert "MPI_Abort" not in run.stderr, run


def test_root_exception_is_the_exit_code(program):
    path = program("""
        from scoop_hpc import futures
        def boom(x):
            raise ValueError(f"bad {x}")
        if __name__ == "__main__":
            futures.submit(boom, 3).result()
    """)
    run = mpirun(2, [path], transport="mpi")
    assert run.returncode == 1, run
    assert "ValueError: bad 3" in run.stderr, run
    assert "MPI_Abort" not in run.stderr, run


def _slurm_missing():
    if shutil.which("srun") is None:
        return "no srun (bash ../shared/rigs/slurm-up.sh)"
    try:
        done = subprocess.run(["sinfo", "-h", "-p", "multi", "-o", "%D"],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"sinfo fails: {exc}"
    if done.returncode != 0 or not done.stdout.strip():
        return "the Slurm rig (partition multi) is not up"
    return None


@pytest.mark.slurm
@pytest.mark.parametrize("transport", ["zmq", "mpi"])
def test_srun_over_two_slurm_nodes(program, transport):
    """``srun --mpi=pmi2 -N 2 -n 4``: the ranks find their roles from
    Slurm's PMI, as under mpiexec. Skipped without the Slurm rig."""
    _needs(MISSING)
    reason = _slurm_missing()
    if reason:
        pytest.skip(reason)
    path = program(SIZE_AND_SOCKETS)
    run = run_watched(["srun", "-p", "multi", "-N", "2", "-n", "4",
                       "--mpi=pmi2", PYTHON, "-m", "scoop_hpc",
                       "--transport", transport, path], timeout=90,
                      cwd=ROOT, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    assert run.returncode == 0, run
    assert run.stdout.splitlines()[0] == "4 w0 w1 w2 w3", run
    assert_no_orphans(job_pids(str(path)))
