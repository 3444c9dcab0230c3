"""Strangers at the broker's door: crafted and random messages, sent to a
running job, are dropped unread, and the job completes.

The crafted payload is a pickle that would create a file if it were ever
loaded; every message kind the protocol has carries it, in every framing
(unsigned, signed with a wrong key, with a stolen-looking tag), plus random
bytes. The file must never appear.
"""
from __future__ import annotations

import contextlib
import os
import pickle
import random
import subprocess
import sys
import time

import psutil
import pytest
import zmq

from scoop_hpc._transport import protocol as P
from scoop_hpc._transport.signing import WORKER, Seal

from .conftest import assert_no_orphans

pytestmark = pytest.mark.timeout(90)


class Trap:
    """Creates ``path`` when unpickled."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def crafted_messages(trap: bytes, name: bytes) -> list:
    """One message of every kind, each carrying the trap pickle."""
    payload = [b"\0" * 32, trap]                 # a payload with a fake MAC
    index_tasks = pickle.dumps([(name, 1, False, len(payload))])
    return [
        [P.header(P.HELLO), trap],
        [P.header(P.HELLO), P.pack({"name": "w0"})],
        [P.header(P.SIDE_HELLO), b"w0"],
        [P.header(P.REQUEST), P.pack(4)],
        [P.header(P.HAVE_WORK), P.pack(1)],
        [P.header(P.NOTHING), P.pack(1)],
        [P.header(P.SET_CONST), b"name", *payload],
        [P.header(P.TASKS), P.pack([(name, 1, False, 2)]), *payload],
        [P.header(P.TASKS), index_tasks, *payload],
        [P.header(P.RESULTS), b"w0", P.pack(1),
         P.pack([(1, True, 0.1, 0.1, 2)]), *payload],
        [P.header(P.RESULTS), b"w0", trap, trap, trap],
        [trap],
        [P.header(P.TASKS), trap, trap, b"x" * 40],
    ]


def framings(message: list, name: bytes) -> list:
    """The same message unsigned, signed with another job's key, and with
    a tag of the right size but made up."""
    return [message,
            Seal(b"another job's secret", WORKER).sign(message, name),
            [*message, os.urandom(40)]]


JOB = """
    import time
    import scoop_hpc
    from scoop_hpc import futures

    def slow(i):
        time.sleep(0.02)
        return i * i

    if __name__ == "__main__":
        with open({address!r}, "w") as handle:
            handle.write(scoop_hpc.BROKER_ADDRESS)
        time.sleep({window})         # the intruder's window
        print("sum", sum(futures.map(slow, range(100))))
"""
ANSWER = f"sum {sum(i * i for i in range(100))}"


class Job:
    """A job under the launcher that tells its broker's address; the test
    talks to the broker through ``self.context`` meanwhile."""

    def __init__(self, program, tmp_path, *options: str,
                 window: float = 2.0) -> None:
        address = tmp_path / "address"
        prog = program(JOB.format(address=str(address), window=window))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scoop_hpc", "-n", "2", *options,
             str(prog)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        self.context = zmq.Context()
        deadline = time.monotonic() + 30
        while not address.exists() or not address.read_text():
            if time.monotonic() > deadline:
                self.close()
                raise AssertionError("no broker address")
            time.sleep(0.05)
        self.address = address.read_text()
        self.pids = {p.pid for p in
                     psutil.Process(self.proc.pid).children(True)}

    def socket(self, identity: bytes = b"") -> zmq.Socket:
        sock = self.context.socket(zmq.DEALER)
        if identity:
            sock.setsockopt(zmq.IDENTITY, identity)
        sock.setsockopt(zmq.LINGER, 1000)
        sock.connect(self.address)
        return sock

    def finish(self) -> tuple:
        """Wait for the job; return its stdout and stderr."""
        try:
            out, err = self.proc.communicate(timeout=60)
        finally:
            self.close()
        assert self.proc.returncode == 0, err
        assert_no_orphans(self.pids)
        return out, err

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
        self.context.destroy(linger=0)


def test_crafted_and_random_messages_are_dropped_and_the_job_completes(
        program, tmp_path):
    marker = tmp_path / "pwned"
    trap = pickle.dumps(Trap(str(marker)))
    job = Job(program, tmp_path)
    sent = 0
    rng = random.Random(7)
    try:
        for number in range(20):
            name = f"intruder{number}".encode()
            sock = job.socket(name)
            for message in crafted_messages(trap, name):
                for framed in framings(message, name):
                    sock.send_multipart(framed)
                    sent += 1
            for _ in range(20):
                sock.send_multipart([rng.randbytes(rng.randrange(1, 200))
                                     for _ in range(rng.randrange(1, 6))])
                sent += 1
            # nothing is ever answered to a stranger
            assert sock.poll(50) == 0
            sock.close()
    finally:
        out, err = job.finish()
    assert ANSWER in out
    assert not marker.exists(), "a stranger's pickle was loaded"
    assert sent > 1000
    assert err.count("dropped a message") == sent, err[-2000:]


def test_under_encrypt_a_stranger_does_not_get_past_the_handshake(
        program, tmp_path):
    job = Job(program, tmp_path, "--encrypt", window=1.5)
    try:
        sock = job.socket()
        for _ in range(50):
            # the handshake fails: the socket has no peer to queue for
            with contextlib.suppress(zmq.Again):
                sock.send_multipart([P.header(P.HELLO), b"x" * 40],
                                    flags=zmq.NOBLOCK)
        assert sock.poll(300) == 0
        sock.close()
    finally:
        out, err = job.finish()
    assert ANSWER in out
    # the plain-text peer never completed a curve handshake: none of its
    # messages reached the broker, not even to be dropped
    assert "dropped a message" not in err, err
