"""``scoop-hpc``: the command-line tool. ``scoop-hpc run`` is the launcher."""
from __future__ import annotations

import sys
from typing import List, Optional

from . import launcher

_USAGE = """usage: scoop-hpc COMMAND [options]

commands:
  run     run a program on parallel workers (same as python -m scoop_hpc)
"""


def main(argv: Optional[List[str]] = None) -> int:
    """Dispatch a ``scoop-hpc`` command; return its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_USAGE, end="", file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "run":
        return launcher.main(rest, prog="scoop-hpc run")
    print(f"scoop-hpc: unknown command {command!r}\n{_USAGE}", end="",
          file=sys.stderr)
    return 2
