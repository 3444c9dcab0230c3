"""The end-of-run summary (-v) and the timeline (--timeline)."""
from __future__ import annotations

import json

import pytest

from .conftest import launch

pytestmark = pytest.mark.timeout(60)

PROGRAM = """
    import time
    from scoop_hpc import futures

    def leaf(x):
        time.sleep(0.002)
        return x

    def tree(depth):
        if depth == 0:
            return 1
        kids = [futures.submit(tree, depth - 1) for _ in range(2)]
        return sum(kid.result() for kid in kids)

    if __name__ == "__main__":
        total = sum(f.result() for f in [futures.submit(leaf, i)
                                         for i in range(40)])
        print(total, futures.submit(tree, 4).result())
"""
TASKS = 40 + 31         # the leaves, and a binary tree of depth 4


def test_timeline_is_a_trace_with_one_track_per_worker(program, tmp_path):
    timeline = tmp_path / "trace.json"
    run = launch(["-n", "3", "-v", "--timeline", timeline,
                  program(PROGRAM)])
    assert run.returncode == 0, run
    assert "780 16" in run.stdout, run
    document = json.loads(timeline.read_text())
    events = document["traceEvents"]
    tracks = {e["tid"]: e["args"]["name"] for e in events
              if e["ph"] == "M" and e["name"] == "thread_name"}
    assert sorted(tracks) == [0, 1, 2]
    assert all(name.startswith(f"w{tid}@") for tid, name in tracks.items())
    slices = [e for e in events if e["ph"] == "X"]
    assert len(slices) == TASKS
    assert {e["name"] for e in slices} == {"leaf", "tree"}
    assert sum(e["name"] == "tree" for e in slices) == 31
    for event in slices:
        assert event["tid"] in tracks and event["pid"] == 1
        assert event["ts"] >= 0 and event["dur"] >= 0
        assert tracks[event["tid"]].endswith("@" + event["args"]["host"])
    # the summary counts the same tasks
    assert f"summary: {TASKS} tasks on 3 of 3 workers" in run.stderr, run
    counts = [int(line.split(": ")[1].split()[0])
              for line in run.stderr.splitlines()
              if line.startswith("  w") and " tasks, " in line]
    assert len(counts) == 3 and sum(counts) == TASKS
    assert f"timeline of {TASKS} tasks written to {timeline}" in run.stderr


def test_nothing_is_recorded_or_printed_by_default(program, tmp_path):
    run = launch(["-n", "2", program(PROGRAM)], cwd=tmp_path)
    assert run.returncode == 0, run
    assert "summary" not in run.stderr and run.stderr == "", run
    assert list(tmp_path.iterdir()) == [tmp_path / "prog.py"]


MAPS = """
    import operator
    from scoop_hpc import futures

    def square(x):
        return x * x

    if __name__ == "__main__":
        print(futures.mapReduce(square, operator.add, range(10)),
              futures.mapScan(square, operator.add, range(4)),
              list(futures.map(square, range(3))))
"""


def test_the_timeline_names_chunks_of_every_kind_of_map(program, tmp_path):
    timeline = tmp_path / "trace.json"
    run = launch(["-n", "2", "--timeline", timeline, program(MAPS)])
    assert (run.returncode, run.stdout) == (0, "285 [0, 1, 5, 14] "
                                               "[0, 1, 4]\n"), run
    slices = [e for e in json.loads(timeline.read_text())["traceEvents"]
              if e["ph"] == "X"]
    assert sum(int(e["name"].split(" x")[1]) for e in slices) == 17
    assert {e["name"].split(" x")[0] for e in slices} == {"square"}
