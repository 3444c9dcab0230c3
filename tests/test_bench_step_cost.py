"""bench/step_cost.py times the broker's scheduling step."""
import re

import pytest

from .conftest import PYTHON, ROOT, run_watched

STEP_COST = str(ROOT / "bench" / "step_cost.py")


@pytest.mark.timeout(60)
def test_it_times_a_step_for_each_job_size():
    run = run_watched([PYTHON, STEP_COST, "--workers", "4,40", "--cpus",
                       "2", "--rounds", "50"], cwd=ROOT, timeout=55)
    assert run.returncode == 0, run
    rows = re.findall(r"^\| (\d+) \| ([0-9.]+) \| ([0-9.]+) \|$",
                      run.stdout, re.M)
    assert [int(n) for n, _, _ in rows] == [4, 40], run.stdout
    assert all(float(m) > 0 for _, m, _ in rows), run.stdout
