"""The placement of a job: which hosts, how many workers on each, and how
they are started. ``scoop-hpc hosts`` prints it; the launcher follows it.

Precedence: ``--hosts`` or ``--hostfile`` > the local machine's CPUs.
"""
from __future__ import annotations

import json
import os
from typing import List, Optional, Sequence

from . import hosts as H
from .errors import UsageError


class Placement:
    """Hosts in worker order (``w0``, the root, on the first) and the
    starter of the remote ones.

    Args:
        source: where the hosts came from: ``"hosts"``, ``"hostfile"`` or
            ``"local"``.
        hosts: the layout, after the ``-n`` rules.
        starter: the program that starts agents on remote hosts.
    """

    def __init__(self, source: str, hosts: List[H.Host],
                 starter: str = "ssh") -> None:
        self.source = source
        self.hosts = hosts
        self.local = [H.is_local(host.name) for host in hosts]
        self.starter = starter

    @property
    def size(self) -> int:
        return sum(host.workers for host in self.hosts)

    @property
    def launcher(self) -> str:
        """``"local"`` when every host is this one, else the starter."""
        return "local" if all(self.local) else self.starter

    def as_dict(self) -> dict:
        return {"source": self.source,
                "hosts": [{"name": h.name, "workers": h.workers}
                          for h in self.hosts],
                "workers": self.size, "launcher": self.launcher}

    def describe(self) -> str:
        """A table for people; :meth:`as_dict` is for programs."""
        width = max(len(h.name) for h in self.hosts)
        lines = [f"{self.size} workers on {len(self.hosts)} host(s) "
                 f"(from {self.source}; started by {self.launcher}):"]
        first = 0
        for host, local in zip(self.hosts, self.local):
            last = first + host.workers - 1
            names = f"w{first}" if last == first else f"w{first}-w{last}"
            where = "this host" if local else "remote"
            root = ", root" if first == 0 else ""
            lines.append(f"  {host.name:<{width}}  {host.workers:>4}  "
                         f"{names} ({where}{root})")
            first = last + 1
        return "\n".join(lines)


def resolve(hosts: Optional[Sequence[str]] = None,
            hostfile: Optional[str] = None,
            workers: Optional[int] = None,
            starter: str = "ssh") -> Placement:
    """Build the placement from the command line's choices.

    Raises:
        UsageError: both ``hosts`` and ``hostfile``; a bad host list;
            ``workers`` below 1.
        HostfileError: a malformed hostfile line.
    """
    if hosts is not None and hostfile is not None:
        raise UsageError("--hosts and --hostfile exclude each other")
    if hostfile is not None:
        source, layout = "hostfile", H.read_hostfile(hostfile)
    elif hosts is not None:
        source, layout = "hosts", H.from_names(hosts)
    else:
        count = workers or os.cpu_count() or 1
        source, layout = "local", [H.Host(H.local_name(), count)]
    return Placement(source, H.distribute(layout, workers),
                     os.path.basename(starter))


def dumps(placement: Placement) -> str:
    """``scoop-hpc hosts --json``."""
    return json.dumps(placement.as_dict())
