"""Whether this process is one rank of an MPI launch, from the variables
the launchers set: no MPI library is loaded to tell (``mpirun.py`` runs
the rank's part of the job).
"""
from __future__ import annotations

from typing import Mapping, NamedTuple, Optional

_LAUNCHERS = (
    ("PMI_RANK", "PMI_SIZE", "MPICH/Intel MPI (Hydra)"),
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "Open MPI"),
    ("PMIX_RANK", "SLURM_STEP_NUM_TASKS", "PMIx"),
)


class World(NamedTuple):
    """What the environment says of this rank (``size`` may be unknown)."""

    rank: int
    size: Optional[int]
    source: str


def detect(environ: Mapping[str, str]) -> Optional[World]:
    """Tell whether this process is one rank of an MPI launch.

    Read from the variables the launchers set, so that no MPI library is
    loaded in an ordinary run. ``srun`` counts only when its step has more
    than one task (a batch script has ``SLURM_PROCID`` too, and
    ``srun -n 1 python -m scoop_hpc`` starts a job of its own).

    >>> detect({"PMI_RANK": "2", "PMI_SIZE": "4"})
    World(rank=2, size=4, source='PMI_RANK=2, PMI_SIZE=4 (MPICH/Intel MPI \
(Hydra))')
    >>> detect({"SLURM_PROCID": "0", "SLURM_NTASKS": "4"}) is None
    True
    >>> detect({}) is None
    True
    """
    for rank_key, size_key, name in _LAUNCHERS:
        if rank_key in environ:
            size = _number(environ.get(size_key))
            if size == 1 and "SLURM_STEP_ID" in environ:
                return None  # srun -n 1 wraps a launcher; see above
            told = f"{rank_key}={environ[rank_key]}"
            if size is not None:
                told += f", {size_key}={size}"
            return World(_number(environ[rank_key]) or 0, size,
                         f"{told} ({name})")
    if "SLURM_STEP_ID" in environ and "SLURM_PROCID" in environ:
        size = _number(environ.get("SLURM_STEP_NUM_TASKS"))
        if size is not None and size > 1:
            rank = _number(environ["SLURM_PROCID"]) or 0
            return World(rank, size, f"SLURM_PROCID={rank}, "
                                     f"SLURM_STEP_NUM_TASKS={size} (srun)")
    return None


def _number(text: Optional[str]) -> Optional[int]:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def wanted(args, world: Optional[World]) -> bool:
    """Tell whether this run is one rank of an MPI job.

    A world of one rank (``mpiexec -n 1``) is one, unless the command line
    asks for workers or hosts of its own (``-n 8``, ``--hosts``): then the
    ordinary launcher starts them, as it would without mpiexec.
    """
    if args.transport == "mpi":
        return True
    if world is None:
        return False
    if world.size == 1:
        return not (args.hosts or args.hostfile
                    or args.workers not in (None, 1))
    return True
