"""The code follows the style rules of ruff.toml (PEP 8, 79 columns)."""
import shutil
import subprocess
import sys

import pytest

from .conftest import ROOT


@pytest.mark.timeout(120)
def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(ROOT / ".venv" / "bin" / "ruff")
    proc = subprocess.run(
        [ruff, "check", "--output-format", "concise", "scoop_hpc",
         "schedulers", "tests", "examples", "bench"],
        cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.timeout(120)
def test_doctests_pass():
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--doctest-modules", "scoop_hpc", "schedulers"],
        cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
