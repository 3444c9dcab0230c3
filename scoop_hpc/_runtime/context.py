"""Which hub serves this process.

The worker installs its hub before running any user code. A worker other
than the root imports the program to find the functions its tasks call;
while it does, a call that gives out tasks or defines a shared constant
is the program's main code run outside its ``if __name__ == "__main__":``
guard, and is refused. A
program run as ``python prog.py``, without the launcher, gets a serial hub
on its first call: the same semantics (futures, nesting, timeouts,
constants) in one process, with one warning.
"""
from __future__ import annotations

import contextlib
import warnings
from typing import Iterator, Optional, Tuple

from ..errors import MainGuardError
from .hub import Hub

_hub: Optional[Hub] = None
_importing: Optional[Tuple[str, str]] = None   # (worker, program)


def install(hub: Optional[Hub]) -> None:
    """Make ``hub`` the one that serves this process."""
    global _hub
    _hub = hub


def current() -> Hub:
    """Return this process's hub, creating a serial one if none exists."""
    global _hub
    if _hub is None:
        warnings.warn(
            "scoop_hpc is not running under its launcher: tasks run "
            "serially in this process. Start the program with "
            "'python -m scoop_hpc [-n N] program.py' to use workers.",
            RuntimeWarning, stacklevel=3)
        _hub = Hub()
    return _hub


@contextlib.contextmanager
def importing(worker: str, program: str) -> Iterator[None]:
    """Refuse to give out tasks while ``worker`` imports ``program``."""
    global _importing
    _importing = (worker, program)
    try:
        yield
    finally:
        _importing = None


def importing_program() -> Optional[str]:
    """The program this worker is importing now, if it is (any thread may
    ask: the worker's main thread imports it)."""
    importing = _importing
    return None if importing is None else importing[1]


def check_not_importing(call: str) -> None:
    """Raise MainGuardError if ``call`` (``"futures.map"``,
    ``"shared.setConst"``, ...) comes from a program being imported by a
    worker."""
    if _importing is not None:
        worker, program = _importing
        raise MainGuardError(
            f"{call} was called while worker {worker} imported the "
            f"program {program} to find the functions its tasks call: the "
            f"program's main code is outside `if __name__ == \"__main__\":`"
            f", so every worker would run the whole program. Put the main "
            f"code under that guard; the root alone runs it")
