"""Remote workers' output on the launcher's console and in ``--log``.

Chunks arrive per worker and stream; under ``-v`` every line starts with
``[w3@node1] ``. A line cut across chunks keeps one prefix.

Writing never raises into the threads that read the agents' records: a
console whose reader went away (``| head``) is written to ``/dev/null``
from then on and reported once through ``on_closed``; a log file that
cannot be written (a full disk) is said so once, and closed.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from typing import BinaryIO, Callable, Dict, Optional, TextIO, Tuple

log = logging.getLogger("scoop_hpc.launcher")


class Console:
    """Writes relayed output to stdout/stderr and to a log file.

    Args:
        prefix: start each line with the worker's name and host.
        log_path: also append every line (prefixed) to this file.
        on_closed: called once, with the stream's name, when stdout or
            stderr can no longer be written (its reader ended).
    """

    def __init__(self, prefix: bool = False,
                 log_path: Optional[str] = None,
                 on_closed: Optional[Callable[[str], None]] = None) -> None:
        self.prefix = prefix
        self.on_closed = on_closed
        self._lock = threading.Lock()
        self._at_line_start: Dict[Tuple[str, bool], bool] = {}
        self._log_path = log_path
        self._log: Optional[BinaryIO] = (open(log_path, "ab")
                                         if log_path else None)
        self._closed: set = set()

    def write(self, source: str, data: bytes, error: bool = False) -> None:
        """Relay ``data`` written by ``source`` (e.g. ``"w3@node1"``)."""
        tag = b"[" + source.encode() + b"] "
        key = (source, error)
        with self._lock:
            tagged = self._tag(data, tag, self._at_line_start.get(key, True))
            self._at_line_start[key] = data.endswith(b"\n")
            stream = sys.stderr if error else sys.stdout
            try:
                stream.flush()
                stream.buffer.write(tagged if self.prefix else data)
                stream.buffer.flush()
            except OSError:
                self._close(stream, "stderr" if error else "stdout")
            if self._log is not None:
                try:
                    self._log.write(tagged)
                    self._log.flush()
                except OSError as exc:
                    self._log = None
                    log.error("cannot write to the log file %s: %s; the "
                              "workers' output goes on to the console "
                              "only", self._log_path, exc)

    def _close(self, stream: TextIO, name: str) -> None:
        """``stream`` (``name``) failed: send it to /dev/null, say so."""
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, stream.fileno())
        finally:
            os.close(null)
        if name not in self._closed:
            self._closed.add(name)
            if self.on_closed is not None:
                self.on_closed(name)

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
            with contextlib.suppress(OSError):
                self._log.close()
