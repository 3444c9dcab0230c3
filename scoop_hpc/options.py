"""The launcher's command line: SCOOP's option names and meanings.

``parse`` checks everything a user can get wrong before anything starts,
and exits with code 2 and a message naming the culprit.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import List, Optional

from . import _argv, mpiworld, placement, starters, threadcaps
from .errors import UsageError
from .program import Program

SUB_BROKERS_FROM = 512  # workers: --sub-brokers auto turns them on
TRANSPORTS = ("zmq", "mpi")  # --transport's choices; zmq is the default


class _Parser(argparse.ArgumentParser):
    """argparse's parser; ``silent`` keeps its messages (usage errors,
    ``--help``) to itself: under mpiexec every rank parses the command
    line, and rank 0 alone speaks."""

    silent = False

    def error(self, message: str) -> None:  # exit code 2, as argparse
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")

    def _print_message(self, message: str, file=None) -> None:
        if not self.silent:
            super()._print_message(message, file)


def add_placement_options(parser: argparse.ArgumentParser) -> None:
    """The options that choose hosts and counts (shared with
    ``scoop-hpc hosts``)."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--hosts", "--host", nargs="+", metavar="HOST",
                       help="hosts to run on, a name once per worker, or "
                            "node:N for N, node[1-4] for one on each "
                            "(the first runs the root program); the list "
                            "ends at the next option, '--' or the program"
                            " (its first word ending in .py, else naming "
                            "a file)")
    where.add_argument("--hostfile", metavar="FILE",
                       help="file of 'host [count]' lines (also 'host "
                            "slots=N' and 'host:N'; 'node[1-4] N': N on "
                            "each)")
    parser.add_argument("-n", dest="workers", type=int, default=None,
                        metavar="N",
                        help="number of workers (default: the hosts' counts,"
                             " or this host's CPU count)")
    parser.add_argument("--ssh-executable", default="ssh", metavar="PROG",
                        help="program that starts remote agents (default: "
                             "ssh; rsh-like programs get no ssh options)")
    parser.add_argument("--launcher", default="auto",
                        choices=("auto", *starters.NAMES),
                        help="how workers start on other hosts (default "
                             "auto: the batch scheduler's own launcher, "
                             "else ssh); naming one starts every worker but"
                             " the root through it")
    parser.add_argument("--slurm-slots", choices=("tasks", "cpus"),
                        default="tasks",
                        help="in a Slurm job, one worker per task "
                             "(SLURM_TASKS_PER_NODE, default) or per "
                             "allocated CPU (SLURM_JOB_CPUS_PER_NODE)")
    parser.add_argument("--skip-launch-node", action="store_true",
                        help="in an LSF job, run nothing on the first host "
                             "(a CSM launch node)")


def resolve_placement(args: argparse.Namespace) -> placement.Placement:
    """The placement the parsed options ask for."""
    return placement.resolve(
        args.hosts, args.hostfile, args.workers, args.ssh_executable,
        args.launcher, slurm_slots=args.slurm_slots,
        skip_launch_node=args.skip_launch_node)


