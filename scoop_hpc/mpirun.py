"""``python -m scoop_hpc`` started by mpirun, mpiexec or srun: one rank each.

::

    mpiexec -n N python -m scoop_hpc [--transport zmq|mpi] prog.py
      rank 0: broker thread  (routes tasks; no ssh, no hostfile, no fork)
              main thread: w0, the root: runs prog.py as __main__
      rank k: wk: imports prog.py as SCOOP_WORKER and serves tasks

Every rank runs tasks, so ``SIZE`` is N, the number of ranks. Rank 0 runs
the broker in a thread beside the root program rather than forking the
root (as the local launcher does): forking after ``MPI_Init`` is unsafe
(the child shares the MPI library's state: shared-memory segments,
registered network memory), and it is impossible for the MPI transport,
whose root must itself be an MPI process. Keeping rank 0 broker-only would
leave one core idle and make ``mpiexec -n 1`` useless. The broker only
reads envelopes, so it costs the root little.

Transports:

- ``zmq`` (default): rank 0 binds an ipc socket for the ranks on its host
  and a TCP port on the address facing the other hosts (``network``), then
  broadcasts each host's address and the job's token over MPI.
- ``mpi`` (``--transport mpi`` or ``SCOOP_HPC_TRANSPORT=mpi``): every
  message travels over MPI (``_transport.mpi``); no socket at all.

The end: the root's exit code goes to the broker thread, which tells every
worker to leave; every rank then meets the others in a barrier, and all
exit with the root's code. A worker rank whose main thread is held by a
task for a grace period (or by the import of the program) is ended by its
steal thread, which takes the main thread's part (``_told_to_leave``):
the code stays the root's. Ranks that do not come even so (a task holding
the GIL) are ended with ``MPI_Abort``, as is the job when an error escapes
any rank: an MPI job never hangs on a dead rank.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import signal
import sys
import threading
import time
import traceback
from typing import Callable, List, Optional

from . import _procs, _tmpdirs, _worker, network, threadcaps
from ._runtime import context
from ._transport.signing import SignedRouter
from .broker import Broker
from .errors import LauncherError, UsageError
from .mpiworld import World

_GRACE = 3.0       # seconds workers get to leave after the root ended
_LEAVING = 5.0     # seconds more rank 0 waits for those that end alone
_STEP = 0.02       # seconds the broker thread waits per step at most
_ABORT_DELAY = 0.2  # seconds between an error message and MPI_Abort


def mismatch_message(world: World, size: int, library: str) -> str:
    """Explain a world of ``size`` where the launcher started more ranks."""
    if world.source.endswith("(srun)"):     # no PMI variable: see mpiworld
        return (f"srun started {world.size} tasks ({world.source}), but "
                f"gave them no PMI to find each other, so MPI in each sees a "
                f"world of {size} and every task would run the whole "
                f"program alone (srun --mpi=none, or a site whose default "
                f"MpiDefault is none). Start it with srun --mpi=pmi2 (or the "
                f"PMI of your MPI library: srun --mpi=list names those "
                f"Slurm has), or with mpiexec")
    return (f"the MPI launcher started {world.size} processes "
            f"({world.source}), but MPI in this Python sees a world of "
            f"{size}: mpi4py uses another MPI library ({library}) than the "
            f"launcher that started it, so every process would run the "
            f"whole program alone. Start it with the mpiexec of the library "
            f"mpi4py was built against (python -c 'import mpi4py; "
            f"print(mpi4py.get_config())' names it), or reinstall mpi4py "
            f"against this launcher's MPI (pip install --no-binary mpi4py "
            f"--force-reinstall mpi4py)")


def main(args, world: Optional[World],
         prog: str = "python -m scoop_hpc") -> int:
    """Run this rank's part of the job; return the job's exit code."""
    speaks = world is None or world.rank == 0
    try:
        from mpi4py import MPI
    except ImportError as exc:
        where = (f"as rank {world.rank} of {world.size} ({world.source})"
                 if world else "with --transport mpi")
        if speaks:
            print(f"{prog}: error: this runs {where}, but mpi4py cannot be "
                  f"imported ({exc}); install it into this Python with "
                  f"pip install 'scoop_hpc[mpi]' (built against the MPI of "
                  f"your mpiexec), or run without mpiexec", file=sys.stderr)
        return 1
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    if world is not None and (world.size or 1) > 1 and size == 1:
        library = " ".join(MPI.Get_library_version().split("\n")[0].split())
        problem, code = mismatch_message(world, size, library), 1
    else:
        problem, code = _conflict(args, size), 2
    if problem is None and args.transport == "mpi":
        from ._transport.mpi import thread_problem
        problem, code = thread_problem(), 1   # the same on every rank
    if problem is not None:
        if speaks:
            print(f"{prog}: error: {problem}", file=sys.stderr)
        MPI.Finalize()
        return code
    job = _RankJob(args, comm)
    for sig in _procs.STOP_SIGNALS:   # mpiexec and srun pass them on
        signal.signal(sig, _interrupted(job, prog))
    try:
        code = job.run()
    except LauncherError as exc:  # a bad --interface, no route to a host
        job.abort(2 if isinstance(exc, UsageError) else 1,
                  f"{prog}: error: {exc}")
    except BaseException as exc:  # noqa: BLE001 - never hang the others
        job.abort(1, f"{prog}: rank {rank} of {size} failed: "
                     f"{type(exc).__name__}: {exc}", with_traceback=True)
    MPI.Finalize()
    # A normal exit, not os._exit: MPICH's exit handlers tell its process
    # manager that this rank ended well; without them it may kill the
    # ranks that have not exited yet.
    return code


def _conflict(args, size: int) -> Optional[str]:
    """Say which option cannot apply under an MPI launcher."""
    if args.workers is not None and args.workers != size:
        return (f"-n {args.workers}: MPI started {size} "
                f"rank{'s' if size > 1 else ''}, and each rank is one "
                f"worker; drop -n or start {args.workers} ranks (mpiexec -n "
                f"{args.workers} python -m scoop_hpc ...)")
    for option, value in (("--hosts", args.hosts),
                          ("--hostfile", args.hostfile),
                          ("--tunnel", args.tunnel)):
        if value:
            return (f"{option}: under an MPI launcher the ranks are the "
                    f"workers and the launcher places them; give hosts to "
                    f"mpiexec (-f/-hostfile) instead")
    if args.drain_signal is not None:
        name = signal.Signals(args.drain_signal).name
        return (f"--drain-signal {name[3:]}: under an MPI launcher a signal "
                f"ends the MPI job at once (MPI_Abort: SIGINT, SIGTERM and "
                f"SIGHUP end it with 128 + the signal's number); no drain "
                f"lets running tasks finish. Drop --drain-signal, or drain "
                f"with the ordinary launcher (python -m scoop_hpc -n N, "
                f"--hosts, or in a batch job)")
    if args.sub_brokers == "yes":
        return ("--sub-brokers yes: under an MPI launcher every rank joins "
                "rank 0's broker; sub-brokers need the launcher's agents "
                "(python -m scoop_hpc --hosts ..., or a batch job's "
                "srun/qrsh/pbsdsh/blaunch)")
    return None


def _interrupted(job: "_RankJob", prog: str):
    """A rank's handler of the stop signals, which mpiexec passes to every
    rank: the job ends with 128 + the signal's number and one line (rank
    0's; another rank that alone got it ends the job a moment later)."""
    def handler(signum: int, frame) -> None:
        if job.rank == 0:
            job.abort(128 + signum, f"{prog}: received "
                      f"{signal.Signals(signum).name}: stopping the MPI job")
        time.sleep(5 * _ABORT_DELAY)      # rank 0's line goes first
        job.comm.Abort(128 + signum)
    return handler


