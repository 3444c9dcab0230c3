"""The wire format shared by workers and the broker.

Every message is a list of frames::

    [HEADER, *body]          HEADER = PROTOCOL_VERSION + KIND (two bytes)

A ROUTER socket prepends the peer's identity; the broker peels it off and
re-stacks the envelope when it forwards a message. Task and result batches
carry one small ``marshal``-encoded index frame, then the payload frames of
every item in order; the index says how many frames each item owns, so the
broker can split and re-batch items without unpickling them::

    TASKS    [HDR, index[(owner, seq, computes, nframes), ...],
              *payload_frames]
    RESULTS  [HDR, owner, credit,
              index[(seq, ok, seconds, busy, nframes), ...], *payload_frames]

A RESULTS message also carries the sender's request for ``credit`` more
tasks (0 for none), so a busy worker sends one message per finished task.
``seconds`` is a task's wall time, ``busy`` the time its thread ran or
waited to run, all of it if the thread never blocked (``cpuclock``; -1:
not measured, for most tasks of well under a millisecond); from them a
task's owner learns which functions' tasks compute, and marks those
(``computes``) when it gives them away (``pace.py``).

A payload is ``dumps(obj)``: its MAC (``mac_frames``, keyed by the
job's secret, over the frames that follow), one pickle frame, then the
pickle protocol 5 out-of-band buffers, each in a frame of its own (never
copied into the pickle stream). ``loads`` checks the MAC before
unpickling, so a payload is signed end to end, however the broker
re-batches it; every message is also signed hop by hop (``signing``).
"""
from __future__ import annotations

import hashlib
import hmac
import marshal
import pickle
import struct
from typing import Any, Iterable, List, Optional, Sequence, Tuple

from ..errors import SerializationError, TransportError

PROTOCOL_VERSION = b"\x01"

# Message kinds, worker -> broker.
HELLO = b"H"        # [HDR, marshal(info)]             a worker joins
SIDE_HELLO = b"h"   # [HDR, main identity]             its steal socket joins
REQUEST = b"R"      # [HDR, marshal(n)]                credit for n tasks
#                                                      (0: taken back)
HAVE_WORK = b"A"    # [HDR, marshal(count)]            backlog appeared:
#                                                      the count-th notice
SET_CONST = b"C"    # [HDR, name, *payload]            define a constant
NOTHING = b"N"      # [HDR, marshal(count)]            steal found nothing
#                                                      (notices seen: count)
STATS = b"Q"        # [HDR, marshal((done, queued))]   progress, every 1 s
#                     (+ workers beyond their CPUs, from a sub-broker)
HEARTBEAT = b"B"    # [HDR]                            alive (side socket;
#                                                      the broker answers)
# Sub-broker -> broker (a sub-broker joins with HELLO, info["node"] true).
ATTACH = b"J"       # [HDR, marshal([identity, ...])]  workers behind it
# Both directions between a sub-broker and the broker.
LOST = b"L"         # [HDR, identity, marshal(why)]    a worker is lost
#                     (+ marshal((run again, given up)) from a sub-broker)
# Both directions.
TASKS = b"T"
RESULTS = b"P"
# Broker -> worker.
WELCOME = b"W"      # [HDR, marshal(info), (name, *payload)...]
CONST = b"K"        # [HDR, name, *payload]            a constant, to all
CONST_ACK = b"k"    # [HDR, name, marshal(error)]      reply to SET_CONST
STEAL = b"X"        # [HDR, marshal(n)]                give away work
SHUTDOWN = b"S"     # [HDR]                            leave now
SIZE = b"Z"         # [HDR, marshal(n), marshal(c)]    the job has n workers,
#                                                      c with a CPU each
DRAIN = b"D"        # [HDR]                            start no more tasks

# A request (credit) for at most this many tasks says that the worker's
# tasks are long, or not yet timed: the broker then keeps its pool stocked.
LONG_TASKS_CREDIT = 2

