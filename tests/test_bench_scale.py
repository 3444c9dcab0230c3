"""bench/scale.py's simulated workers: they get tasks through the real
broker, and every process of a run goes away, even on Ctrl-C."""
import json
import os
import signal
import subprocess
import time

import psutil
import pytest

from .conftest import PYTHON, ROOT, assert_no_orphans, run_watched

SCALE = str(ROOT / "bench" / "scale.py")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("sub_brokers", [0, 2])
def test_sim_dispatches_tasks_and_leaves_nothing_behind(tmp_path,
                                                        sub_brokers):
    report = tmp_path / "scale.json"
    env = dict(os.environ, TMPDIR=str(tmp_path))
    run = run_watched([PYTHON, SCALE, "sim", "--workers", "4,16",
                       "--seconds", "0.5", "--warmup", "0.2", "--json",
                       report, "--sub-brokers", str(sub_brokers)], cwd=ROOT,
                      timeout=25, env=env)
    assert run.returncode == 0, run
    rows = json.loads(report.read_text())["rows"]
    assert [row["workers"] for row in rows] == [4, 16]
    for row in rows:
        assert row["completed_per_s"] > 0, rows
        assert row["dispatched_per_s"] > 0, rows
        assert row["lost"] == 0, rows
        assert row["sub_brokers"] == sub_brokers
        assert row["job_cpus"] == row["workers"] + 1, rows   # no counts
        assert (row["sub_brokers_cpu_pct"] > 0) == bool(sub_brokers), rows
    assert "| 16 |" in run.stdout
    # root + 2 clients (+ the sub-brokers) per round
    assert len(run.pids) == 2 * (3 + sub_brokers)
    assert not [p for p in tmp_path.iterdir() if p.name != report.name]


def _scale(tmp_path, *args, timeout=25):
    """Run ``bench/scale.py args`` with a JSON report; return the run and
    the report's rows."""
    report = tmp_path / "scale.json"
    run = run_watched([PYTHON, SCALE, *args, "--json", report], cwd=ROOT,
                      timeout=timeout,
                      env=dict(os.environ, TMPDIR=str(tmp_path)))
    assert run.returncode == 0, run
    return run, json.loads(report.read_text())["rows"]


@pytest.mark.timeout(30)
def test_sim_on_a_crowded_host_still_dispatches(tmp_path):
    """20 workers on a host of 2 CPUs, the root's tasks marked as
    computing: one worker at a time may hold them, and they flow."""
    run, [row] = _scale(tmp_path, "sim", "--workers", "20", "--crowded",
                        "2", "--seconds", "0.5", "--warmup", "0.2")
    assert row["crowded"] == 2 and row["completed_per_s"] > 0, row
    assert row["job_cpus"] == 2, row     # the broker counted the host
    assert "one host of 2 CPUs" in run.stdout


@pytest.mark.timeout(30)
def test_ctrl_c_stops_a_round_and_its_processes(tmp_path):
    proc = subprocess.Popen(
        [PYTHON, SCALE, "sim", "--workers", "8", "--seconds", "60"],
        cwd=ROOT, env=dict(os.environ, TMPDIR=str(tmp_path)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        joined = ""
        while "joined" not in joined:
            joined = proc.stderr.readline()
            assert joined or proc.poll() is None, "scale.py ended early"
        pids = {child.pid for child in
                psutil.Process(proc.pid).children(recursive=True)}
        assert len(pids) == 3
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert "Traceback" not in err, err
    finally:
        proc.kill()
        proc.wait()
    assert_no_orphans(pids)
    assert not list(tmp_path.iterdir())


@pytest.mark.timeout(60)
def test_real_maps_back_to_back_report_their_median_and_first(tmp_path):
    run, rows = _scale(tmp_path, "real", "--workers", "3", "--only", "W2",
                       "--tasks", "3000", "--maps", "3", timeout=55)
    assert [row["workers"] for row in rows] == [2, 3]
    for row in rows:
        assert row["error"] is None, rows
        assert row["value"] > 0 and row["first"] > 0, rows
    assert "W2 map, 3,000 trivial items" in run.stdout
    for workers in (2, 3):
        assert "W2 -n %d: " % workers in run.stderr
    assert run.stderr.count("(median of ") == 2, run.stderr
