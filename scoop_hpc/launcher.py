"""``python -m scoop_hpc``: read the command line, start the job, return
its exit code.

The agents of remote hosts are started first, before the runtime (ZeroMQ,
greenlet, the broker) is imported: ssh, or a scheduler's launcher, takes a
good part of a second to connect, and an agent waits on its stdin for the
configuration that ``job.Job`` writes once its broker is bound
(``remote.EarlyAgents``). Under mpiexec or srun each rank runs its part of
the job instead (``mpirun``).
"""
from __future__ import annotations

import logging
import sys
from typing import List, Optional

from . import mpiworld
from .errors import LauncherError, TransportError, UsageError
from .logs import configure_logging
from .options import parse
from .remote import EarlyAgents

log = logging.getLogger("scoop_hpc.launcher")


def main(argv: Optional[List[str]] = None,
         prog: str = "python -m scoop_hpc") -> int:
    """Run the launcher; return the exit code of the job."""
    args = parse(argv, prog)
    try:
        configure_logging(args.verbose - args.quiet, args.log, args.debug)
    except UsageError as exc:    # a race with parse's check of --log
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    world = args.world
    if args.program_spec.kind == "path":
        try:
            with open(args.program_spec.target, "rb") as handle:
                compile(handle.read(), args.program_spec.target, "exec")
        except SyntaxError as exc:
            import traceback
            if world is None or world.rank == 0:  # once under mpiexec
                traceback.print_exception(type(exc), exc, None)
            return 1
    if mpiworld.wanted(args, world):
        from . import mpirun
        return mpirun.main(args, world, prog)
    early = EarlyAgents(args)
    try:
        from .job import Job
        return Job(args, early).run()
    except UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except (TransportError, LauncherError) as exc:
        log.error("%s", exc)
        return 1
    finally:
        early.close()