# How many leading frames of a message are its envelope; the rest are
# payloads, signed end to end. Kinds not listed are all envelope.
_ENVELOPE = {TASKS: 2, RESULTS: 4, SET_CONST: 2, CONST: 2, WELCOME: 2}

_HEADERS = {}
_payload_key = b""
_JOIN_LIMIT = 64 * 1024  # bytes hashed in one call; more are fed in parts
_SMALL = 2048           # bytes MACed with keyed BLAKE2b; more: HMAC-SHA256
_UNSIGNED = b"\0" * 32
_sign_payloads = True


def set_key(key: bytes, payloads: bool = True) -> None:
    """Key the payload MACs of this process with the job's secret.

    ``payloads=False`` (a job with no network socket: every worker on
    this host's private ipc socket, which nobody else can reach) leaves
    payloads unsigned; every message is still signed (``signing``).
    """
    global _payload_key, _sign_payloads
    _payload_key = key
    _sign_payloads = payloads


def envelope_size(frames: Sequence[Any]) -> int:
    """How many leading frames of a message are its envelope."""
    kind = memoryview(frames[0])[1:2].tobytes() if frames else b""
    return min(_ENVELOPE.get(kind, len(frames)), len(frames))


def header(kind: bytes) -> bytes:
    """Return the header frame for a message of ``kind``.

    >>> header(TASKS)
    b'\\x01T'
    """
    try:
        return _HEADERS[kind]
    except KeyError:
        return _HEADERS.setdefault(kind, PROTOCOL_VERSION + kind)


def kind_of(frames: Sequence[Any]) -> bytes:
    """Return the kind of a message, rejecting foreign or short ones."""
    if not frames:
        raise TransportError("malformed message: no frames")
    head = bytes(frames[0])
    if len(head) != 2 or head[:1] != PROTOCOL_VERSION:
        raise TransportError(
            f"malformed message: header {head[:8]!r} is not protocol "
            f"version {PROTOCOL_VERSION!r}")
    return head[1:]


def pack(value: Any) -> bytes:
    """Encode a small envelope value (ints, floats, bytes, tuples)."""
    return marshal.dumps(value)


def unpack(frame: Any) -> Any:
    """Decode a value written by :func:`pack`."""
    try:
        return marshal.loads(frame)
    except (EOFError, ValueError, TypeError) as exc:
        raise TransportError(f"malformed envelope frame: {exc}") from None


ADVICE = ("pass objects that pickle (module-level functions and classes, "
          "plain data) or create them inside the task")

_cloudpickle = None


def _fallback_pickler():
    global _cloudpickle
    if _cloudpickle is None:
        import cloudpickle
        _cloudpickle = cloudpickle
    return _cloudpickle


def dumps(obj: Any, what: Any = None) -> List[Any]:
    """Serialise ``obj`` into payload frames.

    The C pickler is tried first; lambdas, closures and other objects it
    cannot reference by name are then serialised by value with cloudpickle.

    Raises:
        SerializationError: neither can serialise ``obj``; the message names
            ``what`` (the callable or argument at fault) when given.
    """
    buffers: list = []
    try:
        head = pickle.dumps(obj, 5, buffer_callback=buffers.append)
    except Exception:  # noqa: BLE001 - any failure means "try by value"
        buffers = []
        try:
            head = _fallback_pickler().dumps(
                obj, 5, buffer_callback=buffers.append)
        except Exception as exc:  # noqa: BLE001
            error = SerializationError(
                f"cannot serialise {_describe(what, obj)}: {exc}; {ADVICE}")
            error.subject, error.reason = _describe(what, obj), str(exc)
            raise error from None
    frames = [head, *(b.raw() for b in buffers)]
    return [_mac(frames) if _sign_payloads else _UNSIGNED, *frames]


