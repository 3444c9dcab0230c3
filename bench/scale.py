"""How the broker's dispatch rate grows with the number of workers.

``sim``: the real broker (``scoop_hpc.broker.Broker`` on the launcher's
router stack: ``ZmqRouter`` + ``SignedRouter`` keyed by a job secret, on
an ipc socket in a private directory) runs in this process, stepped as
the launcher steps it; ``--procs`` processes hold the simulated workers
(``_simworkers``: real protocol, real signatures, no work) and one more
holds the root that owns every task. With ``--sub-brokers K`` the
simulated workers join K sub-brokers (``scoop_hpc.subbroker``, one
process each, as on K hosts) that join the broker, and the root joins
the broker directly, as on the launcher's host. For each worker count it
measures, over ``--seconds`` after a warm-up, the tasks the workers
received and the results the root received per second, the CPU share of
the broker's process, of the sub-brokers and of the simulated workers'
processes, and the broker's CPU time per completed task: its capacity,
where the machine has fewer cores than processes.

``real``: ``python -m scoop_hpc -n W`` on the bench workloads W2 (map)
and W8 (single submits), as ``bench/run.py`` runs them, for each W and
for W=2, so that one sees whether the rate holds at many processes.

Progress goes to stderr; stdout carries only the Markdown tables.
"""
import argparse
import json
import os
import secrets
import signal
import sys
import time

import _simworkers as sim
import zmq
from _cpu import cpu_seconds
from run import (
    WORKLOADS,
    Impl,
    fmt,
    run_once,
    scoop_hpc_version,
    scoop_launcher,
)

from scoop_hpc import _tmpdirs, subbroker
from scoop_hpc._runtime.hub import heartbeat_period
from scoop_hpc._runtime.pace import MAX_CREDIT, PREFETCH
from scoop_hpc._transport import protocol as P
from scoop_hpc._transport.signing import SignedRouter
from scoop_hpc._transport.zmq import ZmqRouter
from scoop_hpc.broker import HEARTBEAT_TIMEOUT, Broker

STEP = 0.5           # seconds, the launcher's ``broker.step`` timeout
JOIN_SECONDS = 30.0  # for every worker to join, plus 1 s per 100 workers
LEAVE_SECONDS = 5.0  # for the worker processes to leave after a round
_caught = []         # signals noted by ``_note`` during sim, oldest first


def log(text):
    """Say how far the run got (stderr, outside the report)."""
    print(text, file=sys.stderr, flush=True)


def step_until(broker, deadline, done=lambda: False):
    """Step ``broker`` as the launcher does until ``deadline`` or
    ``done()``; return the number of steps. A signal noted meanwhile
    ends the round (see ``_note``)."""
    steps = 0
    while not done() and time.monotonic() < deadline:
        broker.step(min(STEP, max(0.0, deadline - time.monotonic())))
        steps += 1
        _act_on_signals()
    return steps


def _note(signum, frame):
    """Note a signal during ``sim``; the broker's loop acts on it. Raised
    here, its exception could land in a finaliser of pyzmq's (a
    ``Frame``'s), which would print it and go on."""
    _caught.append(signum)


def _act_on_signals():
    """Stop as a noted signal asks: Ctrl-C, or 128 + the signal."""
    if _caught:
        signum = _caught.pop(0)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)


def start_nodes(address, key, tmpdir, count):
    """Fork ``count`` sub-brokers joined to the broker at ``address``;
    return them and the addresses their workers join."""
    nodes, binds = [], []
    for slot in range(count):
        bind = "ipc://%s/n%d" % (tmpdir, slot)
        nodes.append(sim.start(subbroker.run, b"n%d" % slot, address, bind,
                               key))
        binds.append(bind)
    return nodes, binds


