"""``scoop-hpc``: the command-line tool. ``scoop-hpc run`` is the launcher."""
from __future__ import annotations

import sys
from typing import List, Optional

from . import launcher, options, placement
from ._exit import leave
from .errors import UsageError

_USAGE = """usage: scoop-hpc COMMAND [options]

commands:
  run     run a program on parallel workers (same as python -m scoop_hpc)
  hosts   print the placement a run would use (--json for programs)
  config  print gen-submit's merged configuration (--show-origin)
  gen-submit
          write a job script for slurm, pbs, torque, sge or lsf (--submit)
"""


def entry() -> None:
    """The ``scoop-hpc`` command: run :func:`main`, then leave at once."""
    leave(main())


def main(argv: Optional[List[str]] = None) -> int:
    """Dispatch a ``scoop-hpc`` command; return its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_USAGE, end="", file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "run":
        return launcher.main(rest, prog="scoop-hpc run")
    if command == "hosts":
        return hosts(rest)
    if command in ("gen-submit", "config"):
        from . import submit  # Jinja2 and TOML: not for `run`'s start-up
        return (submit.main if command == "gen-submit"
                else submit.config_main)(rest)
    print(f"scoop-hpc: unknown command {command!r}\n{_USAGE}", end="",
          file=sys.stderr)
    return 2


def hosts(argv: List[str]) -> int:
    """``scoop-hpc hosts [--hosts ...|--hostfile F] [-n N] [--json]``."""
    parser = options._Parser(
        prog="scoop-hpc hosts",
        description="Print where a run's workers would go.")
    options.add_placement_options(parser)
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true",
                       help="print one JSON object")
    shown.add_argument("--explain", action="store_true",
                       help="also say what was read and why this launcher")
    args = parser.parse_args(argv)
    try:
        found = options.resolve_placement(args)
    except UsageError as exc:
        parser.error(str(exc))
    if args.json:
        print(placement.dumps(found))
    else:
        print(found.explain() if args.explain else found.describe())
    return 0


if __name__ == "__main__":
    entry()
