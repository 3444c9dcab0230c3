"""The CPUs a batch job was granted on a host bound its workers' threads.

The rigs' Slurm (``TaskPlugin=task/none``) and Grid Engine bind no job
to its CPUs: every worker's affinity is the whole machine, whatever the
job asked. A job of one CPU per node must still cap its workers'
numeric libraries at one thread, not at the machine's CPUs.
"""
from __future__ import annotations

import os
import subprocess

import pytest

from scoop_hpc import threadcaps

from .conftest import PYTHON, ROOT, assert_no_orphans, launch, run_watched
from .test_batch import (
    HERE,
    WHERE,
    clean_environ,
    job_script,
    sge,
    sge_up,
    slot_file,
    slurm,
    slurm_up,
)
from .test_mpi import (
    MISSING,
    _needs,
    _slurm_missing,
    job_pids,
)

pytestmark = pytest.mark.timeout(180)

# each task names its node and the threads its libraries were given
THREADS = """
    import os, time
    from scoop_hpc import futures

    def threads(i):
        time.sleep(0.2)
        return (os.environ.get("SLURMD_NODENAME", "here") + " "
                + os.environ.get("OMP_NUM_THREADS", "unset"))

    if __name__ == "__main__":
        print("threads", sorted(set(futures.map(threads, range(8)))),
              flush=True)
"""

THREADS_BY_WORKER = THREADS.replace(
    'os.environ.get("SLURMD_NODENAME", "here")', "scoop_hpc.WORKER_NAME"
).replace("import os, time", "import os, time\n    import scoop_hpc")


def _submit(tmp_path, command, prog) -> str:
    out = tmp_path / "job.out"
    script = job_script(tmp_path, f"""
        #$ -S /bin/bash
        cd {ROOT}
        {PYTHON} -m scoop_hpc {prog}
    """)
    done = subprocess.run([*command, "-o", str(out), script],
                          capture_output=True, text=True, timeout=150,
                          env=clean_environ())
    text = out.read_text() if out.exists() else ""
    assert done.returncode == 0, done.stdout + done.stderr + text
    return text


@slurm
@slurm_up
def test_slurm_job_of_one_cpu_per_node_gives_one_thread(program, tmp_path):
    """SLURM_JOB_CPUS_PER_NODE, not the node's CPUs: on node2 too, whose
    agent runs in a step where SLURM_CPUS_ON_NODE is the step's."""
    text = _submit(tmp_path, ["sbatch", "--wait", "-p", "multi", "-N2",
                              "--ntasks-per-node=1", "--cpus-per-task=1"],
                   program(THREADS))
    assert "threads ['node1 1', 'node2 1']" in text, text


@slurm
@slurm_up
def test_slurm_more_workers_than_cpus_start_on_every_node(program,
                                                          tmp_path):
    """``-n 4`` in a job of one CPU per node: node2's agent's step asks
    srun for the job's one CPU there, not one per worker, which Slurm
    refused ("More processors requested than permitted"): node2 was
    left out."""
    text = _submit(tmp_path, ["sbatch", "--wait", "-p", "multi", "-N2",
                              "--ntasks-per-node=1", "--cpus-per-task=1"],
                   f"-n 4 {program(WHERE)}")
    assert "ran on ['node1', 'node2'] size 4" in text, text


@sge
@sge_up
def test_sge_job_of_one_slot_gives_one_thread(program, tmp_path):
    text = _submit(tmp_path, ["qsub", "-sync", "y", "-w", "e", "-pe", "smp",
                              "1", "-j", "y"], program(THREADS))
    assert "threads ['here 1']" in text, text


@sge
@sge_up
def test_sge_agent_started_by_qrsh_gets_the_hosts_slots(program, tmp_path):
    """``qrsh -inherit`` sets no PE_HOSTFILE: w1's agent would take the
    node's CPUs for its one worker; the launcher tells it the slot."""
    text = _submit(tmp_path, ["qsub", "-sync", "y", "-w", "e", "-pe", "smp",
                              "1", "-j", "y"],
                   f"--launcher qrsh -n 2 {program(THREADS_BY_WORKER)}")
    assert "threads ['w0 1', 'w1 1']" in text, text


@pytest.mark.parametrize("variables", ["pbs", "lsf"])
def test_pbs_and_lsf_slots_of_the_host_bound_its_threads(program, tmp_path,
                                                        variables):
    env = (dict(PBS_JOBID="7.server",
                PBS_NODEFILE=slot_file(tmp_path, [HERE]))
           if variables == "pbs" else
           dict(LSB_JOBID="9", LSB_MCPU_HOSTS=f"{HERE} 1"))
    run = launch([program(THREADS)], env=clean_environ(**env))
    assert run.returncode == 0, run
    assert "threads ['here 1']" in run.stdout, run


@pytest.mark.mpi
@pytest.mark.slurm
def test_srun_ranks_get_the_threads_of_the_jobs_cpus(program):
    """``srun --mpi=pmi2`` in a job of one CPU per node on the rig's
    Slurm, which binds no task: each rank still caps its numeric
    libraries at the job's one CPU, not the node's."""
    _needs(MISSING)
    reason = _slurm_missing()
    if reason:
        pytest.skip(reason)
    path = program(THREADS)
    env = {k: v for k, v in os.environ.items()
           if k not in threadcaps.VARIABLES}
    run = run_watched(["srun", "-p", "multi", "-N", "2",
                       "--ntasks-per-node=1", "--cpus-per-task=1",
                       "--mpi=pmi2", PYTHON, "-m", "scoop_hpc", path],
                      timeout=90, cwd=ROOT,
                      env=dict(env, PYTHONUNBUFFERED="1"))
    assert run.returncode == 0, run
    assert "threads ['node1 1', 'node2 1']" in run.stdout, run
    assert_no_orphans(job_pids(str(path)))
