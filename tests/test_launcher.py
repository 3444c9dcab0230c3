"""``python -m scoop_hpc``: command line, exit codes, signals, teardown."""
import os
import signal
import subprocess
import textwrap
import time
from types import SimpleNamespace

import psutil
import pytest

from scoop_hpc.job import Job

from .conftest import PYTHON, assert_no_orphans, launch, scratch_tmpdir

pytestmark = pytest.mark.timeout(60)

HELLO = """
    from scoop_hpc import futures
    def f(x):
        return x + 1
    if __name__ == "__main__":
        print(sum(futures.map(f, range(100))))
"""


@pytest.mark.parametrize("args, message", [
    (["-n", "0", "prog.py"], "-n must be at least 1"),
    (["missing.py"], "Path does not exist: missing.py"),
    ([], "No path specified for execution"),
    (["--no-such-option", "prog.py"], "unrecognized arguments"),
    (["-m", "no_such_module_xyz"], "No module named 'no_such_module_xyz'"),
    # SCOOP 0.7's options that scoop_hpc does not take say what to do
    (["--rsh", "prog.py"], "--rsh is an option of SCOOP 0.7 that scoop_hpc "
                           "does not take: use --ssh-executable rsh"),
    (["--backend", "ZMQ", "prog.py"], "--backend is an option of SCOOP"),
    (["--profile", "prog.py"], "--profile is an option of SCOOP"),
    (["-b", "2", "prog.py"], "-b is an option of SCOOP 0.7"),
])
def test_usage_errors_exit_2(program, tmp_path, args, message):
    program(HELLO)
    run = launch(args, cwd=tmp_path)
    assert run.returncode == 2
    assert message in run.stderr
    assert "usage:" in run.stderr


@pytest.mark.parametrize("value, args, code", [
    ("tcp", ["--transport", "zmq", "-n", "2"], 0),   # the option wins
    ("tcp", ["--help"], 0),
    ("", ["-n", "2"], 0),                            # empty: the default
    (" ZMQ ", ["-n", "2"], 0),
    ("tcp", ["-n", "2"], 2),
])
def test_transport_variable_is_read_after_the_command_line(
        program, tmp_path, value, args, code):
    """SCOOP_HPC_TRANSPORT gives --transport's default only: an explicit
    --transport or --help never reads it, and a bad value is a usage
    error."""
    path = program(HELLO)
    run = launch([*args, path] if "--help" not in args else args,
                 cwd=tmp_path, env={"SCOOP_HPC_TRANSPORT": value})
    assert run.returncode == code, run
    if "--help" in args:
        assert "--transport {zmq,mpi}" in run.stdout, run
    elif code:
        assert run.stderr.endswith(
            "python -m scoop_hpc: error: SCOOP_HPC_TRANSPORT=tcp: unknown "
            "transport; set it to zmq or mpi, or unset it (--transport on "
            "the command line wins over it)\n"), run
    else:
        assert run.stdout == "5050\n", run


def test_hello_and_default_worker_count(program, tmp_path):
    path = program(HELLO)
    run = launch([path], cwd=tmp_path)
    assert (run.returncode, run.stdout) == (0, "5050\n"), run


def test_sub_brokers_on_one_host_say_they_do_not_apply(program, tmp_path):
    run = launch(["-n", "2", "--sub-brokers", "yes", program(HELLO)],
                 cwd=tmp_path)
    assert (run.returncode, run.stdout) == (0, "5050\n"), run
    assert "sub-brokers serve other hosts' workers" in run.stderr, run


@pytest.mark.parametrize("code", [0, 3, 42])
def test_sys_exit_code_is_the_launchers(program, code):
    path = program(f"""
        import sys
        from scoop_hpc import futures
        if __name__ == "__main__":
            list(futures.map(abs, range(4)))
            sys.exit({code})
    """)
    assert launch(["-n", "2", path]).returncode == code


def test_uncaught_task_exception_prints_both_tracebacks(program):
    path = program("""
        from scoop_hpc import futures
        def explode(x):
            raise KeyError(f"missing {x}")
        if __name__ == "__main__":
            futures.submit(explode, "thing").result()
    """)
    run = launch(["-n", "2", path])
    assert run.returncode == 1
    assert "KeyError: 'missing thing'" in run.stderr
    assert "in explode" in run.stderr
    assert "### task explode raised on worker w" in run.stderr
    assert "direct cause of the following exception" in run.stderr
    assert "scoop_hpc/launcher.py" not in run.stderr


