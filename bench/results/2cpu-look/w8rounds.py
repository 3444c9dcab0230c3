"""W8 four times in one job: 20,000 single submits of one function, then
every result, per round (tasks/s). The first round is the function's
first use. Run from bench/::

    BENCH_WORKERS=N ../.venv/bin/python -m scoop_hpc -n N \\
        results/2cpu-look/w8rounds.py
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", ".."))
from _common import futures, run, warm_up  # noqa: E402


def inc(x):
    """Return ``x + 1``."""
    return x + 1


def main():
    """Print the rate of each round."""
    warm_up()
    rates = []
    for _ in range(4):
        start = time.perf_counter()
        pending = [futures.submit(inc, i) for i in range(20000)]
        [future.result() for future in pending]
        rates.append(20000 / (time.perf_counter() - start))
    print("W8ROUNDS", os.environ.get("BENCH_WORKERS"),
          " ".join("%.0f" % rate for rate in rates))


if __name__ == "__main__":
    run(main)
