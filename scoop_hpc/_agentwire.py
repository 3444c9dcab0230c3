"""What an agent tells the launcher, over its stdout (the ssh channel).

The agent first writes :data:`MAGIC` on a line of its own; whatever comes
before it (a prolog's chatter) is plain text. Then every record is one
header line and a payload::

    KIND NAME LENGTH\\n<LENGTH bytes>

    R  agent   ready: the workers are forked (payload: their pids, JSON)
    O  w3      a chunk of worker w3's stdout
    E  w3      a chunk of its stderr
    X  w3      w3 exited (payload: the exit code, negative for a signal)
    F  agent   the agent could not start the workers (payload: why)

The launcher sends the agent one JSON line with the job's configuration
(token included) on stdin, and closes stdin to make it stop.
"""
from __future__ import annotations

from typing import Iterator, Tuple

MAGIC = b"scoop_hpc-agent/1\n"
READY, OUT, ERR, EXIT, FAIL = b"R", b"O", b"E", b"X", b"F"
TEXT = b""      # a chunk written before the magic line
_MAX_HEADER = 512


def record(kind: bytes, name: str, payload: bytes = b"") -> bytes:
    """Encode one record.

    >>> record(OUT, "w3", b"hi\\n")
    b'O w3 3\\nhi\\n'
    """
    return b"%s %s %d\n" % (kind, name.encode(), len(payload)) + payload


class Reader:
    """Decode records from the chunks of a byte stream.

    >>> reader = Reader()
    >>> list(reader.feed(b"hello\\n" + MAGIC + b"X w1 1\\n"))
    [(b'', '', b'hello\\n')]
    >>> list(reader.feed(b"0"))
    [(b'X', 'w1', b'0')]
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._synced = False
        self._want = None

    def feed(self, data: bytes) -> Iterator[Tuple[bytes, str, bytes]]:
        """Yield ``(kind, name, payload)`` for every record completed."""
        self._buffer += data
        if not self._synced:
            at = self._buffer.find(MAGIC)
            if at < 0:
                keep = len(MAGIC) - 1
                text, self._buffer = (self._buffer[:-keep],
                                      self._buffer[-keep:])
                if text:
                    yield TEXT, "", text
                return
            if at:
                yield TEXT, "", self._buffer[:at]
            self._buffer = self._buffer[at + len(MAGIC):]
            self._synced = True
        while True:
            if self._want is None:
                end = self._buffer.find(b"\n")
                if end < 0:
                    if len(self._buffer) > _MAX_HEADER:
                        raise ValueError("agent record header too long")
                    return
                kind, name, length = self._buffer[:end].split(b" ")
                self._want = (kind, name.decode(), int(length))
                self._buffer = self._buffer[end + 1:]
            kind, name, length = self._want
            if len(self._buffer) < length:
                return
            payload, self._buffer = (self._buffer[:length],
                                     self._buffer[length:])
            self._want = None
            yield kind, name, payload

    def rest(self) -> bytes:
        """Bytes held back at the end of the stream (text before sync)."""
        return b"" if self._synced else self._buffer
