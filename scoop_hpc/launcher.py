"""``python -m scoop_hpc``: start a job, supervise it, return its exit code.

::

    launcher (this process): broker loop + supervision, one thread
      fork -> w0  root: runs the program as __main__
      fork -> w1 .. wN-1: import it as SCOOP_WORKER, serve tasks

Workers are forked after the broker has bound its socket (pyzmq contexts
are fork-safe: a child never touches its parent's). Signals (SIGCHLD,
SIGINT, SIGTERM, SIGHUP) wake the broker loop through a pipe, so the
launcher notices a dead worker or Ctrl-C at once. Workers die with the
launcher (``PR_SET_PDEATHSIG``) even if it is killed with SIGKILL.
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import logging
import os
import signal
import sys
import time
from typing import Dict, List, Optional

import zmq

from . import _worker
from ._transport.zmq import ZmqRouter, ZmqTransport
from .broker import Broker
from .logs import configure_logging

log = logging.getLogger("scoop_hpc.launcher")

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_GRACE = 3.0          # seconds workers get to leave after SHUTDOWN
_KILL_GRACE = 2.0     # then after SIGTERM, before SIGKILL


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # exit code 2, as argparse
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def make_parser(prog: str = "python -m scoop_hpc") -> argparse.ArgumentParser:
    """Return the launcher's argument parser (SCOOP's option names)."""
    parser = _Parser(
        prog=prog, description="Run a program on parallel workers.",
        usage=f"{prog} [options] (program.py | -m module) [args ...]")
    parser.add_argument("-n", dest="workers", type=int, default=None,
                        metavar="N",
                        help="number of workers (default: the CPU count)")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log more (-vv for debug messages)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="log errors only")
    parser.add_argument("--log", metavar="FILE",
                        help="also write the log to FILE")
    parser.add_argument("-p", "--path", metavar="DIR",
                        help="working directory of the workers "
                             "(default: the current directory)")
    parser.add_argument("--nice", type=int, default=0, metavar="N",
                        help="niceness added to the workers")
    parser.add_argument("--debug", action="store_true",
                        help="set scoop_hpc.DEBUG and log debug messages")
    parser.add_argument("-m", dest="module", metavar="MODULE",
                        help="run a library module as the program")
    parser.add_argument("program", nargs="?", help="the program to run")
    parser.add_argument("args", nargs=argparse.REMAINDER,
                        help="the program's arguments")
    return parser


def parse(argv: Optional[List[str]] = None,
          prog: str = "python -m scoop_hpc") -> argparse.Namespace:
    """Parse and check a command line; exit with code 2 on a usage error."""
    parser = make_parser(prog)
    args = parser.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        parser.error(f"-n must be at least 1, not {args.workers}")
    if args.module:
        args.program_spec = _worker.Program(
            "module", args.module,
            ([args.program] if args.program else []) + args.args)
        if _find_module(args.module) is None:
            parser.error(f"No module named {args.module!r}")
    elif args.program is None:
        parser.error("No path specified for execution")
    else:
        if not os.path.isfile(args.program):
            parser.error(f"Path does not exist: {args.program}")
        args.program_spec = _worker.Program(
            "path", os.path.abspath(args.program), list(args.args))
    if args.path and not os.path.isdir(args.path):
        parser.error(f"--path: not a directory: {args.path}")
    return args


def _find_module(name: str):
    import importlib.util
    sys.path.insert(0, os.getcwd())
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    finally:
        sys.path.pop(0)


def main(argv: Optional[List[str]] = None,
         prog: str = "python -m scoop_hpc") -> int:
    """Run the launcher; return the exit code of the job."""
    args = parse(argv, prog)
    configure_logging(args.verbose - args.quiet, args.log, args.debug)
    if args.program_spec.kind == "path":
        try:
            with open(args.program_spec.target, "rb") as handle:
                compile(handle.read(), args.program_spec.target, "exec")
        except SyntaxError as exc:
            import traceback
            traceback.print_exception(type(exc), exc, None)
            return 1
    size = args.workers or os.cpu_count() or 1
    return Job(args, size).run()


class Job:
    """One run: a broker, ``size`` local workers and their supervision."""

    def __init__(self, args: argparse.Namespace, size: int) -> None:
        self.args = args
        self.size = size
        self.children: Dict[int, str] = {}
        self.root_pid = 0
        self._pipe_r, self._pipe_w = os.pipe()
        os.set_blocking(self._pipe_r, False)
        os.set_blocking(self._pipe_w, False)

    def run(self) -> int:
        tmpdir = _private_dir()
        address = f"ipc://{tmpdir}/broker"
        context = zmq.Context()
        router = ZmqRouter(context, address)
        broker = Broker(router, self.size)
        old = self._install_signals()
        try:
            self._fork_workers(address)
            router.watch(self._pipe_r)
            code = self._supervise(broker)
            self._teardown(broker)
            return code
        finally:
            self._kill_all(signal.SIGKILL)
            for sig, handler in old.items():
                signal.signal(sig, handler)
            signal.set_wakeup_fd(-1)
            router.close()
            context.destroy(linger=0)
            _remove_dir(tmpdir)

    # -- starting ------------------------------------------------------------
    def _install_signals(self) -> dict:
        old = {}
        for sig in (signal.SIGCHLD, *_STOP_SIGNALS):
            old[sig] = signal.signal(sig, _note_signal)
        signal.set_wakeup_fd(self._pipe_w, warn_on_full_buffer=False)
        return old

    def _fork_workers(self, address: str) -> None:
        parent = os.getpid()
        for index in range(self.size):
            config = _worker.WorkerConfig(
                index=index, size=self.size, address=address,
                program=self.args.program_spec, path=self.args.path,
                nice=self.args.nice, debug=self.args.debug,
                parent_pid=parent)
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                self._child(config)
            self.children[pid] = config.name
            if index == 0:
                self.root_pid = pid
        log.info("started %d workers (pids %s)", self.size,
                 ", ".join(map(str, self.children)))

    def _child(self, config: _worker.WorkerConfig) -> None:
        code = 70
        try:
            signal.set_wakeup_fd(-1)
            os.close(self._pipe_r)
            os.close(self._pipe_w)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGHUP, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            _die_with_parent(config.parent_pid)
            code = _worker.serve(config, ZmqTransport(config.address))
        except BaseException:  # noqa: BLE001 - never return into the launcher
            import traceback
            traceback.print_exc()
        finally:
            _worker.finish(code)

    # -- supervising ---------------------------------------------------------
    def _supervise(self, broker: Broker) -> int:
        while True:
            broker.step(0.5)
            for sig in self._take_signals():
                if sig in _STOP_SIGNALS:
                    log.warning("received %s: stopping the job",
                                signal.Signals(sig).name)
                    return 128 + sig
            outcome = None
            for pid, name, code in self._reap():
                if pid == self.root_pid:
                    log.info("root worker %s exited with code %d", name,
                             code)
                    outcome = code if code >= 0 else 128 - code
                elif outcome is None:
                    log.error("%s; the job stops",
                              _death_message(name, pid, code))
                    outcome = 1
            if outcome is not None:
                return outcome

    def _take_signals(self) -> bytes:
        try:
            return os.read(self._pipe_r, 512)
        except BlockingIOError:
            return b""

    def _reap(self) -> List[tuple]:
        """Collect exited workers: ``[(pid, name, exit code), ...]``."""
        done = []
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                break
            if pid == 0:
                break
            name = self.children.pop(pid, None)
            if name is not None:
                done.append((pid, name, os.waitstatus_to_exitcode(status)))
        return done

    # -- stopping ------------------------------------------------------------
    def _teardown(self, broker: Broker) -> None:
        broker.shutdown()
        if self._wait_children(_GRACE):
            return
        log.info("terminating %d workers that did not leave",
                 len(self.children))
        self._kill_all(signal.SIGTERM)
        if not self._wait_children(_KILL_GRACE):
            self._kill_all(signal.SIGKILL)
            self._wait_children(_KILL_GRACE)

    def _wait_children(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while self.children and time.monotonic() < deadline:
            self._reap()
            if self.children:
                time.sleep(0.005)
        return not self.children

    def _kill_all(self, sig: int) -> None:
        for pid in list(self.children):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                self.children.pop(pid, None)


def _private_dir() -> str:
    """Create a directory only this user can enter, for the job's socket."""
    base = os.environ.get("TMPDIR", "/tmp")
    for attempt in range(100):
        path = os.path.join(base, f"scoop_hpc-{os.getpid()}-"
                                  f"{time.time_ns() % 10**9}-{attempt}")
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        return path
    raise OSError(f"cannot create a private directory in {base}")


def _remove_dir(path: str) -> None:
    """Remove the job's directory and its socket files, if still there."""
    with contextlib.suppress(OSError):
        for name in os.listdir(path):
            os.unlink(os.path.join(path, name))
        os.rmdir(path)


def _note_signal(signum, frame) -> None:
    """Python-level handler: the wakeup pipe carries the signal number."""


def _die_with_parent(parent_pid: Optional[int]) -> None:
    """Have the kernel kill this process when the launcher dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)


def _death_message(name: str, pid: int, code: int) -> str:
    if code < 0:
        sig = signal.Signals(-code).name
        hint = (" (out of memory? see the kernel log)"
                if -code == signal.SIGKILL else "")
        return f"worker {name} (pid {pid}) was killed by {sig}{hint}"
    return (f"worker {name} (pid {pid}) exited with code {code} before the "
            f"end of the job (see its output above)")


if __name__ == "__main__":
    sys.exit(main())
