"""Shared fixtures: run programs under the real launcher, check for orphans."""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


class Run:
    """The outcome of one launcher run."""

    def __init__(self, proc: subprocess.CompletedProcess, pids: set,
                 seconds: float) -> None:
        self.args = proc.args
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.pids = pids
        self.seconds = seconds

    def __repr__(self) -> str:
        return (f"<Run rc={self.returncode}\n--- stdout\n{self.stdout}"
                f"--- stderr\n{self.stderr}>")


def _descendants(pid: int) -> set:
    try:
        return {p.pid for p in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def assert_no_orphans(pids: set, timeout: float = 5.0) -> None:
    """Fail if any of ``pids`` is still alive after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        alive = {p for p in alive if psutil.pid_exists(p)
                 and psutil.Process(p).status() != psutil.STATUS_ZOMBIE}
        if alive:
            time.sleep(0.05)
    assert not alive, f"processes left behind: {sorted(alive)}"


def job_processes(*markers: str) -> set:
    """Pids of every agent of this checkout's jobs on any node (the rigs'
    nodes share this machine's process table; an agent runs a Python of
    this checkout, not another checkout's on the same machine), of the
    workers they forked, and of processes whose command line holds one of
    ``markers``."""
    pids = set()
    for proc in psutil.process_iter(["cmdline"]):
        line = " ".join(proc.info["cmdline"] or ())
        if ("scoop_hpc.agent" in line and str(ROOT) in line
                or any(m in line for m in markers)):
            pids.add(proc.pid)
            with contextlib.suppress(psutil.NoSuchProcess):
                pids |= {p.pid for p in proc.children(recursive=True)}
    return pids


def alive(pids: set) -> set:
    """Those of ``pids`` still running (zombies do not count)."""
    left = set()
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                left.add(pid)
    return left


def wait_gone(pids: set, seconds: float) -> set:
    """Wait up to ``seconds`` for ``pids`` to end; return those left."""
    deadline = time.monotonic() + seconds
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive(pids)


def run_watched(cmd, *, cwd=None, timeout: float = 60.0, env=None,
                stdin=None) -> Run:
    """Run ``cmd``, record its process tree, fail if any of it survives."""
    cmd = [str(part) for part in cmd]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=stdin)
    pids = set()
    out_err = None
    while out_err is None:
        pids |= _descendants(proc.pid)
        try:
            out_err = proc.communicate(timeout=0.05)
        except subprocess.TimeoutExpired:
            if time.monotonic() - start > timeout:
                proc.terminate()  # srun, mpiexec: they end remote tasks
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(5)
                for pid in pids | {proc.pid}:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, 9)
                proc.communicate()
                raise AssertionError(
                    f"hung: {' '.join(cmd)}") from None
    done = subprocess.CompletedProcess(cmd, proc.returncode, *out_err)
    run = Run(done, pids, time.monotonic() - start)
    assert_no_orphans(pids)
    return run


def launch(args, *, cwd=None, timeout: float = 60.0, env=None,
           stdin=None) -> Run:
    """Run ``python -m scoop_hpc ARGS`` under :func:`run_watched`; unless
    ``env`` names a TMPDIR, give it one of its own and fail if the job
    leaves anything there (its socket directory)."""
    environ = dict(os.environ, PYTHONUNBUFFERED="1")
    environ.update(env or {})
    own = "TMPDIR" in (env or {})
    with contextlib.nullcontext() if own else scratch_tmpdir(environ):
        return run_watched([PYTHON, "-m", "scoop_hpc", *args], cwd=cwd,
                           timeout=timeout, env=environ, stdin=stdin)


@contextlib.contextmanager
def scratch_tmpdir(environ: dict, check: bool = True):
    """Point ``environ``'s TMPDIR at a new directory while the block runs;
    with ``check``, fail if the block leaves anything in it (unless the
    block failed already: a killed launcher cannot clean up, so such tests
    pass False). The directory goes in any case, and ``environ``'s
    TMPDIR is as before."""
    scratch = tempfile.mkdtemp(prefix="sh-tmp-")
    before = environ.get("TMPDIR")
    environ["TMPDIR"] = scratch
    try:
        yield
        left = os.listdir(scratch) if check else []
        assert not left, f"the job left {left} in its TMPDIR"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if before is None:
            environ.pop("TMPDIR", None)
        else:
            environ["TMPDIR"] = before


@pytest.fixture
def program(tmp_path):
    """Write a program from source text; return its path."""
    def write(source: str, name: str = "prog.py") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(source))
        return path
    return write


@pytest.fixture
def hostfile(tmp_path):
    """Write a hostfile from text; return its path as a string."""
    def write(text: str, name: str = "hosts.txt") -> str:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)
    return write
