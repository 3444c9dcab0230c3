"""One run of the launcher: its broker, its workers, their supervision.

::

    launcher (this process): broker loop + supervision, one thread
      fork -> w0  root: runs the program as __main__      (local hosts)
      fork -> w1 .. wk: import it as SCOOP_WORKER, serve tasks
      ssh node1 -> agent -> fork wk+1 ..                  (remote hosts)
                            (fork n<k+1>: --sub-brokers, subbroker.py)

The broker binds an ipc socket in a private directory for local workers
and, with remote hosts, one TCP address chosen by ``network`` (or none:
``--tunnel`` forwards a socket on each host to the ipc one). Local workers
are forked after the bind (pyzmq contexts are fork-safe: a child never
touches its parent's). Signals (SIGCHLD, SIGINT, SIGTERM, SIGHUP) and the
agents' reports wake the broker loop through a pipe, so the launcher
notices a dead worker, a failed host or Ctrl-C at once. Workers and
agents die with the launcher (``PR_SET_PDEATHSIG``), even on SIGKILL.

A worker other than the root that dies is *lost*: the broker runs its
tasks again elsewhere and the job goes on (the broker also loses workers
whose heartbeats stop; a local one is then killed). The root's end is the
job's. SIGTERM, ``--drain-signal`` and, under Slurm, the approach of
``SLURM_JOB_END_TIME`` *drain* the job: no task starts any more, running
ones get ``--drain-grace`` seconds, then the job stops with 128 + the
signal's number (SIGTERM for the end time) and says what was done. A
batch system sends SIGTERM to every process of the job: workers and
agents ignore it, and the drain goes on all the same.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import queue
import secrets
import signal
import sys
import time
from typing import Dict, List, Optional

import zmq

from . import (
    _procs,
    _tmpdirs,
    _worker,
    cpugrant,
    network,
    progress,
    report,
    threadcaps,
)
from ._transport import protocol
from ._transport.signing import SignedRouter
from ._transport.zmq import Curve, ZmqRouter
from .agent import AgentConfig
from .broker import Broker
from .options import sub_brokers
from .relay import Console
from .remote import (
    START_TIMEOUT,
    EarlyAgents,
    RemoteHost,
    agent_hosts,
    starter,
)

log = logging.getLogger("scoop_hpc.launcher")

_GRACE = 3.0          # seconds workers get to leave after SHUTDOWN
_STOP_GRACE = 0.5     # the same, after a stop signal or a drain's end
_KILL_GRACE = 2.0     # then agents get to kill theirs, before SIGKILL
_EVENT = b"\0"        # wakes the loop for an agent's report (not a signal)
_END_MARGIN = 15.0    # seconds before SLURM_JOB_END_TIME a drain must end


class Job:
    """One run: a broker, local workers, remote agents, supervision."""

    def __init__(self, args: argparse.Namespace,
                 early: Optional[EarlyAgents] = None) -> None:
        self.args = args
        self.early = early     # agents started with the command line read
        self.placement = args.placement
        self.size = self.placement.size
        self.token = secrets.token_bytes(32)    # keys every message
        self.children: Dict[int, str] = {}    # local workers: pid -> name
        self.remotes: Dict[str, RemoteHost] = {}
        self.events: "queue.SimpleQueue[tuple]" = queue.SimpleQueue()
        self.console = Console(prefix=args.verbose > 0, log_path=args.log,
                               on_closed=self._output_closed)
        self.root_pid = 0
        self.job_id = secrets.token_hex(4)
        self.curve = Curve.new() if args.encrypt else None
        self.activity: Optional[str] = None    # where workers leave records
        how = progress.mode(args.progress, args.verbose)
        self.progress = (progress.Progress(how, self.size,
                                           args.progress_every)
                         if how else None)
        self.stats_every = (min(progress.REPORT_EVERY, args.progress_every)
                            if how else 0.0)
        self.shared_dir: Optional[str] = None
        self.drain_at = _drain_time(os.environ, args.drain_grace)
        self.drained: Optional[tuple] = None     # (signal, deadline)
        self.hurry = False      # stopped by a signal: no wait for tasks
        self._pipe_r, self._pipe_w = os.pipe()
        os.set_blocking(self._pipe_r, False)
        os.set_blocking(self._pipe_w, False)

    def run(self) -> int:
        if self.drain_at is not None:
            log.info("the batch job ends at %s (SLURM_JOB_END_TIME): the job"
                     " drains from %s", time.ctime(self.drain_at
                                                   + self.args.drain_grace
                                                   + _END_MARGIN),
                     time.ctime(self.drain_at))
        agents, local = agent_hosts(self.placement)
        remote = [host for host, _, _ in agents]
        if not agents and self.args.sub_brokers == "yes":
            log.warning("--sub-brokers yes: every worker runs on this host "
                        "and joins the job's broker; sub-brokers serve "
                        "other hosts' workers")
        binds, routes, unreachable = [], {}, {}
        if remote and not self.args.tunnel:
            binds, routes, unreachable = network.plan(
                remote, self.args.interface, self.args.broker_hostname,
                self.args.bind_all)
        tmpdir = _tmpdirs.private_dir()
        ipc = f"ipc://{tmpdir}/broker"
        context = zmq.Context()
        router = None
        old = self._install_signals()
        try:
            if self.args.verbose or self.args.timeline:
                self.activity = self._shared_dir() if remote else tmpdir
            router = SignedRouter(
                ZmqRouter(context, [ipc, *binds], self.curve), self.token)
            protocol.set_key(self.token)    # for the broker's own replies
            broker = Broker(router, self.size, self.args.heartbeat_timeout,
                            self.args.retries)
            bound = {a[6:].rsplit(":", 1)[0]: a for a in router.addresses[1:]}
            self._start(ipc, agents, local, bound, routes, unreachable)
            router.watch(self._pipe_r)
            try:
                code = self._supervise(broker)
            finally:
                if self.progress is not None:
                    self.progress.close()
            self._teardown(broker)
            self._report(broker)
            return code
        finally:
            _procs.kill_trees(self.children)
            for host in self.remotes.values():
                host.kill()
            for sig, handler in old.items():
                signal.signal(sig, handler)
            signal.set_wakeup_fd(-1)
            if router is not None:
                router.close()
            context.destroy(linger=0)
            _tmpdirs.remove_dir(tmpdir)
            if self.shared_dir is not None:
                _tmpdirs.remove_dir(self.shared_dir)
            self.console.close()

    # -- starting ------------------------------------------------------------
    def _install_signals(self) -> dict:
        old = {}
        drain = (self.args.drain_signal,) if self.args.drain_signal else ()
        for sig in (signal.SIGCHLD, *_procs.STOP_SIGNALS, *drain):
            old[sig] = signal.signal(sig, _note_signal)
        signal.set_wakeup_fd(self._pipe_w, warn_on_full_buffer=False)
        return old

    def _start(self, ipc: str, agents: List[tuple], local: List[int],
               bound: Dict[str, str], routes: dict,
               unreachable: Dict[str, str]) -> None:
        """Start every host's workers (``agents`` and ``local``, from
        ``remote.agent_hosts``): agents first (ssh is slow to connect; those
        started early only get their configuration), then the local forks.
        A host without a route fails at once, like one whose ssh fails."""
        args = self.args
        start = starter(args)
        for host, first, count in agents:
            forward = unlink = config_file = None
            if args.tunnel:
                unlink = f"/tmp/scoop_hpc-{self.job_id}-{first}.sock"
                forward = f"{unlink}:{ipc[6:]}"
                address = f"ipc://{unlink}"
            elif host in routes:
                address = network.dial(bound, routes[host])
            else:
                address = None
            if not start.launcher.stdin:
                config_file = os.path.join(self._shared_dir(), f"w{first}")
            config = AgentConfig(
                host=host, first=first, count=count, size=self.size,
                address=address, token=self.token.hex(),
                program=vars(args.program_spec),
                path=args.path or os.getcwd(), nice=args.nice,
                debug=args.debug, unlink=unlink,
                curve=[key.decode() for key in self.curve.for_workers()]
                if self.curve else None, sub_broker=self._sub_brokers(),
                python=list(sys.version_info[:2]) if local else None,
                threads=self.args.threads_per_worker,
                cpus=cpugrant.granted(os.environ, host),
                **self._worker_settings())
            argv = start.command(host, count, self.placement.ranks.get(host),
                                 forward, config_file)
            remote = RemoteHost(host, argv, config, self.console,
                                self._notify, config_file)
            self.remotes[host] = remote
            if address is None:
                if self.early is not None:
                    self.early.drop(host)
                remote.fail(unreachable[host])
            else:
                remote.start(self.early.take(host, argv) if self.early
                             else None)
        self._fork_local(local, ipc)

    def _sub_brokers(self) -> bool:
        """Whether remote hosts' workers join a broker on their host."""
        return sub_brokers(self.args.sub_brokers, self.size)

    def _worker_settings(self) -> dict:
        """What every worker is told alike, forked here or by an agent."""
        return {"activity": self.activity,
                "timeline": bool(self.args.timeline),
                "stats_every": self.stats_every,
                "drain_signal": self.args.drain_signal,
                "heartbeat_timeout": self.args.heartbeat_timeout}

    def _shared_dir(self) -> str:
        """A private directory in the job's working directory (a shared
        file system) for agents that get no stdin."""
        if self.shared_dir is None:
            self.shared_dir = _tmpdirs.shared_dir(
                self.args.path or os.getcwd(), self.job_id)
        return self.shared_dir

    def _fork_local(self, indices: List[int], address: str) -> None:
        """Fork this host's workers. The root keeps the launcher's stdin
        (the program's); the others read from /dev/null, as remote and
        ``ProcessPoolExecutor`` workers do: a task's ``input()`` or a
        program it starts would wait for a terminal's next line, or take
        the root's piped data."""
        parent = os.getpid()
        environ = threadcaps.environ(self.args.threads_per_worker,
                                     len(indices), _worker.usable_cpus(),
                                     os.environ)
        null = os.open(os.devnull, os.O_RDONLY)
        for index in indices:
            config = _worker.WorkerConfig(
                index=index, size=self.size, address=address,
                program=self.args.program_spec, path=self.args.path,
                nice=self.args.nice, debug=self.args.debug,
                parent_pid=parent, token=self.token,
                sign_payloads=bool(self.remotes), broker_is_parent=True,
                curve=self.curve.for_workers() if self.curve else None,
                environ=environ, **self._worker_settings())
            pid = _worker.fork_worker(
                config, stdio=None if index == 0 else (null, 1, 2))
            self.children[pid] = config.name
            if index == 0:
                self.root_pid = pid
        os.close(null)
        if indices:
            log.info("started %d workers (pids %s)", len(indices),
                     ", ".join(map(str, self.children)))

    def _output_closed(self, stream: str) -> None:
        """The console's ``stream`` lost its reader (from a reader
        thread): the job stops, as a program killed by SIGPIPE."""
        with contextlib.suppress(BlockingIOError):     # full: awake
            os.write(self._pipe_w, bytes([signal.SIGPIPE]))

    def _notify(self, event: tuple) -> None:
        """An agent's report (from a reader thread): queue it, wake up."""
        self.events.put(event)
        try:
            os.write(self._pipe_w, _EVENT)
        except BlockingIOError:
            pass            # the loop is awake already

    # -- supervising ---------------------------------------------------------
    def _supervise(self, broker: Broker) -> int:
        while True:
            broker.step(0.5)
            if self.progress is not None:
                self.progress.tick(broker)
            for sig in self._take_signals():
                if sig == signal.SIGTERM or sig == self.args.drain_signal:
                    self._drain(broker, sig)
                elif sig == signal.SIGPIPE:     # from _output_closed
                    log.warning("the launcher's output was closed (its "
                                "reader ended, as `| head` does): stopping"
                                " the job")
                    self.hurry = True
                    return 128 + sig
                elif sig in _procs.STOP_SIGNALS:
                    log.warning("received %s: stopping the job",
                                signal.Signals(sig).name)
                    self.hurry = True
                    return 128 + sig
            ends = [(name, code, f"pid {pid}", _procs.end_reason(code))
                    for pid, name, code in _procs.reap(self.children)]
            ends += self._remote_events(broker)
            for name, code, where, how in ends:
                if name == "w0":
                    log.info("root worker w0 exited with code %d", code)
                    if code < 0:
                        log.error("worker w0 (%s) %s; the job ends", where,
                                  how)
                    if self.drained is not None:
                        return self._drain_report(broker)
                    return code if code >= 0 else 128 - code
                broker.lose(name.encode(), f"it {how}")
            self._kill_silent(broker)
            code = self._check_time(broker)
            if code is not None:
                return code

    def _kill_silent(self, broker: Broker) -> None:
        """Kill the local workers the broker lost for their silence."""
        while broker.newly_lost:
            name = broker.newly_lost.pop().decode()
            _procs.kill_trees(p for p, n in self.children.items()
                              if n == name)

    def _drain(self, broker: Broker, sig: int,
               why: Optional[str] = None) -> None:
        """Start no new task; give running ones ``--drain-grace`` s."""
        if self.drained is not None:
            return
        grace = self.args.drain_grace
        log.warning("%s: draining the job: no new task starts; running "
                    "tasks have %g s to finish",
                    why or f"received {signal.Signals(sig).name}", grace)
        self.drained = (sig, time.monotonic() + grace)
        broker.drain()

    def _check_time(self, broker: Broker) -> Optional[int]:
        """Drain ahead of the allocation's end; end a drain on time."""
        if self.drain_at is not None and time.time() >= self.drain_at:
            left = self.drain_at - time.time() + self.args.drain_grace \
                + _END_MARGIN
            self.drain_at = None
            self._drain(broker, signal.SIGTERM, f"the batch job ends in "
                                                f"{left:.0f} s "
                                                f"(SLURM_JOB_END_TIME)")
        if self.drained is not None and time.monotonic() >= self.drained[1]:
            return self._drain_report(broker)
        return None

    def _drain_report(self, broker: Broker) -> int:
        """Say what the drained job did; return its exit code."""
        sig = self.drained[0]
        self.hurry = True
        held = sum(1 for f in broker.flights.values() if f[0] is not None)
        log.error("the job was stopped by %s before the program finished; "
                  "of the tasks the broker handed out, %d finished and %d "
                  "did not; %d were never handed out",
                  signal.Signals(sig).name, broker.done, held,
                  len(broker.pool))
        return 128 + sig

    def _remote_events(self, broker: Broker) -> List[tuple]:
        """Turn the agents' reports into ``(worker, code, where, how)``
        ends."""
        ends = []
        now = time.monotonic()
        for host in self.remotes.values():
            if host.overdue(now):
                host.failure = f"it did not report within {START_TIMEOUT:g} s"
                host.kill()
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return ends
            host = self.remotes[event[1]]
            if event[0] == "exit":
                name, code = event[2], event[3]
                host.workers.discard(name)
                if name == host.node:
                    host.node = None
                ends.append((name, code, f"on host {host.name}",
                             _procs.end_reason(code)))
            elif event[0] == "ended":
                ends.extend(self._host_ended(host, broker))

    def _host_ended(self, host: RemoteHost, broker: Broker) -> List[tuple]:
        """An agent ended: fine once its workers have; before it started
        them, the job goes on without the host (unless it held the root)."""
        lost = sorted(host.workers)
        host.workers.clear()
        if host.ready:
            if host.node is not None:    # first: it held their tasks
                lost.insert(0, host.node)
                host.node = None
            text = host.stderr_text()
            log.error("the agent on host %s ended%s", host.name,
                      f"; its stderr:\n{text}" if text else "")
            return [(name, -signal.SIGKILL, f"on host {host.name}",
                     "lost its agent, which ended") for name in lost]
        if "w0" in lost:
            log.error("%s\nit was to run the root program",
                      host.fail_message())
            return [("w0", 1, f"on host {host.name}", "did not start")]
        log.error("%s", host.fail_message())
        log.warning("the job goes on with %d workers, without host %s",
                    broker.size - len(lost), host.name)
        broker.resize(broker.size - len(lost))
        return []

    def _take_signals(self) -> bytes:
        try:
            return os.read(self._pipe_r, 512).replace(_EVENT, b"")
        except BlockingIOError:
            return b""

    def _report(self, broker: Broker) -> None:
        """The summary (``-v``) and the timeline (``--timeline``)."""
        if self.activity is None:
            return
        records = report.read(self.activity)
        if self.args.verbose:
            log.info("%s", report.summary(records, self.placement.size,
                                          broker))
        if self.args.timeline:
            try:
                report.write_trace(self.args.timeline, records)
            except OSError as exc:
                log.error("cannot write the timeline %s: %s",
                          self.args.timeline, exc)
            else:
                log.info("timeline of %d tasks written to %s",
                         sum(len(r["events"]) for r in records),
                         self.args.timeline)

    # -- stopping ------------------------------------------------------------
    def _teardown(self, broker: Broker) -> None:
        """Ask everyone to leave; then kill those still there (workers
        ignore SIGTERM: it is the launcher's); then kill their agents."""
        broker.shutdown()
        if self._wait(_STOP_GRACE if self.hurry else _GRACE, broker):
            return
        log.info("stopping workers that did not leave")
        for host in self.remotes.values():
            host.close_input()          # its agent kills its workers
        _procs.kill_trees(self.children)
        if not self._wait(_KILL_GRACE + 1.0):
            for host in self.remotes.values():
                host.kill()
            self._wait(_KILL_GRACE)

    def _wait(self, seconds: float, broker: Optional[Broker] = None) -> bool:
        """Wait for local workers and agents to end; True when all did.
        With ``broker``, keep serving it: a worker that joins late is told
        to leave at once."""
        deadline = time.monotonic() + seconds
        while True:
            _procs.reap(self.children)
            busy = self.children or any(h.running
                                        for h in self.remotes.values())
            if not busy or time.monotonic() >= deadline:
                return not busy
            if broker is None:
                time.sleep(0.01)
            else:
                broker.step(0.01)


def _drain_time(environ, grace: float) -> Optional[float]:
    """When to drain ahead of ``SLURM_JOB_END_TIME`` (epoch seconds), if
    set: early enough for the grace and the teardown.

    >>> _drain_time({"SLURM_JOB_END_TIME": "1000"}, 10.0)
    975.0
    >>> _drain_time({}, 10.0) is None
    True
    """
    try:
        end = float(environ["SLURM_JOB_END_TIME"])
    except (KeyError, ValueError):
        return None
    return end - grace - _END_MARGIN if end > 0 else None


def _note_signal(signum, frame) -> None:
    """Python-level handler: the wakeup pipe carries the signal number."""
