"""The futures and shared API, through the real launcher.

One program (tests/programs/behaviours.py) exercises every documented
behaviour and prints one ``NAME=JSON`` line per check; it runs once per
configuration and each test below asserts one line.
"""
import json
import sys
import textwrap

import pytest

from .conftest import PYTHON, ROOT, launch

PROGRAM = ROOT / "tests" / "programs" / "behaviours.py"


def _parse(stdout: str) -> dict:
    found = {}
    for line in stdout.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            found[name] = json.loads(value)
    return found


def collect(run, mode) -> dict:
    """The checks a run of the program printed, with its exit code, its
    stderr and ``mode``: "serial", or the number of workers of the job.

    Other modules run the tests below again in their own ways (MPI: see
    test_mpi.py) by defining their own ``outcome`` fixture with it.
    """
    found = _parse(run.stdout)
    found["_rc"] = run.returncode
    found["_stderr"] = run.stderr
    found["_mode"] = mode
    return found


@pytest.fixture(scope="module", params=[2, 1, "serial"])
def outcome(request):
    if request.param == "serial":
        import subprocess
        proc = subprocess.run([PYTHON, str(PROGRAM), "7"], text=True,
                              capture_output=True, timeout=120)
        return collect(proc, "serial")
    run = launch(["-n", request.param, PROGRAM, "7"], timeout=120)
    return collect(run, request.param)


pytestmark = pytest.mark.timeout(180)


def test_exit_code_of_the_program(outcome):
    assert outcome["_rc"] == 7, outcome["_stderr"]


def test_runtime_constants(outcome):
    size, running, origin, name = outcome["size"]
    if outcome["_mode"] == "serial":
        assert (size, running, origin) == (1, False, True)
    else:
        assert (size, running, origin, name) == (outcome["_mode"], True,
                                                 True, "w0")


def test_serial_run_warns_once(outcome):
    if outcome["_mode"] != "serial":
        assert "not running under its launcher" not in outcome["_stderr"]
    else:
        assert outcome["_stderr"].count("not running under its launcher") == 1


@pytest.mark.parametrize("name, expected", [
    ("map", [i * i for i in range(10)]),
    ("map_generator", [0, 1, 4, 9, 16]),
    ("map_several", [4, 9]),
    ("map_kwargs", [11, 21]),
    ("map_as_completed", [i * i for i in range(30)]),
    ("submit_kwargs", 6),
    ("lambda_closure", [11, 21]),
    ("partial", 32),
    ("bound_method", ["a", "b"]),
    ("map_reduce", [1400, None, 49, sum(i * i for i in range(1000))]),
    ("map_scan", [[0, 1, 5, 14, 30, 55], []]),
    ("nested", 64),
    ("constants", [{"k": 1}, "text"] * 3),
    ("constant_twice", ["ConstantError", True]),
    ("constant_missing", [None, True]),
    ("unpicklable", ["SerializationError", True, True]),
    ("unpicklable_map", [True, False]),
    ("exception_timeout", "TimeoutError"),
    ("result_after_timeout", 1.5),
    ("map_timeout", "TimeoutError"),
    ("as_completed_timeout", "TimeoutError"),
    ("wait_timeout", [0, 2]),
    ("cancel_queued", [True, True, True, False]),
    ("cancelled_result", "CancelledError"),
    ("cancel_done", False),
    ("callbacks", [["late", 7], ["early", 7]]),
    ("nested_exception", ["Boom", "leaf 1", True, True, True]),
    ("map_exception", "in map"),
    ("map_values_before_error", [1.0, 0.5, "ZeroDivisionError"]),
    ("exception_method", "Boom"),
    ("first_exception", [True, 2]),
    ("first_completed", [True, True]),
    ("all_completed", [20, 0]),
    ("as_completed", [i * i for i in range(20)]),
    ("large_argument", 1 << 20),
    ("after_shutdown", "cannot schedule new futures after shutdown"),
])
def test_behaviour(outcome, name, expected):
    if outcome["_mode"] in ("serial", 1) and name in (
            "exception_timeout", "map_timeout", "as_completed_timeout",
            "wait_timeout"):
        pytest.skip("one process cannot time out a task it runs itself")
    if outcome["_mode"] == "serial" and name == "nested_exception":
        expected = ["Boom", "leaf 1", True, False, True]  # no worker name
    assert outcome.get(name) == expected, outcome["_stderr"]


def test_result_timeout_is_prompt(outcome):
    if outcome["_mode"] in ("serial", 1):
        pytest.skip("needs a second worker to run the slow task")
    assert outcome["result_timeout"] == ["TimeoutError", True]


def test_work_spreads_over_workers(outcome):
    if outcome["_mode"] not in ("serial", 1):
        assert outcome["workers_used"] == sorted(
            f"w{i}" for i in range(outcome["_mode"]))


