"""W2: ``futures.map`` of a trivial function over 20,000 items (items/s)."""
from _common import check, count, futures, report, run, timed, warm_up

ITEMS = count(20000)


def inc(x):
    """Return ``x + 1``."""
    return x + 1


def main():
    """Time one map over ``ITEMS`` integers."""
    warm_up()
    results, elapsed = timed(lambda: list(futures.map(inc, range(ITEMS))))
    check(results, list(range(1, ITEMS + 1)), "results")
    report("W2", "items/s", ITEMS / elapsed, seconds=elapsed)


if __name__ == "__main__":
    run(main)
