"""W3: Monte-Carlo pi, 200 tasks x 20,000 tries (parallel efficiency).

The same tasks run as a plain loop in the root (serial time) and through
``futures.map``; efficiency = serial / (workers x parallel), each time the
fastest of five, taken alternately.  The record also counts the processes
that ran the tasks, so that a run that did not spread its work shows up.

The machine's own ceiling is timed in the same rounds: the tasks split
evenly over as many bare processes as there are workers, forked by the
root before the clock starts, no runtime between them.  Where the CPUs
run two processes slower than one (shared cores, a busy neighbour),
that ceiling is below 1 for every runtime alike, and ``of_ceiling`` =
efficiency / ceiling is the part of the loss that is the runtime's.

Each task also returns the CPU time its thread spent on it; ``cpu_share``
is, per round, the tasks' CPU time over workers x the map's wall time
(the median of the rounds). It needs no serial loop timed at another
second, so the machine's drift from second to second does not move it:
what it misses is the runtime's own loss (idle workers, the CPU that its
broker, I/O threads and messages take from the tasks, waits for a CPU),
and tasks running slower because a CPU is shared, which no clock of
the task shows.
"""
import os
import random
import statistics
import time

from _common import check, count, futures, report, run, timed, warm_up, workers

TASKS = count(200)     # BENCH_TASKS: fewer in the tests
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
    """Return ``hits(seed)``, the id of the process that counted them and
    the CPU seconds its thread spent on them."""
    start = time.thread_time()
    inside = hits(seed)
    return inside, os.getpid(), time.thread_time() - start


def bare_split(processes):
    """Run the tasks split evenly over ``processes`` forked processes.

    The children are forked and waiting before the clock starts; one
    byte each on a pipe releases them, and each writes back its share's
    hit count.  Returns the total hits and the seconds from release to
    the last answer."""
    go_read, go_write = os.pipe()
    done_read, done_write = os.pipe()
    children = []
    for index in range(processes):
        pid = os.fork()
        if pid == 0:            # a child: no runtime, no atexit handlers
            code = 1            # and never back into the forked program
            try:
                os.close(go_write)
                os.close(done_read)
                os.read(go_read, 1)
                share = sum(map(hits, range(index, TASKS, processes)))
                os.write(done_write, b"%d\n" % share)
                code = 0
            finally:
                os._exit(code)
        children.append(pid)
    os.close(go_read)
    os.close(done_write)

    def release_and_collect():
        os.write(go_write, b"x" * processes)
        with os.fdopen(done_read, "rb") as answers:
            return sum(int(line) for line in answers)

    try:
        return timed(release_and_collect)
    finally:
        os.close(go_write)
        for pid in children:
            os.waitpid(pid, 0)


def main():
    """Time the tasks serially, on bare processes and in parallel,
    alternately, and compare.

    This machine's speed drifts from second to second, so each side is
    timed ``ROUNDS`` times, alternating, and the fastest of each is kept.
    """
    warm_up()
    serial = bare = parallel = float("inf")
    cpu_shares = []
    for _ in range(ROUNDS):
        serial_hits, seconds = timed(lambda: sum(map(hits, range(TASKS))))
        serial = min(serial, seconds)
        bare_hits, seconds = bare_split(workers())
        bare = min(bare, seconds)
        results, seconds = timed(
            lambda: list(futures.map(hits_and_pid, range(TASKS))))
        parallel = min(parallel, seconds)
        cpu_shares.append(sum(cpu for _, _, cpu in results)
                          / (workers() * seconds))
    parallel_hits = sum(count for count, _, _ in results)
    check(parallel_hits, serial_hits, "hit count")
    check(bare_hits, serial_hits, "hit count of the bare processes")
    efficiency = serial / (workers() * parallel)
    ceiling = serial / (workers() * bare)
    report("W3", "efficiency", efficiency,
           serial_seconds=serial, parallel_seconds=parallel,
           bare_seconds=bare, ceiling=ceiling,
           of_ceiling=efficiency / ceiling,
           cpu_share=statistics.median(cpu_shares),
           processes=len({pid for _, pid, _ in results}),
           pi=4.0 * parallel_hits / (TASKS * TRIES))


if __name__ == "__main__":
    run(main)
