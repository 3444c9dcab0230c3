"""W2: ``futures.map`` of a trivial function over 20,000 items (items/s).

With ``BENCH_MAPS`` = K (``scale.py real --maps K``), K maps run back to
back, as an evolutionary algorithm's generations do, and the figure is
their median rate; the first map's rate and every rate come with it.
"""
import os
import statistics

from _common import check, count, futures, report, run, timed, warm_up

ITEMS = count(20000)
MAPS = int(os.environ.get("BENCH_MAPS") or 1)


def inc(x):
    """Return ``x + 1``."""
    return x + 1


def main():
    """Time ``MAPS`` maps over ``ITEMS`` integers."""
    warm_up()
    expected = list(range(1, ITEMS + 1))
    rates = []
    for _ in range(MAPS):
        results, elapsed = timed(lambda: list(futures.map(inc, range(ITEMS))))
        check(results, expected, "results")
        rates.append(ITEMS / elapsed)
    if MAPS == 1:
        report("W2", "items/s", rates[0], seconds=elapsed)
    else:
        report("W2", "items/s", statistics.median(rates), first=rates[0],
               rates=[round(rate) for rate in rates])


if __name__ == "__main__":
    run(main)
