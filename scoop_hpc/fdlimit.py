"""The open-files limit (``ulimit -n``) that the job's processes need.

The job's broker holds two sockets for each worker that joins it (its
main and its side connection; for each host with ``--sub-brokers``), and
an agent two pipes for each worker it forks (their output) while its
sub-broker holds two sockets for each. Past its soft limit libzmq aborts
the whole process ("Too many open files (src/ipc_listener.cpp:297)",
SIGABRT): the launcher, and with it the job, at -n 64 under
``ulimit -n 64``. So before anything starts, the launcher and each agent
raise their soft limit as far as the job needs (never past the hard
limit, which only an administrator can raise), and say what to do when
that is not enough. Workers inherit the raised limit.
"""
from __future__ import annotations

import contextlib
from typing import Optional

try:
    import resource
except ImportError:        # not POSIX: no limit to look at
    resource = None  # type: ignore[assignment]

BASE = 64        # descriptors of a process before its peers: ZeroMQ's
#                  context and I/O threads, pipes, logs (22 measured)
PER_PEER = 2     # sockets (or pipes) for each worker or host served
PER_HOST = 4     # the launcher's starter (ssh) of a remote host: pipes


def launcher_needs(local: int, remote: int, hosts: int,
                   sub_brokers: bool) -> int:
    """Descriptors the launcher needs for ``local`` workers forked here
    and ``remote`` workers on ``hosts`` other hosts.

    >>> launcher_needs(64, 0, 0, False)
    192
    >>> launcher_needs(1, 1000, 10, True), launcher_needs(1, 1000, 10, False)
    (126, 2106)
    """
    peers = local + (hosts if sub_brokers else remote)
    return BASE + PER_PEER * peers + PER_HOST * hosts


def agent_needs(workers: int) -> int:
    """Descriptors an agent (and its sub-broker) needs for ``workers``.

    >>> agent_needs(128)
    320
    """
    return BASE + PER_PEER * workers


def ensure(needed: int, what: str) -> Optional[str]:
    """Raise this process's soft limit of open files to ``needed`` if it
    is lower; return why that cannot be done (``what`` names what needs
    them), or None."""
    if resource is None:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return None
    if hard == resource.RLIM_INFINITY or hard >= needed:
        with contextlib.suppress(ValueError, OSError):  # said below
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
            return None
    return (f"{what} need about {needed} open files, but the limit is "
            f"{soft} (ulimit -n) and cannot be raised past {hard} (its "
            f"hard limit): raise it with 'ulimit -n {needed}' before "
            f"starting the job (ask your site for a higher hard limit if "
            f"that fails), or run fewer workers on this host")
