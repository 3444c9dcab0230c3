"""The ZeroMQ transport: DEALER sockets on workers, one ROUTER on the broker.

Large frames (pickle protocol 5 buffers) are sent and received without
copies; small ones are copied, which costs less than a ``zmq.Frame``.
Frames go through the backend socket's ``send``/``recv`` one by one, with
integer flags: pyzmq's ``send_multipart``/``recv_multipart`` spend about
3 us a frame on flag enums and type checks, more than the message costs
otherwise (``bench/RESULTS.md``).

With ``--encrypt`` every connection uses CurveZMQ: the broker's ROUTER is
a curve server, each DEALER a curve client that knows the server's public
key (:class:`Curve`). Messages are still signed by ``signing``; curve adds
confidentiality and integrity on the wire against whoever sits on it.
"""
from __future__ import annotations

from typing import NamedTuple, Optional, Sequence, Tuple, Union

import zmq

from ..errors import TransportError
from .base import Frames

_COPY_THRESHOLD = 64 * 1024
_SNDMORE = int(zmq.SNDMORE)
_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)
_send = zmq.backend.Socket.send
_recv = zmq.backend.Socket.recv
_get = zmq.backend.Socket.get


def send_frames(sock: zmq.Socket, frames: Frames) -> None:
    """Send ``frames`` as one message (see the module's docstring)."""
    last = len(frames) - 1
    for number, frame in enumerate(frames):
        _send(sock, frame, _SNDMORE if number < last else 0,
              len(frame) < _COPY_THRESHOLD)


def recv_frames(sock: zmq.Socket) -> Frames:
    """Receive one message: its frames, as ``zmq.Frame`` objects."""
    frame = _recv(sock, 0, False)
    frames = [frame]
    while frame.more:
        frame = _recv(sock, 0, False)
        frames.append(frame)
    return frames


def readable(sock: zmq.Socket) -> bool:
    """Whether a message waits on ``sock``."""
    return bool(_get(sock, _EVENTS) & _POLLIN)


class Curve(NamedTuple):
    """The job's CurveZMQ keys (Z85 text, as ``zmq.curve_keypair`` makes
    them): the broker's pair, and the pair every worker uses."""

    server_public: bytes
    server_secret: bytes
    client_public: bytes
    client_secret: bytes

    @classmethod
    def new(cls) -> "Curve":
        if not zmq.has("curve"):
            raise TransportError("--encrypt needs a libzmq built with "
                                 "CurveZMQ (libsodium); this pyzmq has none")
        return cls(*zmq.curve_keypair(), *zmq.curve_keypair())

    def for_workers(self) -> "Curve":
        """The keys a worker needs (no server secret)."""
        return self._replace(server_secret=b"")


def _ms(timeout: Optional[float]) -> Optional[int]:
    return None if timeout is None else max(0, int(timeout * 1000 + 0.999))


class ZmqEndpoint:
    """A DEALER socket connected to the broker (see ``base.Endpoint``)."""

    def __init__(self, context: zmq.Context, address: str,
                 identity: bytes, curve: Optional[Curve] = None,
                 send_timeout: Optional[float] = None) -> None:
        self.identity = identity
        sock = context.socket(zmq.DEALER)
        if curve is not None:
            sock.curve_serverkey = curve.server_public
            sock.curve_publickey = curve.client_public
            sock.curve_secretkey = curve.client_secret
        sock.setsockopt(zmq.IDENTITY, identity)
        sock.setsockopt(zmq.LINGER, 2000)
        if send_timeout is not None:  # no peer (the broker is gone)
            sock.setsockopt(zmq.SNDTIMEO, _ms(send_timeout))
        sock.setsockopt(zmq.SNDHWM, 0)
        sock.setsockopt(zmq.RCVHWM, 0)
        sock.copy_threshold = _COPY_THRESHOLD
        sock.connect(address)
        self._sock = sock
        self._poller = zmq.Poller()
        self._poller.register(sock, zmq.POLLIN)

    def send(self, frames: Frames) -> None:
        send_frames(self._sock, frames)

    def recv(self, timeout: Optional[float]) -> Optional[Frames]:
        if timeout is not None and not readable(self._sock) \
                and not self._poller.poll(_ms(timeout)):
            return None
        return recv_frames(self._sock)

    def readable(self) -> bool:
        return readable(self._sock)

    @property
    def socket(self) -> zmq.Socket:
        """The DEALER socket, for a poller (``ZmqRouter.watch``)."""
        return self._sock

    def close(self) -> None:
        self._sock.close()


