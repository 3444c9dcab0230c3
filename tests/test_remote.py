"""The launcher's side of one agent, with a real starter process."""
import os
import queue
import sys
import time

import pytest
import zmq

from scoop_hpc.agent import AgentConfig
from scoop_hpc.relay import Console
from scoop_hpc.remote import RemoteHost

pytestmark = pytest.mark.timeout(60)
REFUSED = "ssh: connect to host h port 22: Connection refused"
# a starter that fails at once, after much chatter (ssh -v)
STARTER = (f"yes 'debug1: trying' | head -c 60000 >&2; "
           f"echo '{REFUSED}' >&2; exit 255")


def _config() -> AgentConfig:
    return AgentConfig(
        host="h", first=1, count=2, size=3, address="tcp://127.0.0.1:1",
        token="00", program={}, path="/", nice=0, debug=False, unlink=None,
        curve=None, activity=None, timeline=False, stats_every=0.0)


def test_a_starter_that_fails_at_once_is_reported_with_its_stderr():
    # the end is reported once all of the stderr is read (ssh's last line
    # went missing once under the full suite)
    for _ in range(25):
        events: queue.Queue = queue.Queue()
        host = RemoteHost("h", ["sh", "-c", STARTER], _config(), Console(),
                          events.put)
        host.start()
        assert events.get(timeout=10) == ("ended", "h")
        message = host.fail_message()
        assert "exited with code 255" in message, message
        assert REFUSED in message, message


def test_a_worker_that_no_broker_welcomes_leaves_within_the_heartbeat_timeout(
        tmp_path, capfd):
    """A launcher stopped (or unreachable) after it told the agent its
    broker's address: its workers hear nothing from their first message
    on, and leave within the job's heartbeat timeout, as workers that stop
    hearing from it do, not after join's own minute."""
    program = tmp_path / "prog.py"
    program.write_text("print('never run')\n")
    silent = zmq.Context.instance().socket(zmq.ROUTER)  # never answers
    try:
        port = silent.bind_to_random_port("tcp://127.0.0.1")
        config = AgentConfig(
            host="h", first=1, count=1, size=2,
            address=f"tcp://127.0.0.1:{port}", token="00" * 32,
            program={"kind": "path", "target": str(program), "args": []},
            path=str(tmp_path), nice=0, debug=False, unlink=None, curve=None,
            activity=None, timeline=False, stats_every=0.0,
            heartbeat_timeout=1.0)
        events: queue.Queue = queue.Queue()
        host = RemoteHost("h", [sys.executable, "-m", "scoop_hpc.agent"],
                          config, Console(), events.put)
        start = time.monotonic()
        host.start()
        try:
            seen = [events.get(timeout=30)]
            while seen[-1][0] != "ended":
                seen.append(events.get(timeout=30))
            took = time.monotonic() - start
        finally:
            host.proc.stdin.close()     # the agent stops its workers
            host.proc.wait(10)
    finally:
        silent.close(linger=0)
    assert ("exit", "h", "w1", 1) in seen, seen
    assert took < 30, took               # join's own wait is 60 s
    err = capfd.readouterr().err
    assert (f"worker w1 on {os.uname().nodename}: no welcome from the broker"
            f" at tcp://127.0.0.1:{port} within 1 s") in err, err


def test_an_agent_without_a_folder_for_its_sub_broker_says_why(tmp_path):
    """An agent whose host's TMPDIR cannot hold the sub-broker's socket
    fails its host with the reason, not a traceback."""
    program = tmp_path / "prog.py"
    program.write_text("print('never run')\n")
    config = AgentConfig(
        host="h", first=1, count=1, size=2, address="tcp://127.0.0.1:1",
        token="00" * 32,
        program={"kind": "path", "target": str(program), "args": []},
        path=str(tmp_path), nice=0, debug=False, unlink=None, curve=None,
        activity=None, timeline=False, stats_every=0.0, sub_broker=True)
    events: queue.Queue = queue.Queue()
    host = RemoteHost("h", ["env", f"TMPDIR={tmp_path}/missing",
                            sys.executable, "-m", "scoop_hpc.agent"],
                      config, Console(), events.put)
    host.start()
    assert events.get(timeout=30) == ("ended", "h")
    message = host.fail_message()
    assert (f"cannot create the job's socket folder in {tmp_path}/missing"
            f" (TMPDIR on {os.uname().nodename}): No such file or "
            f"directory; set TMPDIR to a writable local directory"
            in message), message
    assert "Traceback" not in message, message
