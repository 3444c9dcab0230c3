"""PBS Pro, OpenPBS and Torque: ``PBS_NODEFILE``.

The node file holds one line per slot (Torque: ``ppn`` lines per node;
PBS Pro: ``mpiprocs`` lines per chunk); repeated lines are summed per host
in first-appearance order, so the first host is the job's primary one,
where the script runs. Workers start with ``pbs_tmrsh HOST`` (PBS Pro,
an rsh replacement that keeps them under the MoM's limits) or
``pbsdsh -h HOST`` (Torque), whichever the node has.
"""
from __future__ import annotations

from typing import Mapping

from .base import Allocation, repeated_lines, require, summary

NAME = "pbs"
LAUNCHERS = ("pbs_tmrsh", "pbsdsh")
#: Job scripts (PBS Pro and Torque alike): directive prefix, submit
#: command, the job id in its reply (``123.server``, ``45[].server``).
DIRECTIVE = "#PBS"
SUBMIT = ("qsub",)
JOB_ID = r"^\s*(?P<job_id>\d+(?:\[\d*\])?(?:\.[\w.-]+)?)\s*$"


def detect(environ: Mapping[str, str]) -> bool:
    return bool(environ.get("PBS_NODEFILE") or environ.get("PBS_JOBID"))


def allocation(environ: Mapping[str, str], **_choices) -> Allocation:
    path = require(environ, "PBS_NODEFILE", "PBS job's node list")
    hosts = repeated_lines("PBS_NODEFILE", path)
    notes = [f"PBS_NODEFILE={path}: {sum(h.workers for h in hosts)} lines "
             f"-> {summary(hosts)}"]
    return Allocation(NAME, hosts, hosts[0].name, LAUNCHERS, notes)
