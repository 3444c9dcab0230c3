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

from . import fdlimit, mpiworld
from .errors import LauncherError, TransportError, UsageError
from .logs import configure_logging
from .options import parse, sub_brokers
from .remote import EarlyAgents, agent_hosts

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
    short = _descriptors_short(args)
    if short is not None:
        print(f"{prog}: error: {short}", file=sys.stderr)
        return 2
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


def _descriptors_short(args) -> Optional[str]:
    """Raise the open-files limit as far as the job's broker needs it
    (``fdlimit``); say why it cannot be, or None."""
    agents, local = agent_hosts(args.placement)
    remote = sum(count for _, _, count in agents)
    sub = sub_brokers(args.sub_brokers, args.placement.size)
    needed = fdlimit.launcher_needs(len(local), remote, len(agents), sub)
    short = fdlimit.ensure(needed, f"the launcher's broker and its "
                                   f"{len(local) + remote} workers")
    if short is not None and agents and not sub:
        short += (", or use --sub-brokers yes: the workers of other hosts "
                  "then join a broker on their own host")
    return short