def test_syntax_error_is_reported_before_starting(program):
    path = program("def broken(:\n    pass\n")
    run = launch(["-n", "2", path])
    assert run.returncode == 1
    assert "SyntaxError" in run.stderr


def test_module_mode_and_arguments(tmp_path):
    (tmp_path / "mymod.py").write_text(
        "import sys\nfrom scoop_hpc import futures\n"
        "def double(x):\n    return 2 * x\n"
        "if __name__ == '__main__':\n"
        "    print(sys.argv[1:], list(futures.map(double, [1, 2])))\n")
    run = launch(["-n", "2", "-m", "mymod", "a", "-n", "5"], cwd=tmp_path)
    assert (run.returncode, run.stdout) == (0, "['a', '-n', '5'] [2, 4]\n")


@pytest.mark.parametrize("module", ["pkgx.main", "pkgx"])
def test_a_packages_module_runs_with_its_package(tmp_path, module):
    """As ``python -m pkgx.main`` (or a package's ``__main__``): its
    ``__package__`` is the package, and relative imports work on every
    worker."""
    package = tmp_path / "pkgx"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text("def double(x):\n    return 2 * x\n")
    main = ("from scoop_hpc import futures\n"
            "from .helpers import double\n"
            "if __name__ == '__main__':\n"
            "    print(__package__, list(futures.map(double, [1, 2])))\n")
    (package / "main.py").write_text(main)
    (package / "__main__.py").write_text(main)
    run = launch(["-n", "2", "-m", module], cwd=tmp_path)
    assert (run.returncode, run.stdout) == (0, "pkgx [2, 4]\n"), run


def test_script_arguments_and_path(program, tmp_path):
    path = program("""
        import os, sys
        if __name__ == "__main__":
            print(sys.argv[1:], os.getcwd())
    """)
    workdir = tmp_path / "work"
    workdir.mkdir()
    run = launch(["-n", "1", "--path", workdir, path, "x", "--y"])
    assert run.stdout == f"['x', '--y'] {workdir}\n"


ARGV = """
    import sys
    if __name__ == "__main__":
        print(sys.argv[1:])
"""


@pytest.mark.parametrize("args", [
    ["-v"], ["-n", "1", "x"], ["--foo"], ["--", "-x"], ["-h"]])
def test_the_words_after_a_host_list_and_its_program_are_the_programs(
        program, tmp_path, args):
    program(ARGV, "argv.py")
    run = launch(["--hosts", "localhost", "localhost", "argv.py", *args],
                 cwd=tmp_path)
    assert (run.returncode, run.stdout) == (0, f"{args}\n"), run


@pytest.mark.parametrize("args", [
    ["-v", "--flag"], ["-n", "2", "b"], ["--", "-x"], ["-m", "y"]])
def test_the_words_after_dash_m_module_are_the_modules(tmp_path, args):
    (tmp_path / "modx.py").write_text(textwrap.dedent(ARGV))
    run = launch(["-n", "1", "-m", "modx", *args], cwd=tmp_path)
    assert (run.returncode, run.stdout) == (0, f"{args}\n"), run


def test_a_double_dash_is_the_programs_after_it_the_launchers_before(
        program, tmp_path):
    path = program(ARGV)
    run = launch(["-n", "1", path, "--", "-x"])
    assert (run.returncode, run.stdout) == (0, "['--', '-x']\n"), run
    run = launch(["-n", "1", "--", path, "--", "-x"])
    assert (run.returncode, run.stdout) == (0, "['--', '-x']\n"), run
    run = launch(["--hosts", "localhost", "--", path, "-x"])
    assert (run.returncode, run.stdout) == (0, "['-x']\n"), run


def test_a_host_list_that_may_hold_the_program_is_a_usage_error(
        program, tmp_path):
    program(ARGV, "argv.py")
    program(ARGV, "runner")
    run = launch(["--hosts", "localhost", "runner", "argv.py"], cwd=tmp_path)
    assert run.returncode == 2, run
    assert ("'runner' names a file here and 'argv.py' ends in .py, so "
            "either could be the program") in run.stderr
    run = launch(["--hosts", "localhost", "nofile"], cwd=tmp_path)
    assert run.returncode == 2, run
    assert ("No path specified for execution (--hosts took localhost "
            "nofile as hosts") in run.stderr


