"""``python -m scoop_hpc.agent``: one host's part of a job.

The launcher starts one agent per remote host over one ssh connection
(or the scheduler's own starter) and writes the job's configuration, the
job's token included, as one JSON line on the agent's stdin. The agent
forks that host's workers (and first, with ``--sub-brokers``, the
host's sub-broker, which they join on a private socket:
``subbroker.py``), relays their output and their exits to the
launcher as records on its stdout (see ``_agentwire``), and ends with them.
When its stdin closes (the launcher is done, or gone: ssh ended), or on
SIGINT or SIGHUP, it kills its workers and leaves. SIGTERM, which a batch
system sends to every process of the job, and ``--drain-signal`` are the
launcher's to act on: the agent ignores them, as its workers do.
"""
from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import sys
from typing import Dict, List, Optional

from . import _agentwire as W
from . import (
    _procs,
    _tmpdirs,
    _worker,
    cpugrant,
    fdlimit,
    subbroker,
    threadcaps,
)
from ._exit import leave
from ._transport.zmq import Curve
from .errors import LauncherError
from .program import Program

_STOP_GRACE = 2.0      # seconds to reap killed workers
_STOP_SIGNALS = (signal.SIGINT, signal.SIGHUP)
_CHUNK = 65536


class AgentConfig:
    """The part of the job one agent runs, as the launcher describes it."""

    FIELDS = ("host", "first", "count", "size", "address", "token",
              "program", "path", "nice", "debug", "unlink", "curve",
              "activity", "timeline", "stats_every", "drain_signal",
              "sub_broker", "heartbeat_timeout", "python", "threads", "cpus")

    def __init__(self, **fields) -> None:
        fields.setdefault("drain_signal", None)
        fields.setdefault("python", None)
        fields.setdefault("sub_broker", False)
        fields.setdefault("heartbeat_timeout", 0.0)
        fields.setdefault("threads", "auto")
        fields.setdefault("cpus", None)     # the job's here (cpugrant)
        missing = set(self.FIELDS) - set(fields)
        if missing:
            raise ValueError(f"agent configuration lacks {sorted(missing)}")
        self.__dict__.update(fields)

    def dumps(self) -> bytes:
        """One JSON line (the token travels as hex)."""
        return json.dumps(self.__dict__).encode() + b"\n"

    @classmethod
    def loads(cls, line: bytes) -> "AgentConfig":
        return cls(**json.loads(line))

    @property
    def node_name(self) -> str:
        """The name of the host's sub-broker (unique in the job)."""
        return f"n{self.first}"

    def keys(self) -> Optional[Curve]:
        return (Curve(*(key.encode() for key in self.curve))
                if self.curve else None)

    def workers(self, parent_pid: int, address: Optional[str] = None
                ) -> List[_worker.WorkerConfig]:
        """The workers' configurations; ``address``: their sub-broker's
        (private to the host: no encryption), instead of the broker's."""
        program = Program(**self.program)
        environ = threadcaps.environ(self.threads, self.count,
                                     _worker.usable_cpus(), os.environ)
        return [_worker.WorkerConfig(
            index=index, size=self.size, address=address or self.address,
            program=program, path=self.path, nice=self.nice,
            debug=self.debug, parent_pid=parent_pid,
            token=bytes.fromhex(self.token),
            curve=None if address else self.keys(),
            activity=self.activity, timeline=self.timeline,
            stats_every=self.stats_every, drain_signal=self.drain_signal,
            heartbeat_timeout=self.heartbeat_timeout, environ=environ)
            for index in range(self.first, self.first + self.count)]


