"""The private folders of a job's sockets: made, removed, and swept.

The launcher (and an agent that runs a sub-broker, and rank 0 under
mpiexec) makes one in ``$TMPDIR`` (``/tmp`` unless set) for its ZeroMQ
``ipc://`` sockets and removes it when it ends. One killed with SIGKILL
(the kernel's out-of-memory killer, a batch system's last word) cannot:
its folder stays, holding a socket that nothing listens on any more.
Each new folder is made after a sweep of this user's folders whose every
socket refuses a connection; a folder with a socket still listened on,
with no socket (being made, or being removed), or changed in the last
``MIN_AGE`` seconds (a socket bound, not yet listened on) is left alone.

With ``--tunnel``, sshd makes a socket ``/tmp/scoop_hpc-<job>-<n>.sock``
on each remote host, which the host's agent removes when it ends; an
agent killed with SIGKILL cannot, and the agent started next on that
host sweeps it the same way: a socket of this user that refuses a
connection.

A job with other hosts keeps its shared files (the configuration of
agents that get no stdin, the workers' records under ``-v``) in a folder
``.scoop_hpc-<job>`` of its working directory, on a shared file system.
The launcher writes there an ``owner`` file: its host name, process id,
start time and process-id space (the kernel's boot id and its pid
namespace). Before making one, a launcher removes this user's folders
there whose owner ran in its own host and pid space and is gone (no such
process, or another one started at another time under the same id):
those of launchers killed with SIGKILL. A folder of another host, or of
another pid space under the same host name (another machine so named, a
container with its own pid namespace: its pids mean nothing here), or
without a complete owner file, is left alone: nothing here can tell that
it is abandoned.
"""
from __future__ import annotations

import contextlib
import os
import socket
import stat
import time
from typing import List

import psutil

from .errors import LauncherError

PREFIX = "scoop_hpc-"
SHARED_PREFIX = ".scoop_hpc-"
OWNER = "owner"         # in a shared folder: host, pid, start time
MIN_AGE = 10.0          # seconds since a folder last changed, at least
_PROBE_TIMEOUT = 0.2    # seconds a connection to a socket may take


def private_dir() -> str:
    """Create a directory only this user can enter, for the job's sockets
    (after sweeping the abandoned ones, see :func:`sweep`)."""
    base = os.environ.get("TMPDIR", "/tmp")
    sweep(base)
    for attempt in range(100):
        path = os.path.join(base, f"{PREFIX}{os.getpid()}-"
                                  f"{time.time_ns() % 10**9}-{attempt}")
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        except OSError as exc:
            raise LauncherError(
                f"cannot create the job's socket folder in {base} "
                f"(TMPDIR on {socket.gethostname()}): {exc.strerror}; "
                f"set TMPDIR to a writable local directory") from exc
        return path
    raise LauncherError(f"cannot create a private directory in {base}: "
                        f"100 names taken")


def shared_dir(base: str, job_id: str) -> str:
    """Create the job's folder in ``base`` (its working directory), for
    what its other hosts read and write, with an owner file, after
    sweeping those that killed launchers of this host left behind (see
    :func:`sweep_shared`)."""
    sweep_shared(base)
    path = os.path.join(base, f"{SHARED_PREFIX}{job_id}")
    me = psutil.Process()
    owner = os.path.join(path, OWNER)
    try:
        os.mkdir(path, 0o700)
        with open(owner + ".part", "w") as out:   # whole, or not there
            out.write(f"{socket.gethostname()} {me.pid} "
                      f"{me.create_time()!r} {pid_space()}\n")
        os.replace(owner + ".part", owner)
    except OSError as exc:
        raise LauncherError(
            f"cannot create the job's folder {path}: {exc.strerror}; the "
            f"job's other hosts read and write there: run it from (or give"
            f" --path) a writable directory that they share") from exc
    return path


def sweep_shared(base: str) -> List[str]:
    """Remove this user's job folders in ``base`` whose owner file names
    this host, its pid space and a process that is gone; return their
    paths."""
    removed = []
    try:
        entries = list(os.scandir(base))
    except OSError:
        return removed
    host, space = socket.gethostname(), pid_space()
    for entry in entries:
        if not entry.name.startswith(SHARED_PREFIX):
            continue
        try:
            if (not entry.is_dir(follow_symlinks=False)
                    or entry.stat().st_uid != os.getuid()):
                continue
            with open(os.path.join(entry.path, OWNER)) as owner:
                name, pid, started, where = owner.read().split()
            if (name, where) != (host, space) or _running(
                    int(pid), float(started)):
                continue
        except (OSError, ValueError):   # no owner file (yet), not ours
            continue
        remove_dir(entry.path)
        removed.append(entry.path)
    return removed


def pid_space() -> str:
    """Where this process's pids mean something: the kernel's boot id
    and the pid namespace (``-`` where ``/proc`` does not tell)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as boot:
            return (f"{boot.read().strip()}/"
                    f"{os.readlink('/proc/self/ns/pid')[5:-1]}")
    except OSError:
        return "-"


def _running(pid: int, started: float) -> bool:
    """Whether process ``pid``, started at ``started``, still runs."""
    try:
        return abs(psutil.Process(pid).create_time() - started) < 1.0
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:        # there, but not ours to look at
        return True


def remove_dir(path: str) -> None:
    """Remove a directory made by :func:`private_dir` and what it holds."""
    with contextlib.suppress(OSError):
        for name in os.listdir(path):
            os.unlink(os.path.join(path, name))
        os.rmdir(path)


def sweep(base: str) -> List[str]:
    """Remove this user's folders and tunnel sockets in ``base`` that jobs
    killed before their end left behind; return their paths."""
    removed = []
    try:
        entries = list(os.scandir(base))
    except OSError:
        return removed
    uid = os.getuid()
    settled = time.time() - MIN_AGE
    for entry in entries:
        if not entry.name.startswith(PREFIX):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if info.st_uid != uid or info.st_mtime > settled:
                continue
            if stat.S_ISDIR(info.st_mode) and _abandoned(entry.path):
                remove_dir(entry.path)
            elif stat.S_ISSOCK(info.st_mode) and not _listened(entry.path):
                os.unlink(entry.path)
            else:
                continue
        except OSError:          # removed meanwhile, or not ours to read
            continue
        removed.append(entry.path)
    return removed


def _abandoned(path: str) -> bool:
    """Whether ``path`` holds sockets and none of them is listened on."""
    sockets = [full for full in (os.path.join(path, name)
                                 for name in os.listdir(path))
               if stat.S_ISSOCK(os.lstat(full).st_mode)]
    return bool(sockets) and not any(_listened(full) for full in sockets)


def _listened(path: str) -> bool:
    """Whether a process listens on the Unix socket ``path``: only a
    refused connection says no."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(_PROBE_TIMEOUT)
        try:
            probe.connect(path)
        except ConnectionRefusedError:
            return False
        except OSError:          # gone, busy, forbidden: not ours to judge
            return True
    return True
