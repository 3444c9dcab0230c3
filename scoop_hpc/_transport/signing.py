"""Signed messages: every message between a worker and the broker carries
a MAC keyed by the job's secret (``protocol.mac_frames``: keyed
BLAKE2b-256 for up to 2 KiB, HMAC-SHA256 above), and a sequence number.

::

    [*frames, TAG]       TAG = seq (8 bytes, big-endian) + MAC (32 bytes)
    MAC = mac_frames(key, role, seq, worker identity,
                     the number of frames and each one's length, then
                     each frame -- or, for a payload frame, its first
                     32 bytes)

The receiver checks the MAC before it looks at anything else (the
envelope is ``marshal`` data, the payloads are pickles), and drops a
message whose sequence number is not above the last one it accepted from
that peer: a replayed, truncated, altered or foreign message is dropped
with one log line. ``role`` tells the broker's messages from the
workers', so a message cannot be reflected back to its sender.

Payload frames (``protocol.envelope_size``) are signed end to end
instead, by ``protocol.dumps`` (its first frame is the payload's own
MAC): the broker relays them without hashing megabytes twice, and the
hop MAC binds each one by its first 32 bytes (the payload MAC, for a
payload's first frame).
"""
from __future__ import annotations

import hmac
import logging
import struct
import threading
import time
from typing import Dict, Optional, Sequence

from ..errors import TransportError
from . import protocol as P

log = logging.getLogger("scoop_hpc.transport")

_SEQ = struct.Struct(">Q")
_LEN = struct.Struct(">I")
TAG_SIZE = _SEQ.size + 32
WORKER, BROKER = b"w", b"b"


class Seal:
    """Signs what one side sends and checks what it receives.

    Args:
        key: the job's secret.
        role: :data:`WORKER` or :data:`BROKER`: who signs with this seal.
    """

    def __init__(self, key: bytes, role: bytes) -> None:
        self._key = key
        self._role = role
        self._other = BROKER if role == WORKER else WORKER
        self._sent = 0
        self._lock = threading.Lock()
        self._last: Dict[bytes, int] = {}

    def sign(self, frames: Sequence, worker: bytes) -> list:
        """``frames`` with their tag; ``worker``: the worker's identity
        (the sender's, or the recipient's for the broker)."""
        with self._lock:
            self._sent += 1
            seq = self._sent
        mac = self._mac(self._role, seq, worker, frames)
        return [*frames, _SEQ.pack(seq) + mac]

    def check(self, frames: Sequence, worker: bytes) -> list:
        """``frames`` without their tag, if it is right.

        Raises:
            TransportError: no tag, a wrong one, or a replayed message.
        """
        if len(frames) < 2:
            raise TransportError("unsigned message")
        tag = bytes(frames[-1])
        if len(tag) != TAG_SIZE:
            raise TransportError("unsigned message")
        body = frames[:-1]
        seq = _SEQ.unpack_from(tag)[0]
        mac = self._mac(self._other, seq, worker, body)
        if not hmac.compare_digest(mac, tag[_SEQ.size:]):
            raise TransportError("wrong signature")
        if seq <= self._last.get(worker, 0):
            raise TransportError(f"replayed message (sequence {seq})")
        self._last[worker] = seq
        return body

    def _mac(self, role: bytes, seq: int, worker: bytes,
             frames: Sequence) -> bytes:
        return P.mac_frames(
            self._key,
            role + _SEQ.pack(seq) + _LEN.pack(len(worker)) + worker,
            frames, P.envelope_size(frames))


class SignedEndpoint:
    """A worker's endpoint (``base.Endpoint``) whose messages are signed."""

    def __init__(self, endpoint, key: bytes) -> None:
        self._endpoint = endpoint
        self.identity = endpoint.identity
        self._seal = Seal(key, WORKER)

    def send(self, frames) -> None:
        self._endpoint.send(self._seal.sign(frames, self.identity))

    def recv(self, timeout: Optional[float]):
        """The next message that passes the check, within ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            frames = self._endpoint.recv(
                None if deadline is None
                else max(0.0, deadline - time.monotonic()))
            if frames is None:
                return None
            try:
                return self._seal.check(frames, self.identity)
            except TransportError as exc:
                log.warning("dropped a message from the broker: %s", exc)

    def readable(self) -> bool:
        return self._endpoint.readable()

    @property
    def socket(self):
        return self._endpoint.socket

    def close(self) -> None:
        self._endpoint.close()


class SignedRouter:
    """The broker's router (``base.RouterEndpoint``), signing what it sends
    and dropping what is not signed by a member of the job."""

    def __init__(self, router, key: bytes) -> None:
        self._router = router
        self._seal = Seal(key, BROKER)

    def __getattr__(self, name):        # address(es), watch, close
        return getattr(self._router, name)

    def send(self, peer: bytes, frames) -> bool:
        return self._router.send(peer, self._seal.sign(frames, peer))

    def recv(self, timeout: Optional[float]):
        """The next ``(peer, frames)`` that passes the check, or None
        (after ``timeout``, or on a watched file descriptor)."""
        while True:
            got = self._router.recv(timeout)
            if got is None:
                return None
            peer, frames = got
            try:
                return peer, self._seal.check(frames, peer)
            except TransportError as exc:
                log.warning("dropped a message from %r: %s", peer[:32], exc)
                timeout = 0
