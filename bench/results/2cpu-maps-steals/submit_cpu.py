"""W8 with its CPU: 100,000 single submits, then every result, three times,
once every worker is up (the CPU read from /proc, as in map_cpu.py). Run
as ``python -m scoop_hpc -n 256 -v submit_cpu.py`` (-v: where the tasks
ran)."""
import os
import sys
import time

from scoop_hpc import futures

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from map_cpu import every_worker_up, machine, processes  # noqa: E402

TASKS = 100000


def inc(x):
    return x + 1


def main():
    every_worker_up()
    for _ in range(3):
        busy, before, start = machine(), processes(), time.perf_counter()
        pending = [futures.submit(inc, i) for i in range(TASKS)]
        submitted = time.perf_counter()
        out = [f.result() for f in pending]
        seconds = time.perf_counter() - start
        busy, after = machine() - busy, processes()
        assert out[-1] == TASKS
        print("W8 %.1f k tasks/s, %.0f ms (submits %.0f ms), machine %.2f "
              "CPU-s: %s" % (
                  TASKS / seconds / 1e3, seconds * 1e3,
                  (submitted - start) * 1e3, busy / 100,
                  ", ".join("%s %.2f" % (k, (after[k] - before[k]) / 100)
                            for k in before)), flush=True)


if __name__ == "__main__":
    main()
