"""``scoop-hpc gen-submit`` and ``scoop-hpc config``.

::

    command line -> siteconfig.load() -> jobscript.variables() -> render()
                                                  |
          stdout, or -o FILE (made executable) <--+--> --submit: sbatch,
                                                       qsub, bsub < script

Nothing is written when a check fails (exit 2). ``--submit`` prints the
job id read from the scheduler's reply; a failed submission shows the
command, its exit code and its output (exit 1).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from typing import Any, Dict, List, Optional, Sequence

from . import jobscript, siteconfig
from .errors import SubmitError, TemplateError, UsageError
from .options import _Parser
from .schedulers import lsf, pbs, sge, slurm

#: The adapter that knows each scheduler's directives and submit command.
ADAPTERS = {"slurm": slurm, "pbs": pbs, "torque": pbs, "sge": sge,
            "lsf": lsf}


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="scoop-hpc gen-submit",
        description="Write a job script that runs a program with "
                    "python -m scoop_hpc on the whole allocation. Defaults "
                    "come from the site configuration (scoop-hpc config).")
    add = parser.add_argument
    add("--scheduler", choices=siteconfig.SCHEDULERS,
        help="the batch scheduler (default: the configuration's)")
    add("--nodes", type=int, metavar="N", help="nodes (default 1)")
    tasks = parser.add_mutually_exclusive_group()
    tasks.add_argument("--tasks-per-node", type=int, metavar="T",
                       help="workers per node (default 1)")
    tasks.add_argument("-n", "--ntasks", type=int, metavar="N",
                       help="workers in all, spread over the nodes (as the "
                            "launcher's -n)")
    add("--cpus-per-task", type=int, metavar="C",
        help="CPUs for each worker (default 1)")
    add("--walltime", metavar="HH:MM:SS", help="run-time limit")
    add("--queue", "--partition", dest="queue", metavar="Q",
        help="queue (Slurm: partition)")
    add("--account", metavar="A", help="account or project to charge")
    add("--job-name", metavar="J",
        help="job name (default: the program's name)")
    add("--memory", metavar="M", help="memory per node, as in 4G or 500M")
    add("--output", metavar="F", help="file of the job's output")
    add("--pe", metavar="NAME", help="Grid Engine parallel environment")
    add("--module", action="append", metavar="M",
        help="environment module to load (repeatable)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--venv", metavar="PATH",
                       help="virtual environment to activate")
    where.add_argument("--conda", metavar="ENV",
                       help="conda environment to activate")
    add("--python", metavar="PATH",
        help="interpreter on the compute nodes (default: the venv's; "
             "without --venv or --conda, this one when it is a virtual "
             "environment's, else python3)")
    add("--env", action="append", metavar="K=V",
        help="variable to export (repeatable)")
    add("--directive", action="append", metavar="RAW",
        help="extra scheduler directive, with or without its prefix "
             "(repeatable)")
    add("-o", dest="file", metavar="FILE",
        help="write the script to FILE (made executable), not stdout")
    add("--submit", action="store_true",
        help="submit the script and print the job id")
    add("program", help="the program to run")
    add("args", nargs=argparse.REMAINDER, help="the program's arguments")
    return parser


def main(argv: Sequence[str]) -> int:
    """``scoop-hpc gen-submit ...``; returns the exit code."""
    parser = make_parser()
    args = parser.parse_args(list(argv))
    try:
        scheduler, text = generate(args, os.environ)
    except (UsageError, TemplateError) as exc:
        parser.error(str(exc))
    if args.file:
        try:
            write(args.file, text)
        except OSError as exc:
            parser.error(f"-o: cannot write {args.file} ({exc.strerror})")
    elif not args.submit:
        sys.stdout.write(text)
    if args.submit:
        try:
            print(submit(scheduler, text, args.file))
        except SubmitError as exc:
            print(f"scoop-hpc gen-submit: {exc}", file=sys.stderr)
            return 1
    return 0


def cli_values(args: argparse.Namespace) -> Dict[str, Any]:
    """The configuration keys the command line gives."""
    keys = (*siteconfig.OPTIONS, "scheduler")
    return {key: getattr(args, key) for key in keys
            if getattr(args, key, None) is not None}


def generate(args: argparse.Namespace, environ) -> tuple:
    """(scheduler, script text) for parsed options; raises
    ``UsageError`` or ``TemplateError``."""
    config = siteconfig.load(environ, cli_values(args))
    top = config.top()
    if "scheduler" not in top:
        raise UsageError("no scheduler: give --scheduler (one of "
                         f"{', '.join(siteconfig.SCHEDULERS)}) or set "
                         f"scheduler in the site configuration")
    scheduler = top["scheduler"].value
    if scheduler not in siteconfig.SCHEDULERS:
        raise UsageError(
            f"scheduler {scheduler!r} "
            f"({siteconfig.origin_of(top['scheduler'], 'scheduler')}) is "
            f"not one of {', '.join(siteconfig.SCHEDULERS)}")
    values = jobscript.variables(
        scheduler, config.table(scheduler), args.program, args.args,
        ADAPTERS[scheduler].DIRECTIVE)
    env = jobscript.environment(top.get("template_dir"))
    return scheduler, jobscript.render(env, scheduler, values)


def write(path: str, text: str) -> None:
    """Write the script, executable wherever it is readable."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    mode = os.stat(path).st_mode
    os.chmod(path, mode | (mode & 0o444) >> 2)


