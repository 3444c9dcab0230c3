"""_exit: a process leaves as a normal exit would, less the teardown of
its modules; where MPI was loaded, it exits normally."""
import os
import subprocess
import sys
import textwrap

import pytest

PROGRAM = """
    import atexit, sys, threading, time, types
    from scoop_hpc._exit import leave

    class Torn:
        def __del__(self):
            print("torn down", flush=True)

    kept = Torn()        # collected only by Python's teardown
    if "mpi" in sys.argv:
        sys.modules["mpi4py.MPI"] = types.ModuleType("mpi4py.MPI")
    atexit.register(lambda: sys.stdout.write("exit handler\\n"))  # unflushed
    threading.Thread(target=lambda: (time.sleep(0.2),
                                     print("thread", flush=True))).start()
    sys.stdout.write("buffered ")
    leave(3)
"""


@pytest.mark.timeout(30)
@pytest.mark.parametrize("mpi", [False, True])
def test_leave_joins_threads_runs_handlers_flushes(mpi):
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PROGRAM),
         *(["mpi"] if mpi else [])],
        capture_output=True, text=True, timeout=20,
        env={k: v for k, v in os.environ.items()
             if k != "PYTHONUNBUFFERED"})     # the flush is leave's
    assert run.returncode == 3, run
    assert run.stdout.startswith("buffered "), run
    assert "thread\nexit handler\n" in run.stdout, run
    assert ("torn down" in run.stdout) == mpi, run
