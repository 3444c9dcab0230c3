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
from array import array
from typing import Any, Dict, List, Tuple

from . import execution


class Recorder:
    """Counts of one worker, and its task records when ``events``."""

    def __init__(self, worker: str, events: bool) -> None:
        self.worker = worker
        self.tasks = 0
        self.busy = 0.0
        self.recording = events
        # one task is 20 bytes here: its name's number, start, duration
        # (a tuple of a new name and two floats took 130)
        self._names: Dict[str, int] = {}
        self._which = array("I")
        self._starts = array("d")
        self._durations = array("d")

    def add(self, fn: Any, args: tuple, start: float,
            duration: float) -> None:
        """A task ran: ``start`` is ``time.perf_counter()`` at its start."""
        self.tasks += 1
        self.busy += duration
        if self.recording:
            name = task_name(fn, args)
            number = self._names.get(name)
            if number is None:
                number = self._names[name] = len(self._names)
            self._which.append(number)
            self._starts.append(time.time() - (time.perf_counter() - start))
            self._durations.append(duration)

    @property
    def events(self) -> List[Tuple[str, float, float]]:
        """``(function, wall-clock start, duration)`` of each task."""
        names = list(self._names)
        return [(names[which], start, duration) for which, start, duration
                in zip(self._which, self._starts, self._durations)]

    def write(self, folder: str) -> None:
        """Write the record as ``folder/<worker>.json``."""
        record = {"worker": self.worker, "host": os.uname().nodename,
                  "pid": os.getpid(), "tasks": self.tasks,
                  "busy": self.busy, "events": self.events}
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
