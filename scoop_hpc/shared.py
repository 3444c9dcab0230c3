"""Shared constants: ``from scoop_hpc import shared``.

A constant is defined once, anywhere in the job, and can then be read by
every worker, including workers that join later. Constants cannot be
changed or redefined.
"""
from __future__ import annotations

from typing import Any, Optional

from ._runtime.context import check_not_importing, current

__all__ = ["setConst", "getConst", "set_const", "get_const"]


def setConst(**kwargs: Any) -> None:  # noqa: N802 - SCOOP's name
    """Define constants, e.g. ``setConst(data=table, seed=42)``.

    Returns once every worker can read them: a task submitted afterwards
    sees them wherever it runs.

    Raises:
        ConstantError: a name is already defined (a TypeError, as in
            SCOOP).
        SerializationError: a value cannot be sent to other workers.
        MainGuardError: called by a worker importing the program (main
            code outside its ``if __name__ == "__main__":`` guard).
    """
    check_not_importing("shared.setConst")
    current().constants.set(kwargs)


def getConst(name: str,  # noqa: N802 - SCOOP's name
             timeout: Optional[float] = 0.1) -> Any:
    """Return the constant ``name``, waiting up to ``timeout`` seconds.

    Returns None if it is still undefined after ``timeout`` (SCOOP's
    behaviour); ``timeout=None`` waits without limit.
    """
    return current().constants.get(name, timeout)


set_const = setConst
get_const = getConst
