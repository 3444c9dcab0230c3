"""Worker processes on this host: fork, reap, signal; shared by the
launcher (its local workers) and the agent (a remote host's workers).

A worker is forked after its parent has set up what it shares (the
broker's socket, output pipes). It dies with its parent
(``PR_SET_PDEATHSIG``), even if the parent is killed with SIGKILL.

A child keeps none of its parent's other file descriptors: the
launcher's broker holds two sockets per worker that joined, and a worker
forked after them would hold them too, so the workers of a job of N
held N^2 descriptors between them (the last of 64 held 138 where the
first held 22; under ``ulimit -n 64`` the later ones were killed by
libzmq's abort). It keeps its standard streams and the files of the
logging handlers it inherits (``--log``). Nor is it told of what it no
longer holds: ``PMI_FD``, the launcher's connection to ``srun
--mpi=pmi2`` or Hydra's ``mpiexec``, leaves its environment, so that
MPI loaded by a task starts on its own (a singleton) instead of writing
PMI's commands to a closed descriptor or to whichever of the worker's
own sockets got that number.

A child ignores SIGINT and SIGTERM: a Ctrl-C at the terminal reaches
the whole process group, and a batch system at its walltime, ``scancel``
or ``qdel`` sends SIGTERM to every process of the job, while they are the
launcher's to act on (SIGTERM drains the job: running tasks finish). It
catches them with a handler that does nothing, not ``SIG_IGN``, which
the programs its tasks start would inherit; a process that a task forks
(``multiprocessing``, ``os.fork``) gets Python's handlers back.
Children are stopped with SIGKILL once they were asked to leave, and
what they started with them (:func:`kill_trees`).
"""
from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import signal
import sys
import time
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from ._exit import finish

# what stops a job (SIGTERM drains a launcher's job first)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_CHILDREN_GRACE = 0.5   # seconds a leaving child's own children get
                        # after SIGTERM, before SIGKILL


def fork(run: Callable[[], int], parent_pid: Optional[int],
         drain_signal: Optional[int] = None,
         stdio: Optional[Tuple[int, int, int]] = None) -> int:
    """Fork a child of the job that calls ``run()`` and exits with the code
    it returns; return its pid (see ``_worker.fork_worker``). ``stdio``:
    the parent's descriptors that become the child's 0, 1 and 2; it
    keeps no other but its logging files (:func:`close_inherited`)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 70
    try:
        # The parent's objects are never collected here: the finalizer of
        # one that held a descriptor closed below would close whatever
        # reuses its number by then (and pages stay shared with the parent).
        gc.freeze()
        signal.set_wakeup_fd(-1)
        if stdio is not None:
            for target, fd in enumerate(stdio):
                if fd != target:    # one of the parent's: kept as is
                    os.dup2(fd, target)
        close_inherited(_logging_fds())
        os.environ.pop("PMI_FD", None)      # closed: see above
        for sig in (signal.SIGCHLD, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        for sig in (signal.SIGINT, signal.SIGTERM, drain_signal):
            if sig:             # sent to the whole job: the launcher's
                signal.signal(sig, _ignore)
        os.register_at_fork(after_in_child=_default_signals)
        die_with_parent(parent_pid)
        code = run()
        end_own_children(_CHILDREN_GRACE)
    except BaseException:  # noqa: BLE001 - never return into the parent
        import traceback
        traceback.print_exc()
    finally:
        finish(code)
    raise AssertionError("unreachable")  # pragma: no cover


def close_inherited(keep: Iterable[int] = ()) -> None:
    """Close every file descriptor above 2 but ``keep`` (see above)."""
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:         # no /proc: every number up to the limit
        import resource
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        fds = range(3, soft if 0 < soft < 1 << 16 else 1 << 16)
    keep = set(keep)
    for fd in fds:
        if fd > 2 and fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


def _logging_fds() -> List[int]:
    """The descriptors of the files that logging handlers write to."""
    import logging
    fds = []
    loggers = [logging.getLogger(), *(
        each for each in logging.Logger.manager.loggerDict.values()
        if isinstance(each, logging.Logger))]
    for logger in loggers:
        for handler in logger.handlers:
            with contextlib.suppress(AttributeError, OSError, ValueError):
                fds.append(handler.stream.fileno())
    return fds


def _ignore(signum, frame) -> None:
    """A signal that is the launcher's: nothing to do here (unlike
    ``SIG_IGN``, a handler is not inherited across ``exec``)."""


def _default_signals() -> None:
    """In a process forked by a child of the job (a task's
    ``multiprocessing`` pool, ``os.fork``): the signals the child leaves
    to the launcher mean again what they mean to Python. A forked
    process keeps its parent's handlers, and with :func:`_ignore` for
    SIGTERM, ``Pool.terminate()`` waited forever for its workers."""
    for sig in signal.Signals:
        with contextlib.suppress(ValueError, OSError):
            if signal.getsignal(sig) is _ignore:
                signal.signal(sig, signal.default_int_handler
                              if sig == signal.SIGINT else signal.SIG_DFL)


_PR_SET_PDEATHSIG, _PR_GET_PDEATHSIG = 1, 2


def _prctl(option: int, arg) -> Optional[int]:
    """Linux's ``prctl(option, arg)``; None where it cannot be called."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(option, arg)
    except (OSError, AttributeError):
        return None


