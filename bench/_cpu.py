"""CPU time of processes, read from Linux's per-thread schedstat.

Shared by the benchmarks that account for where CPU goes (``scale.py``,
``idle_cost.py``, ``map_cpu.py``): nanoseconds of every thread, not the
clock ticks of ``times()``, so that a 50 ms map is measured too.
"""
import os


def cpu_seconds(pids):
    """CPU seconds every thread of ``pids`` has run so far (a process or
    thread gone meanwhile counts for what is left)."""
    total = 0
    for pid in pids:
        try:
            threads = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for thread in threads:
            try:
                with open(f"/proc/{pid}/task/{thread}/schedstat") as stat:
                    total += int(stat.read().split()[0])
            except OSError:      # the thread ended meanwhile
                continue
    return total / 1e9


def thread_sched():
    """(CPU seconds, seconds waited for a CPU) of the calling thread."""
    with open("/proc/thread-self/schedstat") as stat:
        ran, waited = stat.read().split()[:2]
    return int(ran) / 1e9, int(waited) / 1e9


def siblings():
    """Pids of the other children of this process's parent (under the
    launcher: the other local workers of the root)."""
    parent = os.getppid()
    with open(f"/proc/{parent}/task/{parent}/children") as children:
        pids = [int(pid) for pid in children.read().split()]
    return [pid for pid in pids if pid != os.getpid()]