def test_log_file_and_verbose(program, tmp_path):
    path = program(HELLO)
    log = tmp_path / "job.log"
    run = launch(["-n", "2", "-v", "--log", log, path])
    assert run.returncode == 0
    text = log.read_text()
    assert "started 2 workers" in text
    assert "root worker w0 exited with code 0" in text
    assert "started 2 workers" in run.stderr


SIZE = """
    import scoop_hpc
    if __name__ == "__main__":
        print(scoop_hpc.SIZE)
"""


def test_host_counts_and_ranges_place_the_workers(program, hostfile):
    path = program(SIZE)
    run = launch(["--hosts", "localhost:2", "127.0.0.[1]", path])
    assert (run.returncode, run.stdout) == (0, "3\n"), run
    run = launch(["--hostfile", hostfile("127.0.0.[1] 2\n"), path])
    assert (run.returncode, run.stdout) == (0, "2\n"), run
    run = launch(["--hosts", "node[1-3", path])
    assert run.returncode == 2, run
    assert "--hosts: 'node[1-3': unbalanced '['" in run.stderr, run


MARK = """
    import sys
    if __name__ == "__main__":
        open(sys.argv[1], "w").close()
"""


@pytest.mark.parametrize("option, where, why, todo", [
    ("--log", "/nonexistent-dir/job.log",
     "the directory /nonexistent-dir does not exist",
     "name a file in a directory you can write to"),
    ("--timeline", "/nonexistent-dir/run.json",
     "the directory /nonexistent-dir does not exist",
     "name a file in a directory you can write to"),
    ("--timeline", "{tmp}", "it is a directory",
     "name a file, as in {tmp}/job.out"),
    ("--log", "{tmp}/prog.py/job.log", "{tmp}/prog.py is not a directory",
     "name a file in a directory you can write to"),
])
def test_an_unwritable_log_or_timeline_is_a_usage_error_before_the_start(
        program, tmp_path, option, where, why, todo):
    path = program(MARK)
    where, why, todo = (text.format(tmp=tmp_path)
                        for text in (where, why, todo))
    ran = tmp_path / "ran"
    run = launch(["-n", "1", option, where, path, ran])
    assert run.returncode == 2, run
    assert (f"error: {option} {where}: cannot write this file: {why}; "
            f"{todo}\n") in run.stderr, run
    assert "Traceback" not in run.stderr
    assert not ran.exists()


@pytest.mark.parametrize("given, name, why", [
    ("KILL", "SIGKILL", "cannot be caught"),
    ("SIGSTOP", "SIGSTOP", "cannot be caught"),
    ("chld", "SIGCHLD", "is how the launcher hears of its workers' ends"),
    ("TERM", "SIGTERM", "drains the job already"),
    ("INT", "SIGINT", "stops the job (as Ctrl-C)"),
    ("1", "SIGHUP", "stops the job (as a closed terminal)"),
    ("SEGV", "SIGSEGV", "is not one that drains a job"),
    ("WINCH", "SIGWINCH", "is not one that drains a job"),
])
def test_a_drain_signal_the_launcher_cannot_or_must_not_catch_is_refused(
        program, tmp_path, given, name, why):
    ran = tmp_path / "ran"
    run = launch(["-n", "1", "--drain-signal", given, program(MARK), ran])
    assert run.returncode == 2, run
    assert (f"error: argument --drain-signal: {name} {why}; use one of "
            f"USR1, USR2, ALRM, VTALRM, PROF, URG, XCPU, XFSZ, PWR, QUIT "
            f"(a name or a number)\n") in run.stderr, run
    assert not ran.exists()


DYING = """
    import os, socket, time
    import scoop_hpc
    from scoop_hpc import futures
    from scoop_hpc.errors import WorkerLostError
    def maybe_die(x):
        if scoop_hpc.WORKER_NAME == "w1":
            os._exit(3)
        time.sleep(0.01)
        return x
    if __name__ == "__main__":
        try:
            print(sum(futures.map(maybe_die, range(200))))
        except WorkerLostError as exc:
            print("lost:", exc, socket.gethostname())
"""


