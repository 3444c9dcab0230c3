"""Logging set-up: every record names the worker that wrote it."""
from __future__ import annotations

import contextlib
import logging
import sys
from typing import Optional

import scoop_hpc

from .errors import UsageError

FORMAT = "[%(asctime)s] %(levelname)-7s %(worker)s %(name)s: %(message)s"


class _LogFile(logging.FileHandler):
    """``--log``'s file: one that cannot be written any more (a full
    disk) is said so once on stderr and left; the log goes on there. A
    record that cannot be formatted is logging's ordinary error."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802
        why = sys.exc_info()[1]
        if not isinstance(why, OSError):    # the record's fault, not ours
            super().handleError(record)
            return
        logging.getLogger("scoop_hpc").removeHandler(self)
        with contextlib.suppress(OSError, ValueError):
            self.close()
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(f"scoop_hpc: cannot write to the log file "
                             f"{self.baseFilename}: {why}; the log goes on "
                             f"to stderr only\n")
            sys.stderr.flush()


class _WorkerName(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.worker = (scoop_hpc.WORKER_NAME if scoop_hpc.IS_RUNNING
                         else "launcher")
        return True


def configure_logging(verbosity: int, path: Optional[str] = None,
                      debug: bool = False) -> None:
    """Log scoop_hpc's messages to stderr (and ``path``).

    Args:
        verbosity: 0 warnings, 1 info, 2 or more debug; negative: errors.
        path: a file that receives the same records.
        debug: force debug messages.

    Raises:
        UsageError: ``path`` cannot be opened for writing.
    """
    if debug:
        verbosity = max(verbosity, 2)
    level = {0: logging.WARNING, 1: logging.INFO}.get(
        verbosity, logging.DEBUG if verbosity > 1 else logging.ERROR)
    logger = logging.getLogger("scoop_hpc")
    logger.setLevel(level)
    logger.propagate = False
    handlers = [logging.StreamHandler()]
    if path:
        try:
            handlers.append(_LogFile(path))
        except OSError as exc:
            raise UsageError(
                f"--log {path}: cannot write this file: {exc.strerror}; "
                f"name a file in a directory you can write to") from exc
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(_WorkerName())
        logger.addHandler(handler)
