"""IBM Spectrum LSF: ``LSB_MCPU_HOSTS``, else ``LSB_DJOB_HOSTFILE``.

``LSB_MCPU_HOSTS`` is ``"hostA 4 hostB 4"``; the host file has one line
per slot. The first host is where the job script runs. On CSM systems
(Summit-like) that host is a launch node, not a compute node:
``skip_launch_node`` (``--skip-launch-node``) leaves it out, and the root
then runs on the first compute host. Workers start with ``blaunch HOST``.
"""
from __future__ import annotations

from typing import Mapping

from scoop_hpc.hosts import Host, merge

from .base import (
    Allocation,
    AllocationError,
    count_of,
    repeated_lines,
    summary,
)

NAME = "lsf"
LAUNCHERS = ("blaunch",)
#: Job scripts: directive prefix, submit command (``#BSUB`` lines are read
#: only from a script on bsub's stdin), the job id in its reply.
DIRECTIVE = "#BSUB"
SUBMIT = ("bsub",)
SUBMIT_STDIN = True
JOB_ID = r"Job <(?P<job_id>\d+)> is submitted"


def detect(environ: Mapping[str, str]) -> bool:
    return bool(environ.get("LSB_JOBID") or environ.get("LSB_MCPU_HOSTS")
                or environ.get("LSB_DJOB_HOSTFILE"))


def allocation(environ: Mapping[str, str], skip_launch_node: bool = False,
               **_choices) -> Allocation:
    text = environ.get("LSB_MCPU_HOSTS", "").strip()
    if text:
        hosts, notes = _mcpu_hosts(text), []
        notes.append(f"LSB_MCPU_HOSTS={text!r} -> {summary(hosts)}")
    elif environ.get("LSB_DJOB_HOSTFILE"):
        path = environ["LSB_DJOB_HOSTFILE"]
        hosts = repeated_lines("LSB_DJOB_HOSTFILE", path)
        notes = [f"LSB_DJOB_HOSTFILE={path} -> {summary(hosts)}"]
    else:
        raise AllocationError("neither LSB_MCPU_HOSTS nor LSB_DJOB_HOSTFILE "
                              "is set, so the LSF job's hosts cannot be "
                              "read; pass --hosts or --hostfile")
    here = hosts[0].name
    if skip_launch_node:
        if len(hosts) < 2:
            raise AllocationError(
                f"--skip-launch-node: the job has only the launch node "
                f"{here}; nothing would be left to run on")
        notes.append(f"launch node {here} skipped (--skip-launch-node)")
        hosts = hosts[1:]
    return Allocation(NAME, hosts, here, LAUNCHERS, notes)


def _mcpu_hosts(text: str) -> list:
    fields = text.split()
    where = f"LSB_MCPU_HOSTS={text!r}"
    if len(fields) % 2:
        raise AllocationError(f"{where}: expected pairs of 'host slots'")
    return merge(Host(fields[i], count_of(fields[i + 1], where))
                 for i in range(0, len(fields), 2))
