"""Flux: the enclosing instance, through the ``flux`` command.

Flux exports no node list, and clears ``SLURM_*``/``PMI_*`` when it starts
under another resource manager, so it is detected first (``FLUX_URI``).
``flux getattr hostlist`` gives the hosts in broker-rank order,
``flux resource list`` their cores (one worker per core), ``flux getattr
rank`` this broker. Workers start with ``flux exec -r RANK``.
"""
from __future__ import annotations

import subprocess
from typing import List, Mapping

from scoop_hpc.hosts import Host

from .base import Allocation, AllocationError, count_of, summary
from .hostlist import expand

NAME = "flux"
LAUNCHERS = ("flux",)


def detect(environ: Mapping[str, str]) -> bool:
    return bool(environ.get("FLUX_URI"))


def allocation(environ: Mapping[str, str], **_choices) -> Allocation:
    hostlist = _flux(environ, "getattr", "hostlist")
    names = expand(hostlist, "flux getattr hostlist")
    cores = {}
    listing = _flux(environ, "resource", "list", "-n", "-s", "up", "-o",
                    "{nodelist} {ncores}")
    for line in listing.splitlines():
        if not line.strip():
            continue
        nodelist, _, count = line.rpartition(" ")
        group = expand(nodelist, "flux resource list")
        total = count_of(count, f"flux resource list: {line!r}")
        if total % len(group):
            raise AllocationError(
                f"flux resource list: {line!r}: {total} cores do not divide "
                f"evenly over {len(group)} nodes; pass --hosts or --hostfile")
        for name in group:
            cores[name] = total // len(group)
    missing = [name for name in names if name not in cores]
    if missing:
        raise AllocationError(f"flux resource list: no cores up on "
                              f"{', '.join(missing)}")
    hosts = [Host(name, cores[name]) for name in names]
    text = _flux(environ, "getattr", "rank")
    if not text.isdecimal() or int(text) >= len(names):
        raise AllocationError(f"flux getattr rank: {text!r} is not the rank "
                              f"of one of the {len(names)} hosts")
    rank = int(text)
    notes = [f"flux getattr hostlist -> {hostlist}",
             f"flux resource list -> {summary(hosts)}",
             f"flux getattr rank -> {rank} ({names[rank]})"]
    return Allocation(NAME, hosts, names[rank], LAUNCHERS, notes,
                      ranks={name: i for i, name in enumerate(names)})


def _flux(environ: Mapping[str, str], *args: str) -> str:
    command: List[str] = ["flux", *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True,
                              env=dict(environ), timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AllocationError(f"FLUX_URI is set but {' '.join(command)} "
                              f"failed: {exc}") from None
    if done.returncode != 0:
        raise AllocationError(f"FLUX_URI is set but {' '.join(command)} "
                              f"failed: {done.stderr.strip()}")
    return done.stdout.strip()