class ZmqRouter:
    """The broker's ROUTER socket (see ``base.RouterEndpoint``).

    ``recv`` also returns early, with ``None``, when one of the file
    descriptors given to :meth:`watch` becomes readable; the launcher
    uses this to hear signals and dead children without a thread.
    """

    def __init__(self, context: zmq.Context,
                 bind: Union[str, Sequence[str]],
                 curve: Optional[Curve] = None) -> None:
        sock = context.socket(zmq.ROUTER)
        if curve is not None:
            sock.curve_server = True
            sock.curve_publickey = curve.server_public
            sock.curve_secretkey = curve.server_secret
        sock.setsockopt(zmq.LINGER, 2000)
        sock.setsockopt(zmq.SNDHWM, 0)
        sock.setsockopt(zmq.RCVHWM, 0)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        sock.copy_threshold = _COPY_THRESHOLD
        self.addresses = []
        try:
            for address in [bind] if isinstance(bind, str) else bind:
                if address.startswith("tcp://") and address.endswith(":0"):
                    port = sock.bind_to_random_port(address[:-2])
                    address = f"{address[:-2]}:{port}"
                else:
                    sock.bind(address)
                self.addresses.append(address)
        except zmq.ZMQBaseError as exc:
            sock.close(linger=0)
            raise TransportError(f"the broker cannot listen on {address}: "
                                 f"{exc}") from exc
        self.address = self.addresses[0]
        self._sock = sock
        self._poller = zmq.Poller()
        self._poller.register(sock, zmq.POLLIN)

    def watch(self, fd: Union[int, zmq.Socket]) -> None:
        """Wake ``recv`` up when ``fd`` (a file descriptor, or another
        socket: a sub-broker's to its own broker) is readable."""
        self._poller.register(fd, zmq.POLLIN)

    def send(self, peer: bytes, frames: Frames) -> bool:
        """Send to ``peer``; return False if no such peer is connected."""
        try:
            send_frames(self._sock, [peer, *frames])
        except zmq.ZMQError as exc:
            if exc.errno == zmq.EHOSTUNREACH:
                return False
            raise
        return True

    def recv(self, timeout: Optional[float]) -> Optional[
            Tuple[bytes, Frames]]:
        if readable(self._sock):
            return self._take()
        ready = dict(self._poller.poll(_ms(timeout)))
        if self._sock in ready:
            return self._take()
        return None

    def _take(self) -> Tuple[bytes, Frames]:
        frames = recv_frames(self._sock)
        return frames[0].bytes, frames[1:]

    def close(self) -> None:
        self._sock.close(linger=0)


class ZmqTransport:
    """Creates the endpoints of one worker process (see ``base.Transport``).

    The context is created lazily, in the process that uses it, so that a
    transport object may be built before the worker processes are forked.
    """

    def __init__(self, address: str, curve: Optional[Curve] = None) -> None:
        self.address = address
        self.curve = curve
        self._context: Optional[zmq.Context] = None
        self._mains: list = []

    @property
    def context(self) -> zmq.Context:
        if self._context is None:
            self._context = zmq.Context()
        return self._context

    def connect(self, identity: bytes) -> ZmqEndpoint:
        endpoint = ZmqEndpoint(self.context, self.address, identity,
                               self.curve)
        self._mains.append(endpoint)
        return endpoint

    def connect_side(self, identity: bytes) -> ZmqEndpoint:
        """The steal thread's endpoint: a send to a broker that is gone
        raises ``zmq.Again`` after a second instead of blocking."""
        return ZmqEndpoint(self.context, self.address, identity + b"/side",
                           self.curve, send_timeout=1.0)

    def close(self) -> None:
        """Close the main endpoints, then end the context.

        The side endpoint belongs to another thread: ending the context
        wakes that thread's ``recv`` with an error, and it closes its own
        socket (sockets are not thread-safe).
        """
        for endpoint in self._mains:
            endpoint.close()
        self._mains.clear()
        if self._context is not None:
            self._context.term()
            self._context = None