class Agent:
    """Forks and watches one host's workers; reports to the launcher."""

    def __init__(self, config: AgentConfig, out: int,
                 watch_stdin: bool = True) -> None:
        self.config = config
        self.out = out
        self.watch_stdin = watch_stdin
        self.children: Dict[int, str] = {}
        self.streams: Dict[int, tuple] = {}    # fd -> (kind, worker name)
        self.stopping = False
        self.sub_broker: Optional[int] = None   # its pid
        self.sockets: Optional[str] = None      # its private directory
        self._sub_stop: Optional[int] = None    # closed: it stops
        self._wake_r, self._wake_w = os.pipe()
        for fd in (self._wake_r, self._wake_w):
            os.set_blocking(fd, False)

    def check(self) -> Optional[str]:
        """Say why this host cannot run the workers, or None."""
        config = self.config
        if config.path and not os.path.isdir(config.path):
            return (f"--path {config.path}: no such directory on "
                    f"{config.host}")
        program = config.program
        if program["kind"] == "path" and not os.path.isfile(
                program["target"]):
            return (f"the program {program['target']} does not exist on "
                    f"{config.host}: every host needs it at the same path "
                    f"(a shared file system)")
        return _other_python(config) or fdlimit.ensure(
            fdlimit.agent_needs(config.count),
            f"the {config.count} workers of {config.host}")

    def start(self) -> None:
        for sig in (signal.SIGCHLD, *_STOP_SIGNALS):
            signal.signal(sig, lambda *_: None)
        for sig in (signal.SIGTERM, self.config.drain_signal):
            if sig:                     # the launcher's to act on
                signal.signal(sig, signal.SIG_IGN)
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        if self.config.unlink:          # what killed agents left there
            _tmpdirs.sweep(os.path.dirname(self.config.unlink))
        null = os.open(os.devnull, os.O_RDONLY)
        address = None
        if self.config.sub_broker:
            self.sockets = _tmpdirs.private_dir()
            address = f"ipc://{self.sockets}/node"
            stop_r, self._sub_stop = os.pipe()
            self.sub_broker = self._fork(stop_r, self.config.node_name,
                                         self._serve_node(address))
            os.close(stop_r)
        for config in self.config.workers(os.getpid(), address):
            self._fork(null, config.name, lambda config=config:
                       _worker.serve_worker(config))
        os.close(null)
        self.send(W.READY, "agent",
                  json.dumps(sorted(self.children)).encode())

    def _serve_node(self, address: str):
        config = self.config
        return lambda: subbroker.run(
            config.node_name.encode(), config.address, address,
            bytes.fromhex(config.token), config.keys(), config.debug,
            stop_fd=0)

    def _fork(self, stdin: int, name: str, run) -> int:
        """Fork ``run()`` as child ``name``, its output relayed."""
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        pid = _procs.fork(run, os.getpid(), self.config.drain_signal,
                          stdio=(stdin, out_w, err_w))
        os.close(out_w)
        os.close(err_w)
        self.children[pid] = name
        self.streams[out_r] = (W.OUT, name)
        self.streams[err_r] = (W.ERR, name)
        return pid

    def send(self, kind: bytes, name: str, payload: bytes = b"") -> None:
        data = memoryview(W.record(kind, name, payload))
        while data:
            data = data[os.write(self.out, data):]

    def serve(self) -> int:
        """Relay until every worker has exited and said all it had to."""
        selector = selectors.DefaultSelector()
        if self.watch_stdin:
            selector.register(0, selectors.EVENT_READ)
        selector.register(self._wake_r, selectors.EVENT_READ)
        for fd in self.streams:
            selector.register(fd, selectors.EVENT_READ)
        while self.children or (self.streams and not self.stopping):
            for key, _ in selector.select(1.0):
                self._ready(selector, key.fd)
            self._reap()
        return 0

    def _ready(self, selector, fd: int) -> None:
        if fd == self._wake_r:
            try:
                signals = os.read(fd, 512)
            except BlockingIOError:
                signals = b""
            if set(signals) & set(_STOP_SIGNALS):
                self.stop()
        elif fd == 0:
            if not os.read(0, _CHUNK):       # the launcher is done or gone
                selector.unregister(0)
                self.stop()
        else:
            data = os.read(fd, _CHUNK)
            kind, name = self.streams[fd]
            if data:
                self.send(kind, name, data)
            else:
                selector.unregister(fd)
                os.close(fd)
                del self.streams[fd]

    def _reap(self) -> None:
        for pid, name, code in _procs.reap(self.children):
            self.send(W.EXIT, name, str(code).encode())
            if pid == self.sub_broker:      # its workers cannot go on
                self.sub_broker = None
                self.stop()
        if self.sub_broker is not None and list(self.children) == [
                self.sub_broker]:           # they left: it may go too
            self._stop_sub_broker()
            self.sub_broker = None

    def _stop_sub_broker(self) -> None:
        """Close the sub-broker's stdin: it leaves when it reads its end."""
        if self._sub_stop is not None:
            os.close(self._sub_stop)
            self._sub_stop = None

    def stop(self) -> None:
        """Stop the workers that are still there."""
        if not self.stopping and self.children:
            self.stopping = True
            _procs.kill_all(self.children, _STOP_GRACE)

    def close(self) -> None:
        self.stop()
        self._stop_sub_broker()
        if self.sockets is not None:
            _tmpdirs.remove_dir(self.sockets)
        if self.config.unlink:
            with contextlib.suppress(OSError):
                os.unlink(self.config.unlink)


def _other_python(config: AgentConfig) -> Optional[str]:
    """Say why this host's Python cannot run the job's workers: its
    version is not ``config.python``, the job's (``[major, minor]``: that
    of the workers the launcher forks; None when it forks none)."""
    here = list(sys.version_info[:2])
    if config.python is None or config.python == here:
        return None
    job = ".".join(map(str, config.python))
    return (f"its Python ({sys.executable}) is {sys.version.split()[0]}, "
            f"the job's workers run Python {job}: functions sent by value "
            f"(lambdas, closures) cannot be rebuilt by another version; "
            f"give --python-executable a Python {job} that has scoop_hpc "
            f"on {config.host}")


def main(argv: Optional[List[str]] = None) -> int:
    """Run an agent: configuration on stdin (or, with ``--config FILE``,
    in a private file it deletes), records on stdout."""
    argv = sys.argv[1:] if argv is None else argv
    out = os.dup(1)
    os.dup2(2, 1)               # stray prints cannot corrupt the records
    os.write(out, W.MAGIC)
    config_file = argv[1] if argv[:1] == ["--config"] else None
    line = _read_config(config_file)
    if not line:
        print(f"scoop_hpc agent: no configuration "
              f"{'in ' + config_file if config_file else 'on stdin'}",
              file=sys.stderr)
        return 2
    config = AgentConfig.loads(line)
    if config.cpus:     # the workers' CPUs too: see cpugrant
        os.environ[cpugrant.VARIABLE] = str(config.cpus)
    agent = Agent(config, out, watch_stdin=config_file is None)
    try:
        why = agent.check()
        if why is not None:
            agent.send(W.FAIL, "agent", why.encode())
            return 2
        agent.start()
        return agent.serve()
    except LauncherError as exc:    # no folder for the sub-broker's socket
        agent.send(W.FAIL, "agent", str(exc).encode())
        return 2
    except BrokenPipeError:     # the launcher is gone
        return 1
    finally:
        agent.close()


def _read_config(path: Optional[str]) -> bytes:
    """The configuration line: from stdin, or from ``path`` (then
    removed: the job's token must not stay on a shared file system)."""
    if path is None:
        return sys.stdin.buffer.raw.readline()
    try:
        with open(path, "rb") as handle:
            return handle.readline()
    except OSError as exc:
        print(f"scoop_hpc agent: cannot read {path}: {exc}", file=sys.stderr)
        return b""
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


if __name__ == "__main__":
    leave(main())
