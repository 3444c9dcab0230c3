"""Scheduling corner cases, each through the real launcher at -n 2.

Each program prints one line; the test compares it. Times in these programs
are liveness bounds (a task must not wait out an unrelated long task), far
from the figures they guard.
"""
import os

import pytest

from .conftest import PYTHON, launch, run_watched

pytestmark = pytest.mark.timeout(60)

CASES = {
    "map_of_a_map": ("""
        import time
        from scoop_hpc import futures
        def inc(x):
            time.sleep(0.005)
            return x + 1
        if __name__ == "__main__":
            data = range(200)
            out = list(futures.map(inc, futures.map(inc, data)))
            mac = sorted(futures.map_as_completed(inc, futures.map(inc, data)))
            print(out == mac == [x + 2 for x in data])
    """, "True"),
    "idle_root_is_not_stranded_behind_a_long_task": ("""
        import time
        from scoop_hpc import futures
        if __name__ == "__main__":
            long = futures.submit(time.sleep, 6)
            time.sleep(0.3)      # w1 takes the long task
            short = futures.submit(time.sleep, 0.5)
            time.sleep(0.3)      # the root is busy: short goes to w1's credit
            start = time.monotonic()
            short.result()
            print(time.monotonic() - start < 3)
    """, "True"),
    "timeouts_fire_on_time_while_work_is_queued_here": ("""
        import time
        from scoop_hpc import futures
        if __name__ == "__main__":
            fs = [futures.submit(time.sleep, 3) for _ in range(4)]
            start = time.monotonic()
            done, _ = futures.wait(fs[:1], timeout=0.5)
            first = time.monotonic() - start
            start = time.monotonic()
            timed_out = False
            try:
                list(futures.map(time.sleep, [3] * 6, timeout=0.5))
            except futures.TimeoutError:
                timed_out = True
            print(first < 2.5 and not done,
                  timed_out and time.monotonic() - start < 2.5)
    """, "True True"),
    "queued_work_runs_after_a_timed_wait_of_the_main_program": ("""
        import time
        from scoop_hpc import futures, shared
        def work(x):
            time.sleep(0.2)
            return x
        if __name__ == "__main__":
            futures.submit(time.sleep, 30)            # keeps w1 busy
            time.sleep(0.3)
            fs = [futures.submit(work, i) for i in range(6)]
            shared.getConst("nothing", timeout=0.1)   # parks queued work
            start = time.monotonic()
            total = sum(f.result() for f in fs)       # runs it here
            print(total, time.monotonic() - start < 10)
    """, "15 True"),
    "own_constant_wakes_a_reader": ("""
        import time
        from scoop_hpc import futures, shared
        if __name__ == "__main__":
            setter = futures.submit(shared.setConst, ready=42)
            start = time.monotonic()
            value = shared.getConst("ready", timeout=5)
            print(value, time.monotonic() - start < 2, setter.result())
    """, "42 True None"),
    "waiting_from_another_thread_is_refused_cleanly": ("""
        import threading
        from scoop_hpc import futures, shared
        if __name__ == "__main__":
            f = futures.submit(abs, -1)
            seen = []
            def other():
                for call in (lambda: f.result(timeout=0.2),
                             lambda: shared.getConst("x")):
                    try:
                        call()
                    except RuntimeError as exc:
                        seen.append("thread" in str(exc))
            t = threading.Thread(target=other)
            t.start()
            t.join()
            import time
            time.sleep(0.4)     # past the refused waits' deadlines
            print(seen, f.result(), sum(futures.map(abs, [-1, -2])))
    """, "[True, True] 1 3"),
    "shutdown_waits_for_suspended_tasks": ("""
        from scoop_hpc import futures, shared
        def waits():
            shared.getConst("never", timeout=0.5)
            return "done"
        if __name__ == "__main__":
            b = futures.submit(abs, -1)
            a = futures.submit(waits)
            b.result()
            futures.shutdown(wait=True)
            print(a.done(), a.result())
    """, "True done"),
    "non_daemon_threads_finish": ("""
        import threading, time
        from scoop_hpc import futures
        def late():
            time.sleep(0.3)
            print("thread done", flush=True)
        if __name__ == "__main__":
            list(futures.map(abs, [-1]))
            threading.Thread(target=late).start()
    """, "thread done"),
    "quick_results_are_not_held_back_by_a_slow_task": ("""
        import time
        from scoop_hpc import futures
        def inc(x):
            return x + 1
        def slow():
            time.sleep(4)
        if __name__ == "__main__":
            quick = [futures.submit(inc, i) for i in range(300)]
            futures.submit(slow)
            later = [futures.submit(inc, i) for i in range(20)]
            time.sleep(0.5)   # the root runs nothing: w1 takes it all
            start = time.monotonic()
            done, _ = futures.wait(quick, timeout=3)
            print(len(done), time.monotonic() - start < 3,
                  sum(f.result() for f in later))
    """, "300 True 210"),
    "a_child_awaited_with_a_timeout_is_not_stranded": ("""
        import time
        from scoop_hpc import futures
        def child(x):
            time.sleep(0.01)
            return x
        def parent(x):
            try:
                return futures.submit(child, x).result(timeout=1)
            except futures.TimeoutError:
                return None
        if __name__ == "__main__":
            late = 0
            for _ in range(40):   # the child given away, back, parked:
                fs = [futures.submit(parent, i) for i in range(4)]
                late += [f.result() for f in fs] != [0, 1, 2, 3]
            print(late)           # ... while w1 idled, until the timeout
    """, "0"),
    "a_timed_wait_of_the_main_program_resumes_no_unawaited_task": ("""
        import time
        from scoop_hpc import futures
        def busy(seconds):
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                pass
        def parent():
            futures.submit(time.sleep, 0.3).result(timeout=30)
            busy(2)           # resumes on the root: after the wait below
            return "parent"
        if __name__ == "__main__":
            quick = futures.submit(time.sleep, 0.05)
            p = futures.submit(parent)   # the root starts it, then waits
            quick.result()
            slow = futures.submit(time.sleep, 3)
            start = time.monotonic()
            try:
                slow.result(timeout=0.8)
            except futures.TimeoutError:
                pass
            print(time.monotonic() - start < 1.5, p.result())
    """, "True parent"),
    "an_awaited_task_resumes_in_a_timed_wait_of_the_main_program": ("""
        import time
        from scoop_hpc import futures
        def parent():
            futures.submit(time.sleep, 0.2).result(timeout=30)
            return "parent"
        if __name__ == "__main__":
            quick = futures.submit(time.sleep, 0.05)
            p = futures.submit(parent)   # the root starts it, then waits
            quick.result()
            polls = 0
            while not futures.wait([p], timeout=0.1)[0]:
                polls += 1       # the root awaits it: it resumes
            print(p.result(), polls < 20)
    """, "parent True"),
    "a_task_raising_greenlet_exit_completes": ("""
        import greenlet
        from scoop_hpc import futures
        def task():
            raise greenlet.GreenletExit("bye")
        if __name__ == "__main__":
            f = futures.submit(task)
            try:
                f.result(timeout=5)
            except BaseException as exc:
                print(type(exc).__name__, f.done())
    """, "GreenletExit True"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_case(program, name):
    source, expected = CASES[name]
    run = launch(["-n", "2", program(source)], timeout=50)
    assert run.returncode == 0 and run.stdout.strip() == expected, run


def test_relative_program_path_with_path_option(tmp_path):
    (tmp_path / "prog.py").write_text(
        "from scoop_hpc import futures\n"
        "if __name__ == '__main__':\n"
        "    print(list(futures.map(abs, [-1, -2])))\n")
    (tmp_path / "elsewhere").mkdir()
    run = launch(["-n", "2", "-p", "elsewhere", "prog.py"], cwd=tmp_path)
    assert (run.returncode, run.stdout) == (0, "[1, 2]\n"), run


_SIXTEEN = """
        import os
        import time
        from scoop_hpc import futures
        def inc(x):
            return x + 1
        def pid(x):
            time.sleep(0.05)
            return os.getpid()
        def nap(x):
            start = time.monotonic()
            time.sleep(2)
            return start, time.monotonic()
        def join_all():
            seen, deadline = set(), time.monotonic() + 30
            while len(seen) < 16 and time.monotonic() < deadline:
                seen |= set(futures.map(pid, range(64)))
            return seen
"""   # the programs of BIG_JOB start with these (join_all: every worker)

BIG_JOB = {   # at -n 16 (mapping.PROBE_FROM): maps send a probe first
    "quick_items_travel_in_few_chunks": ("""
        from scoop_hpc._runtime import context
        if __name__ == "__main__":
            join_all()
            seq = context.current()._seq     # numbers every task submitted
            before = next(seq)
            out = list(futures.map(inc, range(20000)))
            chunks = next(seq) - before - 1
            print(out == list(range(1, 20001)), chunks <= 40 or chunks)
    """, "True True"),    # one-item chunks first: 66 (4 x 16 + 2), and more
    "long_items_spread_when_the_probe_is_overdue": ("""
        if __name__ == "__main__":
            seen = join_all()
            spans = list(futures.map(nap, range(16)))
            print(len(seen), max(s for s, _ in spans) < min(
                e for _, e in spans))
    """, "16 True"),      # else the map waits for its probe: 2 s, then 2 s
    "waiting_tasks_spread_right_after_quick_ones": ("""
        if __name__ == "__main__":
            seen = join_all()
            list(futures.map(inc, range(20000)))          # quick tasks:
            [f.result() for f in [futures.submit(inc, i)  # the workers
                                  for i in range(2000)]]  # ask for many
            spans = list(futures.map(nap, range(16)))
            first = min(s for s, _ in spans)
            print(len(seen), sum(s < first + 1 for s, _ in spans) >= 12)
    """, "16 True"),      # not one worker after another (1 of 16 in 1 s
    #                       with a rule that held quick requests back)
}


@pytest.mark.parametrize("name", sorted(BIG_JOB))
def test_big_job(program, name):
    source, expected = BIG_JOB[name]
    run = launch(["-n", "16", program(_SIXTEEN + source)], timeout=50)
    assert run.returncode == 0 and run.stdout.strip() == expected, run


_CROWDED = """
        import time
        import scoop_hpc
        from scoop_hpc import futures
        from scoop_hpc._runtime import context
        def spin(x):                 # 4 ms on a CPU
            start, end = time.monotonic(), time.thread_time() + 0.004
            while time.thread_time() < end:
                pass
            return scoop_hpc.WORKER_NAME, start, time.monotonic()
        def nap(x):
            start = time.monotonic()
            time.sleep(0.3)
            return scoop_hpc.WORKER_NAME, start, time.monotonic()
        def most_at_once(spans, but=None):
            ends = [(s, 1) for w, s, _ in spans if w != but]
            ends += [(e, -1) for w, _, e in spans if w != but]
            now = most = 0
            for _, step in sorted(ends):
                now += step
                most = max(most, now)
            return most
        if __name__ == "__main__":
            list(futures.map(nap, range(8)))   # every worker has joined
            list(futures.map(spin, range(50)))    # they compute: learnt
            spins = list(futures.map(spin, range(50)))
            naps = list(futures.map(nap, range(8)))
            print(most_at_once(spins, but=scoop_hpc.WORKER_NAME) <= 1,
                  most_at_once(naps) >= 3, context.current().cpus)
"""


def test_a_crowded_host_computes_on_one_worker_per_cpu(program):
    """4 workers on 1 CPU: tasks known to compute run on at most one
    worker besides the root at a time (none while the root is busy);
    tasks that wait still run on all; the root hears that the job's
    workers have one CPU between them."""
    cpu = min(os.sched_getaffinity(0))      # one this test may use
    run = run_watched(["taskset", "-c", str(cpu), PYTHON, "-m", "scoop_hpc",
                       "-n", "4", program(_CROWDED)], timeout=50)
    assert run.returncode == 0 and run.stdout.strip() == "True True 1", run
