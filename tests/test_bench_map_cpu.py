"""bench/map_cpu.py accounts for the CPU of a real job's maps."""
import json
import re

import pytest

from .conftest import ROOT, launch

MAP_CPU = str(ROOT / "bench" / "map_cpu.py")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("items", [["--items", "200000"],
                                   ["--items", "200", "--spin", "0.5"]])
def test_it_accounts_for_each_map_and_every_other_worker(items):
    run = launch(["-n", "3", MAP_CPU, *items, "--maps", "2"],
                 env={"BENCH_WORKERS": "3"})
    assert run.returncode == 0, run
    lines = re.findall(r"^map (\d): wall ([0-9.]+) ms, root ([0-9.]+) ms on "
                       r"a CPU and ([0-9.]+) ms waiting for one, launcher "
                       r"([0-9.]+) ms, (\d+) other workers ([0-9.]+) ms; "
                       r"(\d+) items/s$",
                       run.stdout, re.M)
    assert [line[0] for line in lines] == ["0", "1"], run.stdout
    count = int(items[1])
    for _, wall, root, _, launcher, others, _, rate in lines:
        assert 0 < float(root) <= float(wall) * 1.5, run.stdout
        expected = count / float(wall) * 1e3    # wall is rounded
        assert abs(int(rate) - expected) <= 0.05 * expected, run.stdout
        assert int(others) <= 2, run.stdout
        # 100 ms of work involves the others; a trivial map may end on the
        # root alone before anyone asks
        if "--spin" in items:
            assert float(launcher) > 0 and int(others) >= 1, run.stdout
    record = json.loads(run.stdout.split("BENCH ", 1)[1].splitlines()[0])
    assert record["workload"] == "map_cpu" and record["others"] <= 2
