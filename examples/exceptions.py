"""Errors in tasks: a task raises, the caller catches it.

What it shows
    * An exception raised inside a task travels back to the caller: it is
      re-raised by ``Future.result()`` (or by the iterator of
      ``futures.map``) with its own type and message, so an ordinary
      ``try/except`` catches it -- here a custom ``InvalidSample`` class.
    * The traceback of where it happened, on the worker, is attached as
      the exception's ``__cause__`` (a ``scoop_hpc.errors.RemoteTraceback``
      whose text is the formatted remote traceback); an uncaught task error
      therefore prints where it really happened.
    * ``futures.map`` gives the results of the items before the failing
      one, then raises.

How to run it
    python -m scoop_hpc -n 4 examples/exceptions.py
"""
import math

from scoop_hpc import futures
from scoop_hpc.errors import RemoteTraceback


class InvalidSample(ValueError):
    """Our own exception type: a sample that a measurement cannot have."""


def check_sample(value):
    if value < 0:
        raise InvalidSample(f"sample {value} is negative")
    return value


def log_concentration(value):
    return round(math.log10(check_sample(value)), 3)


def main():
    samples = [10, 100, 1000, -5, 10000]

    # 1. One task, one future: result() re-raises the task's exception.
    future = futures.submit(log_concentration, -5)
    try:
        future.result()
    except InvalidSample as exc:
        print(f"caught {type(exc).__name__}: {exc}")
        cause = exc.__cause__
        print(f"cause is a RemoteTraceback: "
              f"{isinstance(cause, RemoteTraceback)}")
        # The last lines of the remote traceback name the failing function.
        frames = [line.strip() for line in str(cause).splitlines()
                  if line.strip().startswith("File ")]
        print("raised in: " + frames[-1].split(", in ")[-1])

    # 2. futures.map: values before the bad sample, then the exception.
    results = futures.map(log_concentration, samples)
    good = []
    try:
        for value in results:
            good.append(value)
    except InvalidSample as exc:
        print(f"map gave {good} before: {exc}")


if __name__ == "__main__":
    main()
