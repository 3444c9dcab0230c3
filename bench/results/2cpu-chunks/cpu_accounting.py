"""Per map of W3's tasks, where every thread of the job spent its time.

    cd bench && ../.venv/bin/python -m scoop_hpc -n 2 \\
        results/2cpu-chunks/cpu_accounting.py

After a warm-up map, the root maps W3's 200 tasks ten times, each task
returning its thread's CPU time, then times three serial loops of them.
It prints the serial CPU time per 200 tasks, the tasks' CPU per map by
process, and for each thread of the launcher, the root and the worker,
per map: its CPU time, its wait for a CPU (``/proc/.../schedstat``) and
its context switches. The root's main thread includes the serial loops.
"""
import glob
import os
import sys
import time

import psutil

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from w3_pi import hits  # noqa: E402

from scoop_hpc import futures  # noqa: E402

MAPS = 10


def timed_hits(seed):
    """``hits(seed)``, the CPU time of its thread, and the process id."""
    start = time.thread_time()
    inside = hits(seed)
    return inside, time.thread_time() - start, os.getpid()


def sched(pid):
    """{(pid, tid, name): (run ns, wait ns, switches)} of a process."""
    out = {}
    for task in glob.glob(f"/proc/{pid}/task/*"):
        with open(task + "/comm") as comm, open(task + "/schedstat") as st:
            name = comm.read().strip()
            run, wait, switches = map(int, st.read().split())
        out[(pid, task.rsplit("/", 1)[1], name)] = (run, wait, switches)
    return out


def main():
    list(futures.map(hits, range(50)))
    launcher = psutil.Process().parent()
    pids = [launcher.pid] + [c.pid for c in launcher.children()]
    before = {}
    for pid in pids:
        before.update(sched(pid))
    start = time.perf_counter()
    tasks = {}
    for _ in range(MAPS):
        for _, cpu, pid in futures.map(timed_hits, range(200)):
            tasks[pid] = tasks.get(pid, 0) + cpu
    elapsed = time.perf_counter() - start
    cpu = time.thread_time()
    for _ in range(3):
        for seed in range(200):
            hits(seed)
    print("serial cpu per 200:", (time.thread_time() - cpu) / 3 * 1e3,
          "task cpu per map by pid:",
          {p: round(v / MAPS * 1e3, 1) for p, v in tasks.items()})
    after = {}
    for pid in pids:
        after.update(sched(pid))
    print(f"{MAPS} maps, {elapsed * 1e3 / MAPS:.1f} ms each; per map: "
          "cpu ms (run), runqueue wait ms, switches")
    for key in sorted(after):
        if key in before:
            run, wait, switches = (
                (a - b) / MAPS for a, b in zip(after[key], before[key]))
            if run > 1e4 or wait > 1e4:
                print(key, f"run {run / 1e6:7.2f}  wait {wait / 1e6:6.2f}  "
                      f"switches {switches:6.1f}")


if __name__ == "__main__":
    main()