def die_with_parent(parent_pid: Optional[int]) -> None:
    """Have the kernel kill this process when its parent dies."""
    if _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL) is None:
        return
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)


def dies_with_parent() -> bool:
    """Whether the kernel kills this process when its parent dies; False
    where that cannot be asked."""
    sig = ctypes.c_int(0)
    return _prctl(_PR_GET_PDEATHSIG, ctypes.byref(sig)) == 0 \
        and sig.value != 0


def reap(children: Dict[int, str]) -> List[Tuple[int, str, int]]:
    """Collect exited ``children`` (pid -> name); return ``(pid, name,
    exit code)`` for each, a negative code being the killing signal.

    One system call says whether any child has exited, without collecting
    it (another child, an ssh of the launcher, is its ``Popen``'s to
    wait for); only then is each of ``children`` asked. The launcher calls
    this after every step of its broker: a ``waitpid`` per worker each
    time was 8.6 % of the launcher's samples in W8 at -n 256."""
    if children and not _some_child_exited():
        return []
    done = []
    for pid in list(children):
        try:
            got, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done.append((pid, children.pop(pid), -signal.SIGKILL))
            continue
        if got:
            done.append((pid, children.pop(pid),
                         os.waitstatus_to_exitcode(status)))
    return done


def _some_child_exited() -> bool:
    """Whether a child of this process waits to be collected (True where
    that cannot be told, or no child is left: ``reap`` then asks each)."""
    try:
        return os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG
                         | os.WNOWAIT) is not None
    except (AttributeError, ChildProcessError):    # no waitid; no child
        return True


def wait_all(children: Dict[int, str], seconds: float) -> bool:
    """Reap ``children`` for up to ``seconds``; True when none is left."""
    deadline = time.monotonic() + seconds
    while children:
        reap(children)
        if not children or time.monotonic() >= deadline:
            break
        time.sleep(0.005)
    return not children


def kill_trees(pids: Iterable[int]) -> None:
    """SIGKILL the processes ``pids`` and every process they started
    (a task's subprocess would outlive its killed worker: the kernel's
    death signal goes to a worker, not to its children)."""
    import psutil
    for pid in list(pids):
        try:
            tree = psutil.Process(pid).children(recursive=True)
        except psutil.Error:
            tree = []
        for proc in (pid, *(child.pid for child in tree)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc, signal.SIGKILL)


def own_children() -> List[int]:
    """The pids of this process's children: Linux's
    ``/proc/self/task/*/children`` (a few reads), else psutil's scan."""
    try:
        tasks = os.listdir("/proc/self/task")
        pids: List[int] = []
        for task in tasks:
            with open(f"/proc/self/task/{task}/children") as handle:
                pids += [int(pid) for pid in handle.read().split()]
        return pids
    except OSError:
        import psutil
        return [child.pid for child in psutil.Process().children()]


def end_own_children(grace: float) -> None:
    """SIGTERM what this process started that still runs (and what those
    started); SIGKILL what is left ``grace`` seconds later. A worker
    leaving calls it: a program a task started and left running would
    outlive the job, re-parented to init."""
    pids = own_children()
    if not pids:
        return
    import psutil
    procs = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            procs += [proc, *proc.children(recursive=True)]
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()


def kill_all(children: Dict[int, str], grace: float) -> None:
    """Kill the children and what they started (:func:`kill_trees`);
    reap them for up to ``grace`` seconds."""
    kill_trees(children)
    wait_all(children, grace)


def end_reason(code: int) -> str:
    """How a worker that ended early ended (``code``: its exit code, or
    minus the signal that killed it)."""
    if code < 0:
        sig = signal.Signals(-code).name
        hint = (" (out of memory? see the kernel log)"
                if -code == signal.SIGKILL else "")
        return f"was killed by {sig}{hint}"
    return (f"exited with code {code} before the end of the job (see its "
            f"output above)")
