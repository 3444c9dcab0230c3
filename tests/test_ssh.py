"""Jobs over several hosts, on the sshd rig (node1, node2: real sshd).

``bash ../shared/rigs/sshd-up.sh`` starts the rig. Without it these tests
are skipped, unless ``SCOOP_HPC_RIGS=required`` (as in CI), where a missing
rig fails them.
"""
from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from .conftest import (
    PYTHON,
    ROOT,
    job_processes,
    launch,
    scratch_tmpdir,
    wait_gone,
)
from .test_launcher import MARK

HERE = socket.gethostname()


def _rig_up() -> bool:
    try:
        done = subprocess.run(
            ["ssh", "-oBatchMode=yes", "-oConnectTimeout=3", "node1",
             "hostname"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.strip() == "node1"


if not _rig_up():
    if os.environ.get("SCOOP_HPC_RIGS") == "required":
        raise RuntimeError("the sshd rig is not up: run "
                           "bash ../shared/rigs/sshd-up.sh")
    pytest.skip("the sshd rig is not up (bash ../shared/rigs/sshd-up.sh)",
                allow_module_level=True)

pytestmark = [pytest.mark.ssh, pytest.mark.timeout(120)]

# Tasks sleep a little, so that every worker gets some before the end.
WHERE = """
    import os, socket, sys, time
    import scoop_hpc
    from scoop_hpc import futures

    def where(i):
        time.sleep(0.05)
        return socket.gethostname()

    if __name__ == "__main__":
        hosts = sorted(set(futures.map(where, range(60))))
        print("hosts", " ".join(hosts), "size", scoop_hpc.SIZE,
              "root", socket.gethostname())
        sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
"""


@pytest.fixture(autouse=True)
def nothing_left_on_any_host():
    """No test starts while, or ends before, the agents of a job are gone."""
    assert not wait_gone(job_processes(), 15), "agents of an earlier job"
    yield
    assert not wait_gone(job_processes(), 15), "agents left behind"


def remote(*options):
    return ["--python-executable", PYTHON, *options]


def started(stderr: str) -> dict:
    """``{host: [worker, ...]}`` from the launcher's ``-v`` log."""
    out = {}
    for host, names in re.findall(
            r"host (\S+): workers ([w0-9, ]+) started", stderr):
        out[host] = names.split(", ")
    locals_ = re.search(r"started \d+ workers", stderr)
    return out if not locals_ else dict(out, local=True)


# -- a job over every host ------------------------------------------------
SUB_BROKERS = ["--sub-brokers", "yes"]


@pytest.mark.parametrize("options", [[], SUB_BROKERS,
                                     [*SUB_BROKERS, "--encrypt"]])
def test_every_host_runs_tasks_and_the_root_code_is_kept(program, options):
    prog = program(WHERE)
    run = launch(remote(*options, "--hosts", HERE, "node1", "node1",
                        "node2", "node2", prog, "3"))
    assert run.returncode == 3, run
    assert f"hosts {' '.join(sorted([HERE, 'node1', 'node2']))} size 5 " \
           f"root {HERE}" in run.stdout, run


@pytest.mark.parametrize("options", [[], SUB_BROKERS])
def test_tunnel_every_host_runs_tasks(program, options):
    prog = program(WHERE)
    run = launch(remote(*options, "-e", "--hosts", HERE, "node1", "node2",
                        "node2", prog))
    assert run.returncode == 0, run
    assert f"hosts {' '.join(sorted([HERE, 'node1', 'node2']))} size 4" \
        in run.stdout, run
    assert not tunnel_sockets()


def test_root_on_a_remote_host_output_comes_back_prefixed(program, tmp_path):
    prog = program("""
        import socket, sys
        from scoop_hpc import futures
        if __name__ == "__main__":
            print("root says hi on", socket.gethostname())
            print("and complains", file=sys.stderr)
            print(sorted(set(futures.map(str, range(3)))))
    """)
    log = tmp_path / "job.log"
    run = launch(remote("-v", "--log", log, "--hosts", "node2", "node1",
                        prog))
    assert run.returncode == 0, run
    assert "[w0@node2] root says hi on node2\n" in run.stdout, run
    assert "[w0@node2] ['0', '1', '2']\n" in run.stdout, run
    assert "[w0@node2] and complains\n" in run.stderr, run
    text = log.read_text()
    assert "[w0@node2] root says hi on node2\n" in text
    assert "[w0@node2] and complains\n" in text
    plain = launch(remote("--hosts", "node2", prog))
    assert "\nroot says hi on node2\n" in "\n" + plain.stdout, plain


def test_a_closed_output_stops_a_job_whose_root_is_remote(program):
    """``python -m scoop_hpc ... | head -1``: once the reader of the
    launcher's stdout is gone, the job stops (as a program killed by
    SIGPIPE) instead of running on, and nothing is left."""
    prog = program("""
        import time
        if __name__ == "__main__":
            for i in range(1200):
                print("line", i, flush=True)
                time.sleep(0.05)
    """)
    reader_r, reader_w = os.pipe()
    env = dict(os.environ)
    with scratch_tmpdir(env):
        proc = subprocess.Popen(
            [PYTHON, "-m", "scoop_hpc", *remote("--hosts", "node1", prog)],
            stdout=reader_w, stderr=subprocess.PIPE, text=True, env=env)
        os.close(reader_w)
        with os.fdopen(reader_r) as reader:
            assert reader.readline() == "line 0\n"
        try:
            err = proc.communicate(timeout=30)[1]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 128 + signal.SIGPIPE, err
    assert ("the launcher's output was closed (its reader ended, as "
            "`| head` does): stopping the job\n") in err, err
    assert "Traceback" not in err, err


def test_a_log_file_that_fills_up_is_said_so_once(program):
    """A --log on a full disk (/dev/full): one line each from the launcher
    and the relay of the workers' output; the job and its output go on."""
    prog = program("""
        from scoop_hpc import futures
        if __name__ == "__main__":
            print(sum(futures.map(abs, range(100))))
    """)
    run = launch(remote("-v", "--log", "/dev/full", "--hosts", "node1",
                        prog))
    assert run.returncode == 0, run
    assert "[w0@node1] 4950\n" in run.stdout, run
    assert run.stderr.count("scoop_hpc: cannot write to the log file "
                            "/dev/full: [Errno 28] No space left on device;"
                            " the log goes on to stderr only\n") == 1, run
    assert run.stderr.count("cannot write to the log file /dev/full: "
                            "[Errno 28] No space left on device; the "
                            "workers' output goes on to the console only"
                            ) == 1, run
    assert "Logging error" not in run.stderr, run
    assert "Traceback" not in run.stderr, run


def test_prolog_is_sourced_before_remote_workers(program, tmp_path):
    prolog = tmp_path / "prolog.sh"
    prolog.write_text("export SITE_MODULE=loaded-$(hostname)\n")
    prog = program("""
        import os
        from scoop_hpc import futures
        def env(i):
            return os.environ.get("SITE_MODULE")
        if __name__ == "__main__":
            print(os.environ.get("SITE_MODULE"), list(futures.map(env, [0])))
    """)
    run = launch(remote("--prolog", prolog, "--hosts", "node1", prog))
    assert run.returncode == 0, run
    assert "loaded-node1 ['loaded-node1']" in run.stdout, run


def test_path_pythonpath_and_python_executable_reach_remote_workers(
        program, tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "site_helper.py").write_text("NAME = 'helper'\n")
    python = tmp_path / "python-for-job"
    python.write_text(f"#!/bin/sh\nJOB_PYTHON=wrapper exec {PYTHON} \"$@\"\n")
    python.chmod(0o755)
    prog = program("""
        import os, time
        from scoop_hpc import futures
        def facts(i):
            import site_helper
            time.sleep(0.05)
            return (os.getcwd(), os.environ.get("JOB_PYTHON"),
                    site_helper.NAME)
        if __name__ == "__main__":
            print(sorted(set(futures.map(facts, range(20)))))
    """)
    run = launch(["--python-executable", python, "--path", workdir,
                  "--pythonpath", lib, "--hosts", "node1", "node2", prog],
                 cwd="/")
    assert run.returncode == 0, run
    assert f"[('{workdir}', 'wrapper', 'helper')]" in run.stdout, run


# -- the -n rules over ssh ------------------------------------------------
@pytest.mark.parametrize("workers, layout", [
    (3, {"node1": ["w0", "w1"], "node2": ["w2"]}),
    (4, {"node1": ["w0", "w1"], "node2": ["w2", "w3"]}),
    (6, {"node1": ["w0", "w1", "w2"], "node2": ["w3", "w4", "w5"]}),
])
def test_n_distributes_workers_like_scoop(program, tmp_path, workers,
                                          layout):
    hostfile = tmp_path / "hosts"
    hostfile.write_text("# two workstations\nnode1 2\n\nnode2 slots=2\n")
    prog = program("import scoop_hpc\nprint('size', scoop_hpc.SIZE)\n")
    run = launch(remote("-v", "--hostfile", hostfile, "-n", str(workers),
                        prog))
    assert run.returncode == 0, run
    assert started(run.stderr) == layout, run
    assert f"size {workers}" in run.stdout, run


# -- bad input and hosts that fail ----------------------------------------
def test_bad_hostfile_line_names_file_and_line(program, tmp_path):
    hostfile = tmp_path / "hosts"
    hostfile.write_text("node1 2\nnode2 two\n")
    run = launch(remote("--hostfile", hostfile, program("print(1)")))
    assert run.returncode == 2, run
    assert f"hostfile {hostfile}, line 2: 'node2 two'" in run.stderr, run
    assert "Traceback" not in run.stderr, run


def test_unreachable_hosts_fail_alone_and_the_job_goes_on(program):
    prog = program(WHERE)
    start = time.monotonic()
    run = launch(remote("--hosts", HERE, "node1", "127.0.0.9",
                        "nosuch.invalid", prog))
    assert time.monotonic() - start < 30
    assert run.returncode == 0, run
    assert f"hosts {' '.join(sorted([HERE, 'node1']))} size 2" \
        in run.stdout, run
    # the whole stderr on failure: ssh's own line went missing once
    assert "host 127.0.0.9: could not start its workers" \
        in run.stderr, run.stderr
    assert "Connection refused" in run.stderr, run.stderr
    assert "host nosuch.invalid: could not start its workers" \
        in run.stderr, run.stderr
    assert "without host 127.0.0.9" in run.stderr, run.stderr


def test_missing_python_names_the_host_and_its_stderr(program):
    run = launch(["--python-executable", "/no/such/python", "--hosts",
                  HERE, "node1", program(WHERE)])
    assert run.returncode == 0, run
    assert f"hosts {HERE} size 1" in run.stdout, run
    assert "host node1: could not start its workers" in run.stderr, run
    assert "/no/such/python" in run.stderr, run
    assert "not found" in run.stderr or "No such file" in run.stderr, run


def _python_of_another_version():
    """A Python of another minor version that has scoop_hpc's
    requirements (a venv of ``make test-pythons``), or None."""
    check = ("import sys, cloudpickle, greenlet, psutil, zmq; "
             "print(*sys.version_info[:2])")
    mine = "%d %d" % sys.version_info[:2]
    for python in sorted(glob.glob(str(ROOT / ".venv-3.*/bin/python"))):
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            done = subprocess.run([python, "-c", check], timeout=30,
                                  capture_output=True, text=True)
            version = done.stdout.strip()
            if done.returncode == 0 and version != mine:
                return python
    return None


def test_a_host_whose_python_is_another_version_is_named(program):
    """Workers of two Python versions cannot share functions sent by value
    (code objects differ): such a host fails alone, saying what to do."""
    other = _python_of_another_version()
    if other is None:
        pytest.skip("no venv of another Python version beside .venv "
                    "(make test-pythons makes them)")
    prog = program("""
        import socket, time
        from scoop_hpc import futures
        if __name__ == "__main__":
            hosts = futures.map(lambda i: time.sleep(0.05)
                                or socket.gethostname(), range(60))
            print("hosts", *sorted(set(hosts)))
    """)
    run = launch(["--python-executable", other, "--hosts", HERE, "node1",
                  "node1", prog])
    assert run.returncode == 0, run
    assert f"hosts {HERE}\n" in run.stdout, run
    version = "%d.%d" % sys.version_info[:2]
    assert "host node1: could not start its workers" in run.stderr, run
    assert (f"its Python ({other}) is 3." in run.stderr
            and f"the job's workers run Python {version}: " in run.stderr
            and f"give --python-executable a Python {version} that has "
                "scoop_hpc on node1" in run.stderr), run.stderr


def tunnel_sockets() -> set:
    return {n for n in os.listdir("/tmp")
            if n.startswith("scoop_hpc-") and n.endswith(".sock")}


@pytest.mark.parametrize("options", [[], ["--tunnel"]])
def test_first_host_failing_is_fatal(program, options):
    before = tunnel_sockets()
    run = launch(remote(*options, "--path", "/no/such/dir", "--hosts",
                        "node1", "node2", program(WHERE)))
    assert run.returncode == 1, run
    assert "host node1: could not start its workers" in run.stderr, run
    assert "/no/such/dir" in run.stderr, run
    assert "root program" in run.stderr, run
    assert tunnel_sockets() <= before      # the agents removed theirs


def test_a_tunnel_socket_a_killed_agent_left_is_swept(program):
    left = "/tmp/scoop_hpc-0killed0-0.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(left)                 # then closed: nothing listens
    past = time.time() - 60
    os.utime(left, (past, past), follow_symlinks=False)
    try:
        run = launch(remote("--tunnel", "--hosts", HERE, "node1",
                            program(WHERE)))
        assert run.returncode == 0, run
        assert not os.path.lexists(left)    # node1's agent swept it
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(left)


# -- teardown -------------------------------------------------------------
SLOW = """
    import time
    from scoop_hpc import futures
    def nap(i):
        time.sleep(60)
    if __name__ == "__main__":
        print("running", flush=True)
        list(futures.map(nap, range(8)))
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM,
                                 signal.SIGINT])
def test_launcher_stopped_mid_run_leaves_nothing_on_any_host(program, sig,
                                                            tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # a killed launcher cannot clean up its folders; the others do
    with scratch_tmpdir(env, check=sig != signal.SIGKILL):
        _stop_mid_run(program(SLOW), sig, tmp_path, env)


def _stop_mid_run(prog, sig: int, tmp_path, env: dict) -> None:
    work = tmp_path / "work"   # where -v's shared folder goes
    work.mkdir()
    launcher = subprocess.Popen(
        [PYTHON, "-m", "scoop_hpc", *remote(
            "-v", "--drain-grace", "2", "--hosts", HERE, "node1", "node1",
            "node2", "node2", prog)], cwd=work, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=env)
    try:
        assert launcher.stdout.readline() == b"running\n"
        deadline = time.monotonic() + 30
        pids = set()
        while time.monotonic() < deadline:
            pids = job_processes()
            if len(pids) >= 6:       # two agents, four workers
                break
            time.sleep(0.1)
        assert len(pids) >= 6, pids
        local = {p.pid for p in
                 psutil.Process(launcher.pid).children(recursive=True)}
        time.sleep(0.5)
        launcher.send_signal(sig)
        left = wait_gone(pids | local, 15)
        assert not left, [psutil.Process(p).cmdline() for p in left]
        code = launcher.wait(15)
        assert code == (-9 if sig == signal.SIGKILL else 128 + sig)
        if sig != signal.SIGKILL:
            assert not list(work.iterdir())
    finally:
        if launcher.poll() is None:
            launcher.kill()
        launcher.communicate()


# -- what the broker listens on, and --encrypt ----------------------------
LISTENING = """
    import os, psutil
    from scoop_hpc import futures
    if __name__ == "__main__":
        launcher = psutil.Process(os.getppid())
        print("listening", sorted({c.laddr.ip for c in
                                   launcher.net_connections("tcp")
                                   if c.status == "LISTEN"}))
        print(sorted(set(futures.map(abs, range(-9, 9)))))
"""


@pytest.mark.parametrize("options, ips", [
    ([], ["127.0.0.1"]),
    (["--bind-all"], ["0.0.0.0"]),
    (["--encrypt"], ["127.0.0.1"]),
])
def test_the_broker_listens_on_the_chosen_address_only(program, options,
                                                       ips):
    run = launch(remote(*options, "--hosts", HERE, "node1", "node2",
                        program(LISTENING)))
    assert run.returncode == 0, run
    assert f"listening {ips}" in run.stdout, run
    assert str(list(range(10))) in run.stdout, run


def test_timeline_and_summary_cover_remote_workers(program, tmp_path):
    timeline = tmp_path / "trace.json"
    run = launch(remote("-v", "--timeline", timeline, "--hosts", HERE,
                        "node1", "node2", program(WHERE)), cwd=tmp_path)
    assert run.returncode == 0, run
    events = json.loads(timeline.read_text())["traceEvents"]
    tracks = sorted(e["args"]["name"] for e in events
                    if e["name"] == "thread_name")
    assert tracks == [f"w0@{HERE}", "w1@node1", "w2@node2"], tracks
    slices = [e for e in events if e["ph"] == "X"]
    assert {e["args"]["host"] for e in slices} == {HERE, "node1", "node2"}
    assert f"summary: {len(slices)} tasks on 3 of 3 workers" in run.stderr
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".scoop")]


SQUARES = """
    import os, time
    import scoop_hpc
    from scoop_hpc import futures
    def square(x):
        time.sleep(0.01)
        return x * x
    def pid(x):
        time.sleep(0.02)
        return os.getpid()
    if __name__ == "__main__":
        seen = set()
        while len(seen) < scoop_hpc.SIZE:       # every worker has joined
            seen.update(futures.map(pid, range(30)))
        print("running", flush=True)
        got = list(futures.map(square, range(2000)))
        print(got == [x * x for x in range(2000)], len(got))
"""


def _remote_workers(marker: str, count: int, sub_broker: bool = False,
                    sub_brokers: bool = False) -> list:
    """The workers (or with ``sub_broker``, the sub-broker) forked by the
    agents whose PYTHONPATH holds ``marker`` (this job's, not another's
    on the rig). With ``sub_brokers`` (the job has them), an agent's
    children count once one of them listens as its sub-broker: until it
    has bound its socket, a sub-broker looks like a worker."""
    sub_brokers = sub_brokers or sub_broker
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = []
        for proc in psutil.process_iter(["cmdline"]):
            try:
                if ("scoop_hpc.agent" in " ".join(proc.info["cmdline"] or ())
                        and marker in proc.environ().get("PYTHONPATH", "")):
                    children = proc.children()
                    subs = [child for child in children
                            if _is_sub_broker(child)]
                    if sub_brokers and len(subs) != 1:
                        continue
                    found += subs if sub_broker else [
                        child for child in children if child not in subs]
            except psutil.Error:
                continue
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no {count} remote workers of the job")


def _is_sub_broker(proc: psutil.Process) -> bool:
    """Whether ``proc`` listens on a sub-broker's socket."""
    return any(str(c.laddr).endswith("/node")
               for c in proc.net_connections("unix"))


@pytest.mark.parametrize("options", [[], SUB_BROKERS])
@pytest.mark.parametrize("fault", ["SIGKILL", "SIGSTOP"])
def test_a_remote_worker_lost_mid_run_is_replayed(program, tmp_path, fault,
                                                  options):
    """SIGKILL: the agent reports the exit. SIGSTOP: the heartbeats stop,
    then SIGCONT: the worker's late results are dropped and it leaves.
    Behind a sub-broker, its host runs the worker's tasks again (and
    kills it, if silent)."""
    marker = str(tmp_path)
    launcher = subprocess.Popen(
        [PYTHON, "-m", "scoop_hpc", *remote(
            *options, "--pythonpath", marker, "--heartbeat-timeout", "2",
            "--hosts", HERE, "node1", "node1", program(SQUARES))], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        assert launcher.stdout.readline() == "running\n"
        victim = _remote_workers(marker, 2, sub_brokers=bool(options))[0]
        victim.send_signal(getattr(signal, fault))
        if fault == "SIGSTOP":
            time.sleep(3.5)
            # a sub-broker kills a worker it lost for its silence
            with contextlib.suppress(psutil.NoSuchProcess):
                victim.send_signal(signal.SIGCONT)
        out, err = launcher.communicate(timeout=60)
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.communicate()
    assert (launcher.returncode, out) == (0, "True 2000\n"), err
    why = "it was killed by SIGKILL" if fault == "SIGKILL" else "no heartbeat"
    assert f"(pid {victim.pid} on host node1) is lost: {why}" in err, err


def test_remote_workers_leave_when_the_launcher_stops_answering(program,
                                                                 tmp_path):
    """A stopped launcher, like a dead one whose ssh stayed up: its broker
    is silent, and the workers of other hosts leave within the heartbeat
    timeout (the launcher's own workers die with it, and wait while it is
    only stopped: ``test_faults``). The launcher stops once every worker
    has run a task, so that this is about workers that stop hearing from
    it (one never welcomed: ``test_remote``)."""
    marker = str(tmp_path)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with scratch_tmpdir(env, check=False):   # SIGKILL: no clean-up
        launcher = subprocess.Popen(
            [PYTHON, "-m", "scoop_hpc", *remote(
                "--pythonpath", marker, "--heartbeat-timeout", "3",
                "--hosts", HERE, "node1", "node1", program("""
                    import time
                    import scoop_hpc
                    from scoop_hpc import futures

                    def where(_):
                        time.sleep(0.01)
                        return scoop_hpc.WORKER_NAME

                    if __name__ == "__main__":
                        seen = set()
                        while len(seen) < scoop_hpc.SIZE:
                            seen.update(futures.map(where, range(12)))
                        print("running", flush=True)
                        time.sleep(60)
                """))], cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env)
        try:
            assert launcher.stdout.readline() == "running\n"
            workers = _remote_workers(marker, 2)
            os.kill(launcher.pid, signal.SIGSTOP)
            try:
                assert not wait_gone({w.pid for w in workers}, 15)
            finally:
                os.kill(launcher.pid, signal.SIGKILL)
                os.kill(launcher.pid, signal.SIGCONT)
        finally:
            if launcher.poll() is None:
                launcher.kill()
            launcher.communicate()


@pytest.mark.parametrize("victim", ["sub-broker", "agent"])
def test_a_lost_sub_broker_takes_its_workers_and_its_tasks_run_again(
        program, tmp_path, victim):
    """Killed alone, or with its agent (and so the host's workers): the
    launcher hears of it at once (heartbeats would take a minute)."""
    marker = str(tmp_path)
    launcher = subprocess.Popen(
        [PYTHON, "-m", "scoop_hpc", *remote(
            *SUB_BROKERS, "--pythonpath", marker, "--heartbeat-timeout",
            "60", "--hosts", HERE, "node1", "node1", "node2",
            program(SQUARES))], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"))
    agent = None
    try:
        assert launcher.stdout.readline() == "running\n"
        node = next(proc for proc in _remote_workers(marker, 2, True)
                    if proc.environ().get("SSH_CONNECTION", "").split()[2:3]
                    == ["127.0.0.2"])     # node1's
        agent = node.parent()
        killed = time.monotonic()
        (node if victim == "sub-broker" else agent).kill()
        out, err = launcher.communicate(timeout=60)
        assert time.monotonic() - killed < 30, err
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.communicate()
        if victim == "agent" and agent is not None:
            # killed, the agent could not remove its socket folder
            for path in glob.glob(f"/tmp/scoop_hpc-{agent.pid}-*"):
                shutil.rmtree(path, ignore_errors=True)
    assert (launcher.returncode, out) == (0, "True 2000\n"), err
    why = ("it was killed by SIGKILL" if victim == "sub-broker"
           else "it lost its agent, which ended")
    assert (f"sub-broker n1 (pid {node.pid} on host node1) and the 2 "
            f"workers behind it is lost: {why}") in err, err


NESTED = """
    import os, socket, sys, time
    from scoop_hpc import futures

    def tree(depth):
        time.sleep(0.01)
        if depth == 0:
            return 1, [socket.gethostname()]
        count, hosts = 1, set()
        for sub in [futures.submit(tree, depth - 1) for _ in range(3)]:
            got, where = sub.result()
            count += got
            hosts.update(where)
        return count, sorted(hosts)

    if __name__ == "__main__":
        print("running", flush=True)
        count, hosts = futures.submit(tree, 6).result()
        print(count, " ".join(hosts))
"""


@pytest.mark.parametrize("kill", [False, True])
def test_a_nested_tree_over_sub_brokers_routes_results_between_hosts(
        program, tmp_path, kill):
    """Tasks submitted on every host run on every other, and their
    results find their owners (and with a worker of node2 killed, its
    tasks run again)."""
    marker = str(tmp_path)
    launcher = subprocess.Popen(
        [PYTHON, "-m", "scoop_hpc", *remote(
            *SUB_BROKERS, "-v", "--pythonpath", marker, "--hosts", HERE,
            "node1", "node1", "node2", "node2", program(NESTED))], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        assert launcher.stdout.readline() == "running\n"
        if kill:
            time.sleep(0.7)
            workers = _remote_workers(marker, 4, sub_brokers=True)
            victim = next(proc for proc in workers
                          if proc.environ().get("SSH_CONNECTION", "")
                          .split()[2:3] == ["127.0.0.3"])     # node2's
            victim.kill()
        out, err = launcher.communicate(timeout=90)
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.communicate()
    hosts = " ".join(sorted([HERE, "node1", "node2"]))
    assert (launcher.returncode, out) == (0, f"1093 {hosts}\n"), err
    assert ("is lost: it was killed by SIGKILL" in err) == kill, err
    # the summary counts what the sub-broker ran again on its host
    again = sum(int(n) for n in re.findall(r"; (\d+) of its tasks run again",
                                           err))
    assert (f"faults: {int(kill)} workers lost, {again} tasks run again, "
            f"0 given up") in err, err


def test_a_killed_remote_workers_printed_lines_are_not_lost(program,
                                                           tmp_path):
    from .test_output import BUFFERED, CHATTY
    marks = tmp_path / "marks"
    marks.mkdir()
    run = launch(remote("--hosts", HERE, "node1", "node1",
                        program(CHATTY), str(marks)), env=BUFFERED)
    assert run.returncode == 0, run
    printed = {re.sub(r" ran on w\d+$", "", line.split("] ")[-1])
               for line in run.stdout.splitlines()}
    assert printed == {"root starts", "root ends", "task 0", "task 1"}, run


def test_a_module_program_runs_on_every_host(tmp_path):
    """``-m module``: each host finds it in the working directory, as
    ``python -m`` does (an agent starts elsewhere: ssh's home)."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "sweep_mod.py").write_text(textwrap.dedent(WHERE))
    run = launch(remote("--hosts", HERE, "node1", "node2", "-m",
                        "sweep_mod"), cwd=work)
    assert run.returncode == 0, run
    assert f"hosts {' '.join(sorted([HERE, 'node1', 'node2']))} size 3" \
        in run.stdout, run
    assert "could not load" not in run.stderr, run


def test_a_job_folder_that_cannot_be_made_is_said_so(program, tmp_path):
    """Under -v a job with other hosts keeps its workers' records in a
    folder of its working directory (--path): one that cannot be made
    (/proc takes no folders, even root's) ends the job before its start,
    with the reason."""
    ran = tmp_path / "ran"
    run = launch(["--hosts", HERE, "node1", "-v", "--path", "/proc",
                  str(program(MARK)), str(ran)])
    assert run.returncode == 1, run
    assert re.search(r"cannot create the job's folder /proc/\.scoop_hpc-"
                     r"[0-9a-f]+: No such file or directory; the job's other"
                     r" hosts read and write there: run it from \(or give "
                     r"--path\) a writable directory that they share\n",
                     run.stderr), run
    assert "Traceback" not in run.stderr
    assert not ran.exists()


@pytest.mark.parametrize("options", [[], SUB_BROKERS])
def test_remote_workers_cap_the_threads_of_numeric_libraries(
        program, options, monkeypatch):
    """Each host's workers get that host's CPUs over its workers in
    OMP_NUM_THREADS and the like (the agent works it out there)."""
    from scoop_hpc.threadcaps import VARIABLES

    from .test_task_world import THREADS
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    run = launch(remote(*options, "--hosts", HERE, "node1", "node1",
                        "node2", program(THREADS), "60"))
    assert run.returncode == 0, run
    seen = {host: (cpus, values) for host, cpus, values
            in json.loads(run.stdout)}
    assert sorted(seen) == sorted([HERE, "node1", "node2"]), run
    for host, workers in ((HERE, 1), ("node1", 2), ("node2", 1)):
        cpus, values = seen[host]
        assert values == [str(max(cpus // workers, 1))] * len(VARIABLES), \
            (host, run)
