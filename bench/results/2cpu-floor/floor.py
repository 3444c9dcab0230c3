"""W3's tasks as a map, and as two submits that split them evenly.

    cd bench && ../.venv/bin/python -m scoop_hpc -n 2 \\
        results/2cpu-floor/floor.py

After a warm-up map, runs W3's 200 tasks twelve times each way,
alternated: ``futures.map`` (its chunks as the runtime cuts them), and
two ``futures.submit`` of 100 tasks each (the even and the odd seeds: a
static split, two tasks' messages in all, what a map of homogeneous items
could at best come to through the same runtime). For each run, the tasks'
CPU time (each task times its thread) over 2 x the wall time; prints the
median and the best of each way.
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from w3_pi import hits  # noqa: E402

from scoop_hpc import futures  # noqa: E402

TASKS = 200
ROUNDS = 12


def timed(seed):
    """The CPU seconds of ``hits(seed)``."""
    start = time.thread_time()
    hits(seed)
    return time.thread_time() - start


def block(seeds):
    """The CPU seconds of ``hits`` over ``seeds``, one after the other."""
    return sum(timed(seed) for seed in seeds)


def share(way):
    """The tasks' CPU over 2 x the wall time of one run, ``way``."""
    start = time.perf_counter()
    if way == "map":
        cpu = sum(futures.map(timed, range(TASKS)))
    else:
        halves = [futures.submit(block, range(first, TASKS, 2))
                  for first in (0, 1)]
        cpu = sum(half.result() for half in halves)
    return cpu / (2 * (time.perf_counter() - start))


def main():
    list(futures.map(hits, range(50)))
    shares = {"map": [], "split": []}
    for turn in range(ROUNDS):
        for way in ("map", "split") if turn % 2 else ("split", "map"):
            shares[way].append(share(way))
    for way, got in shares.items():
        print(f"{way:5s} median {statistics.median(got):.3f} "
              f"best {max(got):.3f}")


if __name__ == "__main__":
    main()