def loads(frames: Sequence[Any]) -> Any:
    """Rebuild an object from the frames made by :func:`dumps`.

    Raises:
        TransportError: the payload's MAC is missing or wrong (nothing is
            unpickled then).
    """
    if len(frames) < 2 or (_sign_payloads and not hmac.compare_digest(
            bytes(frames[0]), _mac(frames[1:]))):
        raise TransportError("the payload fails its integrity check (not "
                             "made by a member of this job, or altered)")
    if len(frames) == 2:
        return pickle.loads(frames[1])
    return pickle.loads(frames[1], buffers=frames[2:])


def _mac(frames: Sequence[Any]) -> bytes:
    return mac_frames(_payload_key, b"", frames)


def mac_frames(key: bytes, prefix: bytes, frames: Sequence[Any],
               whole: Optional[int] = None) -> bytes:
    """A 32-byte MAC under ``key`` of ``prefix``, the number of frames
    and each one's length, then the frames' bytes; frames from index
    ``whole`` on give only their first 32 bytes. Frames are bytes-like
    with one-byte items (bytes, ``zmq.Frame``, the views of pickle
    buffers), so ``len`` is their size on both ends.

    Up to ``_SMALL`` bytes of frames (envelopes, small payloads) it is
    keyed BLAKE2b-256, a third of the cost of HMAC-SHA256 there (no inner
    and outer key blocks); above, HMAC-SHA256, which the CPU's SHA
    extensions make twice as fast on bulk data. What is hashed picks the
    function, so both ends pick the same one. Up to ``_JOIN_LIMIT``
    bytes, the input is joined and hashed in one call (a fraction of the
    cost of feeding a hash object part by part)."""
    count = len(frames)
    if whole is None or whole > count:
        whole = count
    sizes = [len(frame) for frame in frames]
    tails = [memoryview(frame)[:32] for frame in frames[whole:]]
    parts = [prefix, struct.pack(">%dI" % (count + 1), count, *sizes),
             *frames[:whole], *tails]
    size = sum(sizes[:whole]) + sum(map(len, tails))
    if size <= _SMALL:
        return hashlib.blake2b(b"".join(parts), key=key,
                               digest_size=32).digest()
    if size <= _JOIN_LIMIT:
        return hmac.digest(key, b"".join(parts), "sha256")
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part)
    return mac.digest()


def _describe(what: Any, obj: Any) -> str:
    """``module.name (repr)`` of a callable, class or other object (by its
    type's name: an instance of a C type has no ``__module__`` of its own
    on Python 3.9, a lock on 3.10+ has).

    >>> import threading
    >>> _describe(None, threading.Lock()).split(" (")[0]
    '_thread.lock'
    >>> _describe(len, None)
    'builtins.len (<built-in function len>)'
    """
    target = obj if what is None else what
    named = target if hasattr(target, "__qualname__") else type(target)
    module = getattr(named, "__module__", None)
    if named is not target and module == "builtins":
        module = None           # an int, a generator: no module to name
    where = f"{module}.{named.__qualname__}" if module else named.__qualname__
    return f"{where} ({_short_repr(target)})"


def _short_repr(obj: Any) -> str:
    try:
        text = repr(obj)
    except Exception:  # noqa: BLE001
        text = object.__repr__(obj)
    return text if len(text) <= 80 else text[:77] + "..."


def split_items(index: Iterable[Tuple], frames: Sequence[Any],
                start: int) -> List[Tuple[Tuple, List[Any]]]:
    """Split a batch into ``(entry, payload_frames)`` pairs.

    Every index entry ends with the number of payload frames of its item.

    >>> split_items([(b"w0", 1, 1), (b"w0", 2, 2)], b"iabc", 1)
    [((b'w0', 1, 1), [97]), ((b'w0', 2, 2), [98, 99])]
    """
    items = []
    pos = start
    for entry in index:
        end = pos + entry[-1]
        if end > len(frames):
            raise TransportError(
                f"malformed batch: its index needs {end} frames, the "
                f"message has {len(frames)}")
        items.append((entry, list(frames[pos:end])))
        pos = end
    return items
