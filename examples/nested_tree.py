"""A binary tree of nested tasks: tasks that start tasks and wait.

What it shows
    * Nested parallelism: ``count_leaves`` is itself a task, and it calls
      ``futures.submit`` on its two children and waits for their results.
      A task that waits does not block its worker: the worker runs other
      tasks (for instance its own children) in the meantime, so even a
      single worker gets through a deep tree without deadlock.
    * The same result as SCOOP's ``recurse.py`` example: a tree of depth D
      has 2**D leaves (4096 for the default depth 12, i.e. 8191 tasks).

How to run it
    python -m scoop_hpc -n 4 examples/nested_tree.py [DEPTH]
"""
import sys

from scoop_hpc import futures


def count_leaves(depth):
    """Return the number of leaves under a node ``depth`` levels high."""
    if depth == 0:
        return 1  # a leaf
    # Two children, each a task of its own...
    left = futures.submit(count_leaves, depth - 1)
    right = futures.submit(count_leaves, depth - 1)
    # ...and wait for both. (futures.map(count_leaves, [depth - 1] * 2)
    # would do the same in one line.)
    return left.result() + right.result()


def main(depth=12):
    leaves = futures.submit(count_leaves, depth).result()
    print(f"depth: {depth}")
    print(f"leaves: {leaves}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 12)
