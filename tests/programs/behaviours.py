"""Checks of the documented API behaviours, one printed line each.

Run under the launcher by tests/test_futures.py; every line is
``NAME=JSON`` and the test asserts on it.
"""
import functools
import json
import operator
import sys
import threading
import time

import scoop_hpc
from scoop_hpc import futures, shared
from scoop_hpc.errors import RemoteTraceback


class Boom(ValueError):
    """A user exception type that must survive the trip."""


def report(name, value):
    print(f"{name}={json.dumps(value)}", flush=True)


def square(x):
    return x * x


def slow(seconds, value=None):
    time.sleep(seconds)
    return seconds if value is None else value


def fail(message):
    raise Boom(message)


def level2(x):
    return futures.submit(fail, f"leaf {x}").result()


def level1(x):
    return futures.submit(level2, x).result()


def nested_sum(depth):
    if depth == 0:
        return 1
    return sum(futures.map(nested_sum, [depth - 1, depth - 1]))


def read_const(name):
    return shared.getConst(name, timeout=5)


def where(_):
    time.sleep(0.02)
    return scoop_hpc.WORKER_NAME


def adder(offset):
    return lambda y: y + offset


def keyword(x, scale=1, shift=0):
    return x * scale + shift


def check_timeouts():
    fut = futures.submit(slow, 1.5)
    start = time.monotonic()
    try:
        fut.result(timeout=0.2)
        outcome = "no timeout"
    except futures.TimeoutError:
        outcome = "TimeoutError"
    waited = time.monotonic() - start
    try:
        fut.exception(timeout=0.05)
        exc_outcome = "no timeout"
    except futures.TimeoutError:
        exc_outcome = "TimeoutError"
    report("result_timeout", [outcome, waited < 1.3])
    report("exception_timeout", exc_outcome)
    report("result_after_timeout", fut.result())
    try:
        list(futures.map(slow, [1.0, 1.0, 1.0], timeout=0.2))
        report("map_timeout", "no timeout")
    except futures.TimeoutError:
        report("map_timeout", "TimeoutError")
    fs = [futures.submit(slow, 1.0) for _ in range(2)]
    try:
        list(futures.as_completed(fs, timeout=0.1))
        report("as_completed_timeout", "no timeout")
    except futures.TimeoutError:
        report("as_completed_timeout", "TimeoutError")
    done, not_done = futures.wait(fs, timeout=0.05)
    report("wait_timeout", [len(done), len(not_done)])


def check_cancel_and_callbacks():
    blockers = [futures.submit(slow, 0.3) for _ in range(4)]
    queued = futures.submit(square, 3)
    report("cancel_queued", [queued.cancel(), queued.cancelled(),
                             queued.done(), queued.running()])
    try:
        queued.result()
        report("cancelled_result", "value")
    except futures.CancelledError:
        report("cancelled_result", "CancelledError")
    futures.wait(blockers)
    report("cancel_done", blockers[0].cancel())
    seen = []
    pending = futures.submit(slow, 0.2, 7)
    pending.add_done_callback(lambda f: seen.append(("late", f.result())))
    pending.result()
    pending.add_done_callback(lambda f: seen.append(("early", f.result())))
    report("callbacks", seen)


def check_exceptions():
    try:
        futures.submit(level1, 1).result()
    except Boom as exc:
        cause = exc.__cause__
        report("nested_exception", [type(exc).__name__, str(exc),
                                    isinstance(cause, RemoteTraceback),
                                    "worker w" in str(cause),
                                    "level2" in str(cause)])
    try:
        list(futures.map(fail, ["in map"]))
    except Boom as exc:
        report("map_exception", str(exc))
    values = []
    try:
        for value in futures.map(functools.partial(operator.truediv, 1),
                                 [1, 2, 0, 4]):
            values.append(value)
    except ZeroDivisionError:
        values.append("ZeroDivisionError")
    report("map_values_before_error", values)
    failing = futures.submit(fail, "x")
    futures.wait([failing])
    report("exception_method", type(failing.exception()).__name__)


