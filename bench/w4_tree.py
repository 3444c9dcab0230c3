"""W4: binary tree of nested submits, depth 10 (tasks/s).

A task above the leaves submits its two children and sums their results;
a leaf returns 1.  The tree has 2**11 - 1 = 2047 tasks.
"""
from _common import check, futures, report, run, timed, warm_up

DEPTH = 10
TASKS = 2 ** (DEPTH + 1) - 1


def node(depth):
    """Return the number of leaves below a task at ``depth``."""
    if depth == DEPTH:
        return 1
    children = [futures.submit(node, depth + 1) for _ in range(2)]
    return sum(child.result() for child in children)


def main():
    """Time the whole tree, from the root task's submission."""
    warm_up()
    leaves, elapsed = timed(lambda: futures.submit(node, 0).result())
    check(leaves, 2 ** DEPTH, "leaf count")
    report("W4", "tasks/s", TASKS / elapsed, seconds=elapsed)


if __name__ == "__main__":
    run(main)