@pytest.mark.timeout(120)
def test_nested_maps_4096_leaves_on_two_workers(program):
    path = program("""
        from scoop_hpc import futures
        def node(depth):
            if depth == 0:
                return 1
            return sum(futures.map(node, [depth - 1, depth - 1]))
        if __name__ == "__main__":
            print(node(12))
    """)
    run = launch(["-n", "2", path], timeout=100)
    assert (run.returncode, run.stdout) == (0, "4096\n"), run


EXITS = """
    import sys
    from scoop_hpc import futures
    def f(x):
        if x == 15000:
            sys.exit(3)
        return x
    def stop(a, b):
        if b == 50:
            raise KeyboardInterrupt("stop")
        return a + b
    def head(exc):
        return str(exc.__cause__).strip().splitlines()[1].split(" raised")[0]
    if __name__ == "__main__":
        got = []
        try:
            for value in futures.map(f, range(20000), timeout=60):
                got.append(value)
        except SystemExit as exc:
            print(len(got), got == list(range(15000)), exc.code, head(exc))
        try:
            futures.mapScan(abs, stop, range(100))
        except KeyboardInterrupt as exc:
            print(type(exc).__name__, head(exc))
"""


@pytest.mark.timeout(120)
def test_a_map_item_that_exits_raises_after_the_values_before_it(program):
    """SystemExit and KeyboardInterrupt from a map's function or reducer
    end the map at their item, as an Exception does, and their traceback
    names the function, not the runtime's chunk helper."""
    run = launch(["-n", "2", program(EXITS)], timeout=100)
    assert run.returncode == 0, run
    assert run.stdout.splitlines() == [
        "15000 True 3 ### task f", "KeyboardInterrupt ### task stop"], run


UNSENT = """
    import sys, threading
    import scoop_hpc
    from scoop_hpc import futures
    from scoop_hpc.errors import RemoteTraceback, SerializationError
    class TwoArgs(Exception):
        def __init__(self, a, b):
            super().__init__(a)
    def rebuild():
        if scoop_hpc.WORKER_NAME == "w0":
            raise LookupError("not here")
        return Odd()
    class Odd:
        def __reduce__(self):
            return rebuild, ()
    def raise_two(x):
        raise TwoArgs("x", "y")
    def odd(x):
        return Odd()
    def f(x):
        if x == 15000:
            if sys.argv[1] == "value":
                return threading.Lock()
            if sys.argv[1] == "exception":
                error = ValueError("with a lock")
                error.lock = threading.Lock()
                raise error
            raise TwoArgs(x, "y")
        return x
    def cause(exc):
        return (type(exc.__cause__).__name__,
                str(exc.__cause__).strip().splitlines()[1].split(" on ")[0])
    if __name__ == "__main__":
        if sys.argv[1] == "task":
            for fn in raise_two, odd:
                fut = futures.submit(fn, 1)
                futures.wait([fut], timeout=30)  # runs on the other worker
                exc = fut.exception()
                print(type(exc).__name__, "state=" in str(exc))
                print(str(exc).split(";")[0])
                print(*cause(exc) if fn is raise_two else
                      [type(exc.__cause__).__name__])
            sys.exit()
        got = []
        try:
            for value in futures.map(f, range(20000), timeout=60):
                got.append(value)
        except SerializationError as exc:
            print(len(got), got == list(range(15000)))
            print(str(exc).split(":")[0])
            print(*cause(exc))
"""


@pytest.mark.timeout(120)
def test_an_exception_that_cannot_be_rebuilt_keeps_its_traceback(program):
    """A task's exception that pickles but cannot be rebuilt (its
    ``__init__`` needs arguments it does not give ``Exception``) arrives as
    a SerializationError naming the task and the exception, with advice
    and the task's traceback as its cause; a value that cannot be rebuilt
    in the caller's process names its task, not the Future's state."""
    run = launch(["-n", "2", program(UNSENT), "task"], timeout=100)
    assert run.returncode == 0, run
    # Python's own words: "TwoArgs.__init__() missing" from 3.10 on,
    # "__init__() missing" on 3.9
    init = "TwoArgs.__init__" if sys.version_info >= (3, 10) else "__init__"
    assert run.stdout.splitlines() == [
        "SerializationError False",
        "the exception of task raise_two could not be sent back: "
        "TwoArgs('x') cannot be rebuilt from its pickle (a call "
        f"TwoArgs(*exc.args)): TypeError: {init}() missing 1 "
        "required positional argument: 'b'",
        "RemoteTraceback ### task raise_two raised",
        "SerializationError False",
        "the result of task odd could not be rebuilt in this process: "
        "LookupError: not here",
        "LookupError"], run


@pytest.mark.timeout(200)
@pytest.mark.parametrize("what", ["value", "exception", "rebuild"])
def test_a_map_item_that_cannot_travel_back_fails_alone(program, what):
    """A map item whose value or exception cannot be sent back fails with
    a SerializationError naming the item, after the values before it; an
    exception's traceback stays its cause."""
    run = launch(["-n", "2", program(UNSENT), what], timeout=100)
    assert run.returncode == 0, run
    kind = "value" if what == "value" else "exception"
    assert run.stdout.splitlines() == [
        "15000 True",
        f"the {kind} of item f(15000) of a map could not be sent back",
        "RemoteTraceback ### task f raised"], run


