"""Which hub serves this process.

The worker installs its hub before running any user code. A program run
as ``python prog.py``, without the launcher, gets a serial hub on its first
call: the same semantics (futures, nesting, timeouts, constants) in one
process, with one warning.
"""
from __future__ import annotations

import warnings
from typing import Optional

from .hub import Hub

_hub: Optional[Hub] = None


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