def make_parser(prog: str = "python -m scoop_hpc") -> argparse.ArgumentParser:
    """Return the launcher's argument parser (SCOOP's option names)."""
    parser = _Parser(
        prog=prog, description="Run a program on parallel workers.",
        usage=f"{prog} [options] (program.py | -m module) [args ...]")
    add_placement_options(parser)
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log more (-vv for debug messages); prefix "
                             "remote output with the worker's name")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="log errors only")
    parser.add_argument("--progress", action="store_true",
                        help="show a live status line on a terminal even "
                             "when the program writes to it (in a log: a "
                             "line every --progress-every seconds)")
    parser.add_argument("--progress-every", type=float, default=30.0,
                        metavar="S",
                        help="seconds between progress lines in a log "
                             "(-v or --progress without a terminal; "
                             "default 30)")
    parser.add_argument("--timeline", metavar="FILE.json",
                        help="write a Chrome trace-event file: one track "
                             "per worker, one slice per task")
    parser.add_argument("--log", metavar="FILE",
                        help="also write the log and remote output to FILE")
    parser.add_argument("-p", "--path", metavar="DIR",
                        help="working directory of the workers "
                             "(default: the current directory)")
    parser.add_argument("--nice", type=int, default=0, metavar="N",
                        help="niceness added to the workers")
    parser.add_argument("--threads-per-worker", type=threadcaps.choice,
                        default="auto", metavar="auto|N|off",
                        help="threads of BLAS, OpenMP and the like in "
                             "each worker (OMP_NUM_THREADS, ...); auto: "
                             "its host's CPUs over its workers, unless "
                             "one of the variables is set; off: as the "
                             "environment says")
    parser.add_argument("-e", "--tunnel", action="store_true",
                        help="reach the broker through ssh tunnels "
                             "(for hosts that cannot connect back)")
    parser.add_argument("--broker-hostname", "--external-hostname",
                        dest="broker_hostname", metavar="HOST",
                        help="name remote hosts use to reach this host; "
                             "the broker listens on its address")
    parser.add_argument("--bind-all", action="store_true",
                        help="listen on every interface, not only on the "
                             "address the other hosts are told to dial")
    parser.add_argument("--encrypt", action="store_true",
                        help="encrypt every connection with CurveZMQ (for "
                             "networks you do not trust)")
    parser.add_argument("--interface", metavar="NAME",
                        help="listen on, and announce, the address of "
                             "this interface (e.g. ib0)")
    parser.add_argument("--sub-brokers", choices=("auto", "yes", "no"),
                        default="auto",
                        help="run a broker on every remote host for its "
                             "workers, under the job's broker, which then "
                             "sees one peer per host (auto: for jobs of "
                             f"{SUB_BROKERS_FROM} workers or more)")
    parser.add_argument("--python-executable", "--python-interpreter",
                        dest="python", default=sys.executable,
                        metavar="PATH",
                        help="Python on remote hosts (default: this one)")
    parser.add_argument("--pythonpath", metavar="PATHS",
                        default=os.environ.get("PYTHONPATH"),
                        help="prepended to PYTHONPATH on remote hosts "
                             "(default: this PYTHONPATH)")
    parser.add_argument("--prolog", metavar="FILE",
                        help="shell file sourced on remote hosts before "
                             "their workers start (e.g. module loads)")
    parser.add_argument("--transport", choices=TRANSPORTS, default=None,
                        help="what carries the messages: zmq (default) or, "
                             "under mpiexec, mpi (every message over MPI; "
                             "default from SCOOP_HPC_TRANSPORT)")
    add_fault_options(parser)
    parser.add_argument("--debug", action="store_true",
                        help="set scoop_hpc.DEBUG and log debug messages")
    parser.add_argument("-m", dest="module", metavar="MODULE",
                        help="run a library module as the program (the "
                             "words after it are its arguments)")
    parser.add_argument("program", nargs="?",
                        help="the program to run ('--' before it ends "
                             "the launcher's options)")
    parser.add_argument("args", nargs=argparse.REMAINDER,
                        help="the program's arguments: every word after "
                             "it, as with python program.py args")
    return parser


def add_fault_options(parser: argparse.ArgumentParser) -> None:
    """Worker loss and walltime: heartbeats, retries, draining."""
    parser.add_argument("--heartbeat-timeout", type=_seconds, default=10.0,
                        metavar="S",
                        help="a worker silent for S seconds is lost and its "
                             "tasks run elsewhere; a worker of another host "
                             "that hears nothing from the launcher for S "
                             "seconds leaves (the launcher's own die with "
                             "it) (default 10; 0: never)")
    parser.add_argument("--retries", type=_count, default=3, metavar="N",
                        help="times a task runs again after its worker was "
                             "lost, before its future fails with "
                             "WorkerLostError (default 3)")
    parser.add_argument("--drain-signal", type=_signal, default=None,
                        metavar="SIG",
                        help="a signal (e.g. USR1) that drains the job like "
                             "SIGTERM: no new task starts, running ones get "
                             "--drain-grace seconds, then the job stops "
                             "(one of " + ", ".join(
                                 s.name[3:] for s in DRAIN_SIGNALS) + ")")
    parser.add_argument("--drain-grace", type=_seconds, default=10.0,
                        metavar="S",
                        help="seconds running tasks get to finish after "
                             "SIGTERM or --drain-signal (default 10)")


