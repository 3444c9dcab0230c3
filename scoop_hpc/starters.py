"""How an agent is started on a host: ssh, or a batch scheduler's own
launcher (many sites forbid ssh to compute nodes).

Each launcher turns ``(host, shell command)`` into the local command that
runs the shell command on that host, inside the job where there is one:

=============  ==============================================================
``ssh``        ``ssh [options] HOST 'CMD'`` (or ``--ssh-executable``, e.g.
               rsh, which gets no ssh options)
``srun``       ``srun --overlap --nodes=1 --ntasks=1 --cpus-per-task=K
               (K: the host's workers, at most the job's CPUs there)
               --cpu-bind=none --mpi=none --quiet --unbuffered -w HOST
               /bin/sh -c CMD`` (Slurm 20.11 or later)
``qrsh``       ``qrsh -inherit HOST 'CMD'`` (Grid Engine, tight
               integration)
``pbs_tmrsh``  ``pbs_tmrsh HOST 'CMD'`` (PBS Pro, rsh-like)
``pbsdsh``     ``pbsdsh -o -h HOST /bin/sh -c CMD`` (Torque; no stdin)
``blaunch``    ``blaunch HOST /bin/sh -c CMD`` (LSF)
``flux``       ``flux exec -r RANK /bin/sh -c CMD`` (Flux)
``mpirun``     ``mpiexec -n 1 -host HOST /bin/sh -c CMD`` (an MPI launcher)
=============  ==============================================================

Every launcher but ``pbsdsh`` carries the agent's stdin, which gives it
its configuration and tells it the job ended; ``pbsdsh`` agents read the
configuration from a private file instead (see ``agent``).
"""
from __future__ import annotations

import os
from typing import Callable, Dict, List, Optional

from . import cpugrant

SSH_OPTIONS = ("-T", "-x", "-oBatchMode=yes", "-oConnectTimeout=10",
               "-oServerAliveInterval=5", "-oServerAliveCountMax=3",
               "-oLogLevel=ERROR")


class Launcher:
    """One way of starting a command on a host.

    Args:
        name: the launcher's name (``--launcher NAME``).
        executable: the program it runs.
        build: ``(executable, host, command, workers, rank) -> argv``.
        stdin: whether the agent's stdin reaches it.
    """

    def __init__(self, name: str, executable: str,
                 build: Callable[..., List[str]], stdin: bool = True) -> None:
        self.name = name
        self.executable = executable
        self.build = build
        self.stdin = stdin

    def argv(self, host: str, command: str, workers: int = 1,
             rank: Optional[int] = None,
             forward: Optional[str] = None) -> List[str]:
        """The command that runs ``command`` on ``host``: ``workers`` is
        the number of CPUs to ask for, ``rank`` the host's rank (Flux),
        ``forward`` an ssh tunnel ``"REMOTE_SOCKET:LOCAL_SOCKET"``."""
        return self.build(self.executable, host, command, workers=workers,
                          rank=rank, forward=forward)


def _shell(command: str) -> List[str]:
    return ["/bin/sh", "-c", command]


def _srun(exe, host, command, workers, **_):
    # a CPU per worker, but no more than the job has there: Slurm refuses
    # a step that asks for more (-n beyond the allocation)
    cpus = min(workers, cpugrant.granted(os.environ, host) or workers)
    return [exe, "--overlap", "--nodes=1", "--ntasks=1",
            f"--cpus-per-task={cpus}", "--cpu-bind=none", "--mpi=none",
            "--quiet", "--unbuffered", "-w", host, *_shell(command)]


def _qrsh(exe, host, command, **_):
    # qrsh joins its arguments and has a shell run them, like rsh
    return [exe, "-inherit", host, command]


def _rsh_like(exe, host, command, **_):
    return [exe, host, command]


def _pbsdsh(exe, host, command, **_):
    return [exe, "-o", "-h", host, *_shell(command)]


def _blaunch(exe, host, command, **_):
    return [exe, host, *_shell(command)]


def _flux(exe, host, command, rank, **_):
    if rank is None:
        raise ValueError(f"flux exec needs the rank of {host}")
    return [exe, "exec", "-r", str(rank), *_shell(command)]


def _mpirun(exe, host, command, **_):
    return [exe, "-n", "1", "-host", host, *_shell(command)]


_NATIVE: Dict[str, tuple] = {
    "srun": ("srun", _srun, True),
    "qrsh": ("qrsh", _qrsh, True),
    "pbs_tmrsh": ("pbs_tmrsh", _rsh_like, True),
    "pbsdsh": ("pbsdsh", _pbsdsh, False),
    "blaunch": ("blaunch", _blaunch, True),
    "flux": ("flux", _flux, True),
    "mpirun": ("mpiexec", _mpirun, True),
}
NAMES = ("ssh", *_NATIVE)


def _ssh(exe, host, command, forward, **_):
    argv = [exe]
    if os.path.basename(exe) == "ssh":
        argv += SSH_OPTIONS
        if forward:
            argv += ["-oExitOnForwardFailure=yes",
                     "-oStreamLocalBindUnlink=yes", "-R", forward]
    return [*argv, host, command]


def ssh(executable: str = "ssh") -> Launcher:
    """ssh (or a compatible program such as rsh, which gets no ssh
    options); the only launcher that can tunnel (``--tunnel``)."""
    return Launcher("ssh", executable, _ssh)


def native(name: str) -> Launcher:
    """The scheduler launcher called ``name`` (one of :data:`NAMES`)."""
    executable, build, stdin = _NATIVE[name]
    return Launcher(name, executable, build, stdin)
