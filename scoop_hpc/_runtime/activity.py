"""What one worker did: tasks run and busy time, and, for ``--timeline``,
one record per task (its function, start and duration).

The hub calls :meth:`Recorder.add` after each task it runs; the worker
writes the record to a file when it leaves (``activity`` of the launcher
reads them all back).
"""
from __future__ import annotations

import json
import os
import time
from typing import Any, List, Optional, Tuple

from . import execution


class Recorder:
    """Counts of one worker, and its task records when ``events``."""

    def __init__(self, worker: str, events: bool) -> None:
        self.worker = worker
        self.tasks = 0
        self.busy = 0.0
        self.events: Optional[List[Tuple[str, float, float]]] = (
            [] if events else None)

    def add(self, fn: Any, args: tuple, start: float,
            duration: float) -> None:
        """A task ran: ``start`` is ``time.perf_counter()`` at its start."""
        self.tasks += 1
        self.busy += duration
        if self.events is not None:
            wall = time.time() - (time.perf_counter() - start)
            self.events.append((task_name(fn, args), wall, duration))

    def write(self, folder: str) -> None:
        """Write the record as ``folder/<worker>.json``."""
        record = {"worker": self.worker, "host": os.uname().nodename,
                  "pid": os.getpid(), "tasks": self.tasks,
                  "busy": self.busy, "events": self.events or []}
        path = os.path.join(folder, f"{self.worker}.json")
        with open(path + ".part", "w", encoding="utf-8") as handle:
            json.dump(record, handle)
        os.replace(path + ".part", path)


def task_name(fn: Any, args: tuple) -> str:
    """The user's function of a task; for a chunk of a map (or of a
    mapReduce, a mapScan: ``fn, [reducer,] items, star, kwargs``), its
    function and the number of items (``square x125``)."""
    if execution.is_chunk(fn, args):
        return f"{execution.describe_callable(args[0])} x{len(args[-3])}"
    return execution.describe_callable(fn)
