"""Inside batch jobs: real Slurm and Grid Engine jobs on their rigs, and
PBS and LSF through their environment, files and stand-ins for their
starters (Debian packages neither).

``bash ../shared/rigs/slurm-up.sh`` and ``sge-up.sh`` start the rigs;
without them their tests are skipped, unless ``SCOOP_HPC_RIGS=required``
(as in CI), where a missing rig fails them.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import textwrap
import time

import psutil
import pytest

from . import conftest
from .conftest import PYTHON, ROOT, job_processes, launch, wait_gone
from .test_launcher import SLEEPER

HERE = socket.gethostname()
REQUIRED = os.environ.get("SCOOP_HPC_RIGS") == "required"
SCHEDULER_VARIABLES = re.compile(
    r"^(SLURM_|SLURMD_|PBS_|PE_|NSLOTS$|LSB_|LSF_|FLUX_|JOB_ID$|SGE_TASK)")

pytestmark = pytest.mark.timeout(180)


def _works(*command: str) -> bool:
    try:
        return subprocess.run(command, capture_output=True,
                              timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def needs(rig: str, *probe: str):
    """Skip (or, when rigs are required, fail) without the rig."""
    up = _works(*probe)
    if not up and REQUIRED:
        pytest.fail(f"the {rig} rig is not up: run bash ../shared/rigs/"
                    f"{rig}-up.sh")
    return pytest.mark.skipif(not up, reason=f"the {rig} rig is not up")


def clean_environ(**extra: str) -> dict:
    """This process's environment without any scheduler's variables."""
    environ = {k: v for k, v in os.environ.items()
               if not SCHEDULER_VARIABLES.match(k)}
    environ.update(extra, PYTHONUNBUFFERED="1")
    return environ


# Tasks sleep, so that every worker gets some; each names its node and the
# stand-in (if any) that started its agent.
WHERE = """
    import os, time
    import scoop_hpc
    from scoop_hpc import futures

    def where(i):
        time.sleep(0.1)
        return (os.environ.get("SLURMD_NODENAME") or os.environ.get(
                    "STAND_IN") or "forked")

    if __name__ == "__main__":
        print("ran on", sorted(set(futures.map(where, range(60)))),
              "size", scoop_hpc.SIZE, flush=True)
