"""W6: ``futures.mapReduce`` over 20,000 items, reduce ``operator.add``.

Pool executors (no mapReduce of their own) map at the default chunksize and
reduce the results in the caller.
"""
import operator

from _common import check, futures, report, run, timed, warm_up

ITEMS = 20000


def inc(x):
    """Return ``x + 1``."""
    return x + 1


def main():
    """Time one mapReduce over ``ITEMS`` integers."""
    warm_up()
    total, elapsed = timed(
        lambda: futures.mapReduce(inc, operator.add, range(ITEMS)))
    check(total, ITEMS * (ITEMS + 1) // 2, "sum")
    report("W6", "items/s", ITEMS / elapsed, seconds=elapsed)


if __name__ == "__main__":
    run(main)
