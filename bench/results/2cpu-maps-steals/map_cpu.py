"""Three maps of 200,000 trivial items once every worker is up, each with
the CPU time it cost the machine, the broker (the launcher), the root and
the other workers (read from /proc). Run as
``python -m scoop_hpc -n 256 bench/results/2cpu-maps-steals/map_cpu.py``."""
import os
import time

import scoop_hpc
from scoop_hpc import futures

ITEMS = 200000


def inc(x):
    return x + 1


def pid_after_nap(_):
    time.sleep(0.002)
    return os.getpid()


def machine():
    """Busy jiffies of the whole machine."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return sum(fields) - fields[3] - fields[4]


def processes():
    """CPU jiffies of the broker, the root and the other workers."""
    me, broker = os.getpid(), os.getppid()
    out = {"broker": 0, "root": 0, "others": 0}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks = int(fields[11]) + int(fields[12])
        if int(pid) == me:
            out["root"] += ticks
        elif int(pid) == broker:
            out["broker"] += ticks
        elif int(fields[1]) == broker:
            out["others"] += ticks
    return out


def every_worker_up():
    """Map tasks of 2 ms until every worker has run one."""
    seen = set()
    while len(seen) < scoop_hpc.SIZE:
        seen.update(futures.map(pid_after_nap, range(2 * scoop_hpc.SIZE)))


def main():
    every_worker_up()
    for _ in range(3):
        busy, before, start = machine(), processes(), time.perf_counter()
        out = list(futures.map(inc, range(ITEMS)))
        seconds = time.perf_counter() - start
        busy, after = machine() - busy, processes()
        assert out[-1] == ITEMS
        print("map %.2f M items/s, %.0f ms, machine %.2f CPU-s: %s" % (
            ITEMS / seconds / 1e6, seconds * 1e3, busy / 100, ", ".join(
                "%s %.2f" % (k, (after[k] - before[k]) / 100)
                for k in before)), flush=True)


if __name__ == "__main__":
    main()