"""


def job_script(tmp_path, body: str) -> str:
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/bash\n" + textwrap.dedent(body))
    script.chmod(0o755)
    return str(script)


# -- Slurm -------------------------------------------------------------------
slurm = pytest.mark.slurm
slurm_up = needs("slurm", "sinfo", "-h", "-p", "multi")


def sbatch_two_nodes(tmp_path, body: str) -> str:
    """Run the job script ``body`` over node1 and node2 (two tasks each)
    with ``sbatch --wait``; check it ended well; return its output."""
    out = tmp_path / "job.out"
    done = subprocess.run(
        ["sbatch", "--wait", "-p", "multi", "-N2", "-n4", "-o", str(out),
         job_script(tmp_path, body)], capture_output=True, text=True,
        timeout=150, env=clean_environ())
    text = out.read_text()
    assert done.returncode == 0, done.stderr + text
    return text


@slurm
@slurm_up
@pytest.mark.parametrize("options", ["", "--sub-brokers yes"])
def test_slurm_job_over_two_nodes_starts_workers_with_srun(program,
                                                           tmp_path,
                                                           options):
    text = sbatch_two_nodes(tmp_path, f"""
        cd {ROOT}
        {PYTHON} -m scoop_hpc.cli hosts --json
        {PYTHON} -m scoop_hpc -v {options} {program(WHERE)}
    """)
    assert ('{"source": "slurm", "hosts": [{"name": "node1", "workers": 2}, '
            '{"name": "node2", "workers": 2}], "workers": 4, '
            '"launcher": "srun"}') in text, text
    assert "ran on ['node1', 'node2'] size 4" in text, text
    assert "host node2: workers w2, w3 started" in text, text
    assert ("under sub-broker n2" in text) == bool(options), text


@slurm
@slurm_up
def test_slurm_launcher_started_by_srun_uses_the_whole_job(program,
                                                           tmp_path):
    """``srun -n 1 python -m scoop_hpc``: the launcher in a job step of
    its own still spreads the workers over every node of the job."""
    text = sbatch_two_nodes(tmp_path, f"""
        cd {ROOT}
        srun -n 1 -N 1 --overlap {PYTHON} -m scoop_hpc -v {program(WHERE)}
    """)
    assert "ran on ['node1', 'node2'] size 4" in text, text


@slurm
@slurm_up
@pytest.mark.parametrize("options", ["", "--sub-brokers yes"])
def test_slurm_cancel_drains_the_job_on_every_node(program, tmp_path,
                                                    options):
    prog = program("""
        import time
        from scoop_hpc import futures
        def nap(i):
            time.sleep(120)
        if __name__ == "__main__":
            print("running", flush=True)
            list(futures.map(nap, range(4)))
    """)
    out = tmp_path / "job.out"
    script = job_script(tmp_path, f"""
        cd {ROOT}
        exec {PYTHON} -m scoop_hpc -v --drain-grace 2 {options} {prog}
    """)
    submitted = subprocess.run(
        ["sbatch", "--parsable", "-p", "multi", "-N2", "-n4", "-o", str(out),
         script], capture_output=True, text=True, timeout=30,
        env=clean_environ(), check=True)
    job = submitted.stdout.strip().split(";")[0]
    try:
        deadline = time.monotonic() + 60
        pids = set()
        while time.monotonic() < deadline:
            pids = job_processes(str(prog))
            text = out.read_text() if out.exists() else ""
            if "host node2: workers" in text and len(pids) >= 5:
                break
            time.sleep(0.2)
        assert "host node2: workers" in text and len(pids) >= 5, text
    finally:
        # what walltime does: SIGTERM to every step, SIGKILL after KillWait
        subprocess.run(["scancel", job], timeout=30, check=True)
    left = wait_gone(pids, 15)
    assert not left, f"left behind: {left}\n{out.read_text()}"
    # Slurm signals every process of every step: workers and agents leave
    # it to the launcher, which drains the job
    text = out.read_text()
    assert "received SIGTERM: draining the job" in text, text
    assert "the job was stopped by SIGTERM" in text, text
    assert "killed by SIGTERM" not in text, text


# -- Grid Engine -------------------------------------------------------------
sge = pytest.mark.sge
sge_up = needs("sge", "qstat")


def qsub(tmp_path, prog, *options: str, extra: str = "") -> str:
    """Run ``prog`` in a Grid Engine job (``options`` also go to
    ``scoop-hpc hosts``, ``extra`` only to the launcher)."""
    out = tmp_path / "job.out"
    script = job_script(tmp_path, f"""
        #$ -S /bin/bash
        cd {ROOT}
        {PYTHON} -m scoop_hpc.cli hosts --json {' '.join(options)}
        {PYTHON} -m scoop_hpc -v {' '.join(options)} {extra} {prog}
    """)
    done = subprocess.run(
        ["qsub", "-sync", "y", "-w", "e", "-pe", "mpi", "3", "-j", "y",
         "-o", str(out), script], capture_output=True, text=True,
        timeout=150, env=clean_environ())
    text = out.read_text() if out.exists() else ""
    assert done.returncode == 0, done.stdout + done.stderr + text
    return text


@sge
@sge_up
@pytest.mark.parametrize("extra", ["", "--sub-brokers yes"])
def test_sge_job_workers_started_by_qrsh_inherit(program, tmp_path, extra):
    prog = program(WHERE.replace("or \"forked\"",
                                 "or str(os.getppid())"))
    text = qsub(tmp_path, prog, "--launcher", "qrsh", extra=extra)
    assert (f'{{"source": "sge", "hosts": [{{"name": "{HERE}", '
            f'"workers": 3}}], "workers": 3, "launcher": "qrsh"}}') in text
    assert f"host {HERE}: workers w1, w2 started" in text, text
    assert ("under sub-broker n1" in text) == bool(extra), text
    assert "size 3" in text, text


@sge
@sge_up
def test_sge_job_on_one_host_forks_its_workers(program, tmp_path):
    text = qsub(tmp_path, program(WHERE))
    assert '"workers": 3, "launcher": "local"' in text, text
    assert "ran on ['forked'] size 3" in text, text


# -- PBS and LSF, through stand-ins ------------------------------------------
STAND_INS = {
    # Torque's pbsdsh: no stdin; -o brings the task's stdout back
    "pbsdsh": 'test "$1" = -o && test "$2" = -h || exit 64\n'
              'shift 3\nexec "$@" </dev/null',
    # PBS Pro's pbs_tmrsh and LSF's blaunch: rsh-like
    "pbs_tmrsh": 'shift\nexec /bin/sh -c "$1"',
    "blaunch": 'shift\nexec "$@"',
}


def stand_in(tmp_path, name: str, body: str = "") -> str:
    """A directory with ``name``: it runs its command here, with STAND_IN
    set to its name, whatever host it is given (``body``: its script, if
    not the usual one)."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\nexport STAND_IN={name}\n"
                    f"{body or STAND_INS[name]}\n")
    path.chmod(0o755)
    return f"{folder}:{os.environ['PATH']}"


