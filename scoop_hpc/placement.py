"""The placement of a job: which hosts, how many workers on each, and how
they are started. ``scoop-hpc hosts`` prints it; the launcher follows it.

Precedence: ``--hosts`` or ``--hostfile`` > the batch job's allocation
(Flux, Slurm, LSF, Grid Engine, PBS: ``scoop_hpc.schedulers``) > the local
machine's CPUs.

The launcher (``--launcher``) starts the agents of other hosts. ``auto``
takes the scheduler's own one when it is on PATH, else ssh with a warning;
outside a batch job it is ssh. Naming one starts every worker but the root
through it, this host's too (each then runs under the scheduler's
accounting and limits); ``auto`` forks this host's workers.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from typing import Dict, List, Mapping, Optional, Sequence

from . import hosts as H
from . import schedulers, starters
from .errors import UsageError

log = logging.getLogger("scoop_hpc.launcher")


class Placement:
    """Hosts in worker order (``w0``, the root, on the first) and the
    launcher of the others.

    Args:
        source: where the hosts came from: ``"hosts"``, ``"hostfile"``,
            ``"local"`` or a scheduler's name.
        hosts: the layout, after the ``-n`` rules.
        launcher: how agents start (``starters.Launcher``).
        here: this node's name in a batch allocation.
        everywhere: start this host's workers (but the root) through the
            launcher too.
        notes: what was read and chosen, and why (``--explain``).
        ranks: per host, its rank in the job (Flux).
    """

    def __init__(self, source: str, hosts: List[H.Host],
                 launcher: starters.Launcher, here: Optional[str] = None,
                 everywhere: bool = False, notes: Sequence[str] = (),
                 ranks: Optional[Dict[str, int]] = None) -> None:
        self.source = source
        self.hosts = hosts
        self.starter = launcher
        self.local = [host.name == here or H.is_local(host.name)
                      for host in hosts]
        self.everywhere = everywhere
        self.notes = list(notes)
        self.ranks = ranks or {}

    @property
    def size(self) -> int:
        return sum(host.workers for host in self.hosts)

    @property
    def launcher(self) -> str:
        """``"local"`` when every worker is forked here, else the name of
        the launcher (for ssh: of its program)."""
        if all(self.local) and not (self.everywhere and self.size > 1):
            return "local"
        if self.starter.name == "ssh":
            return os.path.basename(self.starter.executable)
        return self.starter.name

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

    def explain(self) -> str:
        """What was read, what it gave, and the launcher chosen and why."""
        return "\n".join(["How this placement was found:",
                          *(f"  - {note}" for note in self.notes),
                          self.describe()])


def resolve(hosts: Optional[Sequence[str]] = None,
            hostfile: Optional[str] = None,
            workers: Optional[int] = None,
            ssh_executable: str = "ssh", launcher: str = "auto",
            environ: Optional[Mapping[str, str]] = None,
            slurm_slots: str = "tasks",
            skip_launch_node: bool = False) -> Placement:
    """Build the placement from the command line's choices and the batch
    job this process runs in (``environ``, default ``os.environ``).

    Raises:
        UsageError: both ``hosts`` and ``hostfile``; a bad host list;
            ``workers`` below 1; an unreadable allocation; a launcher that
            is not on PATH.
        HostfileError: a malformed hostfile line.
    """
    environ = os.environ if environ is None else environ
    if hosts is not None and hostfile is not None:
        raise UsageError("--hosts and --hostfile exclude each other")
    adapter = allocation = None
    if hostfile is not None:
        source, layout = "hostfile", H.read_hostfile(hostfile)
        notes = [f"--hostfile {hostfile}: {H.summary(layout)}"]
    elif hosts is not None:
        source, layout = "hosts", H.from_names(hosts)
        notes = [f"--hosts: {H.summary(layout)}"]
    else:
        adapter = schedulers.detect(environ)
        if adapter is None:
            count = workers or os.cpu_count() or 1
            source, layout = "local", [H.Host(H.local_name(), count)]
            notes = [f"no --hosts, --hostfile or batch job: this host, "
                     f"{count} {'workers (-n)' if workers else 'CPUs'}"]
        else:
            allocation = adapter.allocation(
                environ, slots=slurm_slots,
                skip_launch_node=skip_launch_node)
            source, layout = adapter.NAME, allocation.hosts
            notes = [f"inside a {adapter.NAME} job", *allocation.notes]
    placed = H.distribute(layout, workers)
    if workers is not None:
        notes.append(f"-n {workers}: {H.summary(placed)}")
    chosen, why = _launcher(launcher, ssh_executable, allocation,
                            environ.get("PATH"))
    notes.append(why)
    return Placement(source, placed, chosen,
                     here=allocation.here if allocation else None,
                     everywhere=launcher != "auto", notes=notes,
                     ranks=allocation.ranks if allocation else None)


def _launcher(name: str, ssh_executable: str, allocation,
              path: Optional[str]) -> tuple:
    """The launcher to use and a sentence saying why (``path``: the PATH
    to look for it on)."""
    if name == "ssh":
        return starters.ssh(ssh_executable), "--launcher ssh"
    if name != "auto":
        launcher = starters.native(name)
        if shutil.which(launcher.executable, path=path) is None:
            raise UsageError(f"--launcher {name}: {launcher.executable} is "
                             f"not on PATH")
        return launcher, f"--launcher {name}"
    if allocation is None:
        return (starters.ssh(ssh_executable),
                f"launcher: {os.path.basename(ssh_executable)} (no batch job)")
    for native in allocation.launchers:
        launcher = starters.native(native)
        found = shutil.which(launcher.executable, path=path)
        if found:
            return launcher, (f"launcher: {native}, the {allocation.scheduler}"
                              f" job's own ({found})")
    why = (f"none of {', '.join(allocation.launchers)} is on PATH, so "
           f"other hosts are reached with {ssh_executable}")
    log.warning("%s job: %s (name one with --launcher)",
                allocation.scheduler, why)
    return (starters.ssh(ssh_executable),
            f"launcher: {os.path.basename(ssh_executable)}, because {why}")


def dumps(placement: Placement) -> str:
    """``scoop-hpc hosts --json``."""
    return json.dumps(placement.as_dict())
