"""Run the benchmark workloads under each implementation; print one table.

Implementations: scoop_hpc (``python -m scoop_hpc -n N``, this Python),
scoop_hpc under mpiexec when this Python's venv has one (``mpiexec -n N
python -m scoop_hpc --transport mpi|zmq``), ProcessPoolExecutor(N) (this
Python) and, when the peers venv exists
(``bash bench/make_peers_venv.sh DIR``), SCOOP 0.7.2 (``DIR/bin/python -m
scoop -n N``) and mpi4py.futures (``DIR/bin/mpiexec -n N+1 DIR/bin/python
-m mpi4py.futures``).  Each cell is the median of ``--repeat`` runs; a run
that fails or outlives ``--timeout`` shows as such in its cell.  Progress
goes to stderr; stdout carries only the paste-able Markdown report.
"""
import argparse
import collections
import contextlib
import json
import os
import platform
import re
import shlex
import signal
import statistics
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH_DIR)

Workload = collections.namedtuple(
    "Workload", "key script title unit lower_is_better whole_process nested",
    defaults=(False, False, False))
Impl = collections.namedtuple("Impl", "key label short launcher nests api",
                              defaults=(None,))
Outcome = collections.namedtuple("Outcome", "value error processes records",
                                 defaults=((),))

WORKLOADS = (
    Workload("W1", "w1_startup.py", "startup + teardown, map of 2 items",
             "s", lower_is_better=True, whole_process=True),
    Workload("W2", "w2_map.py", "map, 20,000 trivial items", "items/s"),
    Workload("W3", "w3_pi.py", "Monte-Carlo pi, 200 x 20,000 tries",
             "efficiency"),
    Workload("W4", "w4_tree.py", "nested submits, binary tree depth 10",
             "tasks/s", nested=True),
    Workload("W5", "w5_bytes.py", "64 arguments of 1 MiB", "MiB/s"),
    Workload("W6", "w6_mapreduce.py", "mapReduce, 20,000 items, add",
             "items/s"),
    Workload("W7", "w7_map_tuned.py",
             "map, 100,000 trivial items (PPE: best chunksize)", "items/s"),
    Workload("W8", "w8_submit.py", "20,000 submits, one task each",
             "tasks/s"),
)
NOT_NESTABLE = "n/a (cannot nest)"
LOG_RECORD = re.compile(r"\b(INFO|DEBUG)\b")
IMPL_KEYS = ("scoop_hpc", "scoop_hpc_mpi", "scoop_hpc_mpi_zmq", "ppe",
             "scoop", "mpi4py")


def scoop_launcher(python, module):
    """Return a launcher for ``python -m module -n N script``."""
    def launch(script, workers):
        return [python, "-m", module, "-n", str(workers), script]
    return launch


def plain_launcher(python):
    """Return a launcher for ``python script``."""
    def launch(script, workers):
        return [python, script]
    return launch


def mpi_launcher(venv):
    """Return a launcher for ``mpiexec -n N+1 python -m mpi4py.futures``."""
    def launch(script, workers):
        return [os.path.join(venv, "bin", "mpiexec"), "-n", str(workers + 1),
                os.path.join(venv, "bin", "python"), "-m", "mpi4py.futures",
                script]
    return launch


def scoop_mpi_launcher(python, transport):
    """Return a launcher for ``mpiexec -n N python -m scoop_hpc
    --transport T`` (N ranks, each a worker, the root's included)."""
    def launch(script, workers):
        return [os.path.join(os.path.dirname(python), "mpiexec"), "-n",
                str(workers), python, "-m", "scoop_hpc", "--transport",
                transport, script]
    return launch


def mpi_impls(python):
    """Return scoop_hpc under mpiexec on both transports, if this Python's
    venv has mpiexec (``../shared/rigs/mpi-up.sh`` installs it)."""
    if not os.access(os.path.join(os.path.dirname(python), "mpiexec"),
                     os.X_OK):
        return []
    return [Impl("scoop_hpc_mpi", "scoop_hpc mpiexec, MPI transport",
                 "mpiexec+MPI", scoop_mpi_launcher(python, "mpi"), True,
                 "scoop_hpc"),
            Impl("scoop_hpc_mpi_zmq", "scoop_hpc mpiexec, ZeroMQ",
                 "mpiexec+ZeroMQ", scoop_mpi_launcher(python, "zmq"), True,
                 "scoop_hpc")]


