"""The programs in examples/ run and print the right answers.

Each example runs under the real launcher (``python -m scoop_hpc -n N``)
and, where that makes sense, as a plain ``python examples/X.py`` (serial
fallback), which must give the same answer plus exactly one RuntimeWarning.
"""
from __future__ import annotations

import math
import os
import re
import subprocess

import pytest

from .conftest import PYTHON, ROOT, launch

EXAMPLES = ROOT / "examples"
WARNING = "not running under its launcher"
NAMES = ["hello_map", "pi_montecarlo", "nested_tree", "brute_force",
         "map_reduce", "exceptions", "deap_onemax"]


def run_example(name, *args, workers=2, timeout=60.0):
    """Run an example under the launcher; check it succeeded quietly."""
    run = launch(["-n", workers, f"examples/{name}.py", *args], cwd=ROOT,
                 timeout=timeout)
    assert run.returncode == 0, run
    assert WARNING not in run.stderr, run
    assert "Traceback" not in run.stderr, run
    return run


def run_serial(name, *args, timeout=60.0):
    """Run an example without the launcher; check the one warning."""
    environ = dict(os.environ, PYTHONUNBUFFERED="1")
    environ.pop("PYTHONWARNINGS", None)
    proc = subprocess.run([PYTHON, str(EXAMPLES / f"{name}.py"), *args],
                          cwd=ROOT, env=environ, text=True,
                          capture_output=True, timeout=timeout)
    assert proc.returncode == 0, proc
    assert proc.stderr.count(WARNING) == 1, proc.stderr
    assert proc.stderr.count("RuntimeWarning") == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def lines(text):
    return [line.rstrip() for line in text.splitlines() if line.strip()]


# -- every example is a proper example -------------------------------------

@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", NAMES)
def test_example_has_docstring_and_guard(name):
    source = (EXAMPLES / f"{name}.py").read_text()
    assert source.startswith('"""'), "starts with a docstring"
    docstring = source.split('"""')[1]
    assert f"python -m scoop_hpc -n 4 examples/{name}.py" in docstring
    assert 'if __name__ == "__main__":' in source
    compile(source, name, "exec")


# -- hello_map ------------------------------------------------------------

GREETING = re.compile(r"^Hello, (\w+)!\s+\[worker (w\d+)\]$")
SCIENTISTS = ["Ada", "Alan", "Grace", "Marie", "Rosalind", "Niels", "Emmy",
              "Srinivasa"]


def check_hello(stdout, size):
    out = lines(stdout)
    assert out[0] == f"scoop_hpc hello-world on {size} worker(s)"
    assert out[-1] == "8 greetings, in order. Goodbye!"
    greetings = [GREETING.match(line) for line in out[1:-1]]
    assert all(greetings), out
    assert [m.group(1) for m in greetings] == SCIENTISTS
    # Which worker wrote each greeting varies; only its range is fixed.
    workers = {m.group(2) for m in greetings}
    assert workers <= {f"w{i}" for i in range(size)}, workers


@pytest.mark.timeout(90)
def test_hello_map():
    run = run_example("hello_map")
    check_hello(run.stdout, 2)


@pytest.mark.timeout(90)
def test_hello_map_four_workers():
    # The `make demo` command line.
    run = run_example("hello_map", workers=4)
    check_hello(run.stdout, 4)


@pytest.mark.timeout(60)
def test_hello_map_serial():
    proc = run_serial("hello_map")
    check_hello(proc.stdout, 1)
    assert "[worker w0]" in proc.stdout


# -- pi_montecarlo ----------------------------------------------------------

def pi_estimate(stdout):
    out = lines(stdout)
    assert out[0] == "darts thrown: 1000000", out
    match = re.fullmatch(r"pi estimate: (\d\.\d{6})", out[2])
    assert match, out
    return float(match.group(1))


@pytest.mark.timeout(90)
def test_pi_montecarlo():
    run = run_example("pi_montecarlo")
    estimate = pi_estimate(run.stdout)
    assert abs(estimate - math.pi) < 0.01, run.stdout
    # Generous bound: about half a second when the machine is quiet.
    assert run.seconds < 10, run.seconds


@pytest.mark.timeout(90)
def test_pi_montecarlo_is_reproducible():
    """Seeds per batch: same digits on 4 workers, 2 workers and serially."""
    two = run_example("pi_montecarlo").stdout
    four = run_example("pi_montecarlo", workers=4).stdout
    serial = run_serial("pi_montecarlo").stdout
    assert two == four == serial


@pytest.mark.timeout(60)
def test_pi_montecarlo_arguments():
    run = run_example("pi_montecarlo", "10", "1000")
    assert lines(run.stdout)[0] == "darts thrown: 10000"


# -- nested_tree ------------------------------------------------------------

