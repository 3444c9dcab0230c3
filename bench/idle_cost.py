"""What an idle job costs: the CPU time its idle workers and its launcher
(the broker) take while the root waits.

    python -m scoop_hpc -n 256 bench/idle_cost.py [--seconds 10]

The root maps a trivial function over 2 x N items, sleeps 2 s for the
job to settle (every worker started and joined), then sleeps
``--seconds`` more and reads, before and after, the CPU time of the
launcher and of its other children (``_cpu``): the idle workers of this
host (run it on one host: workers started over ssh are not seen).
Their heartbeats and idle ticks are what remains; with many workers on
few CPUs that is taken from whatever runs beside them.
"""
import argparse
import os
import time

from _cpu import cpu_seconds, siblings

import scoop_hpc
from scoop_hpc import futures


def main():
    """Measure; print a Markdown row."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    launcher = [os.getppid()]
    list(futures.map(abs, range(2 * scoop_hpc.SIZE)))
    time.sleep(2.0)
    workers = siblings()
    before = cpu_seconds(workers), cpu_seconds(launcher)
    time.sleep(args.seconds)
    after = cpu_seconds(workers), cpu_seconds(launcher)
    spent = [b - a for a, b in zip(before, after)]
    print("| idle workers | seconds | their CPU share | ms per worker "
          "and second | launcher's CPU share |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    print("| %d | %g | %.1f %% | %.2f | %.1f %% |" % (
        len(workers), args.seconds, 100 * spent[0] / args.seconds,
        1000 * spent[0] / max(1, len(workers)) / args.seconds,
        100 * spent[1] / args.seconds))


if __name__ == "__main__":
    main()
