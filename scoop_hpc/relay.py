"""Remote workers' output on the launcher's console and in ``--log``.

Chunks arrive per worker and stream; under ``-v`` every line starts with
``[w3@node1] ``. A line cut across chunks keeps one prefix.
"""
from __future__ import annotations

import sys
import threading
from typing import BinaryIO, Dict, Optional, Tuple


class Console:
    """Writes relayed output to stdout/stderr and to a log file.

    Args:
        prefix: start each line with the worker's name and host.
        log_path: also append every line (prefixed) to this file.
    """

    def __init__(self, prefix: bool = False,
                 log_path: Optional[str] = None) -> None:
        self.prefix = prefix
        self._lock = threading.Lock()
        self._at_line_start: Dict[Tuple[str, bool], bool] = {}
        self._log: Optional[BinaryIO] = (open(log_path, "ab")
                                         if log_path else None)

    def write(self, source: str, data: bytes, error: bool = False) -> None:
        """Relay ``data`` written by ``source`` (e.g. ``"w3@node1"``)."""
        tag = b"[" + source.encode() + b"] "
        key = (source, error)
        with self._lock:
            tagged = self._tag(data, tag, self._at_line_start.get(key, True))
            self._at_line_start[key] = data.endswith(b"\n")
            stream = sys.stderr if error else sys.stdout
            stream.flush()
            stream.buffer.write(tagged if self.prefix else data)
            stream.buffer.flush()
            if self._log is not None:
                self._log.write(tagged)
                self._log.flush()

    @staticmethod
    def _tag(data: bytes, tag: bytes, line_start: bool) -> bytes:
        """Put ``tag`` at the start of every line of ``data``.

        >>> Console._tag(b"a\\nb", b"> ", True)
        b'> a\\n> b'
        >>> Console._tag(b"a\\n", b"> ", False)
        b'a\\n'
        >>> Console._tag(b"a\\n\\nb", b"> ", True)
        b'> a\\n> \\n> b'
        """
        lines = data.split(b"\n")
        last = len(lines) - 1
        return b"\n".join(
            tag + line if (number or line_start)
            and (line or number < last) else line
            for number, line in enumerate(lines))

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