def start_workers(address, key, workers, procs, shared, credit, binds=(),
                  cpus=0):
    """Fork the root and ``procs`` processes holding ``workers`` simulated
    workers between them, each asking for ``credit`` tasks at a time (and
    joining the sub-brokers at ``binds`` in turn, if any; all on one host
    of ``cpus`` CPUs, if not 0); return the processes, the root's
    first."""
    beat = heartbeat_period(workers + 1, HEARTBEAT_TIMEOUT)
    children = [sim.start(sim.serve_root, address, key, shared, procs, beat,
                          cpus)]
    first = 1
    for slot in range(procs):
        count = workers // procs + (slot < workers % procs)
        joins = binds[slot % len(binds)] if binds else address
        children.append(sim.start(sim.serve_workers, joins, key, first,
                                  count, shared, slot, credit, beat, cpus))
        first += count
    return children


def stop_workers(children, shared, nodes=()):
    """Ask the worker processes (and sub-brokers) to leave; kill those
    that do not."""
    shared.stop.value = 1
    for node in nodes:
        node.terminate()
    children = [*children, *nodes]
    deadline = time.monotonic() + LEAVE_SECONDS
    for child in children:
        child.join(max(0.0, deadline - time.monotonic()))
    for child in children:
        if child.is_alive():
            child.kill()
            child.join()


def joined(broker, size):
    """Tell whether ``size`` workers and their side sockets joined."""
    return (broker.progress()[0] == size
            and all(w.side is not None for w in broker.workers.values()))


def measure_round(broker, children, shared, args, workers, nodes=()):
    """Warm up, then measure one steady-state window; return its row."""
    size = workers + 1
    limit = JOIN_SECONDS + workers / 100
    start = time.monotonic()
    step_until(broker, start + limit, lambda: joined(broker, size))
    if not joined(broker, size):
        raise RuntimeError(
            "only %d of %d simulated workers joined within %.0f s; see the"
            " errors above, or try fewer --workers" % (
                len(broker.workers), size, limit))
    log("  %d workers joined in %.1f s" % (size, time.monotonic() - start))
    step_until(broker, time.monotonic() + args.warmup)
    watched = [os.getpid()] + [child.pid for child in children]
    subs = [node.pid for node in nodes]
    before = (time.monotonic(), shared.snapshot(), broker.done,
              cpu_seconds(watched[:1]), cpu_seconds(watched[1:]),
              cpu_seconds(subs))
    steps = step_until(broker, before[0] + args.seconds)
    after = (time.monotonic(), shared.snapshot(), broker.done,
             cpu_seconds(watched[:1]), cpu_seconds(watched[1:]),
             cpu_seconds(subs))
    wall = after[0] - before[0]
    rate = {name: (after[1][name] - before[1][name]) / wall
            for name in after[1]}
    completed = rate["results"]
    return {
        "workers": workers, "procs": len(children) - 1, "seconds": wall,
        "sub_brokers": len(nodes), "crowded": args.crowded,
        "job_cpus": broker.cpus(),   # workers with a CPU of their own
        "broker_us_per_task": 1e6 * (after[3] - before[3])
        / max(1.0, (after[1]["results"] - before[1]["results"])),
        "sub_brokers_cpu_pct": 100 * (after[5] - before[5]) / wall,
        "dispatched_per_s": rate["tasks"], "completed_per_s": completed,
        "futile_steals_per_s": rate["nothing"],
        "heartbeats_per_s": rate["beats"],
        "relayed_per_s": (after[2] - before[2]) / wall,
        "broker_cpu_pct": 100 * (after[3] - before[3]) / wall,
        "clients_cpu_pct": 100 * (after[4] - before[4]) / wall,
        "per_worker_per_s": completed / workers,
        "steps_per_s": steps / wall,
        "lost": len(broker.lost)}


def sim_round(workers, args):
    """Run one round with ``workers`` simulated workers; return its row."""
    tmpdir = _tmpdirs.private_dir()
    address = "ipc://%s/broker" % tmpdir
    key = secrets.token_bytes(32)
    context = zmq.Context()
    router = children = None
    nodes = []
    shared = sim.Shared(args.procs)
    try:
        router = SignedRouter(ZmqRouter(context, [address]), key)
        P.set_key(key)                  # as the launcher does
        broker = Broker(router, workers + 1)
        nodes, binds = start_nodes(address, key, tmpdir, args.sub_brokers)
        children = start_workers(address, key, workers, args.procs, shared,
                                 args.credit, binds, args.crowded)
        return measure_round(broker, children, shared, args, workers, nodes)
    finally:
        if children or nodes:
            stop_workers(children or [], shared, nodes)
        if router is not None:
            router.close()
        context.destroy(linger=0)
        _tmpdirs.remove_dir(tmpdir)


