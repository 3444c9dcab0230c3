"""Slurm: ``SLURM_JOB_NODELIST`` with a count per node.

The node list is expanded by :mod:`.hostlist` (no ``scontrol`` needed).
Worker counts per node come from ``SLURM_TASKS_PER_NODE`` by default
(``--ntasks``/``--ntasks-per-node``: one worker per task, as SCOOP does);
``slots="cpus"`` (``--slurm-slots cpus``) takes ``SLURM_JOB_CPUS_PER_NODE``
instead (every allocated CPU), for jobs asked with ``--cpus-per-task`` or
``--exclusive``. This node is ``SLURMD_NODENAME``. Workers start with
``srun --overlap --nodes=1 --ntasks=1 -w HOST``.

A launcher started by ``srun -n 1`` runs in a job step, where srun has
set ``SLURM_TASKS_PER_NODE`` to the step's one task: the job's own count
of tasks is no longer there, and the job's CPUs per node are taken
instead (``SLURM_STEP_NODELIST`` marks a step; a batch script has none).
"""
from __future__ import annotations

from typing import Mapping

from scoop_hpc.hosts import Host, merge

from .base import Allocation, AllocationError, require, summary
from .hostlist import expand, expand_counts

NAME = "slurm"
LAUNCHERS = ("srun",)
#: Job scripts: directive prefix, submit command, the job id in its reply.
DIRECTIVE = "#SBATCH"
SUBMIT = ("sbatch",)
JOB_ID = r"Submitted batch job (?P<job_id>\d+)"
SLOTS = {"tasks": "SLURM_TASKS_PER_NODE", "cpus": "SLURM_JOB_CPUS_PER_NODE"}


def detect(environ: Mapping[str, str]) -> bool:
    return bool(environ.get("SLURM_JOB_ID") or environ.get("SLURM_JOBID"))


def allocation(environ: Mapping[str, str], slots: str = "tasks",
               **_choices) -> Allocation:
    variable = ("SLURM_JOB_NODELIST" if environ.get("SLURM_JOB_NODELIST")
                else "SLURM_NODELIST")
    text = require(environ, variable, "Slurm job's node list",
                   "SLURM_JOB_NODELIST (or SLURM_NODELIST)")
    names = expand(text, variable)
    step = environ.get("SLURM_STEP_NODELIST")
    if step and slots == "tasks":       # srun's: the step's tasks
        slots = "cpus"
    counts_variable = SLOTS[slots]
    counts_text = require(environ, counts_variable,
                          "number of workers per node")
    counts = expand_counts(counts_text, counts_variable)
    if len(counts) != len(names):
        raise AllocationError(
            f"{variable}={text!r} names {len(names)} nodes but "
            f"{counts_variable}={counts_text!r} gives {len(counts)} counts; "
            f"the job's environment is inconsistent")
    hosts = merge(Host(name, count) for name, count in zip(names, counts))
    notes = [f"{variable}={text!r} -> {', '.join(names)}",
             f"{counts_variable}={counts_text!r} -> {summary(hosts)} "
             f"(--slurm-slots {slots})"]
    if step:
        notes.insert(1, f"SLURM_STEP_NODELIST={step!r}: started by srun, "
                        f"in a job step: SLURM_TASKS_PER_NODE is the "
                        f"step's, so the job's CPUs count")
    here = environ.get("SLURMD_NODENAME") or None
    if here:
        notes.append(f"SLURMD_NODENAME={here}: the job script's node")
    return Allocation(NAME, hosts, here, LAUNCHERS, notes)
