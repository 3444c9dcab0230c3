"""What signing and checking a message costs, per kind of message.

Times ``Seal.sign`` then ``Seal.check`` (the hop MAC every message
carries, ``scoop_hpc._transport.signing``) on the messages that carry a
task and its result, and ``protocol.dumps`` then ``loads`` of a small
signed payload (the end-to-end MAC of a job with network sockets). Each
figure is the best of ``--repeat`` rounds of ``--number`` calls, in
microseconds. Run from the repository root, or with another tree first
on PYTHONPATH to compare two versions::

    .venv/bin/python bench/mac_cost.py
"""
import argparse
import timeit

from scoop_hpc._transport import protocol as P
from scoop_hpc._transport.signing import BROKER, WORKER, Seal

KEY = bytes(range(32))


def messages():
    """``{name: frames}`` of the messages a task and its result travel in."""
    payload = P.dumps((abs, (1,), {}))
    result = P.dumps(2)
    return {
        "REQUEST": [P.header(P.REQUEST), P.pack(64)],
        "TASKS, 1 task": [P.header(P.TASKS),
                          P.pack([(b"w0", 1, len(payload))]), *payload],
        "TASKS, 16 tasks": [P.header(P.TASKS), P.pack(
            [(b"w0", seq, len(payload)) for seq in range(16)]),
            *(payload * 16)],
        "RESULTS, 1 result": [P.header(P.RESULTS), b"w0", P.pack(0),
                              P.pack([(1, True, 1e-5, len(result))]),
                              *result],
    }


def best(call, number, repeat):
    """Microseconds a call of ``call`` takes, the best of ``repeat``."""
    return min(timeit.repeat(call, number=number, repeat=repeat)) / number \
        * 1e6


def main(argv=None):
    """Print one Markdown table of the costs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=50000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    P.set_key(KEY)
    worker, broker = Seal(KEY, WORKER), Seal(KEY, BROKER)
    print("| message | sign + check (us) |")
    print("| --- | ---: |")
    for name, frames in messages().items():
        cost = best(lambda frames=frames: broker.check(
            worker.sign(frames, b"w3"), b"w3"), args.number, args.repeat)
        print("| %s | %.2f |" % (name, cost))
    cost = best(lambda: P.loads(P.dumps((abs, (1,), {}))), args.number,
                args.repeat)
    print("| a small signed payload: dumps + loads | %.2f |" % cost)


if __name__ == "__main__":
    main()
