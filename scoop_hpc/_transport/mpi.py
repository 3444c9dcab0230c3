"""The MPI transport: every message over MPI (mpi4py), no socket at all.

::

    rank k, main thread  --- up:   HEAD, DATA -------->  rank 0, broker
    rank k, side thread  --- up:   SIDE_HEAD, SIDE_DATA ->  thread
    rank 0, broker       --- down: HEAD, DATA --------->  rank k, main
                         --- down: SIDE_HEAD, SIDE_DATA ->  rank k, side

Two communicators duplicated from the job's: ``up`` carries what workers
send to the broker, ``down`` what the broker sends to workers; the tag
names the channel (a worker's main endpoint or its side endpoint, used by
another thread), so no thread ever receives another's message. A message
is one *head* (the sender's identity, the frame sizes and every small
frame inline) followed by one MPI message per large frame: a pickle
protocol 5 buffer is sent from its own memory and received into a buffer
of its own, never copied into the head. Messages of one channel keep
their order (MPI does not overtake), so a head's large frames are the
next data messages of its channel.

Sends never block: they are ``Isend`` requests, tested on every call and
kept (with their buffers) until complete. ``recv`` polls with ``Iprobe``
and an exponential back-off, as mpi4py.futures does, so an idle worker
does not spin a core: capped at 0.1 ms within 0.1 s of the channel's last
message (a steal or a request for work is answered in a tenth of a
millisecond while work flows), at 1 ms after.
"""
from __future__ import annotations

import marshal
import struct
import threading
import time
from typing import List, Optional, Tuple

from ..errors import TransportError
from .base import Frames

_INLINE_MAX = 64 * 1024   # frames this large travel as messages of their own
_LENGTH = struct.Struct("<I")
_BACKOFF_MIN = 2e-5
_BACKOFF_MAX = 1e-3       # seconds between polls when idle
_BACKOFF_BUSY = 1e-4      # ... within _BUSY_WINDOW of the last message
_BUSY_WINDOW = 0.1
_CLOSE_WAIT = 2.0         # seconds close() waits for sends in flight
BROKER_RANK = 0
MAIN = (1, 2)             # (head tag, data tag) of a worker's main endpoint
SIDE = (3, 4)             # ... of its side endpoint


def _mpi():
    from mpi4py import MPI
    return MPI


def encode(identity: bytes, frames: Frames) -> Tuple[bytearray, list]:
    """Return the head of a message and its large frames (as views).

    >>> head, large = encode(b"w1", [b"ab", b"c"])
    >>> identity, frames = decode(head, None)
    >>> identity, [bytes(frame) for frame in frames], large
    (b'w1', [b'ab', b'c'], [])
    """
    sizes: List[int] = []
    inline: list = []
    large: list = []
    for frame in frames:
        view = memoryview(frame)
        if view.nbytes >= _INLINE_MAX:
            sizes.append(-view.nbytes)
            large.append(view.cast("B") if view.format != "B" else view)
        else:
            sizes.append(view.nbytes)
            inline.append(view)
    meta = marshal.dumps((identity, sizes))
    head = bytearray(_LENGTH.pack(len(meta)))
    head += meta
    for view in inline:
        head += view
    return head, large


def decode(head: bytearray, take_large) -> Tuple[bytes, Frames]:
    """Split a head into ``(identity, frames)``; ``take_large(n)`` returns
    the next large frame, of ``n`` bytes. Small frames are views of the
    head (no copy).

    Raises:
        TransportError: the head is malformed.
    """
    view = memoryview(head)
    try:
        (length,) = _LENGTH.unpack_from(view)
        identity, sizes = marshal.loads(view[4:4 + length])
    except (struct.error, EOFError, ValueError, TypeError) as exc:
        raise TransportError(f"malformed MPI message head: {exc}") from None
    pos = 4 + length
    frames: list = []
    for size in sizes:
        if size >= 0:
            frames.append(view[pos:pos + size])
            pos += size
        else:
            frames.append(take_large(-size))
    if pos != len(view):
        raise TransportError(f"malformed MPI message head: {len(view)} "
                             f"bytes, its sizes account for {pos}")
    return identity, frames


