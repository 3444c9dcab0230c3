"""bench/w3_pi.py times the machine's own ceiling beside the runtime's
efficiency, and bench/run.py reports both."""
import json
import sys

import pytest

from .conftest import ROOT, launch

sys.path.insert(0, str(ROOT / "bench"))
import run  # noqa: E402  (bench/ is no package)

W3 = str(ROOT / "bench" / "w3_pi.py")


@pytest.mark.timeout(60)
def test_w3_times_bare_processes_beside_the_map_and_reaps_them():
    job = launch(["-n", "2", W3], env={"BENCH_WORKERS": "2",
                                       "BENCH_TASKS": "16"})
    assert job.returncode == 0, job
    record = json.loads(job.stdout.split("BENCH ", 1)[1].splitlines()[0])
    assert record["processes"] == 2, record
    assert record["ceiling"] == pytest.approx(
        record["serial_seconds"] / (2 * record["bare_seconds"]))
    assert record["of_ceiling"] == pytest.approx(
        record["value"] / record["ceiling"])
    assert 0 < record["bare_seconds"] < 10 * record["serial_seconds"]
    # the tasks' CPU over 2 x the map's wall time: no runtime exceeds 1
    assert 0 < record["cpu_share"] <= 1.0, record


def test_the_report_gives_each_runtime_its_share_of_the_ceiling():
    impls = [run.Impl("scoop_hpc", "scoop_hpc", "scoop_hpc", None, True),
             run.Impl("ppe", "PPE", "PPE", None, False),
             run.Impl("scoop", "SCOOP 0.7.2", "SCOOP", None, True)]
    results = {
        ("W3", "scoop_hpc"): run.Outcome(0.9, None, 2, (
            {"ceiling": 0.95, "of_ceiling": 0.96, "cpu_share": 0.93},
            {"ceiling": 0.97, "of_ceiling": 0.94, "cpu_share": 0.95},
            {"ceiling": 1.0, "of_ceiling": 0.92, "cpu_share": 0.94})),
        ("W3", "ppe"): run.Outcome(0.8, None, 2, (
            {"ceiling": 0.9, "of_ceiling": 0.9, "cpu_share": 0.85},)),
        ("W3", "scoop"): run.Outcome(None, "timeout", None)}
    text = run.ceiling_text(impls, results)
    assert "scoop_hpc 0.940 of a ceiling of 0.970, CPU share 0.940" in text
    assert "PPE 0.900 of a ceiling of 0.900, CPU share 0.850" in text
    assert "SCOOP" not in text
    assert run.ceiling_text(impls, {}) is None
