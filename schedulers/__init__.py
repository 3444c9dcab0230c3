"""Batch-scheduler adapters (installed as ``scoop_hpc.schedulers``).

Inside a batch job with no ``--hosts``/``--hostfile``, the first adapter
whose ``detect`` is true gives the job's placement, in this order: Flux,
Slurm, LSF, Grid Engine, PBS. Flux comes first because it clears the
variables of a scheduler it runs under; a Slurm job inside an LSF one is
rarer than the reverse. See :mod:`.base` for an adapter's protocol.
"""
from __future__ import annotations

from typing import Mapping

from . import flux, lsf, pbs, sge, slurm
from .base import Allocation, AllocationError

ADAPTERS = (flux, slurm, lsf, sge, pbs)

__all__ = ["ADAPTERS", "Allocation", "AllocationError", "detect"]


def detect(environ: Mapping[str, str]):
    """The adapter of the job this process runs in, or None."""
    for adapter in ADAPTERS:
        if adapter.detect(environ):
            return adapter
    return None
