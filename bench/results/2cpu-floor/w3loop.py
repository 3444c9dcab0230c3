"""W3's maps, one after the other, for a profiler to watch.

    cd bench && SECS=12 ../.venv/bin/python -m scoop_hpc -n 2 \\
        results/2cpu-floor/w3loop.py &
    py-spy record -p <the worker's pid> -r 200 -d 8 --threads \\
        --nonblocking -f raw -o pyspy_worker.raw

After a warm-up map, maps W3's 200 tasks again and again for ``SECS``
seconds (12 unless set); prints the maps' count and their mean time.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from w3_pi import hits  # noqa: E402

from scoop_hpc import futures  # noqa: E402


def main():
    list(futures.map(hits, range(50)))
    seconds = float(os.environ.get("SECS", "12"))
    start = time.perf_counter()
    maps = 0
    while time.perf_counter() - start < seconds:
        list(futures.map(hits, range(200)))
        maps += 1
    print("maps", maps, (time.perf_counter() - start) / maps)


if __name__ == "__main__":
    main()
