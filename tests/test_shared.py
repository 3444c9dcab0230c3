"""Shared constants between real hubs and a real broker (in one process).

Each hub runs in a thread of its own, as each worker runs in a process of
its own; the second hub joins after the constant was set, as a late
worker would.
"""
import threading

import pytest
import zmq

from scoop_hpc._runtime.hub import Hub
from scoop_hpc._transport.zmq import ZmqRouter, ZmqTransport
from scoop_hpc.broker import Broker
from scoop_hpc.errors import ConstantError

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def job(tmp_path):
    address = f"ipc://{tmp_path}/broker"
    context = zmq.Context()
    broker = Broker(ZmqRouter(context, address), size=2)
    stop = threading.Event()
    thread = threading.Thread(target=lambda: [broker.step(0.01) for _ in
                                              iter(stop.is_set, True)])
    thread.start()
    transports = []

    def run_hub(name: bytes, body):
        """Run ``body(hub)`` in a new thread's hub; return its result."""
        out = {}

        def main():
            transport = ZmqTransport(address)
            transports.append(transport)
            hub = Hub(name, transport.connect(name), 2)
            hub.join({"name": name.decode()}, side=transport.connect_side(
                name))
            try:
                out["value"] = body(hub)
            except Exception as exc:  # noqa: BLE001 - handed to the test
                out["error"] = exc
        worker = threading.Thread(target=main)
        worker.start()
        worker.join(20)
        if "error" in out:
            raise out["error"]
        return out["value"]

    yield run_hub
    stop.set()
    thread.join()
    broker.step(0.05)           # the last hellos
    broker.shutdown()           # side threads close their sockets and end
    for side in threading.enumerate():
        if side.name == "scoop_hpc-steal":
            side.join(5)
    for transport in transports:
        transport.close()
    broker.router.close()
    context.term()


def test_late_joiner_reads_constants_set_before_it_came(job):
    job(b"w0", lambda hub: hub.constants.set({"table": [1, 2, 3]}))
    assert job(b"w1", lambda hub: hub.constants.get("table", 0)) == [1, 2, 3]


def test_second_definition_names_the_constant(job):
    job(b"w0", lambda hub: hub.constants.set({"seed": 1}))
    with pytest.raises(ConstantError, match="seed"):
        job(b"w1", lambda hub: hub.constants.set({"seed": 2}))


def test_unknown_constant_is_none_after_the_timeout(job):
    assert job(b"w0", lambda hub: hub.constants.get("never", 0.05)) is None


def _define(value):
    from scoop_hpc._runtime.context import current
    try:
        current().constants.set({"x": value})
        return "defined"
    except ConstantError:
        return "refused"


def test_two_tasks_of_one_worker_define_the_same_name(job):
    def body(hub):
        from scoop_hpc._runtime import context
        context.install(hub)
        try:
            first = hub.submit(_define, (1,), {})
            second = hub.submit(_define, (2,), {})  # both send, then wait
            hub.run(lambda: first.done() and second.done())
            return (sorted([first.result(), second.result()]),
                    hub.constants.values)
        finally:
            context.install(None)
    outcomes, constants = job(b"w0", body)
    assert outcomes == ["defined", "refused"]
    assert constants["x"] in (1, 2)
