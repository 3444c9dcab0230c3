"""How far the job got, while it runs (the launcher's side).

Workers report ``(tasks done, tasks queued)`` every second
(``--progress``, or ``-v`` in a batch log); the broker keeps the last
report of each (``Broker.progress``). On a terminal the launcher redraws
one status line on stderr; in a log it writes one line every
``--progress-every`` seconds. A live line is drawn by default only when the
program's output does not go to the same terminal (it would break it);
``--progress`` asks for it anyway.
"""
from __future__ import annotations

import logging
import sys
import time
from typing import Optional, TextIO

log = logging.getLogger("scoop_hpc.launcher")

REPORT_EVERY = 1.0     # seconds between a worker's reports
_LIVE_EVERY = 0.5


def mode(asked: bool, verbose: int, stdout: TextIO = sys.stdout,
         stderr: TextIO = sys.stderr) -> Optional[str]:
    """``"live"``, ``"log"`` or None (no progress at all)."""
    if stderr.isatty() and (asked or not stdout.isatty()):
        return "live"
    if not stderr.isatty() and (asked or verbose):
        return "log"
    return None


class Progress:
    """Draws (``live``) or logs (``log``) the broker's progress figures."""

    def __init__(self, how: str, size: int, log_every: float = 30.0,
                 stream: TextIO = sys.stderr, clock=time.monotonic) -> None:
        self.how = how
        self.size = size
        self.stream = stream
        self.clock = clock
        self.started = self.last = clock()
        self.last_done = 0
        self.every = _LIVE_EVERY if how == "live" else log_every
        self.drawn = False

    def tick(self, broker) -> None:
        now = self.clock()
        if now - self.last < self.every:
            return
        joined, done, queued = broker.progress()
        rate = (done - self.last_done) / (now - self.last)
        self.last, self.last_done = now, done
        line = (f"{joined}/{self.size} workers | {done:,} tasks done, "
                f"{queued:,} queued | {rate:,.0f} tasks/s | "
                f"{now - self.started:.0f} s")
        if self.how == "live":
            self.stream.write("\r\x1b[K" + line)
            self.stream.flush()
            self.drawn = True
        else:
            log.info("progress: %s", line)

    def close(self) -> None:
        """Erase the live line."""
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