CALLS = """
    import json, time
    from scoop_hpc import futures
    def slow(seconds):
        time.sleep(seconds)
        return seconds
    def pair(x, func=None, mapFunc=None):
        return [x, func, mapFunc]
    def add(a, b):
        return a + b
    def check(name, call):
        start = time.monotonic()
        try:
            got = call()
        except Exception as exc:
            got = [type(exc).__name__, str(exc)]
        print(f"{name}=" + json.dumps(
            [got, round(time.monotonic() - start, 1)]), flush=True)
    if __name__ == "__main__":
        check("huge_range", lambda: list(
            futures.map(pow, range(10**20), [2, 2, 2])))
        check("huge_ranges", lambda: list(
            futures.map(pow, range(10**20), range(10**21, 10**21 + 2))))
        check("submit_func", lambda: futures.submit(dict, func=1).result())
        check("map_func", lambda: list(futures.map(pair, [1], func=2)))
        check("map_as_completed_func", lambda: list(
            futures.map_as_completed(pair, [1], func=2)))
        check("map_reduce_func", lambda: futures.mapReduce(
            pair, add, [1, 2], mapFunc=3))
        check("map_scan_func", lambda: futures.mapScan(
            pair, add, [1], mapFunc=3))
        late = futures.submit(slow, 1.0)
        check("as_completed_negative", lambda: [
            f.result() for f in futures.as_completed([late], timeout=-1)])
        check("map_negative", lambda: list(
            futures.map(slow, [1.0], timeout=-1)))
        check("map_reduce_negative", lambda: futures.mapReduce(
            slow, add, [1.0], timeout=-1))
        check("wait_negative", lambda: len(
            futures.wait([late], timeout=-1).done))
        fut = futures.submit(abs, -1)
        check("future_argument", lambda: futures.submit(abs, fut))
"""


@pytest.fixture(scope="module")
def calls(tmp_path_factory):
    path = tmp_path_factory.mktemp("calls") / "calls.py"
    path.write_text(textwrap.dedent(CALLS))
    run = launch(["-n", "2", path], timeout=100)
    assert run.returncode == 0, run
    return _parse(run.stdout)


@pytest.mark.timeout(120)
def test_a_map_over_a_range_past_sys_maxsize_ends_with_the_shortest(calls):
    assert calls["huge_range"][0] == [0, 1, 4]
    assert calls["huge_ranges"][0] == [0, 1]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name, expected", [
    ("submit_func", {"func": 1}),
    ("map_func", [[1, 2, None]]),
    ("map_as_completed_func", [[1, 2, None]]),
    ("map_reduce_func", [1, None, 3, 2, None, 3]),
    ("map_scan_func", [[1, None, 3]]),
])
def test_the_callable_is_positional_only(calls, name, expected):
    """As in ``concurrent.futures``: a keyword named like the callable's
    parameter goes to the callable."""
    assert calls[name][0] == expected


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", ["as_completed_negative", "map_negative",
                                  "map_reduce_negative"])
def test_a_negative_timeout_times_out_at_once(calls, name):
    """As in ``concurrent.futures``, for as_completed and the maps."""
    assert calls[name][0][0] == "TimeoutError"
    assert calls[name][1] < 0.5


@pytest.mark.timeout(120)
def test_a_negative_timeout_makes_wait_wait_without_limit(calls):
    """As in SCOOP, whose default it was."""
    assert calls["wait_negative"][0] == 1


@pytest.mark.timeout(120)
def test_a_future_as_a_task_argument_says_what_to_do(calls):
    kind, message = calls["future_argument"][0]
    assert kind == "SerializationError"
    assert "argument 0 scoop_hpc._runtime.future.Future (<Future " in message
    assert ("cannot be serialised: a Future cannot be sent to another "
            "worker (it lives in the process that submitted it): pass its "
            "result (future.result()) instead, or submit the work from "
            "inside the task that needs it") in message


GUARDED_FUNCTION = """
    from scoop_hpc import futures

    if __name__ == "__main__":
        def hidden(x):          # only the root's __main__ has it
            return x

        try:
            list(futures.map(hidden, range(4), timeout=20))
        except AttributeError as exc:
            print(type(exc).__name__, "|", exc.__cause__)
"""


def test_a_task_that_cannot_be_rebuilt_says_where_to_define_it(program):
    run = launch(["-n", "2", program(GUARDED_FUNCTION)], timeout=40)
    assert run.returncode == 0, run
    assert run.stdout.startswith("AttributeError | "), run
    assert "### a task could not be rebuilt on worker w1 of 2 (pid " \
        in run.stdout, run
    assert ("what it calls and what it is given must be found there by "
            "name, so define them at the top level of the program or of a "
            "module, not under its `if __name__ == \"__main__\":` guard") \
        in run.stdout, run
    assert "Can't get attribute 'hidden'" in run.stdout, run
