"""The launcher's side of a remote host: its agent, started over ssh.

::

    launcher                                   host node1
      ssh node1 '... exec python -m scoop_hpc.agent'
        stdin:  one JSON line (configuration + token), then kept open
        stdout: records (ready, output, exits)  <- agent -> fork w3, w4
        stderr: ssh's and the agent's own complaints

The ssh process dies with the launcher (``PR_SET_PDEATHSIG``): sshd then
closes the session, the agent reads the end of its stdin and stops its
workers. Two reader threads per host turn the agent's records into events
for the launcher's loop.
"""
from __future__ import annotations

import collections
import contextlib
import logging
import os
import shlex
import signal
import subprocess
import threading
import time
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Tuple

from . import _agentwire as W
from ._procs import die_with_parent
from .relay import Console
from .starters import Launcher

if TYPE_CHECKING:   # the agent's module imports the runtime: not needed
    from .agent import AgentConfig  # before the agents are started

log = logging.getLogger("scoop_hpc.launcher")

START_TIMEOUT = 30.0     # seconds for a host to report its workers forked
_STDERR_TAIL = 40        # lines of a host's stderr kept for its error


class Starter:
    """The command that starts an agent on a host.

    Args:
        launcher: how (``starters``: ssh or a scheduler's launcher).
        python: the interpreter on the hosts.
        pythonpath: prepended to PYTHONPATH there.
        prolog: a shell file sourced there first.
    """

    def __init__(self, launcher: Launcher, python: str = "python3",
                 pythonpath: Optional[str] = None,
                 prolog: Optional[str] = None) -> None:
        self.launcher = launcher
        self.python = python
        self.pythonpath = pythonpath
        self.prolog = prolog

    def remote_command(self, config_file: Optional[str] = None) -> str:
        """The shell command run on the host (by sh, or a login shell)."""
        steps = []
        if self.prolog:
            steps.append(f". {shlex.quote(self.prolog)}")
        if self.pythonpath:
            steps.append(f"PYTHONPATH={shlex.quote(self.pythonpath)}"
                         "${PYTHONPATH:+:$PYTHONPATH}; export PYTHONPATH")
        agent = f"exec {shlex.quote(self.python)} -m scoop_hpc.agent"
        if config_file:
            agent += f" --config {shlex.quote(config_file)}"
        steps.append(agent)
        return " && ".join(steps)

    def command(self, host: str, workers: int = 1,
                rank: Optional[int] = None, forward: Optional[str] = None,
                config_file: Optional[str] = None) -> List[str]:
        """The local command that starts the agent on ``host``."""
        return self.launcher.argv(host, self.remote_command(config_file),
                                  workers=workers, rank=rank,
                                  forward=forward)


def agent_hosts(placement) -> Tuple[List[Tuple[str, int, int]], List[int]]:
    """``(host, first worker, count)`` of each agent to start for
    ``placement``, and the indices of the workers forked here (the root,
    ``w0``, always)."""
    agents, local, first = [], [], 0
    for host, here in zip(placement.hosts, placement.local):
        count = host.workers
        if here and first == 0:
            local.append(0)       # the root always runs here
            first, count = 1, count - 1
        if here and not placement.everywhere:
            local.extend(range(first, first + count))
        elif count:
            agents.append((host.name, first, count))
        first += count
    return agents, local


def starter(args) -> Starter:
    """The command that starts the agents of the run ``args``."""
    return Starter(args.placement.starter, args.python, args.pythonpath,
                   args.prolog)


def spawn(argv: List[str], stdin: bool) -> subprocess.Popen:
    """Start an agent's starter (ssh, srun, ...); with ``stdin``, a pipe to
    write its configuration to."""
    log.debug("starting %s", shlex.join(argv))
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        preexec_fn=_detach)


class EarlyAgents:
    """The agents started as soon as the command line is read, before the
    launcher imports the runtime and binds its broker: ssh, or a
    scheduler's launcher, takes a good part of a second to connect, and the
    agent waits on its stdin for its configuration. Not for starters that
    give it no stdin (the configuration goes into a file first), nor with
    ``--tunnel`` (the forward names the broker's socket)."""

    def __init__(self, args) -> None:
        self._procs: Dict[str, Tuple[List[str], subprocess.Popen]] = {}
        placement = args.placement
        if placement is None or args.tunnel or not placement.starter.stdin:
            return
        start = starter(args)
        for host, _, count in agent_hosts(placement)[0]:
            argv = start.command(host, count, placement.ranks.get(host))
            try:
                self._procs[host] = argv, spawn(argv, stdin=True)
            except OSError:
                pass    # the job starts it again and says why it fails

    def take(self, host: str, argv: List[str]
             ) -> Optional[subprocess.Popen]:
        """The agent started early for ``host`` with ``argv``, if any: the
        caller owns it from now on."""
        started, proc = self._procs.pop(host, (None, None))
        if proc is not None and started != argv:
            self._end(proc)
            return None
        return proc

    def drop(self, host: str) -> None:
        """End the agent started early for ``host`` (it has no route)."""
        started = self._procs.pop(host, None)
        if started is not None:
            self._end(started[1])

    def close(self) -> None:
        """End the agents nobody took (the job failed before it)."""
        for host in list(self._procs):
            self.drop(host)

    @staticmethod
    def _end(proc: subprocess.Popen) -> None:
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait(5)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            stream.close()


