"""Progress while a job runs: a live line on a terminal, lines in a log."""
from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import time

import pytest

from scoop_hpc import progress

from .conftest import PYTHON, launch

pytestmark = pytest.mark.timeout(60)

PROGRAM = """
    import time
    from scoop_hpc import futures
    def nap(i):
        time.sleep(0.02)
        return i
    if __name__ == "__main__":
        print("total", sum(futures.map(nap, range(150))))
"""


class Broker:
    def __init__(self) -> None:
        self.figures = (0, 0, 0)

    def progress(self):
        return self.figures


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_mode_follows_the_terminals():
    pipe = io.StringIO()
    assert progress.mode(False, 0, stdout=pipe, stderr=Tty()) == "live"
    assert progress.mode(False, 0, stdout=Tty(), stderr=Tty()) is None
    assert progress.mode(True, 0, stdout=Tty(), stderr=Tty()) == "live"
    assert progress.mode(False, 1, stdout=pipe, stderr=pipe) == "log"
    assert progress.mode(True, 0, stdout=pipe, stderr=pipe) == "log"
    assert progress.mode(False, 0, stdout=pipe, stderr=pipe) is None


def test_live_line_is_redrawn_with_the_rate_and_erased():
    now = [100.0]
    stream, broker = io.StringIO(), Broker()
    line = progress.Progress("live", 4, stream=stream, clock=lambda: now[0])
    broker.figures = (4, 500, 12)
    line.tick(broker)                      # too early: nothing drawn
    now[0] += 2.0
    line.tick(broker)
    assert stream.getvalue() == ("\r\x1b[K4/4 workers | 500 tasks done, 12 "
                                 "queued | 250 tasks/s | 2 s")
    line.close()
    assert stream.getvalue().endswith("\r\x1b[K")


def test_a_job_on_a_terminal_draws_a_status_line(program):
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [PYTHON, "-m", "scoop_hpc", "-n", "3", str(program(PROGRAM))],
        stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    seen = b""
    try:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:            # the launcher closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        out = proc.communicate(timeout=30)[0]
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    assert out == f"total {sum(range(150))}\n"      # the output is intact
    lines = re.findall(rb"\r\x1b\[K(\d+/3 workers \| [\d,]+ tasks done)",
                       seen)
    assert lines, seen
    assert seen.endswith(b"\r\x1b[K")               # erased at the end


def test_a_batch_log_gets_a_line_every_interval(program):
    start = time.monotonic()
    run = launch(["-n", "2", "-v", "--progress-every", "0.5",
                  program(PROGRAM)])
    assert run.returncode == 0, run
    lines = re.findall(r"progress: (\d)/2 workers \| ([\d,]+) tasks done",
                       run.stderr)
    assert len(lines) >= 2, run.stderr
    assert lines[-1][0] == "2"
    done = [int(n.replace(",", "")) for _, n in lines]
    assert done == sorted(done) and done[-1] > 0
    assert time.monotonic() - start < 30
