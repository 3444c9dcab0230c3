"""Hello, world with ``futures.map``: the smallest parallel program.

What it shows
    * ``futures.map(func, iterable)`` runs ``func`` on every item, spread
      over the workers, and gives the results back *in the order of the
      items* -- just like the built-in ``map``.
    * The run-time constants ``scoop_hpc.SIZE`` (number of workers) and
      ``scoop_hpc.WORKER_NAME`` (the worker running the current code).
    * The ``if __name__ == "__main__":`` guard: the main program runs only
      once, on the root worker; the other workers import this file just to
      find ``greet``.

How to run it
    python -m scoop_hpc -n 4 examples/hello_map.py

Run without the launcher (``python examples/hello_map.py``) it still
works, serially in one process, after one RuntimeWarning.

The greetings always come out in the same order; which worker wrote each
one (the name in brackets) depends on scheduling and changes from run to
run.
"""
import time

import scoop_hpc
from scoop_hpc import futures

SCIENTISTS = ["Ada", "Alan", "Grace", "Marie", "Rosalind", "Niels",
              "Emmy", "Srinivasa"]


def greet(name):
    """Runs on some worker: build a greeting, say who built it."""
    time.sleep(0.05)  # pretend to work, so that every worker gets a turn
    return f"Hello, {name}!", scoop_hpc.WORKER_NAME


def main():
    print(f"scoop_hpc hello-world on {scoop_hpc.SIZE} worker(s)")
    # futures.map returns a lazy iterator; looping over it waits for each
    # result in turn. The results arrive in the order of SCIENTISTS.
    for greeting, worker in futures.map(greet, SCIENTISTS):
        print(f"{greeting:<20} [worker {worker}]")
    print(f"{len(SCIENTISTS)} greetings, in order. Goodbye!")


if __name__ == "__main__":
    main()
