"""Map-reduce with ``futures.mapReduce``, checked against serial Python.

What it shows
    ``futures.mapReduce(mapFunc, reductionFunc, iterable)`` computes
    ``functools.reduce(reductionFunc, map(mapFunc, iterable))`` in
    parallel: each worker maps *and reduces* its own chunk of the items,
    and only the partial results travel back to be combined. The
    reduction must therefore be associative (``(a+b)+c == a+(b+c)``);
    it need not be commutative, partials are combined in order.

    Three classic reductions:
      1. the sum of the squares of 0..N-1 (``operator.add``);
      2. the sum of the multiples of 3 or 5 below 1000 (Project Euler 1,
         as in SCOOP's sum_multiples example), collected with
         ``set.union`` so that 15, 30, ... count once;
      3. a word count, merging per-line ``collections.Counter`` objects
         with ``+``.

    Each answer is printed next to the plain serial answer.

How to run it
    python -m scoop_hpc -n 4 examples/map_reduce.py [N]
"""
import collections
import functools
import operator
import sys

from scoop_hpc import futures

TEXT = """\
the quick brown fox jumps over the lazy dog
the dog sleeps and the fox runs
a fox a dog and a quick brown cat
"""


def square(x):
    return x * x


def multiples_below(n, limit=1000):
    """The multiples of ``n`` below ``limit``, as a set."""
    return set(range(n, limit, n))


def count_words(line):
    return collections.Counter(line.split())


def merge_counts(a, b):
    return a + b  # Counter + Counter: a new Counter, inputs unchanged


def report(name, parallel, serial, show=str):
    """Print both answers (through ``show``); return whether they agree."""
    equal = parallel == serial
    print(f"{name}: parallel={show(parallel)} serial={show(serial)} "
          f"equal={equal}")
    return equal


def top_words(counts, how_many=4):
    """The most frequent words, ties in alphabetical order."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return "[" + ", ".join(f"{word}={count}"
                           for word, count in ranked[:how_many]) + "]"


def main(n=100000):
    ok = True

    # 1. Sum of squares.
    parallel = futures.mapReduce(square, operator.add, range(n))
    serial = sum(x * x for x in range(n))
    ok &= report(f"sum of squares below {n}", parallel, serial)

    # 2. Multiples of 3 or 5 below 1000: union of sets, then sum.
    parallel = sum(futures.mapReduce(multiples_below, set.union, [3, 5]))
    serial = sum(x for x in range(1000) if x % 3 == 0 or x % 5 == 0)
    ok &= report("sum of multiples of 3 or 5 below 1000", parallel, serial)

    # 3. Word count, one task per line of text.
    lines = TEXT.splitlines()
    parallel = futures.mapReduce(count_words, merge_counts, lines)
    serial = functools.reduce(merge_counts, map(count_words, lines))
    ok &= report("word count (top 4)", parallel, serial, show=top_words)

    print("all equal" if ok else "MISMATCH")
    return ok


if __name__ == "__main__":
    sys.exit(0 if main(*(int(arg) for arg in sys.argv[1:2])) else 1)