def _seconds(text: str) -> float:
    """A duration in seconds, 0 or more.

    >>> _seconds("2.5")
    2.5
    """
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text}")
    return value


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a whole number: {text}")
    return int(text)


#: What --drain-signal accepts: signals a batch system sends to warn a
#: job, none that cannot be caught or that scoop_hpc handles itself.
DRAIN_SIGNALS = tuple(
    getattr(signal, "SIG" + name) for name in (
        "USR1", "USR2", "ALRM", "VTALRM", "PROF", "URG", "XCPU", "XFSZ",
        "PWR", "QUIT") if hasattr(signal, "SIG" + name))

_REFUSED = {
    "SIGKILL": "cannot be caught",
    "SIGSTOP": "cannot be caught",
    "SIGCHLD": "is how the launcher hears of its workers' ends",
    "SIGTERM": "drains the job already",
    "SIGINT": "stops the job (as Ctrl-C)",
    "SIGHUP": "stops the job (as a closed terminal)",
}


def _signal(text: str) -> int:
    """A signal by name or number, one of ``DRAIN_SIGNALS``.

    >>> _signal("USR1") == _signal("SIGUSR1") == signal.SIGUSR1
    True
    >>> _signal("kill")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: SIGKILL cannot be caught; use one of USR1, \
USR2, ALRM, VTALRM, PROF, URG, XCPU, XFSZ, PWR, QUIT (a name or a number)
    """
    name = text.upper()
    try:
        if name.isdigit():
            sig = signal.Signals(int(name))
        else:
            sig = signal.Signals[name if name.startswith("SIG")
                                 else "SIG" + name]
    except (KeyError, ValueError):
        raise argparse.ArgumentTypeError(
            f"not a signal: {text} (e.g. USR1, SIGUSR2, 10)") from None
    if sig not in DRAIN_SIGNALS:
        allowed = ", ".join(s.name[3:] for s in DRAIN_SIGNALS)
        why = _REFUSED.get(sig.name, "is not one that drains a job")
        raise argparse.ArgumentTypeError(
            f"{sig.name} {why}; use one of {allowed} (a name or a number)")
    return sig


def sub_brokers(choice: str, size: int) -> bool:
    """Whether remote hosts' workers join a broker on their host
    (``--sub-brokers`` is ``choice``, the job has ``size`` workers)."""
    return choice == "yes" or (choice == "auto"
                               and size >= SUB_BROKERS_FROM)


def transport_from(environ) -> str:
    """The transport ``SCOOP_HPC_TRANSPORT`` names; zmq when it is unset
    or empty.

    >>> transport_from({"SCOOP_HPC_TRANSPORT": " MPI "})
    'mpi'
    >>> transport_from({"SCOOP_HPC_TRANSPORT": ""})
    'zmq'

    Raises:
        UsageError: it names no transport.
    """
    value = environ.get("SCOOP_HPC_TRANSPORT", "").strip()
    if not value:
        return TRANSPORTS[0]
    if value.lower() not in TRANSPORTS:
        raise UsageError(f"SCOOP_HPC_TRANSPORT={value}: unknown transport; "
                         f"set it to zmq or mpi, or unset it (--transport "
                         f"on the command line wins over it)")
    return value.lower()


def parse(argv: Optional[List[str]] = None,
          prog: str = "python -m scoop_hpc") -> argparse.Namespace:
    """Parse and check a command line; exit with code 2 on a usage error.

    The result also holds ``program_spec`` (a ``program.Program``),
    ``world`` (``mpiworld.World`` when this is one rank of an MPI launch)
    and ``placement`` (a ``placement.Placement``; None under mpirun, where
    ranks are the workers and no placement is needed). The words from
    the program (or ``-m module``) on are the program's: ``_argv`` cuts
    them off before argparse reads the launcher's options.
    """
    world = mpiworld.detect(os.environ)
    parser = make_parser(prog)
    parser.silent = world is not None and world.rank != 0
    args = _parse_args(parser, sys.argv[1:] if argv is None else argv)
    args.world = world
    try:
        if args.transport is None:
            args.transport = transport_from(os.environ)
        args.placement = (None if mpiworld.wanted(args, args.world)
                          else resolve_placement(args))
        args.program_spec = _program(args)
        check_writable("--log", args.log)
        check_writable("--timeline", args.timeline)
        if args.placement is not None:
            _check_remote_options(args)
        elif args.encrypt or args.bind_all:
            raise UsageError("--encrypt and --bind-all apply to the "
                             "launcher's own broker, not under mpirun "
                             "(MPI carries the messages there)")
    except UsageError as exc:
        parser.error(str(exc))
    return args


