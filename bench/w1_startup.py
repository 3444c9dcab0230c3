"""W1: startup and teardown -- one trivial map over 2 items.

bench/run.py times this whole process from outside (launcher included);
the BENCH line only proves that the run did its work.
"""
from _common import check, futures, report, run


def inc(x):
    """Return ``x + 1``."""
    return x + 1


def main():
    """Map over two items and report their sum."""
    total = sum(futures.map(inc, range(2)))
    check(total, 3, "sum")
    report("W1", "sum", total)


if __name__ == "__main__":
    run(main)