def find_impls(args):
    """Return the implementations to run and notes on the missing ones."""
    impls = [Impl("scoop_hpc", "scoop_hpc", "scoop_hpc",
                  scoop_launcher(args.python, "scoop_hpc"), True),
             *mpi_impls(args.python),
             Impl("ppe", "PPE", "PPE", plain_launcher(args.python), False)]
    notes = []
    peers_python = os.path.join(args.peers_venv or "", "bin", "python")
    if args.peers_venv and os.access(peers_python, os.X_OK):
        impls += [Impl("scoop", "SCOOP 0.7.2", "SCOOP",
                       scoop_launcher(peers_python, "scoop"), True),
                  Impl("mpi4py", "mpi4py.futures", "mpi4py",
                       mpi_launcher(args.peers_venv), False)]
    elif args.peers_venv:
        notes.append("SCOOP and mpi4py.futures skipped: %s not found "
                     "(make bench-peers)." % peers_python)
    else:
        notes.append("SCOOP and mpi4py.futures skipped: no --peers-venv.")
    if args.impls:
        impls = [impl for impl in impls if impl.key in args.impls]
        if not {"scoop", "mpi4py"} & set(args.impls):
            notes = []
    return impls, notes


def run_env(impl, workers):
    """Return the environment of one workload run."""
    env = dict(os.environ, BENCH_IMPL=impl.api or impl.key,
               BENCH_WORKERS=str(workers))
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (BENCH_DIR, env.get("PYTHONPATH")) if p)
    return env


def kill_group(proc):
    """Kill what is left of the process group led by ``proc``."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def launch(cmd, env, timeout):
    """Run ``cmd`` in its own process group; return rc, out, err, seconds.

    ``rc`` is None when the run outlived ``timeout``.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=BENCH_DIR, env=env,
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, errors="replace",
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        proc.communicate()
        return None, "", "", timeout
    elapsed = time.perf_counter() - start
    kill_group(proc)
    return proc.returncode, out, err, elapsed


