"""What one scheduling step of the broker costs, against the job's size.

The broker (``scoop_hpc.broker.Broker``) handles the messages of a step,
then matches pooled tasks with the workers that asked for work
(``_feed``). This times ``_feed`` alone, on one host of ``--cpus`` CPUs
with ``--workers`` workers, as a map of tasks that compute runs there:
each round the root (``w0``, busy) gives ``--batch`` tasks, the broker
hands them out, and every worker that got some answers at once with
its results and a new request. On a crowded host (more workers than
CPUs) the others wait with their credit for a CPU; a step should not
cost more for them. The messages go through the broker's real handlers;
the router sends them nowhere, so no socket or MAC is timed. Run from
the repository root, or with another tree first on PYTHONPATH to
compare two versions::

    .venv/bin/python bench/step_cost.py [--workers 16,256,2000] [--cpus 16]
"""
import argparse
import statistics
import time

from scoop_hpc._transport import protocol as P
from scoop_hpc.broker import Broker


class Nowhere:
    """A router that keeps what the broker sends, for the round to read."""

    def __init__(self):
        self.sent = []

    def send(self, peer, frames):
        self.sent.append((peer, frames))
        return True

    def recv(self, timeout):
        return None


def job(workers, cpus):
    """A broker with ``workers`` workers on one host of ``cpus`` CPUs,
    all but the root asking for 2 tasks."""
    router = Nowhere()
    broker = Broker(router, size=workers, heartbeat=0)
    for i in range(workers):
        name = b"w%d" % i
        broker.handle(name, [P.header(P.HELLO), P.pack(
            {"name": name.decode(), "host": "h", "cpus": cpus, "pid": i})])
        broker.handle(name + b"/side", [P.header(P.SIDE_HELLO), name])
        if i:
            broker.handle(name, [P.header(P.REQUEST), P.pack(2)])
    router.sent.clear()
    return broker, router


def answer(broker, sent):
    """Every worker handed tasks returns their results with a request;
    every worker asked to give has nothing."""
    for peer, frames in sent:
        kind = P.kind_of(frames)
        if kind == P.TASKS:
            index = [(e[1], True, 0.0, 0.0, 1)
                     for e in P.unpack(frames[1])]
            broker.handle(peer, [P.header(P.RESULTS), b"w0", P.pack(2),
                                 P.pack(index), *[b"r"] * len(index)])
        elif kind == P.STEAL:
            broker.handle(peer, [P.header(P.NOTHING), P.pack(0)])


def measure(workers, cpus, rounds, batch):
    """Microseconds of ``_feed``: (median, mean) over ``rounds`` steps."""
    broker, router = job(workers, cpus)
    seq, times = 0, []
    for _ in range(rounds):
        index = [(b"w0", seq + i, True, 1) for i in range(batch)]
        seq += batch
        broker.handle(b"w0/side", [P.header(P.TASKS), P.pack(index),
                                   *[b"t"] * batch])
        start = time.perf_counter()
        broker._feed()
        times.append(time.perf_counter() - start)
        sent, router.sent = router.sent, []
        answer(broker, sent)
    return statistics.median(times) * 1e6, statistics.fmean(times) * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", default="16,64,256,1000,2000",
                        help="comma-separated job sizes")
    parser.add_argument("--cpus", type=int, default=16,
                        help="CPUs of the host (default 16)")
    parser.add_argument("--rounds", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=8,
                        help="tasks the root gives each round")
    args = parser.parse_args()
    print(f"`_feed` per step, one host of {args.cpus} CPUs, {args.batch} "
          f"tasks that compute a round, {args.rounds} rounds "
          f"(microseconds)\n")
    print("| workers | median | mean |")
    print("| ---: | ---: | ---: |")
    for workers in [int(n) for n in args.workers.split(",")]:
        median, mean = measure(workers, args.cpus, args.rounds, args.batch)
        print(f"| {workers} | {median:.1f} | {mean:.1f} |")


if __name__ == "__main__":
    main()
