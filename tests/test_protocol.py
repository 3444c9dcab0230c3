"""The wire format: headers, envelopes, payload codec (pure, no sockets)."""
import pickle

import pytest

from scoop_hpc._transport import protocol as P
from scoop_hpc.errors import SerializationError, TransportError

pytestmark = pytest.mark.timeout(10)


def test_header_and_kind_round_trip():
    assert P.kind_of([P.header(P.TASKS), b"x"]) == P.TASKS


@pytest.mark.parametrize("frames", [[], [b"\x02T"], [b"T"], [b"\x01TT"]])
def test_foreign_or_short_messages_are_rejected(frames):
    with pytest.raises(TransportError, match="malformed message"):
        P.kind_of(frames)


def test_envelope_values_round_trip():
    index = [(b"w0", 1, 2), (b"w12", 99, 1)]
    assert P.unpack(P.pack(index)) == index


def test_garbage_envelope_is_a_transport_error():
    with pytest.raises(TransportError, match="malformed envelope"):
        P.unpack(b"\xff\x00garbage")


def test_pickle5_buffers_travel_as_their_own_frames():
    data = bytearray(b"x" * 100000)
    frames = P.dumps(pickle.PickleBuffer(data))
    assert len(frames) == 3              # MAC, pickle, buffer
    assert len(frames[0]) == 32 and len(frames[1]) < 200
    view = frames[2]
    assert isinstance(view, memoryview) and view.obj is data  # no copy
    assert bytes(P.loads(frames)) == bytes(data)


def test_an_altered_payload_is_never_unpickled(monkeypatch):
    frames = P.dumps((1, pickle.PickleBuffer(bytearray(b"y" * 100000))))
    altered = [frames[0], frames[1], bytes(frames[2])[:-1] + b"z"]
    forged = [b"\0" * 32, *frames[1:]]
    loaded = []
    monkeypatch.setattr(P.pickle, "loads",
                        lambda *a, **k: loaded.append(a))
    for bad in (altered, forged, frames[1:], frames[:1]):
        with pytest.raises(TransportError, match="integrity"):
            P.loads(bad)
    assert loaded == []


def test_a_job_without_network_sockets_leaves_payloads_unsigned():
    P.set_key(b"local job", payloads=False)
    try:
        frames = P.dumps("value")
        assert bytes(frames[0]) == b"\0" * 32
        assert P.loads(frames) == "value"
    finally:
        P.set_key(b"")
    with pytest.raises(TransportError, match="integrity"):
        P.loads(frames)


def test_payloads_are_keyed_by_the_jobs_secret():
    frames = P.dumps("value")
    P.set_key(b"another job")
    try:
        with pytest.raises(TransportError, match="integrity"):
            P.loads(frames)
        assert P.loads(P.dumps("value")) == "value"
    finally:
        P.set_key(b"")


@pytest.mark.parametrize("size", [10, P._SMALL - 64, P._SMALL + 64,
                                  P._JOIN_LIMIT + 64])
def test_every_size_of_message_is_keyed_and_checked(size):
    """Keyed BLAKE2b below ``_SMALL`` bytes, HMAC-SHA256 above, joined
    or fed in parts: each binds the key and every byte."""
    frames = [b"\x01T", b"e" * size]
    mac = P.mac_frames(b"secret", b"w", frames)
    assert len(mac) == 32
    assert mac == P.mac_frames(b"secret", b"w", [bytes(f) for f in frames])
    assert mac != P.mac_frames(b"secreT", b"w", frames)
    assert mac != P.mac_frames(b"secret", b"b", frames)
    assert mac != P.mac_frames(b"secret", b"w", [frames[0],
                                                 b"e" * (size - 1) + b"f"])
    assert mac != P.mac_frames(b"secret", b"w", [frames[0] + frames[1]])


def test_lambdas_and_closures_use_the_fallback_pickler():
    offset = 5
    fn = P.loads(P.dumps(lambda x: x + offset))
    assert fn(1) == 6


def test_unserialisable_object_is_named():
    import threading
    lock = threading.Lock()
    with pytest.raises(SerializationError, match="cannot serialise .*lock"):
        P.dumps(lock, lock)


def test_split_items_checks_the_frame_count():
    with pytest.raises(TransportError, match="needs 3 frames"):
        P.split_items([(b"w0", 1, 2)], [b"i", b"a"], 1)