class _RankJob:
    """One rank's part: transport set-up, broker (rank 0), serving, end."""

    def __init__(self, args, comm) -> None:
        self.args = args
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.thread_level = _mpi().Query_thread()
        self.tmpdir: Optional[str] = None
        self.context = None
        self.release = None   # frees the MPI transport's communicators
        self.networked = False
        self.transport = None
        self.hosts: List[str] = []    # the host of each rank
        self._ending = threading.Lock()   # held by the thread that ends it
        self._ended = threading.Event()   # the main thread came to the end
        self._leaver: Optional[threading.Thread] = None   # see _told_to_leave

    def run(self) -> int:
        token = self.comm.bcast(
            secrets.token_bytes(32) if self.rank == 0 else None, root=0)
        host = os.uname().nodename
        self.hosts = self.comm.allgather(host)   # each rank's
        environ = threadcaps.environ(
            self.args.threads_per_worker, self.hosts.count(host),
            _worker.usable_cpus(), os.environ)
        if self.args.transport == "mpi":
            from ._transport.mpi import MpiTransport
            transport = MpiTransport(self.comm)
            make_router = transport.router
            self.release = transport.free
            address = transport.address
        else:
            make_router, address = self._zmq_addresses()
            from ._transport.zmq import ZmqTransport
            transport = ZmqTransport(address)
        config = _worker.WorkerConfig(
            index=self.rank, size=self.size, address=address,
            program=self.args.program_spec, path=self.args.path,
            nice=self.args.nice, debug=self.args.debug, token=token,
            sign_payloads=self.networked, environ=environ)
        broker = None
        if self.rank == 0:
            broker = _BrokerThread(
                Broker(SignedRouter(make_router(), token), self.size,
                       self.args.heartbeat_timeout, self.args.retries),
                self.abort)
            broker.start()
        self.transport = transport
        code = _worker.serve(config, transport, told_to_leave=(
            self._told_to_leave if self.rank != 0 else None))
        if self.rank != 0 and code:
            self.abort(code, f"scoop_hpc: worker {config.name} (rank "
                             f"{self.rank}) could not start; the job stops")
        if broker is not None:
            broker.shut_down()
        return self._end(code, transport, broker)

    def _zmq_addresses(self):
        """Rank 0 binds; every rank learns the address for its host."""
        host = os.uname().nodename
        hosts = self.hosts
        self.networked = len(set(hosts)) > 1     # a TCP port is bound
        table = None
        router = None
        if self.rank == 0:
            import zmq

            from ._transport.zmq import ZmqRouter
            remote = sorted(set(hosts) - {host})
            binds, routes, unreachable = network.plan(
                remote, self.args.interface, self.args.broker_hostname)
            if unreachable:
                raise LauncherError("; ".join(unreachable.values()))
            self.tmpdir = _tmpdirs.private_dir()
            ipc = f"ipc://{self.tmpdir}/broker"
            self.context = zmq.Context()
            router = ZmqRouter(self.context, [ipc, *binds])
            bound = {a[6:].rsplit(":", 1)[0]: a
                     for a in router.addresses[1:]}
            table = {name: network.dial(bound, route)
                     for name, route in routes.items()}
            table[host] = ipc
        table = self.comm.bcast(table, root=0)
        return (lambda: router), table[host]

    def _end(self, code: int, transport, broker) -> int:
        """Leave together: close, meet at a barrier, share the root's code.
        If the steal thread is ending this rank already (see
        ``_told_to_leave``), wait for it to exit the process."""
        self._ended.set()
        self._ending.acquire()
        return self._finish(code, transport, broker)

    def _told_to_leave(self) -> None:
        """The broker told this worker rank to leave (in its steal thread).

        Its main thread comes to ``_end`` when its task returns; one that
        still runs a task ``_GRACE`` s later, or imports the program (it
        has no task to finish), is left behind: this thread ends the rank
        itself, with the job's code, as its main thread would have. No
        ``MPI_Abort``: that would make the job fail (srun reports it
        whatever its code), where the root program succeeded.
        """
        if context.importing_program() is None and self._ended.wait(_GRACE):
            return
        program = context.importing_program()   # begun meanwhile, perhaps
        if (self.thread_level < _mpi().THREAD_SERIALIZED
                or not self._ending.acquire(blocking=False)):
            return          # the main thread ends it (or rank 0 aborts)
        self._leaver = threading.current_thread()
        doing = (f"was still importing the program {program} when the "
                 f"root program ended; it leaves without finishing the "
                 f"import" if program else
                 f"still ran a task {_GRACE:g} s after the end of the root "
                 f"program; it leaves without finishing the task")
        print(f"scoop_hpc: worker w{self.rank} (rank {self.rank}) {doing}",
              file=sys.stderr, flush=True)
        if self.release is None:     # ZeroMQ's sockets are the main thread's
            transport = None
        else:
            transport = self.transport
        code = self._finish(0, transport, None)
        _mpi().Finalize()
        _exit_from_thread(code)

    def _finish(self, code: int, transport, broker) -> int:
        """The end of ``_end``, in the thread that holds ``_ending``."""
        if transport is not None:
            transport.close()
        _join_threads("scoop_hpc-steal", 2.0)
        request = self.comm.Ibarrier()
        deadline = (time.monotonic() + _GRACE + _LEAVING if self.rank == 0
                    else float("inf"))
        while not request.Test():
            if time.monotonic() > deadline:
                self.abort(code or 1,
                           f"scoop_hpc: some workers did not leave within "
                           f"{_GRACE + _LEAVING:g} s of the end of the root "
                           f"program, though told to: a task that holds "
                           f"Python's GIL (one long call into C code), or a "
                           f"rank that hangs; ending the MPI job")
            time.sleep(0.001)
        if broker is not None:
            broker.finish()
        if self.release is not None:
            self.comm.Barrier()  # the broker sent its last message
            self.release()
        if self.context is not None:
            self.context.destroy(linger=0)
        self.remove_files()
        return self.comm.bcast(code, root=0)

    def remove_files(self) -> None:
        """Remove rank 0's socket directory."""
        if self.tmpdir is not None:
            _tmpdirs.remove_dir(self.tmpdir)
            self.tmpdir = None

    def abort(self, code: int, message: str,
              with_traceback: bool = False) -> None:
        """Print ``message`` (and the current traceback); end every rank,
        this one's files removed first (MPI_Abort ends it at once). While
        the steal thread ends this rank, what befalls the main thread (its
        socket closed under it) waits for that end instead."""
        if self._leaver not in (None, threading.current_thread()):
            threading.Event().wait()
        self.remove_files()
        if with_traceback:
            traceback.print_exc()
        print(message, file=sys.stderr, flush=True)
        sys.stdout.flush()
        # mpiexec forwards output through its proxies, and MPI_Abort has
        # them kill everything: give them a moment to pass it on first
        time.sleep(_ABORT_DELAY)
        self.comm.Abort(code)