def sim_table(rows):
    """The Markdown table of the ``sim`` rounds."""
    lines = ["| workers | sub-brokers | dispatched/s | completed/s | "
             "broker CPU % | broker CPU us per task | sub-brokers CPU % | "
             "sim workers CPU % | results per worker per s | steps/s | "
             "futile steals/s | heartbeats/s |",
             "| ---: " * 12 + "|"]
    for row in rows:
        lines.append("| %d | %d | %s | %s | %.0f | %.1f | %.0f | %.0f | %s | "
                     "%s | %s | %s |" % (
            row["workers"], row["sub_brokers"], fmt(row["dispatched_per_s"]),
            fmt(row["completed_per_s"]), row["broker_cpu_pct"],
            row["broker_us_per_task"],
            row["sub_brokers_cpu_pct"],
            row["clients_cpu_pct"], fmt(row["per_worker_per_s"]),
            fmt(row["steps_per_s"]), fmt(row["futile_steals_per_s"]),
            fmt(row["heartbeats_per_s"])))
    return "\n".join(lines)


def run_sim(args):
    """The ``sim`` command."""
    limit = sim.raise_fd_limit()
    need = 4 * max(args.workers) + 256
    if limit < need:
        log("warning: the open-file limit is %d; %d workers need about %d "
            "(ulimit -Hn)" % (limit, max(args.workers), need))
    rows = []
    for workers in args.workers:
        _act_on_signals()
        log("sim: %d workers in %d processes, %d sub-brokers%s" % (
            workers, args.procs, args.sub_brokers, (
                ", one host of %d CPUs" % args.crowded) * bool(args.crowded)))
        rows.append(sim_round(workers, args))
        log("  %s tasks/s completed" % fmt(rows[-1]["completed_per_s"]))
    if args.crowded:
        print("The root and the simulated workers on one host of %d CPUs; "
              "the root's tasks compute.\n" % args.crowded)
    print(sim_table(rows))
    return rows


def run_real(args):
    """The ``real`` command: W2 and W8 under ``python -m scoop_hpc``."""
    if args.tasks:
        os.environ["BENCH_TASKS"] = str(args.tasks)
    if args.maps > 1:
        os.environ["BENCH_MAPS"] = str(args.maps)
    impl = Impl("scoop_hpc", "scoop_hpc", "scoop_hpc",
                scoop_launcher(sys.executable, "scoop_hpc"), True)
    log(scoop_hpc_version(sys.executable))
    counts = sorted({2, *args.workers})
    chosen = [w for w in WORKLOADS if w.key in args.only]
    rows = []
    for workload in chosen:
        for workers in counts:
            run = argparse.Namespace(workers=workers, timeout=args.timeout)
            outcome = run_once(workload, impl, run)
            record = outcome.records[0] if outcome.records else {}
            log("%s -n %d: %s%s" % (
                workload.key, workers, outcome.error or fmt(outcome.value),
                "" if "rates" not in record else " (median of %s; first %s)"
                % (", ".join(map(fmt, record["rates"])),
                   fmt(record["first"]))))
            rows.append({"workload": workload.key, "unit": workload.unit,
                         "workers": workers, "value": outcome.value,
                         "first": record.get("first"),
                         "error": outcome.error})
    if args.tasks:
        chosen = [w._replace(title=w.title.replace(
            "20,000", "{:,}".format(args.tasks))) for w in chosen]
    print(real_table(chosen, counts, rows))
    return rows