class _Channel:
    """Sends and receives of one thread on one pair of communicators."""

    def __init__(self, send_comm, recv_comm) -> None:
        self.MPI = _mpi()
        self.send_comm = send_comm
        self.recv_comm = recv_comm
        self._sends: list = []   # (requests, head, large frames) in flight
        self._status = self.MPI.Status()
        self._matched = None     # (message, source, tag, bytes) probed
        self.last = 0.0          # when a message last came or went

    def post(self, dest: int, tags: Tuple[int, int], identity: bytes,
             frames: Frames) -> None:
        head, large = encode(identity, frames)
        comm, byte = self.send_comm, self.MPI.BYTE
        requests = [comm.Isend([head, byte], dest, tags[0])]
        for view in large:
            requests.append(comm.Isend([view, byte], dest, tags[1]))
        self._sends.append((requests, head, large))
        self.last = time.monotonic()
        self.progress()

    def progress(self) -> None:
        """Drop the sends that completed (keeping the order of the rest)."""
        sends = self._sends
        while sends and self.MPI.Request.Testall(sends[0][0]):
            sends.pop(0)

    def probe(self, source: int, tag: int) -> bool:
        """Match the next head of ``tag`` from ``source``, if one is there."""
        if self._matched is not None:
            return True
        if self._sends:
            self.progress()
        status = self._status
        message = self.recv_comm.Improbe(source, tag, status)
        if message is None:
            return False
        self._matched = (message, status.Get_source(), status.Get_tag(),
                         status.Get_count(self.MPI.BYTE))
        return True

    def wait(self, source: int, tag: int,
             timeout: Optional[float]) -> bool:
        """Poll until a head is matched or ``timeout`` passes."""
        if self.probe(source, tag):
            return True
        now = time.monotonic()
        deadline = None if timeout is None else now + timeout
        delay = _BACKOFF_MIN
        busy_until = self.last + _BUSY_WINDOW
        while True:
            if deadline is not None:
                left = deadline - now
                if left <= 0:
                    return False
                time.sleep(min(delay, left))
            else:
                time.sleep(delay)
            if self.probe(source, tag):
                return True
            now = time.monotonic()
            delay = min(delay * 2, _BACKOFF_BUSY if now < busy_until
                        else _BACKOFF_MAX)

    def take(self, data_tag_of) -> Tuple[int, int, bytes, Frames]:
        """Receive the matched message: ``(source, tag, identity, frames)``.
        ``data_tag_of(tag)`` is the data tag that goes with a head tag."""
        message, source, tag, count = self._matched
        self._matched = None
        self.last = time.monotonic()
        head = bytearray(count)
        message.Recv([head, self.MPI.BYTE])
        data_tag = data_tag_of(tag)
        comm, byte = self.recv_comm, self.MPI.BYTE

        def take_large(size: int) -> bytearray:
            buf = bytearray(size)
            comm.Recv([buf, byte], source, data_tag)
            return buf
        identity, frames = decode(head, take_large)
        return source, tag, identity, frames

    def close(self) -> None:
        """Wait a little for sends in flight, then cancel the rest."""
        deadline = time.monotonic() + _CLOSE_WAIT
        while self._sends and time.monotonic() < deadline:
            self.progress()
            time.sleep(0.001)
        for requests, _, _ in self._sends:
            for request in requests:
                if request:
                    request.Cancel()
                    request.Free()
        self._sends.clear()


class MpiEndpoint:
    """A worker's endpoint: rank 0 is the broker (see ``base.Endpoint``)."""

    def __init__(self, transport: "MpiTransport", identity: bytes,
                 tags: Tuple[int, int]) -> None:
        self.identity = identity
        self._transport = transport
        self._tags = tags
        self._channel = _Channel(transport.up, transport.down)

    def send(self, frames: Frames) -> None:
        self._channel.post(BROKER_RANK, self._tags, self.identity, frames)

    def recv(self, timeout: Optional[float]) -> Optional[Frames]:
        channel = self._channel
        if not channel.probe(BROKER_RANK, self._tags[0]):
            if timeout is not None and timeout <= 0:
                return None
            step = 0.05 if timeout is None else min(timeout, 0.05)
            end = None if timeout is None else time.monotonic() + timeout
            while not channel.wait(BROKER_RANK, self._tags[0], step):
                self._check_open()
                if end is not None and time.monotonic() >= end:
                    return None
        return channel.take(lambda tag: self._tags[1])[3]

    def readable(self) -> bool:
        return self._channel.probe(BROKER_RANK, self._tags[0])

    def _check_open(self) -> None:
        if self._transport.closed.is_set():
            raise TransportError("the MPI transport was closed")

    def close(self) -> None:
        self._channel.close()


