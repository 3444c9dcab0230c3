"""Monte-Carlo estimate of pi with ``futures.map`` over batches.

What it shows
    * Splitting a big computation into independent *batches* and mapping
      a function over them: each task throws a few thousand random darts
      at the unit square and counts those that land inside the quarter
      circle; pi is about 4 * hits / throws.
    * Reproducible randomness in parallel: every batch seeds its own
      ``random.Random(seed)`` from its batch number, so the estimate is
      the same whichever worker runs which batch, and the same with any
      number of workers (or without the launcher at all).

How to run it
    python -m scoop_hpc -n 4 examples/pi_montecarlo.py [BATCHES] [THROWS]

BATCHES (default 100) tasks of THROWS (default 10000) darts each.
"""
import math
import random
import sys

from scoop_hpc import futures

BASE_SEED = 20240611  # change it to get another (equally good) estimate


def count_hits(batch, throws):
    """Throw ``throws`` darts with the batch's own seed; return the hits."""
    rng = random.Random(BASE_SEED + batch)  # private generator per batch
    rand = rng.random
    hits = 0
    for _ in range(throws):
        x, y = rand(), rand()
        if x * x + y * y <= 1.0:
            hits += 1
    return hits


def main(batches=100, throws=10000):
    # Keyword arguments given to futures.map are passed to every call, so
    # each task computes count_hits(batch, throws=throws).
    hits = sum(futures.map(count_hits, range(batches), throws=throws))
    total = batches * throws
    estimate = 4.0 * hits / total
    print(f"darts thrown: {total}")
    print(f"inside the circle: {hits}")
    print(f"pi estimate: {estimate:.6f}")
    print(f"error: {abs(estimate - math.pi):.6f}")


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
