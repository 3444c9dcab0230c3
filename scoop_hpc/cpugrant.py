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

import functools
import socket
from typing import Dict, Mapping, Optional, Tuple

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
    read = _grants(_batch_variables(environ))
    if read is None:
        return None
    scheduler, grants = read
    if "" in grants:            # PBS Pro's NCPUS: the job's chunk
        return grants[""]
    here = hostname or (environ.get("SLURMD_NODENAME")
                        if scheduler == "slurm" else socket.gethostname())
    return grants.get(_short(here)) if here else None


def _batch_variables(environ: Mapping[str, str]) -> Tuple[tuple, ...]:
    """What of ``environ`` the allocation is read from (a cache key)."""
    return tuple(sorted((name, value) for name, value in environ.items()
                        if name.startswith(_PREFIXES)))


@functools.lru_cache(maxsize=4)
def _grants(variables: Tuple[tuple, ...]
            ) -> Optional[Tuple[str, Dict[str, int]]]:
    """The scheduler and ``{short host name: CPUs}`` of the job these
    variables describe, or None where it does not say. Read once: the
    launcher asks for every host of the job (1.4 ms a time at 1,000
    Slurm nodes)."""
    environ = dict(variables)
    from . import schedulers
    from .schedulers.base import AllocationError
    adapter = schedulers.detect(environ)
    if adapter is None or adapter.NAME == "flux":
        return None
    if adapter.NAME == "pbs" and environ.get("NCPUS", "").isdecimal():
        cpus = int(environ["NCPUS"])
        return (adapter.NAME, {"": cpus}) if cpus else None
    try:
        hosts = (adapter.allocation(environ, slots="cpus").hosts
                 if adapter.NAME == "slurm"
                 else adapter.allocation(environ).hosts)
    except AllocationError:
        return None         # the placement says what is wrong with it
    return adapter.NAME, {_short(host.name): host.workers for host in hosts}


_MARKS = ("SLURM_JOB_ID", "SLURM_JOBID", "PE_HOSTFILE", "PBS_NODEFILE",
          "PBS_JOBID", "LSB_JOBID", "LSB_MCPU_HOSTS", "LSB_DJOB_HOSTFILE")
_PREFIXES = ("SLURM", "PE_", "PBS_", "LSB_", "NCPUS", "NSLOTS", "NHOSTS",
             "JOB_ID", "SGE_", "FLUX_")


def _short(name: str) -> str:
    return name.split(".", 1)[0].lower()
