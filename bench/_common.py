"""Shared plumbing of the benchmark workloads.

Every workload is written SCOOP-style against ``futures`` from this module,
so that one file runs under each implementation.  ``BENCH_IMPL`` picks it:

* ``scoop_hpc`` -- ``from scoop_hpc import futures`` (``python -m scoop_hpc``)
* ``scoop``     -- ``from scoop import futures`` (``python -m scoop``)
* ``ppe``       -- ``concurrent.futures.ProcessPoolExecutor(BENCH_WORKERS)``
* ``mpi4py``    -- ``mpi4py.futures.MPIPoolExecutor()`` (under
  ``mpiexec -n BENCH_WORKERS+1 python -m mpi4py.futures``)

Without ``BENCH_IMPL`` the launcher already imported tells which one it is.
A workload reports its figure on stdout as one line ``BENCH {json}``.
"""
import functools
import json
import os
import reprlib
import sys
import time

IMPLS = ("scoop_hpc", "scoop", "ppe", "mpi4py")


def impl_name():
    """Return the implementation chosen by ``BENCH_IMPL`` or the launcher."""
    name = os.environ.get("BENCH_IMPL")
    if name is None:
        name = next((n for n in IMPLS if n in sys.modules), "ppe")
    if name not in IMPLS:
        raise SystemExit("BENCH_IMPL=%s is not one of %s" % (name, IMPLS))
    return name


def workers():
    """Return the number of workers the run was launched with."""
    return int(os.environ.get("BENCH_WORKERS", "2"))


class PoolFutures:
    """The part of the ``scoop.futures`` API the workloads use, on a pool.

    The executor is created on first use, so that importing this module in
    a pool's worker process creates nothing.
    """

    def __init__(self, factory):
        self._factory = factory
        self._pool = None

    @property
    def pool(self):
        """The executor, created on first access."""
        if self._pool is None:
            self._pool = self._factory()
        return self._pool

    def submit(self, func, *args):
        """Schedule ``func(*args)``; return its future."""
        return self.pool.submit(func, *args)

    def map(self, func, *iterables):
        """Map ``func`` over the iterables at the default chunksize."""
        return self.pool.map(func, *iterables)

    def mapReduce(self, map_func, reduce_func, *iterables):  # noqa: N802
        """Map in the pool, then reduce the results in the caller."""
        return functools.reduce(reduce_func, self.map(map_func, *iterables))

    def shutdown(self):
        """Shut the executor down if it was ever created."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def _process_pool():
    from concurrent.futures import ProcessPoolExecutor
    return ProcessPoolExecutor(workers())


def _mpi_pool():
    from mpi4py.futures import MPIPoolExecutor
    return MPIPoolExecutor()


def load_futures():
    """Return the ``futures`` module (or stand-in) of the chosen impl."""
    name = impl_name()
    if name == "scoop_hpc":
        from scoop_hpc import futures as module
        return module
    if name == "scoop":
        from scoop import futures as module
        return module
    if name == "ppe":
        return PoolFutures(_process_pool)
    return PoolFutures(_mpi_pool)


futures = load_futures()


def pid_of(_):
    """Return the id of the process that ran this warm-up task."""
    return os.getpid()


def pid_after_nap(_):
    """Return the process id after 2 ms: tasks that spread over workers."""
    time.sleep(0.002)
    return os.getpid()


def count(default):
    """Return ``BENCH_TASKS`` (set by ``scale.py real --tasks``) if set,
    else ``default``: how many items or tasks a workload runs."""
    return int(os.environ.get("BENCH_TASKS") or default)


def warm_up(limit=30.0):
    """Map until every worker has run a task, so that no start-up falls
    in a timed region: a map of 2 x N trivial tasks; if some workers were
    not seen, maps of tasks of 2 ms (idle workers take those) while the
    number of processes seen grows, ``limit`` seconds at most; then the
    trivial map again and 2 x N single submits of trivial tasks, so that
    the tasks run last are trivial in every case: runtimes size their
    batches by them, and a map may run its items in a few large chunks.
    Returns how many processes were seen."""
    tasks = range(2 * workers())
    seen = set(futures.map(pid_of, tasks))
    if len(seen) < workers():
        deadline, stalled = time.monotonic() + limit, 0
        while len(seen) < workers() and stalled < 3 \
                and time.monotonic() < deadline:
            before = len(seen)
            seen.update(futures.map(pid_after_nap, tasks))
            stalled = stalled + 1 if len(seen) == before else 0
        seen.update(futures.map(pid_of, tasks))
    pending = [futures.submit(pid_of, task) for task in tasks]
    seen.update(future.result() for future in pending)
    return len(seen)


def timed(func, *args):
    """Call ``func(*args)``; return its result and the seconds it took."""
    start = time.perf_counter()
    result = func(*args)
    return result, time.perf_counter() - start


def check(got, expected, what):
    """Stop the run with an error message if ``got != expected``."""
    if got != expected:
        raise SystemExit("wrong %s: got %s, expected %s" % (
            what, reprlib.repr(got), reprlib.repr(expected)))


def report(workload, metric, value, **extra):
    """Print the machine-readable result line of a workload."""
    record = dict(workload=workload, impl=impl_name(), workers=workers(),
                  metric=metric, value=value, **extra)
    print("BENCH " + json.dumps(record), flush=True)


def run(main):
    """Run a workload's ``main()`` and release the pool afterwards."""
    try:
        main()
    finally:
        if isinstance(futures, PoolFutures):
            futures.shutdown()