#: SCOOP 0.7's options that scoop_hpc does not take, and what to do.
_SCOOP_ONLY = {
    "--rsh": "use --ssh-executable rsh",
    "--backend": "scoop_hpc's messages travel over ZeroMQ (or, under "
                 "mpiexec, MPI: --transport mpi); remove it",
    "--profile": "profile inside the task (cProfile), or see where the "
                 "time goes with --timeline FILE.json; remove it",
    "-b": "one broker serves the job (--sub-brokers yes adds one per "
          "host for large jobs); remove it",
}


def _parse_args(parser: argparse.ArgumentParser,
                argv: List[str]) -> argparse.Namespace:
    """argparse reads the words before the program only (``_argv``)."""
    try:
        cut = _argv.split(parser, list(argv))
    except UsageError as exc:
        parser.error(str(exc))
    for word in cut.launcher:
        option = word.split("=", 1)[0]
        if not option.startswith("--"):
            option = option[:2]          # -b2
        if option in _SCOOP_ONLY:
            parser.error(f"{option} is an option of SCOOP 0.7 that "
                         f"scoop_hpc does not take: {_SCOOP_ONLY[option]}")
    args = parser.parse_args(cut.launcher)
    if args.program is not None:     # a word argparse took for a program
        parser.error(f"unrecognized arguments: {args.program}")
    args.module, args.program, args.args = cut.module, cut.program, cut.args
    args.no_program_hint = cut.hint
    return args


def _program(args: argparse.Namespace) -> Program:
    if args.module:
        if _find_module(args.module) is None:
            raise UsageError(f"No module named {args.module!r}")
        return Program("module", args.module, args.args)
    if args.program is None:
        hint = args.no_program_hint
        raise UsageError("No path specified for execution"
                         + (f" ({hint})" if hint else ""))
    if not os.path.isfile(args.program):
        raise UsageError(f"Path does not exist: {args.program}")
    return Program("path", os.path.abspath(args.program),
                           list(args.args))


def check_writable(option: str, path: Optional[str]) -> None:
    """Fail before the job starts when the file ``path`` cannot be
    written (nothing is created here).

    Raises:
        UsageError: naming the option, the file and why.
    """
    if not path:
        return
    folder = os.path.dirname(os.path.abspath(path))
    todo = "name a file in a directory you can write to"
    if os.path.isdir(path):
        why = "it is a directory"
        todo = f"name a file, as in {os.path.join(path, 'job.out')}"
    elif os.path.exists(path):
        why = "" if os.access(path, os.W_OK) else "permission denied"
    elif not os.path.exists(folder):
        why = f"the directory {folder} does not exist"
    elif not os.path.isdir(folder):
        why = f"{folder} is not a directory"
    elif not os.access(folder, os.W_OK | os.X_OK):
        why = f"permission denied in the directory {folder}"
    else:
        return
    if why:
        raise UsageError(
            f"{option} {path}: cannot write this file: {why}; {todo}")


def _check_remote_options(args: argparse.Namespace) -> None:
    if args.path:
        args.path = os.path.abspath(args.path)
        if all(args.placement.local) and not os.path.isdir(args.path):
            raise UsageError(f"--path: not a directory: {args.path}")
    if args.prolog:
        args.prolog = os.path.abspath(args.prolog)
    starter = args.placement.starter
    if args.tunnel and (starter.name != "ssh"
                        or os.path.basename(starter.executable) != "ssh"):
        raise UsageError(f"--tunnel needs ssh, not the launcher "
                         f"{args.placement.launcher}")


def _find_module(name: str):
    import importlib.util
    sys.path.insert(0, os.getcwd())
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    finally:
        sys.path.pop(0)
