"""bench/mac_cost.py times signing and checking real messages."""
import re

import pytest

from .conftest import PYTHON, ROOT, run_watched

MAC_COST = str(ROOT / "bench" / "mac_cost.py")


@pytest.mark.timeout(60)
def test_it_times_every_message_and_a_signed_payload():
    run = run_watched([PYTHON, MAC_COST, "--number", "200", "--repeat",
                       "2"], cwd=ROOT, timeout=55)
    assert run.returncode == 0, run
    rows = re.findall(r"^\| ([^|]+) \| ([0-9.]+) \|$", run.stdout, re.M)
    assert [name for name, _ in rows] == [
        "REQUEST", "TASKS, 1 task", "TASKS, 16 tasks", "RESULTS, 1 result",
        "a small signed payload: dumps + loads"], run.stdout
    assert all(float(cost) > 0 for _, cost in rows), run.stdout
