"""Scripts written by ``scoop-hpc gen-submit`` run on the real Slurm and
Grid Engine rigs and give the examples' answers.

The scripts use this test run's environment (``--venv sys.prefix``), so
the compute nodes run the same scoop_hpc. Without the rigs these tests
are skipped, unless ``SCOOP_HPC_RIGS=required`` (as in CI).
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time

import pytest

from .conftest import PYTHON, ROOT, job_processes, wait_gone
from .test_batch import clean_environ, sge, sge_up, slurm, slurm_up

pytestmark = pytest.mark.timeout(240)

EXAMPLES = ROOT / "examples"


def gen_submit(tmp_path, *argv: str,
               venv: bool = True) -> subprocess.CompletedProcess:
    """Run ``scoop-hpc gen-submit ARGV`` in ``tmp_path`` with an empty
    site configuration (and ``--venv sys.prefix`` unless not ``venv``);
    fail unless it succeeds."""
    site = tmp_path / "site.toml"
    site.write_text("")
    done = subprocess.run(
        [PYTHON, "-m", "scoop_hpc.cli", "gen-submit",
         *(["--venv", sys.prefix] if venv else []), *argv], cwd=tmp_path,
        capture_output=True, text=True, timeout=60, env=environ(tmp_path))
    assert done.returncode == 0, done.stderr
    return done


def environ(tmp_path) -> dict:
    """No scheduler's variables, no SCOOP_HPC_* setting, an empty site
    configuration and no user file."""
    return clean_environ(**{name: "" for name in os.environ
                            if name.startswith("SCOOP_HPC_")
                            and name != "SCOOP_HPC_RIGS"},
                         SCOOP_HPC_SITE_CONFIG=str(tmp_path / "site.toml"),
                         XDG_CONFIG_HOME=str(tmp_path / "xdg"))


def pi_line(batches: int, throws: int) -> str:
    """The estimate examples/pi_montecarlo.py prints, computed here."""
    spec = importlib.util.spec_from_file_location(
        "pi_montecarlo", EXAMPLES / "pi_montecarlo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    hits = sum(module.count_hits(batch, throws) for batch in range(batches))
    return f"pi estimate: {4.0 * hits / (batches * throws):.6f}"


def output_of(path, done: subprocess.CompletedProcess) -> str:
    text = path.read_text() if path.exists() else ""
    assert done.returncode == 0, done.stdout + done.stderr + text
    return text


@slurm
@slurm_up
def test_generated_slurm_script_runs_on_two_nodes(tmp_path):
    gen_submit(tmp_path, "--scheduler", "slurm", "--partition", "multi",
               "--nodes", "2", "--tasks-per-node", "2", "--output",
               "job.out", "-o", "job.sh", str(EXAMPLES / "hello_map.py"))
    done = subprocess.run(["sbatch", "--wait", "job.sh"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=180,
                          env=environ(tmp_path))
    text = output_of(tmp_path / "job.out", done)
    assert "scoop_hpc hello-world on 4 worker(s)" in text, text
    assert "8 greetings, in order. Goodbye!" in text, text
    assert not wait_gone(job_processes("hello_map.py"), 15)


@slurm
@slurm_up
def test_gen_submit_submits_to_slurm_and_prints_the_job_id(tmp_path):
    done = gen_submit(tmp_path, "--scheduler", "slurm", "--queue", "multi",
                      "--nodes", "2", "--ntasks", "3", "--output",
                      "pi.out", "--submit", str(EXAMPLES / "pi_montecarlo.py"),
                      "20", "2000")
    job = done.stdout.strip()
    assert job.isdigit(), done.stdout
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        queued = subprocess.run(["squeue", "-h", "-j", job],
                                capture_output=True, text=True, timeout=30)
        if not queued.stdout.strip():
            break
        time.sleep(0.5)
    text = (tmp_path / "pi.out").read_text()
    assert pi_line(20, 2000) in text, text
    assert not list(tmp_path.glob("*.sh")), "--submit alone writes no file"


@sge
@sge_up
def test_generated_sge_script_runs_in_the_mpi_pe(tmp_path):
    gen_submit(tmp_path, "--scheduler", "sge", "--pe", "mpi", "--ntasks",
               "3", "--output", "job.out", "-o", "job.sh",
               str(EXAMPLES / "pi_montecarlo.py"), "30", "2000")
    done = subprocess.run(["qsub", "-sync", "y", "job.sh"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=180,
                          env=environ(tmp_path))
    text = output_of(tmp_path / "job.out", done)
    assert pi_line(30, 2000) in text, text
    assert "darts thrown: 60000" in text, text
    assert not wait_gone(job_processes("pi_montecarlo.py"), 15)


@sge
@sge_up
def test_a_script_written_from_a_venv_without_venv_runs_its_python(
        tmp_path):
    """Grid Engine does not pass the submitting shell's PATH: a script
    that ran ``python3`` got the system's, without scoop_hpc ("No module
    named scoop_hpc"); it runs gen-submit's own interpreter now."""
    gen_submit(tmp_path, "--scheduler", "sge", "--pe", "smp", "--ntasks",
               "2", "--output", "job.out", "-o", "job.sh",
               str(EXAMPLES / "pi_montecarlo.py"), "10", "2000", venv=False)
    done = subprocess.run(["qsub", "-sync", "y", "job.sh"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=180,
                          env=environ(tmp_path))
    text = output_of(tmp_path / "job.out", done)
    assert pi_line(10, 2000) in text, text
    assert not wait_gone(job_processes("pi_montecarlo.py"), 15)
    assert f"exec {sys.executable} -m scoop_hpc" in \
        (tmp_path / "job.sh").read_text()
