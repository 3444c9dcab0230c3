"""Maps of items of uneven length, against the items' CPU time.

    .venv/bin/python -m scoop_hpc -n 2 \
        bench/results/2cpu-chunks/irregular.py exp|rising|heavy SEED

400 items that keep their CPU busy for: ``exp``, exponentially
distributed times (mean 1.2 ms); ``rising``, 0.1 ms rising evenly to 2.4
ms (the longest last, where guided chunks are cut smallest); ``heavy``,
Pareto times (shape 1.5, scale 0.5 ms). Five maps; prints the best and
the median of the items' total over 2 x the map's wall time.
"""
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from map_cpu import spin  # noqa: E402  (keeps its thread's CPU busy)

from scoop_hpc import futures  # noqa: E402


def items(kind, rng, count=400):
    """The item lengths (ms) of ``kind``."""
    if kind == "exp":
        return [rng.expovariate(1 / 1.2) for _ in range(count)]
    if kind == "rising":
        return [0.1 + 2.3 * i / count for i in range(count)]
    return [rng.paretovariate(1.5) * 0.5 for _ in range(count)]


def main():
    kind = sys.argv[1]
    lengths = items(kind, random.Random(int(sys.argv[2])))
    seconds = [ms / 1e3 for ms in lengths]
    total = sum(seconds)
    list(futures.map(spin, range(20), [1e-3] * 20))
    shares = []
    for _ in range(5):
        start = time.perf_counter()
        list(futures.map(spin, range(len(seconds)), seconds))
        shares.append(total / (2 * (time.perf_counter() - start)))
    print(f"RES {kind} {os.environ.get('GSS')} total {total * 1e3:.0f} ms "
          f"max eff {max(shares):.3f} median {statistics.median(shares):.3f}")


if __name__ == "__main__":
    main()
