"""How many threads the numeric libraries of a worker's tasks start.

OpenBLAS, MKL, BLIS, Accelerate, OpenMP, numexpr and numba start one
thread per CPU of the machine in every process that loads them, unless
told otherwise by an environment variable read when they load. N workers
on N CPUs then run N x N threads: at ``-n 2`` on 2 CPUs, 40 matrix
products of 400 x 400 took 1.27 s instead of 0.36 s (``docs/api.md``,
*What a task meets on a worker*). As joblib's loky workers do, each
worker gets ``CPUs // workers`` of its host (at least 1) in every such
variable, unless the environment it starts in sets one of them already:
then the user has chosen, and none is changed. ``--threads-per-worker
N`` sets them all to N; ``off`` leaves the environment as it is.

The launcher works this out for its own host's workers, and each agent
for its host's, with that host's CPUs (its affinity, no more than a
batch job's share there: ``cpugrant``) and environment; the worker puts
the variables in its environment before it loads the program.
"""
from __future__ import annotations

import argparse
from typing import Dict, Mapping, Union

#: the variables that cap the threads of a process's numeric libraries
VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
             "NUMEXPR_NUM_THREADS", "NUMBA_NUM_THREADS")

Choice = Union[str, int]     # "auto", "off" or a number of threads


def choice(text: str) -> Choice:
    """``--threads-per-worker``'s value: ``auto``, ``off`` or a count.

    >>> choice("auto"), choice("OFF"), choice("4")
    ('auto', 'off', 4)
    >>> choice("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: not auto, off or a number of threads \
above 0: 0
    """
    word = text.strip().lower()
    if word in ("auto", "off"):
        return word
    if word.isdigit() and int(word) > 0:
        return int(word)
    raise argparse.ArgumentTypeError(
        f"not auto, off or a number of threads above 0: {text}")


def environ(chosen: Choice, workers: int, cpus: int,
            current: Mapping[str, str]) -> Dict[str, str]:
    """The variables to set in each of the ``workers`` workers of a host
    with ``cpus`` CPUs, whose environment is ``current``.

    >>> environ("auto", 2, 16, {})["OMP_NUM_THREADS"]
    '8'
    >>> environ("auto", 32, 16, {})["OPENBLAS_NUM_THREADS"]
    '1'
    >>> environ("auto", 2, 16, {"OMP_NUM_THREADS": "4"})
    {}
    >>> environ(3, 2, 16, {"OMP_NUM_THREADS": "4"})["OMP_NUM_THREADS"]
    '3'
    >>> environ("off", 2, 16, {})
    {}
    """
    if chosen == "off":
        return {}
    if chosen == "auto":
        if any(name in current for name in VARIABLES):
            return {}
        chosen = max(cpus // max(workers, 1), 1)
    return dict.fromkeys(VARIABLES, str(chosen))
