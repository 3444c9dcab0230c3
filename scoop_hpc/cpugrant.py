"""How many CPUs a batch job was granted on this host.

A scheduler that does not bind its jobs to their CPUs (Slurm with
``TaskPlugin=task/none``, Grid Engine without a binding, PBS and LSF
without cgroups) leaves every process of a job free to run on all the
node's CPUs: its affinity says nothing of the job's share. The worker
count and the threads of the workers' numeric libraries
(:mod:`.threadcaps`) must then follow what the allocation says this
host's share is, or a job granted 1 CPU of 64 starts 64 threads per
worker on CPUs other jobs were given:

- Slurm: ``SLURM_JOB_CPUS_PER_NODE`` for ``SLURMD_NODENAME`` (the job's,
  also in a step, where ``SLURM_CPUS_ON_NODE`` is the step's);
- Grid Engine: this host's slots in ``PE_HOSTFILE``;
- PBS: ``NCPUS`` where PBS Pro sets it (the ``ncpus`` of the job's
  chunk), else this host's lines in ``PBS_NODEFILE``;
- LSF: this host's slots in ``LSB_MCPU_HOSTS`` (or ``LSB_DJOB_HOSTFILE``).

Flux binds its jobs (the affinity tells), and a host the allocation does
not name (a ``--hosts`` entry outside the job) has no grant. An agent's
starter may not bring the allocation's files (``qrsh -inherit`` sets no
``PE_HOSTFILE``): the launcher reads the host's grant for it, and the
agent passes it to its workers in ``SCOOP_HPC_JOB_CPUS``.
"""
from __future__ import annotations

import socket
from typing import Mapping, Optional

#: this host's CPUs in the job, as the launcher read them for an agent
VARIABLE = "SCOOP_HPC_JOB_CPUS"


def granted(environ: Mapping[str, str],
            hostname: Optional[str] = None) -> Optional[int]:
    """This host's (or ``hostname``'s) CPUs in the batch job whose
    variables ``environ`` holds, or None outside a job or where the job
    does not say.

    >>> granted({"SLURM_JOB_ID": "3", "SLURM_JOB_NODELIST": "n[1-2]",
    ...          "SLURM_JOB_CPUS_PER_NODE": "4,1", "SLURMD_NODENAME": "n2"})
    1
    >>> granted({"LSB_MCPU_HOSTS": "a.x 2 b 3"}, "a")
    2
    >>> granted({"LSB_MCPU_HOSTS": "a 2"}, "c") is None
    True
    >>> granted({}) is None
    True
    >>> granted({"SCOOP_HPC_JOB_CPUS": "3", "LSB_MCPU_HOSTS": "a 2"})
    3
    """
    own = environ.get(VARIABLE, "").strip()
    if hostname is None and own.isdecimal() and int(own) > 0:
        return int(own)
    if not any(name in environ for name in _MARKS):
        return None        # the common case: no need to import schedulers
    from . import schedulers
    from .schedulers.base import AllocationError
    adapter = schedulers.detect(environ)
    if adapter is None or adapter.NAME == "flux":
        return None
    if adapter.NAME == "pbs" and environ.get("NCPUS", "").isdecimal():
        return int(environ["NCPUS"]) or None
    try:
        if adapter.NAME == "slurm":
            here = hostname or environ.get("SLURMD_NODENAME")
            hosts = adapter.allocation(environ, slots="cpus").hosts
        else:
            here = hostname or socket.gethostname()
            hosts = adapter.allocation(environ).hosts
    except AllocationError:
        return None         # the placement says what is wrong with it
    if not here:
        return None
    for host in hosts:
        if _short(host.name) == _short(here):
            return host.workers
    return None


_MARKS = ("SLURM_JOB_ID", "SLURM_JOBID", "PE_HOSTFILE", "PBS_NODEFILE",
          "PBS_JOBID", "LSB_JOBID", "LSB_MCPU_HOSTS", "LSB_DJOB_HOSTFILE")


def _short(name: str) -> str:
    return name.split(".", 1)[0].lower()
