"""A worker process: connect to the broker, load the program, serve tasks.

The root worker (``w0``) runs the user's program as ``__main__``; every
other worker imports it under the name ``SCOOP_WORKER``, so the
``if __name__ == "__main__":`` guard keeps the main program off them while
the functions it defines resolve everywhere (both names are aliases of the
same module in every process).
"""
from __future__ import annotations

import contextlib
import os
import sys
import types
from typing import Callable, Dict, List, Optional, Tuple

import scoop_hpc

from . import _procs, cpugrant
from ._exit import finish
from ._runtime import activity, context, execution
from ._runtime.hub import Hub
from ._transport import protocol as P
from ._transport.signing import SignedEndpoint
from .errors import TimeoutError as FuturesTimeout
from .program import Program

WORKER_MODULE = "SCOOP_WORKER"
# where a process a task spawns finds SCOOP_WORKER (see the module there)
_ALIAS_DIR = os.path.join(os.path.dirname(__file__), "_alias")
_SWITCH_INTERVAL = 0.0005  # seconds
_JOIN_TIMEOUT = 60.0       # seconds a welcome may take, without heartbeats


class WorkerConfig:
    """Everything a worker needs to join its job.

    ``token`` is the job's secret: it keys the signature of every message
    and payload (``_transport.signing``), so the broker serves only the
    workers that hold it. It travels in memory or on an agent's stdin,
    never on a command line, in a log or over the network.
    ``sign_payloads`` is False only in a job without network sockets.
    ``curve`` holds the CurveZMQ keys (``_transport.zmq.Curve``) under
    ``--encrypt``. ``activity`` is the folder where the worker leaves its
    record (``_runtime.activity``; under ``-v`` and ``--timeline``), with
    one entry per task when ``timeline``. ``stats_every``: seconds between
    progress reports to the broker (0: none). ``broker_is_parent``: the
    launcher, the job's broker, forks this worker (see :func:`serve`).
    ``heartbeat_timeout``: the job's (0: none); a worker that the broker
    does not welcome within it leaves, as one that stops hearing from it.
    ``environ``: variables put in the worker's environment before it loads
    the program (``threadcaps``: the threads of its numeric libraries).
    """

    def __init__(self, index: int, size: int, address: str,
                 program: Program, path: Optional[str] = None,
                 nice: int = 0, debug: bool = False,
                 parent_pid: Optional[int] = None,
                 token: bytes = b"", sign_payloads: bool = True,
                 curve=None, activity: Optional[str] = None,
                 timeline: bool = False, stats_every: float = 0.0,
                 drain_signal: Optional[int] = None,
                 broker_is_parent: bool = False,
                 heartbeat_timeout: float = 0.0,
                 environ: Optional[Dict[str, str]] = None) -> None:
        self.index = index
        self.size = size
        self.address = address
        self.program = program
        self.path = path
        self.nice = nice
        self.debug = debug
        self.parent_pid = parent_pid
        self.token = token
        self.sign_payloads = sign_payloads
        self.curve = curve
        self.activity = activity
        self.timeline = timeline
        self.stats_every = stats_every
        self.drain_signal = drain_signal  # the launcher's: ignored here
        self.broker_is_parent = broker_is_parent  # forked by the launcher
        self.heartbeat_timeout = heartbeat_timeout
        self.environ = dict(environ or {})

    @property
    def name(self) -> str:
        return f"w{self.index}"