def slot_file(tmp_path, lines) -> str:
    path = tmp_path / "nodes"
    path.write_text("".join(f"{line}\n" for line in lines))
    return str(path)


@pytest.mark.parametrize("starter, options", [
    ("pbsdsh", []), ("pbs_tmrsh", []), ("pbsdsh", ["--sub-brokers", "yes"])])
def test_pbs_job_through_its_node_file_and_starter(program, tmp_path,
                                                   starter, options):
    nodes = slot_file(tmp_path, [HERE, HERE, "127.0.0.2", "127.0.0.2"])
    env = clean_environ(PBS_JOBID="7.server", PBS_NODEFILE=nodes,
                        PATH=stand_in(tmp_path, starter))
    run = launch(["-v", *options, program(WHERE)], env=env, cwd=tmp_path)
    assert run.returncode == 0, run
    assert f"ran on ['forked', '{starter}'] size 4" in run.stdout, run
    assert "host 127.0.0.2: workers w2, w3 started" in run.stderr, run
    assert ("under sub-broker n2" in run.stderr) == bool(options), run
    assert not [n for n in os.listdir(tmp_path)
                if n.startswith(".scoop_hpc-")], "config files left"


def test_killed_launcher_under_pbsdsh_leaves_no_worker(program, tmp_path):
    """pbs_mom, not the launcher, starts pbsdsh's tasks, with no stdin to
    close: after a kill -9 of the launcher their workers leave when the
    broker's heartbeats stop (10 s), and the agent with them."""
    nodes = slot_file(tmp_path, [HERE, "127.0.0.2", "127.0.0.2"])
    detached = 'shift 3\n"$@" </dev/null &\nwait'  # not the launcher's
    env = clean_environ(PBS_JOBID="7.server", PBS_NODEFILE=nodes,
                        PATH=stand_in(tmp_path, "pbsdsh", detached))
    prog = program(SLEEPER)
    with conftest.scratch_tmpdir(env, check=False):  # SIGKILL: no clean-up
        _kill_under_pbsdsh(prog, env, tmp_path)
    left = [n for n in os.listdir(tmp_path) if n.startswith(".scoop_hpc-")]
    assert len(left) == 1, left     # the killed job's folder, its token
    # the next job launched here sweeps it, and removes its own at its end
    run = launch([program(WHERE)], env=env, cwd=tmp_path)
    assert run.returncode == 0, run
    assert not [n for n in os.listdir(tmp_path)
                if n.startswith(".scoop_hpc-")], "a job's folder left"


def _kill_under_pbsdsh(prog, env: dict, tmp_path) -> None:
    proc = subprocess.Popen([PYTHON, "-m", "scoop_hpc", prog], env=env,
                            cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "started\n"
        deadline = time.monotonic() + 30
        pids: set = set()
        while len(pids) < 3 and time.monotonic() < deadline:
            pids = {p.pid for p in psutil.process_iter(["cmdline"])
                    if str(tmp_path) in " ".join(p.info["cmdline"] or ())
                    and "scoop_hpc.agent" in p.info["cmdline"]}
            time.sleep(0.1)
        assert len(pids) >= 3, pids          # the agent and its 2 workers
        proc.kill()
        assert not wait_gone(pids, 15)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_lsf_job_skipping_its_launch_node(program, tmp_path):
    env = clean_environ(LSB_JOBID="9",
                        LSB_MCPU_HOSTS=f"{HERE} 1 127.0.0.2 2",
                        PATH=stand_in(tmp_path, "blaunch"))
    run = launch(["-v", "--skip-launch-node", program(WHERE)], env=env)
    assert run.returncode == 0, run
    # nothing runs on the launch node: the root too starts with blaunch
    assert "ran on ['blaunch'] size 2" in run.stdout, run


def test_auto_falls_back_to_ssh_and_says_why(program, tmp_path):
    nodes = slot_file(tmp_path, [HERE, HERE])
    env = clean_environ(PBS_JOBID="7.server", PBS_NODEFILE=nodes,
                        PATH=os.path.dirname(shutil.which("ssh")))
    run = launch([program(WHERE)], env=env)
    assert run.returncode == 0, run
    assert "none of pbs_tmrsh, pbsdsh is on PATH" in run.stderr, run
    assert "ran on ['forked'] size 2" in run.stdout, run


def test_malformed_allocation_is_a_usage_error(program, tmp_path):
    env = clean_environ(SLURM_JOB_ID="5", SLURM_JOB_NODELIST="node[1-3",
                        SLURM_TASKS_PER_NODE="1")
    run = launch([program(WHERE)], env=env)
    assert run.returncode == 2, run
    assert "SLURM_JOB_NODELIST='node[1-3'" in run.stderr, run
    assert "Traceback" not in run.stderr, run
