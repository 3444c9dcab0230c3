"""The broker's decoder under random and mutated messages (hypothesis).

Nothing may crash it, nothing is unpickled there, and no envelope is
decoded (``marshal``) unless the message's signature checked out.
"""
from __future__ import annotations

import collections

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoop_hpc._transport import protocol as P
from scoop_hpc._transport import signing
from scoop_hpc._transport.signing import Seal, SignedRouter
from scoop_hpc.broker import Broker

pytestmark = pytest.mark.timeout(300)
KEY = b"the job's secret"
KINDS = [P.HELLO, P.SIDE_HELLO, P.REQUEST, P.HAVE_WORK, P.SET_CONST,
         P.NOTHING, P.TASKS, P.RESULTS, b"?"]
COUNTS = collections.Counter()


class Inbox:
    """A router whose messages are the test's, and whose sends are kept."""

    address = "inbox"

    def __init__(self) -> None:
        self.queue = collections.deque()
        self.sent = []

    def recv(self, timeout):
        return self.queue.popleft() if self.queue else None

    def send(self, peer, frames) -> bool:
        self.sent.append((peer, frames))
        return True


@pytest.fixture(scope="module")
def watched():
    """Count decodings, and signature checks that passed."""
    patch = pytest.MonkeyPatch()
    unpack, check = P.unpack, Seal.check

    def counted_unpack(frame):
        COUNTS["unpack"] += 1
        return unpack(frame)

    def counted_check(self, frames, worker):
        body = check(self, frames, worker)
        COUNTS["passed"] += 1
        return body

    def no_pickles(*args, **kwargs):
        raise AssertionError("the broker unpickled something")

    patch.setattr(P, "unpack", counted_unpack)
    patch.setattr(Seal, "check", counted_check)
    patch.setattr(P.pickle, "loads", no_pickles)
    yield COUNTS
    patch.undo()


def feed(messages) -> Broker:
    inbox = Inbox()
    broker = Broker(SignedRouter(inbox, KEY), size=2)
    inbox.queue.extend(messages)
    while inbox.queue:
        broker.step(0)
    return broker


frame = st.binary(max_size=96)
header = st.sampled_from(KINDS).map(lambda k: P.PROTOCOL_VERSION + k)
message = st.lists(frame, min_size=0, max_size=6)
headed = st.tuples(header, message).map(lambda t: [t[0], *t[1]])
peer = st.sampled_from([b"w0", b"w1", b"w1/side", b"stranger"])


@settings(max_examples=6000, deadline=None,
          suppress_health_check=[HealthCheck.too_slow,
                                 HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(peer, st.one_of(message, headed)), max_size=8))
def test_random_messages_are_dropped_before_decoding(watched, batch):
    before = COUNTS["unpack"]
    broker = feed(batch)
    assert COUNTS["unpack"] == before          # nothing was decoded
    assert not broker.workers and not broker.pool


def _valid(kind: bytes) -> list:
    payload = P.dumps(("f", (1,), {}))
    return {
        P.HELLO: [P.header(P.HELLO), P.pack({"name": "w1"})],
        P.REQUEST: [P.header(P.REQUEST), P.pack(3)],
        P.TASKS: [P.header(P.TASKS),
                  P.pack([(b"w1", 1, False, len(payload))]),
                  *payload],
        P.SET_CONST: [P.header(P.SET_CONST), b"c", *payload],
    }[kind]


@settings(max_examples=5000, deadline=None,
          suppress_health_check=[HealthCheck.too_slow,
                                 HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from([P.HELLO, P.REQUEST, P.TASKS, P.SET_CONST]),
       where=st.integers(min_value=0), byte=st.integers(0, 255),
       how=st.sampled_from(["flip", "cut", "drop", "swap", "dup"]))
def test_mutated_signed_messages_never_decode_unchecked(watched, kind,
                                                        where, byte, how):
    seal = Seal(KEY, signing.WORKER)
    signed = seal.sign(_valid(kind), b"w1")
    frames = [bytearray(bytes(f)) for f in signed]
    number = where % len(frames)
    if how == "flip":
        target = frames[number]
        if target:
            target[where % len(target)] ^= byte or 1
    elif how == "cut":
        frames[number] = frames[number][:len(frames[number]) // 2]
    elif how == "drop":
        del frames[number]
    elif how == "swap" and len(frames) > 1:
        frames[0], frames[number] = frames[number], frames[0]
    else:
        frames.insert(number, frames[number])
    mutated = [bytes(f) for f in frames]
    passed, unpacked = COUNTS["passed"], COUNTS["unpack"]
    feed([(b"w1", mutated)])
    if COUNTS["passed"] == passed:             # the signature failed:
        assert COUNTS["unpack"] == unpacked    # nothing was decoded