def exception_line(text):
    """Return the exception line of the last traceback in ``text``."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines)
              if line.startswith("Traceback (most recent call last):")]
    if not starts:
        return None
    return next((line.strip() for line in lines[starts[-1] + 1:]
                 if line.strip() and not line[0].isspace()), None)


def error_line(out, err, rc):
    """Return the most telling line of a failed run's output.

    That is the exception of a traceback (SCOOP prints the root's on
    stdout, exit status 0), else the first line of stderr that is not an
    INFO/DEBUG log record.
    """
    found = exception_line(err) or exception_line(out)
    if found:
        return found
    lines = [line.strip() for line in err.splitlines() if line.strip()
             and not LOG_RECORD.search(line)]
    if lines:
        return lines[0]
    return "exit status %d" % rc if rc else "no BENCH line on stdout"


def bench_record(out):
    """Return the last ``BENCH`` record printed on ``out``, or None."""
    records = [line[len("BENCH "):] for line in out.splitlines()
               if line.startswith("BENCH ")]
    return json.loads(records[-1]) if records else None


def run_once(workload, impl, args):
    """Run one workload once under one implementation."""
    script = os.path.join(BENCH_DIR, workload.script)
    cmd = impl.launcher(script, args.workers)
    try:
        rc, out, err, elapsed = launch(cmd, run_env(impl, args.workers),
                                       args.timeout)
    except OSError as exc:
        return failure("error: %s" % exc)
    if rc is None:
        return failure("timeout")
    record = bench_record(out)
    if rc != 0 or record is None:
        return failure("error: " + error_line(out, err, rc))
    value = elapsed if workload.whole_process else record["value"]
    return Outcome(value, None, record.get("processes"), (record,))


def failure(error):
    """Return the outcome of a run that gave no figure."""
    return Outcome(None, error, None)


def cannot_run(workload, impl):
    """Tell whether ``impl`` lacks what ``workload`` needs (nesting)."""
    return workload.nested and not impl.nests


def measure(workloads, impls, args):
    """Return ``{(workload key, impl key): Outcome}`` over all repeats.

    The repeats are interleaved across implementations, so that a drift of
    the machine affects them all alike; a cell stops at its first failure.
    """
    values = collections.defaultdict(list)
    records = collections.defaultdict(list)
    processes = {}
    failed = {}
    for workload in workloads:
        for rep in range(args.repeat):
            for impl in impls:
                cell = (workload.key, impl.key)
                if cell in failed or cannot_run(workload, impl):
                    continue
                outcome = run_once(workload, impl, args)
                log("%s %-10s run %d/%d: %s" % (
                    workload.key, impl.key, rep + 1, args.repeat,
                    outcome.error or fmt(outcome.value)))
                if outcome.error:
                    failed[cell] = outcome
                else:
                    values[cell].append(outcome.value)
                    records[cell].extend(outcome.records)
                    processes[cell] = min_known(processes.get(cell),
                                                outcome.processes)
    results = {cell: Outcome(statistics.median(v), None, processes[cell],
                             tuple(records[cell]))
               for cell, v in values.items()}
    results.update(failed)
    return results


def min_known(*counts):
    """Return the least of the counts that are not None, or None."""
    known = [count for count in counts if count is not None]
    return min(known) if known else None


def fmt(value):
    """Format a figure with about three significant digits."""
    if value >= 100:
        return "{:,.0f}".format(value)
    if value >= 10:
        return "%.1f" % value
    if value >= 1:
        return "%.2f" % value
    return "%.3f" % value


def cell_text(workload, impl, results, workers):
    """Return the table cell of one workload under one implementation."""
    if cannot_run(workload, impl):
        return NOT_NESTABLE
    outcome = results[(workload.key, impl.key)]
    if outcome.error:
        return outcome.error.replace("|", "\\|")[:70]
    if outcome.processes is not None and outcome.processes < workers:
        return "%s (tasks ran on %d of %d processes)" % (
            fmt(outcome.value), outcome.processes, workers)
    return fmt(outcome.value)


def ratio_text(workload, peer, results, our_key="scoop_hpc"):
    """Return scoop_hpc's figure over the peer's (>1: scoop_hpc better)."""
    ours = results.get((workload.key, our_key))
    theirs = results.get((workload.key, peer.key))
    if ours is None or theirs is None or ours.error or theirs.error:
        return "n/a" if cannot_run(workload, peer) else "-"
    if workload.lower_is_better:
        return "%.2f" % (theirs.value / ours.value)
    return "%.2f" % (ours.value / theirs.value)


def table(workloads, impls, results, workers):
    """Return the Markdown table of the results."""
    ours = [impl for impl in impls if impl.api == "scoop_hpc"
            or impl.key == "scoop_hpc"]
    peers = [impl for impl in impls if impl not in ours]
    head = ["Workload", "unit"] + [impl.label for impl in ours]
    for peer in peers:
        head += [peer.label] + [f"{our.short}/{peer.short}"
                                for our in ours]
    rows = [head, ["---"] * len(head)]
    for workload in workloads:
        unit = workload.unit + (" \u00b9" if workload.lower_is_better else "")
        row = ["%s %s" % (workload.key, workload.title), unit]
        row += [cell_text(workload, impl, results, workers)
                for impl in ours]
        for peer in peers:
            row.append(cell_text(workload, peer, results, workers))
            row += [ratio_text(workload, peer, results, our.key)
                    for our in ours]
        rows.append(row)
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def read_cpu_model():
    """Return the CPU model named by /proc/cpuinfo."""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


VERSION_CODE = """\
import importlib, importlib.metadata as metadata, sys
for name in sys.argv[1:]:
    try:
        version = metadata.version(name)
    except metadata.PackageNotFoundError:
        try:
            version = importlib.import_module(name).__version__
        except Exception as exc:
            version = "not importable (%s)" % type(exc).__name__
    print(name, version)