def test_a_dead_worker_is_lost_and_its_tasks_run_elsewhere(program):
    run = launch(["-n", "2", program(DYING)], timeout=30)
    assert (run.returncode, run.stdout) == (0, f"{sum(range(200))}\n"), run
    assert "worker w1 (pid" in run.stderr and "is lost" in run.stderr
    assert "exited with code 3" in run.stderr


def test_past_its_retries_a_lost_task_fails_naming_worker_host_task(
        program):
    run = launch(["-n", "2", "--retries", "0", program(DYING)], timeout=30)
    assert run.returncode == 0, run
    text, host = run.stdout.rsplit(" ", 1)
    assert text.startswith("lost: worker w1 (pid "), run
    assert f"on host {host.strip()}) was lost" in text
    assert "exited with code 3" in text
    assert "while it held task " in text and " of worker w0" in text
    assert text.endswith(": a chunk of map maybe_die"), text


SLEEPER = """
    import time
    from scoop_hpc import futures
    def nap(x):
        time.sleep(60)
    if __name__ == "__main__":
        print("started", flush=True)
        list(futures.map(nap, range(8)))
"""


def _start(path, *options, env=None):
    proc = subprocess.Popen([PYTHON, "-m", "scoop_hpc", "-n", "3", *options,
                             str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    assert proc.stdout.readline() == "started\n"
    time.sleep(0.3)
    family = {p.pid for p in psutil.Process(proc.pid).children(True)}
    assert len(family) == 3
    return proc, family


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130),
                                       (signal.SIGTERM, 143)])
def test_signals_tear_everything_down(program, sig, code):
    env = dict(os.environ)
    with scratch_tmpdir(env):       # and its socket directory goes
        proc, family = _start(program(SLEEPER), "--drain-grace", "1",
                              env=env)
        proc.send_signal(sig)
        assert proc.wait(timeout=15) == code
    assert "received " + signal.Signals(sig).name in proc.stderr.read()
    assert_no_orphans(family)


def test_killed_launcher_takes_its_workers_along(program):
    env = dict(os.environ)
    with scratch_tmpdir(env, check=False):   # SIGKILL: no clean-up
        proc, family = _start(program(SLEEPER), env=env)
        proc.kill()
        proc.wait(timeout=5)
    assert_no_orphans(family, timeout=15)


def test_the_next_job_sweeps_what_a_killed_launcher_left(program):
    """A launcher killed with SIGKILL leaves its socket directory in
    TMPDIR; the user's next job, a minute on, removes it (nothing listens
    on its socket any more) and leaves nothing of its own."""
    env = dict(os.environ)
    with scratch_tmpdir(env, check=False):   # SIGKILL: no clean-up
        tmpdir = env["TMPDIR"]
        proc, family = _start(program(SLEEPER), env=env)
        proc.kill()
        proc.wait(timeout=5)
        assert_no_orphans(family, timeout=15)
        left = os.listdir(tmpdir)
        assert len(left) == 1 and left[0].startswith("scoop_hpc-"), left
        past = time.time() - 60      # a sweep leaves folders just changed
        os.utime(os.path.join(tmpdir, left[0]), (past, past))
        run = launch(["-n", "2", program(HELLO, "hello.py")],
                     env={"TMPDIR": tmpdir})
        assert (run.returncode, run.stdout) == (0, "5050\n"), run
        assert os.listdir(tmpdir) == []


def test_local_workers_die_with_the_launcher_and_hear_no_beats(program):
    """Workers forked by the launcher, their broker, die with it: they
    listen for no answer to their heartbeats, and their idle main thread
    does not wake to look for their parent."""
    run = launch(["-n", "2", program("""
        from scoop_hpc import futures
        from scoop_hpc._runtime import context
        def watched(_):
            hub = context.current()
            return hub.watched, hub.idle_timeout
        if __name__ == "__main__":
            print(sorted(set(futures.map(watched, range(20)))),
                  watched(0))
    """)])
    assert (run.returncode, run.stdout) == (
        0, "[(True, None)] (True, None)\n"), run


def test_scoop_hpc_run_is_the_launcher(program, tmp_path):
    path = program(HELLO)
    proc = subprocess.run([PYTHON, "-c",
                           "import sys; from scoop_hpc.cli import main; "
                           "sys.exit(main())", "run", "-n", "2", str(path)],
                          capture_output=True, text=True, timeout=30)
    assert (proc.returncode, proc.stdout) == (0, "5050\n")


