"""bench/idle.py reads a real --timeline trace, map by map."""
import re

import pytest

from .conftest import PYTHON, ROOT, launch, run_watched

IDLE = str(ROOT / "bench" / "idle.py")
PROGRAM = """
import time
from scoop_hpc import futures
def work(x):
    time.sleep(0.004)
    return x
if __name__ == "__main__":
    for _ in range(2):
        list(futures.map(work, range(40)))
        time.sleep(0.3)       # the pause that ends a phase
"""


@pytest.mark.timeout(60)
def test_each_map_is_a_phase_with_every_worker_in_it(program, tmp_path):
    trace = tmp_path / "trace.json"
    run = launch(["-n", "2", "--timeline", str(trace), program(PROGRAM)])
    assert run.returncode == 0, run
    out = run_watched([PYTHON, IDLE, str(trace)], timeout=20).stdout
    shares = [float(s) for s in re.findall(r"busy share ([0-9.]+)", out)]
    assert len(shares) == 2 and all(0 < s <= 1 for s in shares), out
    tasks = re.findall(r"(w\d)@\S+: (\d+) tasks", out)
    assert {name for name, _ in tasks} == {"w0", "w1"}, out
    assert sum(int(n) for _, n in tasks) >= 4, out
