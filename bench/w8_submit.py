"""W8: 20,000 ``futures.submit`` calls, one task each, then every result
(tasks/s): the cost of a task when nothing batches it."""
from _common import check, count, futures, report, run, timed, warm_up

TASKS = count(20000)


def inc(x):
    """Return ``x + 1``."""
    return x + 1


def submit_all():
    """Submit one task per item, then wait for each result in turn."""
    pending = [futures.submit(inc, i) for i in range(TASKS)]
    return [future.result() for future in pending]


def main():
    """Time the submits and the results."""
    warm_up()
    results, elapsed = timed(submit_all)
    check(results, list(range(1, TASKS + 1)), "results")
    report("W8", "tasks/s", TASKS / elapsed, seconds=elapsed)


if __name__ == "__main__":
    run(main)
