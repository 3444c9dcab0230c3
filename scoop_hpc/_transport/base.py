"""The small interface every transport offers.

A worker holds a :class:`Endpoint` connected to its broker (and a second
one, its *side channel*, used by the thread that answers steal requests).
The broker holds a :class:`RouterEndpoint` that reaches every worker by
identity. Frames are bytes-like objects; ``recv`` returns ``None`` when
its timeout passes first.
"""
from __future__ import annotations

from typing import Any, List, Optional, Protocol, Tuple

Frames = List[Any]


class Endpoint(Protocol):
    """A worker's connection to the broker."""

    identity: bytes

    def send(self, frames: Frames) -> None:
        """Queue ``frames`` for the broker; never blocks on the peer."""

    def recv(self, timeout: Optional[float]) -> Optional[Frames]:
        """Wait up to ``timeout`` seconds (``None``: forever)."""

    def readable(self) -> bool:
        """Tell, without blocking, whether ``recv`` has a message."""

    def close(self) -> None:
        """Release the connection; pending messages may be dropped."""


class RouterEndpoint(Protocol):
    """The broker's side: one socket reaching every worker."""

    address: str

    def send(self, peer: bytes, frames: Frames) -> None:
        """Send ``frames`` to the worker whose identity is ``peer``."""

    def recv(self, timeout: Optional[float]) -> Optional[
            Tuple[bytes, Frames]]:
        """Return ``(peer, frames)``, or ``None`` after ``timeout``."""

    def close(self) -> None:
        """Unbind and release the socket."""


class Transport(Protocol):
    """A factory of endpoints for one job."""

    def connect(self, identity: bytes) -> Endpoint:
        """Return the worker's main endpoint."""

    def connect_side(self, identity: bytes) -> Endpoint:
        """Return a second endpoint, for use from another thread."""
