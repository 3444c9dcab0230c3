"""bench/idle_cost.py measures a real idle job."""
import re

import pytest

from .conftest import ROOT, launch

IDLE_COST = str(ROOT / "bench" / "idle_cost.py")


@pytest.mark.timeout(60)
def test_it_sees_every_idle_worker_and_what_they_took():
    run = launch(["-n", "4", IDLE_COST, "--seconds", "1"])
    assert run.returncode == 0, run
    row = re.search(r"^\| (\d+) \| 1 \| ([0-9.]+) % \| ([0-9.]+) \| "
                    r"([0-9.]+) % \|$", run.stdout, re.M)
    assert row, run.stdout
    assert int(row.group(1)) == 3, run.stdout
    assert 0 <= float(row.group(2)) < 100 and float(row.group(4)) < 100