def real_table(workloads, counts, rows):
    """The Markdown table of the ``real`` runs, each cell with its ratio
    to the 2-worker run."""
    cells = {(r["workload"], r["workers"]): r for r in rows}
    lines = ["| workload | unit | " + " | ".join(
        "-n %d" % w for w in counts) + " |",
        "| --- | --- |" + " ---: |" * len(counts)]
    for workload in workloads:
        base = cells[(workload.key, 2)]["value"]
        texts = []
        for workers in counts:
            row = cells[(workload.key, workers)]
            if row["error"]:
                texts.append(row["error"].replace("|", "\\|")[:60])
            elif workers == 2 or not base:
                texts.append(fmt(row["value"]))
            else:
                texts.append("%s (%.2fx)" % (fmt(row["value"]),
                                             row["value"] / base))
        lines.append("| %s %s | %s | %s |" % (workload.key, workload.title,
                                              workload.unit,
                                              " | ".join(texts)))
    return "\n".join(lines)


def counts(text):
    """Parse ``10,50,100`` into positive integers."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(
            "expected positive integers separated by commas, e.g. 10,100")
    return values


def parse_args(argv):
    """The command line of ``bench/scale.py``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    simp = commands.add_parser("sim", help="simulated workers, real broker")
    simp.add_argument("--workers", type=counts,
                      default=counts("10,50,100,200,500,1000,2000"),
                      help="worker counts (default 10,50,...,2000)")
    simp.add_argument("--procs", type=int, default=2,
                      help="processes holding the workers (default 2)")
    simp.add_argument("--seconds", type=float, default=3.0,
                      help="measured window per count (default 3)")
    simp.add_argument("--warmup", type=float, default=1.0,
                      help="seconds of traffic before it (default 1)")
    simp.add_argument("--sub-brokers", type=int, default=0, metavar="K",
                      help="K sub-brokers between the broker and the "
                      "simulated workers (default 0: none)")
    simp.add_argument("--credit", type=int, default=PREFETCH,
                      help="tasks a worker asks for at a time: %d (default)"
                      " as for long tasks, up to %d as for tasks of "
                      "microseconds" % (PREFETCH, MAX_CREDIT))
    simp.add_argument("--crowded", type=int, default=0, metavar="CPUS",
                      help="the workers say they share one host of CPUS "
                      "CPUs and the root's tasks compute: the broker's "
                      "rules for crowded hosts, with all but CPUS - 1 "
                      "workers waiting for a CPU (default 0: no CPU "
                      "counts)")
    real = commands.add_parser("real", help="python -m scoop_hpc -n W")
    real.add_argument("--workers", type=counts, default=counts("64,256"),
                      help="worker counts, beside 2 (default 64,256)")
    real.add_argument("--tasks", type=int, default=0,
                      help="items or tasks per workload (default 20000)")
    real.add_argument("--maps", type=int, default=1, metavar="K",
                      help="W2: K maps back to back in one job, their "
                      "median rate (default 1)")
    real.add_argument("--only", type=lambda t: t.split(","),
                      default=["W2", "W8"], help="workloads (default W2,W8)")
    real.add_argument("--timeout", type=float, default=300.0,
                      help="seconds per run (default 300)")
    for sub in (simp, real):
        sub.add_argument("--json", metavar="FILE",
                         help="also write the rows to FILE")
    args = parser.parse_args(argv)
    if args.command == "sim" and (args.procs < 1 or args.seconds <= 0
                                  or args.warmup < 0 or args.credit < 1
                                  or args.crowded < 0
                                  or args.sub_brokers < 0):
        parser.error("--procs, --seconds and --credit must be positive; "
                     "--warmup, --sub-brokers and --crowded not negative")
    if args.command == "real":
        unknown = set(args.only) - {w.key for w in WORKLOADS}
        if unknown:
            parser.error("--only: unknown workload %s" % ",".join(unknown))
        if args.maps < 1:
            parser.error("--maps must be 1 or more")
    return args


def _stop(signum, frame):
    raise SystemExit(128 + signum)  # unwinds: the rounds clean up


def main(argv=None):
    """Run the chosen command; print its table (and write --json)."""
    args = parse_args(argv)
    if args.command == "sim":      # the broker runs here: see _note
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, _note)
    else:
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGHUP, _stop)
    try:
        rows = run_sim(args) if args.command == "sim" else run_real(args)
    except KeyboardInterrupt:
        log("interrupted: every process of the round was stopped")
        return 130
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"command": sys.argv, "date": time.strftime("%F %T"),
                       "cpus": os.cpu_count(), "rows": rows}, handle,
                      indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
