"""W7: ``futures.map`` of a trivial function over 100,000 items (items/s),
with no tuning; ProcessPoolExecutor gets its best hand-tuned chunksize.

PPE runs the map once per chunksize in :data:`CHUNKSIZES` and reports the
fastest; the other implementations run their untuned ``map`` once.
"""
from _common import (
    PoolFutures,
    check,
    futures,
    impl_name,
    report,
    run,
    timed,
    warm_up,
)

ITEMS = 100000
CHUNKSIZES = (500, 2000, 5000, 12500, 25000, 50000)


def inc(x):
    """Return ``x + 1``."""
    return x + 1


def main():
    """Time the map; for PPE, the best of its chunksizes."""
    warm_up()
    expected = list(range(1, ITEMS + 1))
    if impl_name() == "ppe" and isinstance(futures, PoolFutures):
        runs = []
        for chunksize in CHUNKSIZES:
            results, elapsed = timed(lambda size=chunksize: list(
                futures.pool.map(inc, range(ITEMS), chunksize=size)))
            check(results, expected, "results")
            runs.append((elapsed, chunksize))
        elapsed, chunksize = min(runs)
        report("W7", "items/s", ITEMS / elapsed, seconds=elapsed,
               chunksize=chunksize)
        return
    results, elapsed = timed(lambda: list(futures.map(inc, range(ITEMS))))
    check(results, expected, "results")
    report("W7", "items/s", ITEMS / elapsed, seconds=elapsed)


if __name__ == "__main__":
    run(main)