def check_wait_modes():
    quick = futures.submit(fail, "quick")
    long = futures.submit(slow, 1.0)
    done, not_done = futures.wait([quick, long],
                                  return_when=futures.FIRST_EXCEPTION)
    report("first_exception", [quick in done, len(done | not_done)])
    a = futures.submit(slow, 0.05)
    b = futures.submit(slow, 1.0)
    done, not_done = futures.wait([a, b],
                                  return_when=futures.FIRST_COMPLETED)
    report("first_completed", [a in done or b in done, len(done) >= 1])
    fs = [futures.submit(square, i) for i in range(20)]
    done, not_done = futures.wait(fs, timeout=-1)
    report("all_completed", [len(done), len(not_done)])
    report("as_completed", sorted(f.result() for f in
                                  futures.as_completed(fs)))


def main():
    report("size", [scoop_hpc.SIZE, scoop_hpc.IS_RUNNING,
                    scoop_hpc.IS_ORIGIN, scoop_hpc.WORKER_NAME])
    report("map", list(futures.map(square, range(10))))
    report("map_generator", list(futures.map(square,
                                             (i for i in range(5)))))
    report("map_several", list(futures.map(pow, [2, 3, 4], [2, 2])))
    report("map_kwargs", list(futures.map(keyword, [1, 2], scale=10,
                                          shift=1)))
    report("map_as_completed", sorted(futures.map_as_completed(
        square, range(30))))
    report("submit_kwargs", futures.submit(keyword, 2, scale=3).result())
    report("lambda_closure", [futures.submit(adder(offset), 1).result()
                              for offset in (10, 20)])
    report("partial", futures.submit(functools.partial(pow, 2), 5).result())
    report("bound_method", futures.submit("a-b".split, "-").result())
    report("map_reduce", [
        futures.mapReduce(square, operator.add, [10, 20, 30]),
        futures.map_reduce(square, operator.add, []),
        futures.mapReduce(square, operator.add, [7]),
        futures.mapReduce(square, operator.add, range(1000))])
    report("map_scan", [futures.mapScan(square, operator.add, range(6)),
                        futures.map_scan(square, operator.add, [])])
    report("nested", nested_sum(6))
    report("workers_used", sorted(set(futures.map(
        where, range(40)))) if scoop_hpc.SIZE > 1 else ["w0"])
    shared.setConst(alpha={"k": 1}, beta="text")
    report("constants", list(futures.map(read_const,
                                         ["alpha", "beta"] * 3)))
    try:
        shared.setConst(alpha=2)
        report("constant_twice", "no error")
    except TypeError as exc:
        report("constant_twice", [type(exc).__name__, "alpha" in str(exc)])
    start = time.monotonic()
    report("constant_missing", [shared.getConst("nope", timeout=0.1),
                                time.monotonic() - start >= 0.1])
    try:
        futures.submit(square, threading.Lock())
        report("unpicklable", "no error")
    except TypeError as exc:
        report("unpicklable", [type(exc).__name__, "argument 0" in str(exc),
                               "lock" in str(exc)])
    try:
        list(futures.map(square, [1, threading.Lock()]))
        report("unpicklable_map", "no error")
    except TypeError as exc:    # named as the caller knows it, not a chunk
        report("unpicklable_map", [
            "cannot submit a chunk of map square: an item _thread.lock"
            in str(exc), "map_chunk" in str(exc)])
    check_timeouts()
    check_cancel_and_callbacks()
    check_exceptions()
    check_wait_modes()
    big = bytes(range(256)) * 4096
    report("large_argument", futures.submit(len, big).result())
    futures.shutdown()
    try:
        futures.submit(square, 1)
        report("after_shutdown", "accepted")
    except RuntimeError as exc:
        report("after_shutdown", str(exc))


if __name__ == "__main__":
    main()
    sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
