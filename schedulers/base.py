"""What every scheduler adapter returns, and the errors it raises.

An adapter is a module with ``NAME``, ``LAUNCHERS`` (its native ways of
starting a process on a node of the job, preferred first), and:

- ``detect(environ) -> bool``: whether this process runs inside one of its
  jobs;
- ``allocation(environ, **choices) -> Allocation``: the job's hosts and
  worker counts, in allocation order.

Adapters read only the ``environ`` mapping and the files it names (and,
for Flux, the ``flux`` command): they know nothing of how workers start.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional

from scoop_hpc.errors import UsageError
from scoop_hpc.hosts import Host, merge, summary

__all__ = ["Allocation", "AllocationError", "require", "read_file",
           "count_of", "repeated_lines", "summary"]


class AllocationError(UsageError):
    """The job's allocation cannot be read: names the variable or file and
    quotes the bad text."""


class Allocation:
    """A batch job's hosts, as its scheduler describes them.

    Args:
        scheduler: the adapter's name (``"slurm"``, ...).
        hosts: hosts and worker counts, in allocation order.
        here: this node's name as the allocation spells it (the node the
            job script runs on), when the scheduler says.
        launchers: native starters, preferred first.
        notes: what was read and what it gave, for ``--explain``.
        ranks: per host, its rank in the job (Flux's ``flux exec -r``).
    """

    def __init__(self, scheduler: str, hosts: List[Host],
                 here: Optional[str], launchers: tuple,
                 notes: List[str],
                 ranks: Optional[Dict[str, int]] = None) -> None:
        self.scheduler = scheduler
        self.hosts = hosts
        self.here = here
        self.launchers = launchers
        self.notes = notes
        self.ranks = ranks or {}


def require(environ: Mapping[str, str], name: str, why: str,
            shown: Optional[str] = None) -> str:
    """``environ[name]``, or an error saying the job lacks it (naming it
    as ``shown`` when given)."""
    value = environ.get(name, "").strip()
    if not value:
        raise AllocationError(f"{shown or name} is not set or empty, so the "
                              f"{why} "
                              f"cannot be read; pass --hosts or --hostfile "
                              f"to place the workers by hand")
    return value


def read_file(variable: str, path: str) -> List[str]:
    """The lines of the file that ``variable`` names."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read().splitlines()
    except OSError as exc:
        raise AllocationError(f"{variable}={path}: cannot read the file "
                              f"({exc.strerror})") from None


def count_of(text: str, where: str) -> int:
    """A positive worker count, or an error quoting ``where``."""
    if not text.isdecimal() or int(text) < 1:
        raise AllocationError(f"{where}: {text!r} is not a positive number "
                              f"of slots")
    return int(text)


def repeated_lines(variable: str, path: str) -> List[Host]:
    """A file of one host name per slot (repeated lines are more slots),
    in first-appearance order: PBS_NODEFILE, LSB_DJOB_HOSTFILE."""
    names = []
    for number, line in enumerate(read_file(variable, path), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        if len(text.split()) != 1:
            raise AllocationError(f"{variable}={path}, line {number}: "
                                  f"{line!r}: expected one host name")
        names.append(text)
    if not names:
        raise AllocationError(f"{variable}={path}: the file names no host")
    return merge(Host(name, 1) for name in names)
