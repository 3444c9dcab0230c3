"""Chunked maps (``_runtime/mapping.py``) on a serial hub, in process."""
import pytest

from scoop_hpc._runtime import context, execution, mapping
from scoop_hpc._runtime.hub import Hub

pytestmark = pytest.mark.timeout(30)


def square(x):
    return x * x


@pytest.fixture
def hub():
    serial = Hub()
    context.install(serial)
    yield serial
    context.install(None)


def test_chunks_taken_before_their_callbacks_ran_are_refilled(hub):
    """The consumer may take a finished chunk before its done-callback ran
    (callbacks of remote results are deferred); the map must still
    submit every remaining chunk instead of ending early."""
    late = []
    hub.run_callbacks = lambda fut, callbacks: late.append(callbacks)
    chunks = mapping.ordered(hub, execution.map_chunk, square,
                             (range(100),), (), {}, None)
    while hub.local:                      # finish the first window now,
        hub._run_own(hub.local.popleft())  # leaving its callbacks unrun
    values = list(mapping.values(chunks))
    assert values == [x * x for x in range(100)]
    assert late                            # the callbacks were deferred


def test_a_map_of_a_map_pulls_items_from_the_consumer_only(hub):
    inner = mapping.values(mapping.ordered(
        hub, execution.map_chunk, square, (range(50),), (), {}, None))
    outer = mapping.values(mapping.ordered(
        hub, execution.map_chunk, square, (inner,), (), {}, None))
    assert list(outer) == [x ** 4 for x in range(50)]


@pytest.mark.parametrize("workers, items, per_item, seconds", [
    (2, 10**6, 1e-5, mapping.TARGET),      # long maps: TARGET a chunk
    (64, 10**5, 1e-5, 1e5 / 256 * 1e-5),   # a quarter of the items each
    (256, 10**5, 1e-6, mapping.FLOOR),     # FLOOR: 1 ms, however many
    (2, 500, 1e-6, 500e-6)])               # all of it: less than FLOOR
def test_chunks_carry_between_floor_and_target_seconds(
        hub, workers, items, per_item, seconds):
    hub.size = workers
    chunker = mapping.Chunker(hub, square, (range(items),))
    chunker._per_item = per_item
    assert len(chunker.take()) == pytest.approx(seconds / per_item, abs=1)


def test_chunks_of_a_function_that_computes_spread_over_the_cpus(hub):
    """256 workers with 2 CPUs between them: 1,000 items of 1 ms go one a
    chunk while their function waits, 50 a chunk once it computes."""
    hub.size, hub.cpus = 256, 2
    chunker = mapping.Chunker(hub, square, (range(1000),))
    chunker._per_item = 1e-3
    assert len(chunker.take()) == 1
    hub.pace.note_busy(square, 1e-3, 1e-3)
    assert len(chunker.take()) == mapping.TARGET / 1e-3


def test_the_floor_gives_way_to_big_items(hub):
    hub.size = 2
    chunker = mapping.Chunker(hub, len, (range(64),))
    chunker._per_item = 1e-7                    # len() of 1 MiB: quick
    chunker.weigh([b"x" * (1 << 20)], 1)        # ... but big
    assert len(chunker.take()) == 4             # big: an eighth of 64 a worker


class _Done:
    """What ``Chunker.observe`` reads of a finished chunk."""

    def __init__(self, duration):
        self.duration = duration


@pytest.fixture
def big_job():
    """A hub of a job of ``PROBE_FROM`` workers (never connected)."""
    return Hub(b"w0", endpoint=object(), size=mapping.PROBE_FROM)


def test_a_big_job_probes_with_one_chunk_then_opens_gradually(big_job):
    chunker = mapping.Chunker(big_job, square, (range(10**5),))
    assert chunker.probing and chunker.window == 1
    assert len(chunker.take()) == 1
    chunker.observe(_Done(5e-6), 1)        # one quick item: mostly overhead
    assert chunker.window == 3             # two more for the one landed
    chunker.observe(_Done(4e-5), len(chunker.take()))
    assert chunker.window == 5
    chunker.observe(_Done(mapping.FLOOR), len(chunker.take()))
    assert chunker.window == chunker.full  # a chunk long enough to trust
    assert big_job.pace.item_time(square) is not None


def test_a_probe_that_does_not_come_back_opens_the_whole_window(big_job):
    chunker = mapping.Chunker(big_job, square, (range(10**5),))
    assert chunker.probe_over()
    assert chunker.window == chunker.full and len(chunker.take()) == 1
    assert not chunker.probe_over()


def test_no_probe_for_long_items_seen_before_big_items_or_small_jobs(
        big_job):
    first = mapping.Chunker(big_job, square, (range(100),))
    first.observe(_Done(0.01), 1)           # 10 ms an item
    assert big_job.pace.item_time(square) == pytest.approx(0.01)
    assert not mapping.Chunker(big_job, square, (range(64),)).probing
    big = mapping.Chunker(big_job, len, (range(64),))
    big.weigh([b"x" * (mapping.FLOOR_BYTES // mapping.BIG)], 1)
    assert not big.probing and big.window == big.full
    big_job.cpus = 1                        # ... unless they compute now
    big_job.pace.note_busy(square, 0.01, 0.01)   # on fewer CPUs
    assert mapping.Chunker(big_job, square, (range(64),)).probing
    small_job = Hub(b"w0", endpoint=object(), size=mapping.PROBE_FROM - 1)
    assert not mapping.Chunker(small_job, len, (range(64),)).probing


def test_a_top_level_map_runs_its_chunks_in_order_in_its_own_process(hub):
    """Chunks shrink towards the map's end (guided): run newest first, the
    owner would keep the oldest, biggest chunks for last."""
    seen = []
    values = list(mapping.values(mapping.ordered(
        hub, execution.map_chunk, seen.append, (range(300),), (), {}, None)))
    assert values == [None] * 300
    assert seen == list(range(300))


def _tag_then_map(seen, tag):
    seen.append(tag)
    list(mapping.values(mapping.ordered(
        context.current(), execution.map_chunk, seen.append, (range(3),),
        (), {}, None)))


def test_a_map_inside_a_task_still_runs_depth_first(hub):
    """A task's own children (a map's chunks too) run before the tasks
    queued ahead of it: a waiting task's work comes first."""
    seen = []
    first = hub.submit(_tag_then_map, (seen, "a"), {})
    second = hub.submit(_tag_then_map, (seen, "b"), {})
    hub.run(lambda: first.done() and second.done())
    assert seen == ["b", 2, 1, 0, "a", 2, 1, 0], seen