class _BrokerThread(threading.Thread):
    """Rank 0's broker loop, beside the root program."""

    def __init__(self, broker: Broker,
                 abort: Callable[..., None]) -> None:
        super().__init__(name="scoop_hpc-broker", daemon=True)
        self.broker = broker
        self.abort = abort          # ends the MPI job (``_RankJob.abort``)
        self._stop_asked = threading.Event()
        self._told = threading.Event()
        self._done = threading.Event()

    def run(self) -> None:
        try:
            while not self._stop_asked.is_set():
                self.broker.step(_STEP)
            self.broker.shutdown()
            self._told.set()
            while not self._done.is_set():
                self.broker.step(_STEP)
            self.broker.router.close()
        except BaseException as exc:  # noqa: BLE001 - never hang the job
            self.abort(1, f"scoop_hpc: the broker on rank 0 failed: "
                          f"{type(exc).__name__}: {exc}", with_traceback=True)

    def shut_down(self) -> None:
        """Have the broker tell every worker to leave; wait until it did."""
        self._stop_asked.set()
        self._told.wait()

    def finish(self) -> None:
        """Stop the loop and close the broker's endpoint."""
        self._done.set()
        self.join()


def _exit_from_thread(code: int) -> None:
    """End this process from a thread other than the main one, as a normal
    exit would after ``MPI_Finalize``: C's ``exit`` runs the MPI library's
    exit handlers, which tell its process manager that this rank ended
    well (skipped by ``os._exit``, MPICH's Hydra then kills the other
    ranks). Python's own teardown is left out: the main thread still runs.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).exit(code)
    os._exit(code)      # no C library to call: the best that is left


def _mpi():
    from mpi4py import MPI
    return MPI


def _join_threads(name: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    for thread in threading.enumerate():
        if thread.name == name and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