@pytest.mark.parametrize("choice, size, expected", [
    ("auto", 511, False), ("auto", 512, True), ("yes", 2, True),
    ("no", 4096, False)])
def test_sub_brokers_auto_turns_on_from_512_workers(choice, size, expected):
    job = SimpleNamespace(args=SimpleNamespace(sub_brokers=choice),
                          size=size)
    assert Job._sub_brokers(job) is expected


NO_GUARD = """
    import os, sys, time
    import scoop_hpc
    from scoop_hpc import futures, shared
    seen = sys.argv[1]
    with open(seen, "a") as out:
        out.write(scoop_hpc.WORKER_NAME + "\\n")
    if scoop_hpc.IS_ORIGIN:     # until every worker has imported this
        deadline = time.monotonic() + 20
        while len(open(seen).read().split()) < 3:
            assert time.monotonic() < deadline, open(seen).read()
            time.sleep(0.01)
        time.sleep(0.3)
    else:                       # the first to define k would win
        time.sleep(0.5 * ("setConst" in sys.argv))
    if "setConst" in sys.argv:
        shared.setConst(k=2)
    print(scoop_hpc.WORKER_NAME, sum(futures.map(abs, range(-50, 50))))
"""


@pytest.mark.parametrize("call", ["futures.map", "shared.setConst"])
def test_a_program_without_its_main_guard_runs_on_the_root_alone(
        program, tmp_path, call):
    """The workers import the program to find its functions; one whose
    top level gives out tasks or defines a constant lacks its ``__main__``
    guard: each worker refuses, says so, and leaves, and the root runs
    the program once."""
    seen = tmp_path / "seen.txt"
    run = launch(["-n", "3", program(NO_GUARD), str(seen),
                  call.split(".")[1]], timeout=40)
    assert (run.returncode, run.stdout) == (0, "w0 2500\n"), run
    assert sorted(seen.read_text().split()) == ["w0", "w1", "w2"]
    for worker in ("w1", "w2"):
        assert (f"MainGuardError: {call} was called while worker "
                f"{worker} imported the program") in run.stderr, run
    assert 'outside `if __name__ == "__main__":`' in run.stderr, run


def test_a_tmpdir_that_cannot_hold_the_sockets_is_said_so(program, tmp_path):
    ran = tmp_path / "ran"
    missing = tmp_path / "missing"
    run = launch(["-n", "2", program(MARK), ran],
                 env={"TMPDIR": str(missing)})
    assert run.returncode == 1, run
    assert (f"cannot create the job's socket folder in {missing} (TMPDIR on"
            f" {os.uname().nodename}): No such file or directory; set TMPDIR"
            f" to a writable local directory\n") in run.stderr, run
    assert "Traceback" not in run.stderr
    assert not ran.exists()


BAD_RECORD = """
    import logging
    from scoop_hpc import futures

    def say(text):
        logging.getLogger("scoop_hpc.mine").warning(text)

    if __name__ == "__main__":
        logging.getLogger("scoop_hpc.mine").warning("%d", "not a number")
        futures.submit(say, "after the bad record").result()
"""


def test_a_record_that_cannot_be_formatted_leaves_the_log_file(
        program, tmp_path):
    """One record whose arguments do not fit its format is logging's
    ordinary error (said on stderr): the --log file, which can still be
    written, kept the records after it (they were said to go to stderr
    only, as for a full disk)."""
    log = tmp_path / "job.log"
    run = launch(["-n", "2", "--log", log, program(BAD_RECORD)])
    assert run.returncode == 0, run
    assert "cannot write to the log file" not in run.stderr, run
    assert "--- Logging error ---" in run.stderr, run
    assert "scoop_hpc.mine: after the bad record" in log.read_text(), run


def test_a_log_file_that_fills_up_is_said_so_once_and_left(program,
                                                          tmp_path):
    ran = tmp_path / "ran"
    run = launch(["-v", "-n", "2", "--log", "/dev/full", program(MARK), ran])
    assert run.returncode == 0, run
    assert ran.exists()
    assert run.stderr.count("scoop_hpc: cannot write to the log file "
                            "/dev/full: [Errno 28] No space left on device;"
                            " the log goes on to stderr only\n") == 1, run
    assert "root worker w0 exited with code 0" in run.stderr, run
    assert "Logging error" not in run.stderr, run
