"""Where the CPU time of a job's maps goes.

Run under the launcher, from bench/::

    BENCH_WORKERS=256 ../.venv/bin/python -m scoop_hpc -n 256 map_cpu.py \\
        [--items 200000] [--maps 8] [--spin MS]

After the warm-up of the other workloads, the root maps a trivial
function over ``--items`` integers ``--maps`` times (with ``--spin``, a
function that keeps its CPU busy for MS milliseconds an item: an
evolutionary algorithm's evaluations), and for each map prints one
line: its wall time; the CPU time of the root's main thread
and the time it waited for a CPU (``/proc/thread-self/schedstat``); the
CPU time of the launcher (the broker) and of the other workers, all
their threads together, and how many workers used 0.5 ms or more. On a
host with more workers than CPUs, the difference between the wall time
and the root's CPU time is mostly its wait for a CPU, and the other
workers' total shows what running chunks in many processes costs; the
line ends with the map's items a second.
Reading 257 processes' /proc between maps takes a few milliseconds; it
is outside the timed part. A running thread's schedstat lags by up to a
scheduler tick (4 ms at 250 Hz): maps much shorter than 20 ms are not
accounted for well (the root may seem to use more CPU than the wall
time). A last ``BENCH`` line gives the medians.
"""
import argparse
import os
import statistics
import time

from _common import futures, report, run, warm_up
from _cpu import cpu_seconds, siblings, thread_sched


def inc(x):
    """Return ``x + 1``."""
    return x + 1


def spin(x, seconds):
    """Return ``x + 1`` after ``seconds`` of this thread's CPU time."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
    return x + 1


def others():
    """``{pid: CPU seconds}`` of the launcher's other children."""
    return {pid: cpu_seconds([pid]) for pid in siblings()}


def one_map(items, spin_ms):
    """Run and account for one map (of ``spin`` if ``spin_ms``); return
    its figures in ms, and its items per second."""
    launcher = os.getppid()
    before, launcher_before = others(), cpu_seconds([launcher])
    ran, waited = thread_sched()
    start = time.perf_counter()
    if spin_ms:
        results = list(futures.map(spin, range(items),
                                   [spin_ms / 1e3] * items))
    else:
        results = list(futures.map(inc, range(items)))
    wall = time.perf_counter() - start
    ran_after, waited_after = thread_sched()
    launcher_cpu = cpu_seconds([launcher]) - launcher_before
    after = others()
    if results[-1] != items:
        raise SystemExit("wrong results")
    used = [after.get(pid, 0.0) - cpu for pid, cpu in before.items()]
    return {"wall": wall * 1e3, "root_cpu": (ran_after - ran) * 1e3,
            "root_wait": (waited_after - waited) * 1e3,
            "launcher_cpu": launcher_cpu * 1e3,
            "others_cpu": sum(used) * 1e3,
            "others": sum(1 for cpu in used if cpu >= 0.0005),
            "rate": items / wall}


def main():
    """Warm up, then account for each map."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200000)
    parser.add_argument("--maps", type=int, default=8)
    parser.add_argument("--spin", type=float, default=0.0, metavar="MS",
                        help="items of MS milliseconds of CPU each "
                        "(default: trivial items)")
    args = parser.parse_args()
    warm_up()
    rows = []
    for number in range(args.maps):
        row = one_map(args.items, args.spin)
        rows.append(row)
        print("map %d: wall %.1f ms, root %.1f ms on a CPU and %.1f ms "
              "waiting for one, launcher %.1f ms, %d other workers %.1f "
              "ms; %.0f items/s"
              % (number, row["wall"], row["root_cpu"], row["root_wait"],
                 row["launcher_cpu"], row["others"], row["others_cpu"],
                 row["rate"]),
              flush=True)
    medians = {key: statistics.median(row[key] for row in rows)
               for key in rows[0]}
    report("map_cpu", "ms", medians["wall"], **medians)


if __name__ == "__main__":
    run(main)