def submit(scheduler: str, text: str, path: Optional[str] = None,
           run=subprocess.run) -> str:
    """Submit the script (the file at ``path`` when given, else ``text``
    on stdin); return the job id. Raises ``SubmitError``."""
    adapter = ADAPTERS[scheduler]
    command: List[str] = list(adapter.SUBMIT)
    stdin = getattr(adapter, "SUBMIT_STDIN", False)
    if path and not stdin:
        command.append(path)
    shown = " ".join(command) + (f" < {path}" if path and stdin else "")
    try:
        done = run(command, input=None if path and not stdin else text,
                   capture_output=True, text=True, timeout=120,
                   check=False)
    except FileNotFoundError:
        raise SubmitError(
            f"{command[0]} is not on PATH, so the script cannot be "
            f"submitted from here: run gen-submit --submit where the "
            f"{scheduler} commands are (a login node), or write the "
            f"script with -o FILE and submit it there") from None
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SubmitError(f"{shown} failed: {exc}") from None
    if done.returncode != 0:
        raise SubmitError(
            f"{shown} failed with exit code {done.returncode}\n"
            f"--- stderr\n{done.stderr}--- stdout\n{done.stdout}")
    return parse_job_id(scheduler, done.stdout, shown)


def parse_job_id(scheduler: str, reply: str, shown: str = "") -> str:
    """The job id in a submit command's reply.

    >>> parse_job_id("slurm", "Submitted batch job 42\\n")
    '42'
    >>> parse_job_id("lsf", "Job <7> is submitted to queue <normal>.")
    '7'
    """
    pattern = ADAPTERS[scheduler].JOB_ID
    match = re.search(pattern, reply, re.MULTILINE)
    if match is None:
        raise SubmitError(
            f"{shown or ' '.join(ADAPTERS[scheduler].SUBMIT)} succeeded "
            f"but its reply does not match {pattern!r}: {reply!r}")
    return match.group("job_id")


def config_main(argv: Sequence[str]) -> int:
    """``scoop-hpc config [--show-origin]``."""
    parser = _Parser(
        prog="scoop-hpc config",
        description="Print the merged configuration of gen-submit.")
    parser.add_argument("--show-origin", action="store_true",
                        help="say where each value comes from")
    args = parser.parse_args(list(argv))
    try:
        config = siteconfig.load(os.environ)
    except UsageError as exc:
        parser.error(str(exc))
    sys.stdout.write(siteconfig.dump(config, args.show_origin))
    return 0