class MpiRouter:
    """The broker's side, on rank 0 (see ``base.RouterEndpoint``).

    A peer is known by the identity its messages carry; the router
    remembers the rank and channel each identity came from.
    """

    def __init__(self, transport: "MpiTransport") -> None:
        self.address = transport.address
        self.addresses = [self.address]
        self._channel = _Channel(transport.down, transport.up)
        self._peers: dict = {}
        self._MPI = _mpi()

    def send(self, peer: bytes, frames: Frames) -> bool:
        """Send to ``peer``; return False if it never said anything."""
        where = self._peers.get(peer)
        if where is None:
            return False
        self._channel.post(where[0], where[1], b"", frames)
        return True

    def recv(self, timeout: Optional[float]) -> Optional[
            Tuple[bytes, Frames]]:
        any_source, any_tag = self._MPI.ANY_SOURCE, self._MPI.ANY_TAG
        if not self._channel.wait(any_source, any_tag, timeout):
            return None
        source, tag, identity, frames = self._channel.take(
            lambda head: head + 1)
        channel = MAIN if tag == MAIN[0] else SIDE
        if tag not in (MAIN[0], SIDE[0]):
            raise TransportError(f"MPI message with unknown tag {tag} from "
                                 f"rank {source}")
        self._peers[identity] = (source, channel)
        return identity, frames

    def close(self) -> None:
        self._channel.close()


def thread_problem() -> Optional[str]:
    """Say why this MPI library cannot carry the transport, if it cannot:
    the steal thread and the broker thread call MPI at once."""
    MPI = _mpi()  # noqa: N806 - the module's own name
    if MPI.Query_thread() >= MPI.THREAD_MULTIPLE:
        return None
    return ("the MPI transport needs MPI_THREAD_MULTIPLE, and this MPI "
            "library was initialised with a lower thread level; leave "
            "mpi4py.rc.thread_level at its default ('multiple'), unset "
            "MPI4PY_RC_THREAD_LEVEL, or use --transport zmq")


class MpiTransport:
    """The endpoints of one rank over ``comm`` (see ``base.Transport``).

    Every rank of ``comm`` must create it at the same point (it duplicates
    the communicator twice, a collective call).

    Raises:
        TransportError: the MPI library does not support threads calling
            MPI at once (the steal thread and the broker thread do).
    """

    def __init__(self, comm) -> None:
        problem = thread_problem()
        if problem is not None:
            raise TransportError(problem)
        self.up = comm.Dup()
        self.down = comm.Dup()
        self.rank = comm.Get_rank()
        self.address = f"mpi://rank{BROKER_RANK}"
        self.closed = threading.Event()
        self._mains: List[MpiEndpoint] = []

    def connect(self, identity: bytes) -> MpiEndpoint:
        endpoint = MpiEndpoint(self, identity, MAIN)
        self._mains.append(endpoint)
        return endpoint

    def connect_side(self, identity: bytes) -> MpiEndpoint:
        return MpiEndpoint(self, identity + b"/side", SIDE)

    def router(self) -> MpiRouter:
        """The broker's endpoint (on rank 0 only)."""
        return MpiRouter(self)

    def close(self) -> None:
        """Finish the main endpoints' sends; wake the side endpoint's
        ``recv`` with an error, so its thread ends (it closes its own)."""
        self.closed.set()
        for endpoint in self._mains:
            endpoint.close()
        self._mains.clear()

    def free(self) -> None:
        """Drop what nobody will receive any more (a SHUTDOWN the root
        never read, results for a root that has ended), then free the
        communicators. Every rank calls it after the job's last message
        and after every thread stopped using them: MPI libraries complain
        of unmatched messages left at ``MPI_Finalize``."""
        MPI, status = _mpi(), _mpi().Status()  # noqa: N806
        for comm in (self.up, self.down):
            while True:
                message = comm.Improbe(MPI.ANY_SOURCE, MPI.ANY_TAG, status)
                if message is None:
                    break
                message.Recv([bytearray(status.Get_count(MPI.BYTE)),
                              MPI.BYTE])
            comm.Free()
