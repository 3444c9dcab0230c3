"""After a run: the workers' records (``_runtime.activity``) as a summary
for people (``-v``) and as a timeline (``--timeline FILE.json``).

The timeline is a Chrome trace-event file (open it in Perfetto or
chrome://tracing): one track per worker, named ``w3@node1``, one slice per
task named after its function (``square x125`` for a chunk of 125 items of
a map), times in microseconds since the job's first task.
"""
from __future__ import annotations

import json
import os
from typing import List

_PID = 1


def read(folder: str) -> List[dict]:
    """The records the workers left in ``folder``, in worker order."""
    records = []
    for name in os.listdir(folder):
        if name.startswith("w") and name.endswith(".json"):
            try:
                with open(os.path.join(folder, name),
                          encoding="utf-8") as handle:
                    records.append(json.load(handle))
            except (OSError, ValueError):
                continue            # a worker that died while writing
    return sorted(records, key=lambda r: int(r["worker"][1:]))


def summary(records: List[dict], size: int, broker) -> str:
    """Tasks and time in tasks per worker, the broker's peak queue, the
    workers lost and the tasks run again or given up."""
    lost = broker.workers_lost
    lines = [f"summary: {sum(r['tasks'] for r in records)} tasks on "
             f"{len(records)} of {size} workers; the broker's queue peaked "
             f"at {broker.peak} tasks; faults: {lost} workers lost, "
             f"{broker.replays} tasks run again, {broker.failures} "
             f"given up"]
    for record in records:
        lines.append(f"  {record['worker']}@{record['host']}: "
                     f"{record['tasks']} tasks, "
                     f"{record['busy']:.3f} s in tasks")
    missing = size - len(records) - lost
    if missing > 0:
        lines.append(f"  ({missing} workers left no record: they died, or "
                     f"their host does not share this file system)")
    return "\n".join(lines)


def trace(records: List[dict]) -> dict:
    """The trace-event document of ``records``."""
    starts = [start for r in records for _, start, _ in r["events"]]
    origin = min(starts) if starts else 0.0
    events = [{"ph": "M", "pid": _PID, "name": "process_name",
               "args": {"name": "scoop_hpc job"}}]
    for record in records:
        tid = int(record["worker"][1:])
        label = f"{record['worker']}@{record['host']}"
        events.append({"ph": "M", "pid": _PID, "tid": tid,
                       "name": "thread_name", "args": {"name": label}})
        events.append({"ph": "M", "pid": _PID, "tid": tid,
                       "name": "thread_sort_index",
                       "args": {"sort_index": tid}})
        for name, start, duration in record["events"]:
            events.append({"ph": "X", "pid": _PID, "tid": tid, "name": name,
                           "ts": round((start - origin) * 1e6, 1),
                           "dur": round(duration * 1e6, 1),
                           "args": {"host": record["host"],
                                    "worker": record["worker"]}})
    return {"traceEvents": events, "displayTimeUnit": "ms"}


def write_trace(path: str, records: List[dict]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(trace(records), handle)
