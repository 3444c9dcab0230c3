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
