"""Time start-up over ssh: 2 hosts x 2 workers plus 1 local, both launchers.

Runs one tiny program under scoop_hpc (``python -m scoop_hpc --hosts vm
node1 node1 node2 node2 ...``) and under SCOOP 0.7.2 (``DIR/bin/python -m
scoop --tunnel --hosts 127.0.0.1 node1 node1 node2 node2 ...``),
interleaved, and times each whole process, launch to exit.  The program
(this file with ``--program``) maps a trivial task that returns the host
name, round after round, until the tasks have run on every host; a run
counts only if it did.  Progress goes to stderr; stdout carries only the
paste-able Markdown report.  The hosts must share this file system and
reach this host back (see bench/README.md).
"""
import argparse
import os
import platform
import shlex
import socket
import statistics
import subprocess
import sys
import time

import run as bench

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(BENCH_DIR, "ssh_startup.py")
DEFAULT_HOSTS = ["vm", "node1", "node1", "node2", "node2"]
ITEMS = 20
TASK_SECONDS = 0.01
LOOPBACK = "127.0.0.1"


# -- the program run under each launcher -------------------------------------

def task(_):
    """Sleep a little (so that no worker takes every task); return where."""
    time.sleep(TASK_SECONDS)
    return socket.gethostname()


def program(required, deadline):
    """Map ``task`` until it ran on every required host; report them."""
    from _common import futures, report
    start = time.perf_counter()
    seen = set()
    rounds = 0
    while not required <= seen:
        if time.perf_counter() - start > deadline:
            raise RuntimeError(
                "tasks ran on %s only, not on %s, in %d rounds of %d" % (
                    sorted(seen), sorted(required - seen), rounds, ITEMS))
        seen.update(futures.map(task, range(ITEMS)))
        rounds += 1
    report("ssh_startup", "hosts", sorted(seen), rounds=rounds)


# -- the driver ---------------------------------------------------------------

def program_args(required, deadline):
    """Return the arguments that make this file run as the program."""
    return ["--program", "--deadline", "%g" % deadline,
            "--require"] + sorted(required)


def scoop_hpc_command(args, required):
    """Return the scoop_hpc command line of one run."""
    return ([args.python, "-m", "scoop_hpc", "--hosts"] + args.hosts
            + ["--python-executable", args.python, SCRIPT]
            + program_args(required, args.timeout / 2))


def scoop_command(args, required, local):
    """Return the SCOOP 0.7.2 command line of one run.

    SCOOP takes a host for this one only if it is a loopback name (its own
    test, ``getfqdn()``, gives ``localhost`` where the host name maps to
    127.0.0.1), and refuses a loopback broker address for remote workers
    unless ``--tunnel``; so this host is ``127.0.0.1`` and ``--tunnel`` is
    on.  Its ``ssh -R`` forwards of the broker ports fail where the remote
    hosts share this host's network (the broker holds the ports), and
    the workers then connect to the broker directly.
    """
    python = peers_python(args)
    hosts = [LOOPBACK if name in local else name for name in args.hosts]
    return ([python, "-m", "scoop", "--tunnel", "--hosts"] + hosts
            + ["--python-interpreter", python, SCRIPT]
            + program_args(required, args.timeout / 2))


def peers_python(args):
    """Return the absolute path of the peers venv's Python."""
    return os.path.abspath(os.path.join(args.peers_venv, "bin", "python"))


def check_rig(args):
    """Return the local names among the hosts and every host's own name.

    Stops the run with a message if a remote host cannot be reached over
    ssh or lacks one of the two Pythons.
    """
    from scoop_hpc.hosts import is_local
    local = {name for name in args.hosts if is_local(name)}
    required = {socket.gethostname()} if local else set()
    probe = " && ".join(["hostname"] + ["test -x %s" % shlex.quote(p)
                                        for p in (args.python,
                                                  peers_python(args))])
    for name in sorted(set(args.hosts) - local):
        cmd = ["ssh", "-oBatchMode=yes", "-oConnectTimeout=10", name, probe]
        try:
            done = subprocess.run(cmd, stdin=subprocess.DEVNULL, timeout=30,
                                  capture_output=True, text=True)
        except subprocess.TimeoutExpired:
            rig_down(name, "no answer within 30 s")
        output = done.stdout.split()
        if done.returncode != 0 and output:
            rig_down(name, "%s or %s is missing there" % (
                args.python, peers_python(args)))
        if done.returncode != 0:
            rig_down(name, done.stderr.strip() or "exit status %d"
                     % done.returncode)
        required.add(output[0])
    return local, required


def rig_down(name, why):
    """Stop the run: a remote host is not usable."""
    raise SystemExit(
        "ssh_startup: host %s is not usable over ssh: %s\nAre the ssh "
        "hosts up (bench/README.md, 'Start-up over ssh')?  Name others "
        "with --hosts." % (name, why))


def run_once(key, cmd, required, args):
    """Run one command; return (seconds, None) or (None, error line)."""
    env = bench.run_env(bench.Impl(key, key, key, None, True),
                        len(args.hosts))
    try:
        rc, out, err, elapsed = bench.launch(cmd, env, args.timeout)
    except OSError as exc:
        return None, "error: %s" % exc
    if rc is None:
        return None, "timeout"
    record = bench.bench_record(out)
    if rc == 0 and record is not None and required <= set(record["value"]):
        return elapsed, None
    error = "error: " + bench.error_line(out, err, rc)
    if rc == 0 and record is not None:
        error = "error: tasks ran on %s, not on all of %s" % (
            record["value"], sorted(required))
    bench.log("%s failed; its stdout:\n%s\nits stderr:\n%s" % (
        key, out, err))
    return None, error


