"""W5: 64 arguments of 1 MiB each shipped to the workers (MiB/s).

The arguments are plain ``bytes`` (no numpy, same for every impl); a task
returns the length of its argument.
"""
from _common import check, futures, report, run, timed, warm_up

MIB = 1 << 20
ARGS = 64


def size(blob):
    """Return the length of ``blob``."""
    return len(blob)


def main():
    """Time one map over ``ARGS`` distinct 1 MiB buffers."""
    blobs = [bytes([i]) * MIB for i in range(ARGS)]
    warm_up()
    total, elapsed = timed(lambda: sum(futures.map(size, blobs)))
    check(total, ARGS * MIB, "total size")
    report("W5", "MiB/s", ARGS / elapsed, seconds=elapsed)


if __name__ == "__main__":
    run(main)
