"""W3's tasks against their own CPU time, map by map.

    cd bench && GSS=8 ../.venv/bin/python -m scoop_hpc -n 2 \\
        results/2cpu-chunks/effm.py

After a warm-up map, maps W3's 200 tasks 15 times; for each map, the
tasks' CPU time (each task returns its thread's) over 2 x the map's wall
time. Prints the median and the best, tagged with the environment's
``TAG``. (``w3_pi.py``'s ``cpu_share`` is the same figure over its five
rounds.)
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from w3_pi import hits  # noqa: E402

from scoop_hpc import futures  # noqa: E402


def timed_hits(seed):
    """The CPU seconds of ``hits(seed)``."""
    start = time.thread_time()
    hits(seed)
    return time.thread_time() - start


def main():
    list(futures.map(timed_hits, range(50)))
    shares = []
    for _ in range(15):
        start = time.perf_counter()
        cpu = sum(futures.map(timed_hits, range(200)))
        shares.append(cpu / (2 * (time.perf_counter() - start)))
    print("RES", os.environ.get("TAG"),
          "median %.4f" % statistics.median(shares), "max %.4f" % max(shares))


if __name__ == "__main__":
    main()
