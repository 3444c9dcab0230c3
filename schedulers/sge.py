"""Grid Engine (SGE, OGE, UGE, Open Cluster Scheduler): ``PE_HOSTFILE``.

Each line is ``host slots queue processor-range``; the first line is the
master host, where the job script runs; a host on several lines (slots
from several queues) is summed. ``NSLOTS``, when set, must agree with the
file. Workers start with ``qrsh -inherit HOST`` (the parallel environment
needs ``control_slaves TRUE``); one per host, which also suits
``daemon_forks_slaves``.
"""
from __future__ import annotations

from typing import Mapping

from scoop_hpc.hosts import Host, merge

from .base import (
    Allocation,
    AllocationError,
    count_of,
    read_file,
    require,
    summary,
)

NAME = "sge"
LAUNCHERS = ("qrsh",)
#: Job scripts: directive prefix, submit command, the job id in its reply
#: (``Your job 12 ("name") has been submitted``, ``Your job-array 7.1-4:1``).
DIRECTIVE = "#$"
SUBMIT = ("qsub",)
JOB_ID = r"Your job(?:-array)? (?P<job_id>\d+)"


def detect(environ: Mapping[str, str]) -> bool:
    return bool(environ.get("PE_HOSTFILE"))


def allocation(environ: Mapping[str, str], **_choices) -> Allocation:
    path = require(environ, "PE_HOSTFILE", "parallel environment's hosts")
    hosts = []
    for number, line in enumerate(read_file("PE_HOSTFILE", path), 1):
        fields = line.split()
        if not fields:
            continue
        where = f"PE_HOSTFILE={path}, line {number}: {line!r}"
        if len(fields) < 2:
            raise AllocationError(f"{where}: expected 'host slots queue "
                                  f"range'")
        hosts.append(Host(fields[0], count_of(fields[1], where)))
    if not hosts:
        raise AllocationError(f"PE_HOSTFILE={path}: the file names no host")
    master = hosts[0].name
    hosts = merge(hosts)
    notes = [f"PE_HOSTFILE={path} -> {summary(hosts)} (master {master})"]
    total = sum(h.workers for h in hosts)
    slots = environ.get("NSLOTS")
    if slots:
        if slots.strip() != str(total):
            raise AllocationError(
                f"NSLOTS={slots} but PE_HOSTFILE={path} gives {total} "
                f"slots; the job's environment is inconsistent")
        notes.append(f"NSLOTS={slots} agrees")
    return Allocation(NAME, hosts, master, LAUNCHERS, notes)