"""


def versions(python, packages):
    """Return ``name version`` of each package as seen by ``python``
    from ``bench/``, where workloads run."""
    try:
        out = subprocess.run([python, "-c", VERSION_CODE] + packages,
                             cwd=BENCH_DIR, timeout=60, capture_output=True,
                             text=True).stdout
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    return out.splitlines() or ["%s unknown" % p for p in packages]


def git_revision(where=ROOT):
    """Return ``git describe --always --dirty`` of the checkout holding
    ``where``, or None."""
    try:
        done = subprocess.run(["git", "describe", "--always", "--dirty"],
                              cwd=where, timeout=30, capture_output=True,
                              text=True)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def command_line():
    """Return the command line of this run, as typed from the repo root."""
    python = sys.executable
    if python.startswith(ROOT + os.sep):
        python = os.path.relpath(python, ROOT)
    script = os.path.relpath(os.path.abspath(sys.argv[0]), ROOT)
    return " ".join(shlex.quote(a) for a in [python, script] + sys.argv[1:])


SOURCE_CODE = """\
import os, scoop_hpc
print(os.path.dirname(os.path.dirname(os.path.abspath(scoop_hpc.__file__))))
"""


def scoop_hpc_version(python):
    """Return ``scoop_hpc VERSION (git REV)`` as the workloads import it
    (from ``bench/``, with ``PYTHONPATH``), naming the folder it comes
    from when that is not this checkout: A/B runs put another tree first
    on ``PYTHONPATH``."""
    text = versions(python, ["scoop_hpc"])[0]
    try:
        where = subprocess.run([python, "-c", SOURCE_CODE], cwd=BENCH_DIR,
                               timeout=60, capture_output=True,
                               text=True).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        where = ""
    revision = git_revision(where or ROOT)
    if revision:
        text += " (git %s)" % revision
    if where and os.path.realpath(where) != os.path.realpath(ROOT):
        text += " from %s" % where
    return text


def header(args, impls):
    """Return the paragraphs that describe the run and the machine."""
    packages = [scoop_hpc_version(args.python)]
    if any(impl.key in ("scoop", "mpi4py") for impl in impls):
        packages += versions(os.path.join(args.peers_venv, "bin", "python"),
                             ["scoop", "mpi4py", "mpich", "pyzmq"])
    cpus = len(os.sched_getaffinity(0))
    workers = "Workers: %d" % args.workers
    if args.workers > cpus:
        workers += " (more than the CPUs: oversubscribed)"
    return [
        "Command: `%s` (from the repository root), %s" % (
            command_line(), time.strftime("%Y-%m-%d %H:%M UTC",
                                          time.gmtime())),
        "Machine: %d CPUs (nproc), %s, Python %s, %s" % (
            cpus, read_cpu_model(), platform.python_version(),
            platform.platform()),
        "Versions: " + ", ".join(packages),
        "%s; median of %d run(s); timeout %g s per run." % (
            workers, args.repeat, args.timeout),
    ]


def ceiling_text(impls, results):
    """Return W3's line on the machine's own ceiling (see w3_pi.py), or
    None: per implementation, the medians over its runs."""
    parts = []
    for impl in impls:
        outcome = results.get(("W3", impl.key))
        runs = [r for r in (outcome.records if outcome else ())
                if "ceiling" in r]
        if runs:
            parts.append("%s %.3f of a ceiling of %.3f, CPU share %.3f" % (
                impl.short,
                statistics.median(r["of_ceiling"] for r in runs),
                statistics.median(r["ceiling"] for r in runs),
                statistics.median(r["cpu_share"] for r in runs)))
    if not parts:
        return None
    return ("W3 against the machine: the same tasks split evenly over as "
            "many bare processes as workers, forked by the root and timed "
            "in the same rounds, give the ceiling (serial / (N x their "
            "time)); the CPU share is the tasks' own CPU time over N x the "
            "map's wall time (no serial loop, so the machine's drift does "
            "not move it). Efficiency over ceiling, medians: "
            + "; ".join(parts) + ".")


def footnotes(args, workloads, impls, notes, results):
    """Return the paragraphs printed under the table."""
    n = args.workers
    keys = {workload.key for workload in workloads}
    lines = list(notes)
    if any(impl.key.startswith("scoop_hpc") for impl in impls) and \
            len(impls) > 1:
        lines.append("Each scoop_hpc/X column is scoop_hpc's figure over X's, "
                     "so a ratio above 1 means scoop_hpc is better.")
    if any(impl.key.startswith("scoop_hpc_mpi") for impl in impls):
        lines.append(
            "scoop_hpc under mpiexec: `mpiexec -n %d python -m scoop_hpc "
            "--transport mpi|zmq` (%d ranks, each a worker, the root's "
            "rank included; the broker is a thread of rank 0)." % (n, n))
    if "W1" in keys:
        lines.append("\u00b9 W1 is the wall time of the whole process, "
                     "launcher included (lower is better); its ratio is "
                     "X's time over scoop_hpc's.")
    if "W3" in keys:
        lines.append("W3 efficiency = serial time / (%d x parallel time), "
                     "the serial loop timed in the root of the same run; "
                     "each the fastest of 5, taken alternately." % n)
        ceiling = ceiling_text(impls, results)
        if ceiling:
            lines.append(ceiling)
    lines.append(
        "Launch: scoop_hpc `python -m scoop_hpc -n %d`, SCOOP `python -m "
        "scoop -n %d`, PPE `ProcessPoolExecutor(%d)` at the default "
        "chunksize, mpi4py.futures `mpiexec -n %d python -m mpi4py.futures`."
        % (n, n, n, n + 1))
    return lines


def log(message):
    """Print a progress message on stderr."""
    print(message, file=sys.stderr, flush=True)


def comma_list(text):
    """Parse a comma-separated option value."""
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peers-venv", metavar="DIR",
                        help="venv made by bench/make_peers_venv.sh")
    parser.add_argument("--only", type=comma_list, metavar="W2,W3",
                        help="run only these workloads")
    parser.add_argument("--impls", type=comma_list,
                        metavar="scoop_hpc,scoop_hpc_mpi,scoop_hpc_mpi_zmq,"
                                "ppe,scoop,mpi4py",
                        help="run only these implementations")
    parser.add_argument("--repeat", type=int, default=3, metavar="N",
                        help="runs per cell; the median is shown "
                             "(default 3)")
    parser.add_argument("-n", dest="workers", type=int, default=2,
                        metavar="N", help="workers (default 2)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        metavar="S", help="seconds per run (default 120)")
    parser.add_argument("--python", default=sys.executable,
                        help="Python of scoop_hpc and PPE (default: this)")
    args = parser.parse_args(argv)
    # workloads run from bench/: paths given from elsewhere must hold there
    if args.peers_venv:
        args.peers_venv = os.path.abspath(args.peers_venv)
    if os.sep in args.python:
        args.python = os.path.abspath(args.python)
    if args.repeat < 1 or args.workers < 1:
        parser.error("--repeat and -n must be at least 1")
    for option, chosen, known in (
            ("--only", args.only, [w.key for w in WORKLOADS]),
            ("--impls", args.impls, IMPL_KEYS)):
        unknown = sorted(set(chosen or ()) - set(known))
        if unknown:
            parser.error("%s: unknown %s (choose from %s)" % (
                option, ",".join(unknown), ",".join(known)))
    return args


def main(argv=None):
    """Run the benchmark and print its report."""
    args = parse_args(argv)
    workloads = [w for w in WORKLOADS
                 if not args.only or w.key in args.only]
    impls, notes = find_impls(args)
    paragraphs = header(args, impls)
    results = measure(workloads, impls, args)
    paragraphs.append(table(workloads, impls, results, args.workers))
    paragraphs += footnotes(args, workloads, impls, notes, results)
    print("\n\n".join(paragraphs))


if __name__ == "__main__":
    main()
