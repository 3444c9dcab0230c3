"""The wheel built from this checkout installs and runs in a fresh venv.

Slow (a wheel build, a venv and a pip install: about 20 s here, mostly
pip), hence ``@pytest.mark.slow``; deselect with ``-m "not slow"``.
"""
from __future__ import annotations

import os
import shutil
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT, Run, run_watched

HELLO = '''\
import os

import scoop_hpc
from scoop_hpc import futures


def where(x):
    """Runs on a worker: which scoop_hpc does that worker use?"""
    return x * x, os.path.dirname(scoop_hpc.__file__)


if __name__ == "__main__":
    results = list(futures.map(where, range(10)))
    print("squares:", [value for value, _ in results])
    print("size:", scoop_hpc.SIZE)
    print("origin:", os.path.dirname(scoop_hpc.__file__))
    for path in sorted({path for _, path in results}):
        print("worker package:", path)
'''

# What must not be copied into the build tree: environments, VCS data and
# build leftovers (the copy keeps the build from writing build/ and
# *.egg-info into the checkout, where others are working).
_NOT_SOURCES = shutil.ignore_patterns(
    ".venv*", ".git", "build", "dist", "*.egg-info", "__pycache__",
    ".pytest_cache", "*.pyc")


def clean_env() -> dict:
    """The environment minus anything that could find the checkout."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONNOUSERSITE="1")
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV",
                 "PYTHONSTARTUP", "PYTHONSAFEPATH"):
        env.pop(name, None)
    return env


def run(cmd, *, cwd, timeout=120.0, env=None) -> Run:
    """Run ``cmd`` with a clean environment; nothing may be left behind."""
    return run_watched(cmd, cwd=cwd, timeout=timeout, env=env or clean_env())


def check(proc: Run) -> str:
    assert proc.returncode == 0, (
        f"{proc.args} -> {proc.returncode}\n--- stdout\n{proc.stdout}"
        f"--- stderr\n{proc.stderr}")
    return proc.stdout


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_wheel_installs_in_fresh_venv(tmp_path):
    # 1. Build a wheel of the checkout (from a copy of its sources).
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=_NOT_SOURCES)
    dist = tmp_path / "dist"
    check(run([sys.executable, "-m", "build", "--wheel", "--no-isolation",
               "-o", dist, src], cwd=tmp_path, timeout=300))
    wheels = list(dist.glob("scoop_hpc-*.whl"))
    assert len(wheels) == 1, wheels
    wheel = wheels[0]
    names = set(zipfile.ZipFile(wheel).namelist())
    # setup.cfg's package_dir maps the top-level schedulers/ and
    # submit_templates/ folders into the package.
    for module in ("scoop_hpc/__init__.py", "scoop_hpc/__main__.py",
                   "scoop_hpc/cli.py", "scoop_hpc/py.typed",
                   "scoop_hpc/_alias/SCOOP_WORKER.py",
                   "scoop_hpc/_runtime/__init__.py",
                   "scoop_hpc/_transport/__init__.py",
                   "scoop_hpc/schedulers/__init__.py",
                   "scoop_hpc/submit_templates/__init__.py"):
        assert module in names, f"{module} missing from {wheel.name}"
    assert not any(name.startswith(("schedulers/", "submit_templates/",
                                    "tests/", "examples/", "bench/"))
                   for name in names), sorted(names)

    # 2. A fresh venv, without the system's or the checkout's packages;
    #    pip resolves the dependencies (the local index config applies).
    venv = tmp_path / "venv"
    check(run([sys.executable, "-m", "venv", venv], cwd=tmp_path))
    cfg = (venv / "pyvenv.cfg").read_text()
    assert "include-system-site-packages = false" in cfg, cfg
    python = venv / "bin" / "python"
    check(run([python, "-m", "pip", "install", wheel], cwd=tmp_path,
              timeout=450))
    check(run([python, "-m", "pip", "check"], cwd=tmp_path))

    site = check(run([python, "-c",
                      "import sysconfig; print(sysconfig.get_paths()"
                      "['purelib'])"], cwd=tmp_path)).strip()
    installed = str(Path(site) / "scoop_hpc")

    # 3. Run a program from outside the checkout.
    work = tmp_path / "work"
    work.mkdir()
    (work / "hello.py").write_text(HELLO)
    expected = [
        "squares: [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]",
        "size: 2",
        f"origin: {installed}",
    ]

    def check_hello(stdout: str) -> None:
        out = stdout.splitlines()
        assert out[:3] == expected, stdout
        # Every worker that ran a task used the installed package.
        assert out[3:] and all(line == f"worker package: {installed}"
                               for line in out[3:]), stdout
        assert str(ROOT) not in stdout

    check_hello(check(run([python, "-m", "scoop_hpc", "-n", 2, "hello.py"],
                          cwd=work)))

    # 4. The subpackages mapped by package_dir import from the wheel.
    out = check(run([python, "-c", textwrap.dedent("""\
        import scoop_hpc.schedulers, scoop_hpc.submit_templates
        print(scoop_hpc.schedulers.__file__)
        print(scoop_hpc.submit_templates.__file__)
        """)], cwd=work))
    assert out.splitlines() == [
        f"{installed}/schedulers/__init__.py",
        f"{installed}/submit_templates/__init__.py"], out

    # 5. The console script.
    script = venv / "bin" / "scoop-hpc"
    assert script.is_file() and os.access(script, os.X_OK), script
    assert "scoop-hpc COMMAND" in check(run([script, "--help"], cwd=work))
    check_hello(check(run([script, "run", "-n", 2, "hello.py"], cwd=work)))
