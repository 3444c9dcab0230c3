"""Idle share of the workers in a ``--timeline`` trace, map by map.

    python -m scoop_hpc -n 2 --timeline t.json bench/w3_pi.py
    python bench/idle.py t.json [--gap 0.05]

A *phase* is a stretch in which some task runs with no pause longer than
``--gap`` seconds on every worker together (W3's serial loops, run in the
root between its maps, end one). For each phase it prints the span, the
busy share (task time over workers x span) and, per worker, its tasks and
where its idle time went: before its first task (head), after its last
(tail) and between tasks (gaps).

The busy share is the efficiency the scheduling allows: unlike W3's
serial / (N x parallel), it does not move with the CPU speed, which on a
shared or turbo-clocked machine drifts by tens of percent within seconds.
It does not see tasks running slower because their CPUs are shared.
"""
import argparse
import json
from collections import defaultdict


def phases(events, gap):
    """Split task slices ``(start, duration, track)`` (microseconds) where
    nothing runs for more than ``gap`` microseconds."""
    out, current, end = [], [], None
    for start, duration, track in sorted(events):
        if end is not None and start - end > gap:
            out.append(current)
            current, end = [], None
        current.append((start, duration, track))
        end = max(end or 0, start + duration)
    if current:
        out.append(current)
    return out


def describe(phase):
    """Return the span (ms), the busy share and one line per worker."""
    first = min(start for start, _, _ in phase)
    last = max(start + duration for start, duration, _ in phase)
    span = last - first
    tracks = defaultdict(list)
    for start, duration, track in phase:
        tracks[track].append((start, duration))
    busy_all = sum(duration for _, duration, _ in phase)
    lines = []
    for track, slices in sorted(tracks.items()):
        busy = sum(duration for _, duration in slices)
        gaps = sum(b[0] - a[0] - a[1] for a, b in zip(slices, slices[1:]))
        lines.append(
            "  %s: %d tasks, busy %.1f ms, idle %.1f ms (head %.1f, "
            "tail %.1f, gaps %.1f)" % (
                track, len(slices), busy / 1e3, (span - busy) / 1e3,
                (slices[0][0] - first) / 1e3,
                max(0.0, last - slices[-1][0] - slices[-1][1]) / 1e3,
                gaps / 1e3))
    return span / 1e3, busy_all / (len(tracks) * span), lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trace", help="a --timeline FILE.json")
    parser.add_argument("--gap", type=float, default=0.05,
                        help="seconds of nothing running that end a phase")
    args = parser.parse_args(argv)
    with open(args.trace, encoding="utf-8") as handle:
        trace = json.load(handle)
    if isinstance(trace, dict):
        trace = trace["traceEvents"]
    names = {e["tid"]: e["args"]["name"] for e in trace
             if e.get("ph") == "M" and e.get("name") == "thread_name"}
    events = [(e["ts"], e["dur"], names.get(e["tid"], e["tid"]))
              for e in trace if e.get("ph") == "X"]
    for index, phase in enumerate(phases(events, args.gap * 1e6)):
        span, share, lines = describe(phase)
        print("phase %d: %.1f ms, busy share %.3f" % (index, span, share))
        print("\n".join(lines))


if __name__ == "__main__":
    main()