def measure(commands, required, args):
    """Run the commands interleaved; return {key: ([seconds], error)}."""
    results = {key: ([], None) for key in commands}
    for rep in range(args.repeat):
        for key, cmd in commands.items():
            times, error = results[key]
            if error:
                continue
            seconds, error = run_once(key, cmd, required, args)
            bench.log("%-9s run %d/%d: %s" % (
                key, rep + 1, args.repeat, error or bench.fmt(seconds)))
            if seconds is not None:
                times.append(seconds)
            results[key] = (times, error)
    return results


def shown(cmd):
    """Return a command line as typed from the repository root."""
    def short(arg):
        if arg.startswith(bench.ROOT + os.sep) and arg != cmd[0]:
            return os.path.relpath(arg, bench.ROOT)
        return arg
    return " ".join(shlex.quote(short(arg)) for arg in cmd)


def table(results, labels):
    """Return the Markdown table of the results."""
    rows = [["launcher", "median (s)", "min (s)", "runs (s)"],
            ["---"] * 4]
    for key, (times, error) in results.items():
        if error:
            rows.append([labels[key], error.replace("|", "\\|")[:70],
                         "-", ", ".join(map(bench.fmt, times))])
        else:
            rows.append([labels[key], bench.fmt(statistics.median(times)),
                         bench.fmt(min(times)),
                         ", ".join(map(bench.fmt, times))])
    (ours, _), (theirs, _) = results["scoop_hpc"], results["scoop"]
    if all(not error for _, error in results.values()):
        rows.append(["scoop_hpc/SCOOP (lower is better)",
                     "%.2f" % (statistics.median(ours)
                               / statistics.median(theirs)),
                     "%.2f" % (min(ours) / min(theirs)), ""])
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def header(args, local, required):
    """Return the paragraphs that describe the run and the machine."""
    packages = bench.versions(args.python, ["scoop_hpc"])
    revision = bench.git_revision()
    if revision:
        packages[0] += " (git %s)" % revision
    packages += bench.versions(peers_python(args), ["scoop", "pyzmq"])
    remote = [name for name in dict.fromkeys(args.hosts)
              if name not in local]
    layout = ", ".join("%d on %s" % (args.hosts.count(name), name)
                       for name in remote)
    return [
        "Command: `%s` (from the repository root), %s" % (
            bench.command_line(), time.strftime("%Y-%m-%d %H:%M UTC",
                                                time.gmtime())),
        "Machine: %d CPUs (nproc), %s, Python %s, %s" % (
            len(os.sched_getaffinity(0)), bench.read_cpu_model(),
            platform.python_version(), platform.platform()),
        "Versions: " + ", ".join(packages),
        "Hosts: `%s`: %d workers, %d on this host (%s, with the root) and "
        "%s over ssh; tasks must run on %s.  %d interleaved round(s); "
        "timeout %g s per run." % (
            " ".join(args.hosts), len(args.hosts),
            sum(args.hosts.count(name) for name in local),
            socket.gethostname(), layout or "none",
            ", ".join(sorted(required)), args.repeat, args.timeout),
    ]


def footnotes(commands):
    """Return the paragraphs printed under the table."""
    return [
        "Wall time of the whole launcher process, launch to exit, of a "
        "program that maps %d tasks (%g s sleep, returns the host name) "
        "round after round until tasks ran on every host." % (
            ITEMS, TASK_SECONDS),
        "scoop_hpc: `%s`" % shown(commands["scoop_hpc"]),
        "SCOOP: `%s` (this host as 127.0.0.1 and `--tunnel`: SCOOP 0.7.2 "
        "needs both here; see bench/README.md)." % shown(commands["scoop"]),
    ]


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", nargs="+", default=DEFAULT_HOSTS,
                        metavar="HOST",
                        help="a name per worker, the first runs the root "
                             "(default: %s)" % " ".join(DEFAULT_HOSTS))
    parser.add_argument("--repeat", type=int, default=5, metavar="N",
                        help="runs of each launcher (default 5)")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="S",
                        help="seconds per run (default 60)")
    parser.add_argument("--peers-venv", metavar="DIR",
                        default=os.path.join(bench.ROOT, ".venv-peers"),
                        help="venv with SCOOP 0.7.2 (default: .venv-peers "
                             "in the repository)")
    parser.add_argument("--python", default=sys.executable,
                        help="Python of scoop_hpc, here and on the hosts "
                             "(default: this)")
    parser.add_argument("--program", action="store_true",
                        help=argparse.SUPPRESS)
    parser.add_argument("--require", nargs="*", default=[],
                        help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, default=30.0,
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    args.python = os.path.abspath(args.python)
    return args


def main(argv=None):
    """Run the benchmark and print its report."""
    args = parse_args(argv)
    if args.program:
        program(set(args.require), args.deadline)
        return 0
    if not os.access(peers_python(args), os.X_OK):
        raise SystemExit("ssh_startup: %s not found (make bench-peers)"
                         % peers_python(args))
    local, required = check_rig(args)
    commands = {"scoop_hpc": scoop_hpc_command(args, required),
                "scoop": scoop_command(args, required, local)}
    labels = {"scoop_hpc": "scoop_hpc", "scoop": "SCOOP 0.7.2"}
    paragraphs = header(args, local, required)
    results = measure(commands, required, args)
    paragraphs.append(table(results, labels))
    paragraphs += footnotes(commands)
    print("\n\n".join(paragraphs), flush=True)
    failed = [labels[key] for key, (_, error) in results.items() if error]
    if failed:
        bench.log("ssh_startup: %s failed (see above)" % ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