@pytest.mark.timeout(120)
@pytest.mark.parametrize("workers", [1, 2, 4])
def test_nested_tree_default_depth(workers):
    run = run_example("nested_tree", workers=workers, timeout=100)
    assert lines(run.stdout) == ["depth: 12", "leaves: 4096"], run
    # "a few seconds on 2 workers" (well under one when quiet).
    assert run.seconds < 20, run.seconds


@pytest.mark.timeout(60)
@pytest.mark.parametrize("depth", [0, 1, 5])
def test_nested_tree_depth_argument(depth):
    run = run_example("nested_tree", str(depth))
    assert lines(run.stdout) == [f"depth: {depth}",
                                 f"leaves: {2 ** depth}"], run


@pytest.mark.timeout(60)
def test_nested_tree_serial():
    proc = run_serial("nested_tree")
    assert lines(proc.stdout) == ["depth: 12", "leaves: 4096"]


# -- brute_force ------------------------------------------------------------

def check_found(stdout, word):
    out = lines(stdout)
    assert out[1] == f"found: {word}", out
    match = re.fullmatch(r"\((\d+) of 26 chunks cancelled before they "
                         r"started\)", out[2])
    assert match, out
    assert 0 <= int(match.group(1)) <= 25


@pytest.mark.timeout(90)
def test_brute_force():
    run = run_example("brute_force")
    check_found(run.stdout, "scop")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("secret", ["aaaa", "zzzz", "mnop"])
def test_brute_force_other_secrets(secret):
    # The first chunk, the last chunk, one in the middle.
    run = run_example("brute_force", secret)
    check_found(run.stdout, secret)


@pytest.mark.timeout(60)
def test_brute_force_rejects_bad_secret():
    run = launch(["-n", 2, "examples/brute_force.py", "Ab1"], cwd=ROOT)
    assert run.returncode == 1, run
    assert "the secret must be 4 lower-case letters" in run.stderr, run


@pytest.mark.timeout(60)
def test_brute_force_serial():
    proc = run_serial("brute_force")
    check_found(proc.stdout, "scop")


# -- map_reduce -------------------------------------------------------------

MAP_REDUCE_OUT = [
    "sum of squares below 100000: parallel=333328333350000 "
    "serial=333328333350000 equal=True",
    "sum of multiples of 3 or 5 below 1000: parallel=233168 "
    "serial=233168 equal=True",
    "word count (top 4): parallel=[the=4, a=3, dog=3, fox=3] "
    "serial=[the=4, a=3, dog=3, fox=3] equal=True",
    "all equal",
]


@pytest.mark.timeout(90)
def test_map_reduce():
    run = run_example("map_reduce")
    assert lines(run.stdout) == MAP_REDUCE_OUT, run


@pytest.mark.timeout(90)
@pytest.mark.parametrize("n", [1, 7, 12345])
def test_map_reduce_sizes(n):
    run = run_example("map_reduce", str(n))
    expected = sum(x * x for x in range(n))
    assert lines(run.stdout)[0] == (
        f"sum of squares below {n}: parallel={expected} "
        f"serial={expected} equal=True"), run


@pytest.mark.timeout(60)
def test_map_reduce_serial():
    proc = run_serial("map_reduce")
    assert lines(proc.stdout) == MAP_REDUCE_OUT


# -- exceptions -------------------------------------------------------------

EXCEPTIONS_OUT = [
    "caught InvalidSample: sample -5 is negative",
    "cause is a RemoteTraceback: True",
    "raised in: check_sample",
    "map gave [1.0, 2.0, 3.0] before: sample -5 is negative",
]


@pytest.mark.timeout(90)
@pytest.mark.parametrize("workers", [2, 4])
def test_exceptions(workers):
    run = run_example("exceptions", workers=workers)
    assert lines(run.stdout) == EXCEPTIONS_OUT, run


@pytest.mark.timeout(60)
def test_exceptions_serial():
    proc = run_serial("exceptions")
    assert lines(proc.stdout) == EXCEPTIONS_OUT


# -- deap_onemax ------------------------------------------------------------

def test_deap_onemax_logs_alike_on_workers_and_serially():
    """DEAP's eaSimple maps its evaluations with futures.map: the log is
    the serial run's, and individuals of the creator's classes travel to
    the other workers, which made those classes importing the program."""
    parallel = lines(run_example("deap_onemax", "8", workers=3).stdout)
    serial = lines(run_serial("deap_onemax", "8").stdout)
    assert len(parallel) == 9 + 2, parallel      # generations 0 to 8
    assert parallel[:-1] == serial[:-1], (parallel, serial)
    first, last = (int(line.split("best")[1].split(".")[0])
                   for line in (parallel[0], parallel[-3]))
    assert last > first, parallel
    assert serial[-1] == "the last population evaluated again on w0"
    on = parallel[-1].rsplit(" on ", 1)[1].split(", ")
    assert on[0] == "w0" and len(on) > 1, parallel
    assert set(on) <= {"w0", "w1", "w2"}, parallel
