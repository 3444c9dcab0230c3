"""A long map whose chunks all reach TARGET: 2,000 items of 1 ms.

    env AMAX=0.1 TAG=AMAX=0.1 .venv/bin/python -m scoop_hpc -n 2 \
        bench/results/2cpu-chunks/longmap.py

Four maps; prints the median and the best of the items' CPU time over
2 x the map's wall time.
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from map_cpu import spin  # noqa: E402  (keeps its thread's CPU busy)

from scoop_hpc import futures  # noqa: E402


def main():
    list(futures.map(spin, range(20), [1e-3] * 20))
    shares = []
    for _ in range(4):
        start = time.perf_counter()
        list(futures.map(spin, range(2000), [1e-3] * 2000))
        shares.append(2.0 / (2 * (time.perf_counter() - start)))
    print("RES", os.environ.get("TAG"),
          "median %.4f" % statistics.median(shares),
          "max %.4f" % max(shares))


if __name__ == "__main__":
    main()
