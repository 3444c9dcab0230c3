"""W3: Monte-Carlo pi, 200 tasks x 20,000 tries (parallel efficiency).

The same tasks run as a plain loop in the root (serial time) and through
``futures.map``; efficiency = serial / (workers x parallel), each time the
fastest of five, taken alternately.  The record also counts the processes
that ran the tasks, so that a run that did not spread its work shows up.
"""
import os
import random

from _common import check, futures, report, run, timed, warm_up, workers

TASKS = 200
TRIES = 20000
ROUNDS = 5


def hits(seed):
    """Count random points of the unit square inside the quarter disc."""
    rng = random.Random(seed)
    inside = 0
    for _ in range(TRIES):
        x, y = rng.random(), rng.random()
        if x * x + y * y <= 1.0:
            inside += 1
    return inside


def hits_and_pid(seed):
    """Return ``hits(seed)`` and the id of the process that counted them."""
    return hits(seed), os.getpid()


def main():
    """Time the tasks serially and in parallel, alternately, and compare.

    This machine's speed drifts from second to second, so each side is
    timed ``ROUNDS`` times, alternating, and the fastest of each is kept.
    """
    warm_up()
    serial = parallel = float("inf")
    for _ in range(ROUNDS):
        serial_hits, seconds = timed(lambda: sum(map(hits, range(TASKS))))
        serial = min(serial, seconds)
        results, seconds = timed(
            lambda: list(futures.map(hits_and_pid, range(TASKS))))
        parallel = min(parallel, seconds)
    parallel_hits = sum(count for count, _ in results)
    check(parallel_hits, serial_hits, "hit count")
    report("W3", "efficiency", serial / (workers() * parallel),
           serial_seconds=serial, parallel_seconds=parallel,
           processes=len({pid for _, pid in results}),
           pi=4.0 * parallel_hits / (TASKS * TRIES))


if __name__ == "__main__":
    run(main)