def serve(config: WorkerConfig, transport, watched: bool = False,
          told_to_leave: Optional[Callable[[], None]] = None) -> int:
    """Join the job through ``transport`` and serve it; return exit code.

    A *watched* worker dies with its broker (its parent, with
    ``PR_SET_PDEATHSIG``): it tells the broker so in its HELLO, which then
    does not answer its heartbeats, and its idle main thread does not
    wake to look for its parent (unless it reports progress).
    ``told_to_leave`` is called from the steal thread when the broker
    tells this worker to leave, even while a task or the import of the
    program holds the main thread (an MPI rank ends itself from there).
    """
    if config.path:
        os.chdir(config.path)
    os.environ.update(config.environ)
    if config.nice:
        os.nice(config.nice)
    identity = config.name.encode()
    # The side thread answers steal requests while user code runs; with the
    # default 5 ms switch interval each of its GIL hand-offs could cost that
    # much. Only a thread waiting for the GIL makes the interval matter.
    sys.setswitchinterval(_SWITCH_INTERVAL)
    _line_buffered()
    _set_constants(config)
    execution.set_location(config.name, config.size)
    os.register_at_fork(after_in_child=execution.note_fork)
    P.set_key(config.token, config.sign_payloads)
    hub = Hub(identity, SignedEndpoint(transport.connect(identity),
                                       config.token), config.size)
    hub.watched = watched     # it dies with the broker: nothing to look for
    hub.told_to_leave = told_to_leave
    if config.parent_pid is not None and not watched:
        hub.idle_tick = lambda: _check_parent(config.parent_pid)
    if config.activity or config.stats_every:
        hub.recorder = activity.Recorder(config.name, config.timeline)
        hub.stats_every = config.stats_every
    info = {"name": config.name, "pid": os.getpid(),
            "host": os.uname().nodename,
            "cpus": usable_cpus(), "watched": watched}
    wait = (config.heartbeat_timeout if config.heartbeat_timeout
            and not watched else _JOIN_TIMEOUT)
    try:
        welcome = hub.join(info, side=SignedEndpoint(
            transport.connect_side(identity), config.token), timeout=wait)
    except FuturesTimeout:
        print(f"scoop_hpc: worker {config.name} on "
              f"{os.uname().nodename}: no welcome from the broker at "
              f"{config.address} within {wait:g} s: the launcher is gone, "
              f"stopped, or cannot be reached from this host (see "
              f"--broker-hostname); leaving", file=sys.stderr, flush=True)
        return 1
    scoop_hpc.SIZE = hub.size
    scoop_hpc.BROKER_NAME = welcome.get("broker", "broker")
    context.install(hub)
    if config.index == 0:
        code = _run_root(hub, config.program)
        _leave_record(hub, config)
        return code
    try:
        code, module = config.program.load(WORKER_MODULE)
        _install_main(module)
        sys.path.append(_ALIAS_DIR)
        with context.importing(config.name, config.program.target):
            exec(code, module.__dict__)
    except BaseException as exc:  # noqa: BLE001 - report, then leave
        print(f"scoop_hpc: worker {config.name} could not load the program "
              f"{config.program.target}: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 1
    hub.run(lambda: hub.stopping)
    _leave_record(hub, config)
    return 0


def fork_worker(config: WorkerConfig,
                stdio: Optional[Tuple[int, int, int]] = None) -> int:
    """Fork a process that serves as the worker ``config``; return its pid.

    Args:
        config: the worker's configuration.
        stdio: ``(stdin, stdout, stderr)`` descriptors for the child, or
            None to inherit the parent's (it keeps no other).
    """
    return _procs.fork(lambda: serve_worker(config), config.parent_pid,
                       config.drain_signal, stdio)


def serve_worker(config: WorkerConfig) -> int:
    """Serve as the worker ``config`` in this (forked) process; it is
    *watched* if its parent is its broker and the kernel kills it when
    that parent dies (see :func:`serve`)."""
    from ._transport.zmq import ZmqTransport
    return serve(config, ZmqTransport(config.address, config.curve),
                 config.broker_is_parent and _procs.dies_with_parent())


def _leave_record(hub: Hub, config: WorkerConfig) -> None:
    if hub.recorder is not None and config.activity:
        try:
            hub.recorder.write(config.activity)
        except OSError as exc:
            print(f"scoop_hpc: worker {config.name} could not write its "
                  f"record to {config.activity}: {exc}", file=sys.stderr)


def _line_buffered() -> None:
    """Send each line the program or a task prints at once, as to a
    terminal: a worker may be killed with its buffer unwritten (a
    drain's end, tasks still running when the root ends), and a job's
    output is a pipe or a batch system's file."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            # one write(2) a line (with write_through, as under
            # PYTHONUNBUFFERED, print writes the newline apart, and
            # another worker's line could come between)
            stream.reconfigure(line_buffering=True, write_through=False)


def _set_constants(config: WorkerConfig) -> None:
    scoop_hpc.IS_RUNNING = True
    scoop_hpc.IS_ORIGIN = config.index == 0
    scoop_hpc.WORKER_NAME = config.name
    scoop_hpc.worker = config.name.encode()
    scoop_hpc.BROKER_ADDRESS = config.address
    scoop_hpc.META_ADDRESS = config.address
    scoop_hpc.SIZE = config.size
    scoop_hpc.DEBUG = config.debug


def _install_main(module: types.ModuleType) -> None:
    sys.modules["__main__"] = module
    sys.modules[WORKER_MODULE] = module


def _run_root(hub: Hub, program: Program) -> int:
    status: List[int] = []
    hub.run_main(lambda: status.append(run_program(program)))
    return status[0] if status else 1


def run_program(program: Program) -> int:
    """Run ``program`` as ``__main__``; return its exit code.

    An uncaught exception prints its traceback (with the tracebacks of the
    tasks it came from) and gives 1; ``sys.exit(n)`` gives ``n``.
    """
    try:
        code, module = program.load("__main__")
        _install_main(module)
        exec(code, module.__dict__)
    except SystemExit as exc:
        return _exit_code(exc.code)
    except BaseException as exc:  # noqa: BLE001 - printed like Python
        import traceback
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
            tb = tb.tb_next
        traceback.print_exception(type(exc), exc, tb)
        return 1
    return 0


def _exit_code(code) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, or the machine's
    where that cannot be read), bounded by its batch job's share of the
    host where the scheduler says it (``cpugrant``: a job that is not
    bound to its CPUs still has all the node's in its affinity)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):    # not Linux
        cpus = os.cpu_count() or 1
    return min(cpus, cpugrant.granted(os.environ) or cpus)


def _check_parent(parent_pid: int) -> None:
    if os.getppid() != parent_pid:
        finish(1)