class RemoteHost:
    """One remote host's agent and what it reports.

    Args:
        name: the host.
        argv: the command that starts its agent.
        config: what the agent runs.
        console: where its workers' output goes.
        notify: called (from a reader thread) with each event:
            ``("ready", host)``, ``("exit", host, worker, code)``,
            ``("ended", host)``.
    """

    def __init__(self, name: str, argv: List[str], config: AgentConfig,
                 console: Console, notify: Callable[[tuple], None],
                 config_file: Optional[str] = None) -> None:
        self.name = name
        self.config_file = config_file
        self.argv = argv
        self.config = config
        self.console = console
        self.notify = notify
        self.workers = {f"w{i}" for i in range(config.first,
                                               config.first + config.count)}
        # the host's sub-broker, while it runs (--sub-brokers)
        self.node: Optional[str] = (config.node_name if config.sub_broker
                                    else None)
        self.ready = False
        self.failure: Optional[str] = None
        self.proc: Optional[subprocess.Popen] = None
        self.started_at = 0.0
        self._stderr: collections.deque = collections.deque(
            maxlen=_STDERR_TAIL)
        self._threads: List[threading.Thread] = []

    def start(self, proc: Optional[subprocess.Popen] = None) -> None:
        """Start the agent, or take ``proc`` (its starter, run early with
        ``argv``: see :class:`EarlyAgents`), and hand it its
        configuration."""
        self.started_at = time.monotonic()
        if proc is None:
            if self.config_file:
                _write_private(self.config_file, self.config.dumps())
            try:
                proc = spawn(self.argv, stdin=not self.config_file)
            except OSError as exc:
                self.fail(f"cannot run {self.argv[0]}: {exc}")
                return
        self.proc = proc
        if not self.config_file:
            try:
                self.proc.stdin.write(self.config.dumps())
                self.proc.stdin.flush()
            except OSError:
                pass        # it ended already: its stderr says why
        # stderr's reader starts first and both are listed before either
        # runs: the records reader joins it before it reports the end, so
        # the stderr of a starter that failed at once is all there
        self._threads = [threading.Thread(target=target, daemon=True,
                                          name=f"scoop_hpc-{self.name}")
                         for target in (self._read_stderr,
                                        self._read_records)]
        for thread in self._threads:
            thread.start()

    def fail(self, why: str) -> None:
        """Give the host up before its agent runs (``why`` says why)."""
        self.failure = why
        self.notify(("ended", self.name))

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def overdue(self, now: float) -> bool:
        """Whether it failed to report its workers within the timeout."""
        return (not self.ready and self.failure is None and self.running
                and now - self.started_at > START_TIMEOUT)

    def stderr_text(self) -> str:
        return "".join(self._stderr).strip()

    def fail_message(self) -> str:
        """Why the host could not start, with the remote stderr."""
        why = self.failure
        if why is None:
            code = self.proc.returncode if self.proc else None
            why = (f"the starter exited with code {code}"
                   if code is not None else "it did not report within "
                   f"{START_TIMEOUT:g} s")
        text = self.stderr_text()
        detail = f"; its stderr:\n{_indent(text)}" if text else ""
        return (f"host {self.name}: could not start its workers "
                f"({shlex.join(self.argv)}): {why}{detail}")

    # -- reader threads ----------------------------------------------------
    def _read_records(self) -> None:
        reader = W.Reader()
        stream = self.proc.stdout
        while True:
            data = stream.read1(65536)
            if not data:
                break
            for kind, name, payload in reader.feed(data):
                self._record(kind, name, payload)
        rest = reader.rest()
        if rest:
            self.console.write(self.name, rest)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join()
        self.proc.wait()
        self.notify(("ended", self.name))

    def _record(self, kind: bytes, name: str, payload: bytes) -> None:
        if kind in (W.OUT, W.ERR):
            self.console.write(f"{name}@{self.name}", payload,
                               error=kind == W.ERR)
        elif kind == W.EXIT:
            self.notify(("exit", self.name, name, int(payload)))
        elif kind == W.READY:
            self.ready = True
            log.info("host %s: workers %s started (pids %s)%s", self.name,
                     ", ".join(sorted(self.workers, key=_index)),
                     payload.decode(), f", under sub-broker {self.node}"
                     if self.node else "")
            self.notify(("ready", self.name))
        elif kind == W.FAIL:
            self.failure = payload.decode(errors="replace")
        elif kind == W.TEXT:
            self.console.write(self.name, payload)

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            text = line.decode(errors="replace")
            self._stderr.append(text)
            if self.ready:
                self.console.write(self.name, line, error=True)

    # -- stopping ------------------------------------------------------------
    def close_input(self) -> None:
        """Tell the agent to stop its workers and leave."""
        if self.proc is not None and self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)


def _detach() -> None:
    """In the starter's child: own process group (a Ctrl-C at the terminal
    is the launcher's to handle), and die with the launcher."""
    os.setpgid(0, 0)
    die_with_parent(None)


def _write_private(path: str, data: bytes) -> None:
    """Write ``data`` to a new file only its owner can read."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _index(name: str) -> int:
    return int(name[1:])


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
