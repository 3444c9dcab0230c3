"""Maps over many items, cut into chunks of up to ``TARGET`` seconds each.

A map submits one task per chunk, keeps a bounded window of chunks in
flight (so a generator of a million items streams), and sizes each chunk
from the measured time per item: chunks grow towards ``TARGET`` seconds
each, and never above a ``SHARE``-th of the remaining items per worker
(a ``BIG_SHARE``-th for big items, whose transfers then overlap), so
every worker gets work and a slow item delays little (for a function
whose tasks compute, per worker with a CPU of its own: on a host with
more workers than CPUs no more than one process per CPU runs them,
``crowding.py``, and one-item chunks would cost more in messages than
they spread), but never below
``FLOOR`` seconds: a task's messages cost tens of microseconds, and
waking an idle worker much more where workers outnumber cores, so
spreading less work than that over more workers (256 workers on 20,000
items of a microsecond) would only slow the map down. The floor gives
way to the items' size: it never makes a chunk's payload exceed
``FLOOR_BYTES`` (big arguments travel faster spread over workers).

Chunks shrink as the map goes, so they must run in about the order they
were cut, or the big early ones come last and one worker finishes them
while the others idle. The map's own process takes its queued tasks
newest first (depth first, ``hub.py``), so the chunks of a map called by
the program itself (not by a task: a task's children must still run
before the tasks queued ahead of it) are queued at the other end, behind
the rest: the owner runs them oldest first, and a thief, which takes from
that end, the newest, as small as the map now cuts them.

Until a chunk has run, nothing is known of the items. In a job of
``PROBE_FROM`` workers or more, a map over a sized collection first sends
one item ahead, to another worker (a *probe*): not run here, because an
item may take hours, and the rest of the map would then wait for it. If
the probe does not come back within ``PROBE_WAIT`` seconds, the items
are long: the whole window opens, one item a chunk. Once a chunk has
landed, and until one has run for ``FLOOR / 2`` seconds, the estimate is
mostly the chunks' own overhead: the window then opens gradually (two
more chunks for each that lands), while the chunks grow with it. So 256
workers do not wake for a thousand one-item chunks of a map that takes
milliseconds in all. No probe is sent

- in smaller jobs, where a first window of one-item chunks costs less
  than the probe's round trip;
- for items of ``FLOOR_BYTES / BIG`` bytes or more: their chunks hold a
  few items at most anyway, and they spread at once, as the bytes travel;
- for a function whose items, at the end of its last map here, took so
  long that this map's chunks would hold one each anyway
  (``Pace.item_time``).
"""
from __future__ import annotations

from itertools import islice
from typing import Any, Callable, Dict, Iterable, Iterator, Optional, Tuple

from greenlet import getcurrent

from ..errors import TimeoutError as FuturesTimeout
from . import execution
from .future import Future
from .hub import Hub
from .waiting import Waiter, deadline_after, time_left

TARGET = 0.05           # seconds of work per chunk
SHARE = 4               # ... and a chunk takes at most 1/SHARE of the
#                         items left per worker (guided self-scheduling)
BIG_SHARE = 8           # ... 1/BIG_SHARE for big items: their bytes cost
#                         more than their chunks' messages, and smaller
#                         chunks overlap their transfers
FLOOR = 0.001           # seconds of work per chunk at least
FLOOR_BYTES = 1 << 20   # ... unless its payload would exceed this
MAX_CHUNK = 1 << 14     # items per chunk at most
PROBE_FROM = 16         # workers in the job for a probe to pay
PROBE_WAIT = 0.1        # seconds the probe may take before the window opens
BIG = 16                # items of FLOOR_BYTES / BIG or more are big
_DECAY = 0.5            # weight of the earlier chunks in the time per item


def _length(iterables: Tuple[Iterable, ...]) -> Optional[int]:
    """The number of items of a map over ``iterables``: the length of the
    shortest, or None if one has no length (or all are too long for one).

    >>> _length(([1, 2, 3], range(10**20))), _length((range(10**20),))
    (3, None)
    """
    lengths = []
    for iterable in iterables:
        try:
            lengths.append(len(iterable))  # type: ignore[arg-type]
        except OverflowError:   # past sys.maxsize: longer than any other
            continue
        except TypeError:
            return None
    return min(lengths, default=None)


class Chunker:
    """Cuts the arguments of a map into adaptively sized chunks, and says
    how many may be in flight (``window``)."""

    def __init__(self, hub: Hub, fn: Callable,
                 iterables: Tuple[Iterable, ...]) -> None:
        self.hub = hub
        self.fn = fn
        self.star = len(iterables) != 1
        self._items = zip(*iterables) if self.star else iter(iterables[0])
        self._left = _length(iterables)
        # Taking items from a plain iterator may run arbitrary code, even
        # wait on futures (a map of a map): only the consumer does that.
        self.may_block = self._left is None
        self._per_item: Optional[float] = None
        self._timed = [0.0, 0.0]   # seconds and items of landed chunks,
        #                            the earlier ones decayed
        self._bytes_per_item = 0.0
        self.full = 4 * hub.size + 2
        self.trusted = False      # a chunk ran long enough to time items
        last = hub.pace.item_time(fn)
        self.probing = (not self.may_block and hub.size >= PROBE_FROM
                        and hub.endpoint is not None
                        and (last is None or self._size_for(last) > 1))
        self.landed = 0

    @property
    def window(self) -> int:
        """How many chunks may be submitted and unfinished at once."""
        if self.probing:
            return 1
        if self.trusted or self._per_item is None:
            return self.full
        return min(self.full, 2 * self.landed + 1)

    def take(self) -> list:
        """Return the next chunk of items ([] when exhausted)."""
        size = self._size()
        chunk = list(islice(self._items, size))
        if self._left is not None:
            self._left -= len(chunk)
        return chunk

    def observe(self, fut: Future, count: int) -> None:
        """Learn the time per item from a finished chunk (a chunk of more
        items weighs more)."""
        if fut.duration is None or not count:
            return
        timed = self._timed
        timed[0] = timed[0] * _DECAY + fut.duration
        timed[1] = timed[1] * _DECAY + count
        self._per_item = timed[0] / timed[1]
        self.probing = False
        self.landed += 1
        if fut.duration >= FLOOR / 2:
            self.trusted = True
        if self.trusted:     # the map's last estimate is what is kept
            self.hub.pace.note_items(self.fn, self._per_item)

    def probe_over(self) -> bool:
        """The probe took ``PROBE_WAIT``: open the window (returns whether
        it was still probing)."""
        was, self.probing = self.probing, False
        return was

    def weigh(self, payload: list, count: int) -> None:
        """Learn the payload bytes per item from a chunk just submitted."""
        nbytes = sum(memoryview(frame).nbytes for frame in payload)
        self._bytes_per_item = nbytes / count
        if self.big:
            self.probing = False   # chunks of a few items at most: they
            self.trusted = True    # spread at once, as the bytes travel

    @property
    def big(self) -> bool:
        """Whether the items weigh ``FLOOR_BYTES / BIG`` bytes or more."""
        return self._bytes_per_item * BIG >= FLOOR_BYTES

    def _size(self) -> int:
        if self._per_item is None:
            return 1
        return self._size_for(self._per_item)

    def _size_for(self, per_item: float) -> int:
        """Items a chunk takes, if each takes ``per_item`` seconds."""
        per_item = max(per_item, 1e-8)
        size = int(TARGET / per_item)
        if self._left is not None:
            hub = self.hub
            spread = hub.cpus if hub.pace.computes(self.fn) else hub.size
            share = BIG_SHARE if self.big else SHARE
            size = min(size, -(-self._left // (share * spread)))
        floor = int(FLOOR / per_item)
        if self._bytes_per_item:
            floor = min(floor, int(FLOOR_BYTES / self._bytes_per_item))
        size = max(size, floor)
        return max(1, min(size, MAX_CHUNK))


class _Window:
    """The chunks of one map that are in flight.

    At most ``chunker.window`` chunks are submitted and unfinished, and at
    most four times as many are finished but not yet consumed. Over a sized
    collection, a chunk that finishes submits the next one at once (from its
    done-callback), so an ordered map waiting for its first chunk keeps
    every worker busy; over an iterator, only the consumer takes items.
    """

    def __init__(self, hub: Hub, task: Callable, fn: Callable,
                 iterables: Tuple[Iterable, ...], extra: tuple,
                 kwargs: dict) -> None:
        self.hub = hub
        self.chunker = Chunker(hub, fn, iterables)
        self.task = task
        self.head = (fn, *extra)
        self.kwargs = kwargs
        self.inflight: Dict[Future, int] = {}  # insertion ordered
        self.unfinished: set = set()  # submitted, not yet known done
        self.error: Optional[BaseException] = None
        self.closed = False
        self.filling = False
        self.waiter: Optional[Waiter] = None
        self.probe: Optional[Future] = None
        self.top = getcurrent() in (hub.root_greenlet, hub.greenlet)

    def fill(self) -> None:
        """Submit chunks while the window has room and items are left.

        Not re-entrant: taking items may wait (the items may come from
        another map), and a chunk landing meanwhile must not pull from the
        same iterator; the filling call goes on until the window is full.
        """
        if self.filling:
            return
        self.filling = True
        try:
            self._fill()
        finally:
            self.filling = False

    def _fill(self) -> None:
        chunker = self.chunker
        while (len(self.unfinished) < chunker.window
               and len(self.inflight) < 4 * chunker.window
               and not self.closed):
            chunk = chunker.take()
            if not chunk:
                self.closed = True
                return
            fut = self.hub.submit(
                self.task, (*self.head, chunk, chunker.star,
                            self.kwargs), {}, oldest_first=self.top)
            chunker.weigh(fut._payload, len(chunk))
            if chunker.probing:         # for another worker (see above)
                self.probe = fut
                fut._reserved += 1
                self.hub.call_later(PROBE_WAIT, self._probe_over)
            self.inflight[fut] = len(chunk)
            self.unfinished.add(fut)
            if self.waiter is not None:
                self.waiter.add(fut)
            fut.add_done_callback(self._landed)

    def _landed(self, fut: Future) -> None:
        self.unfinished.discard(fut)
        count = self.inflight.get(fut)
        if count is not None:  # else the consumer had it first
            self.chunker.observe(fut, count)
        if fut is self.probe:
            self._release_probe()
        self._refill()

    def _probe_over(self) -> None:
        if self.chunker.probe_over():
            self._release_probe()
            self._refill()

    def _release_probe(self) -> None:
        """Let any worker run the probe, this one too."""
        probe, self.probe = self.probe, None
        if probe is not None:
            probe._reserved -= 1
            self.hub.unpark()

    def _refill(self) -> None:
        """Fill from a callback: over a sized collection only."""
        if self.chunker.may_block:
            return
        try:
            self.fill()
        except BaseException as exc:  # noqa: BLE001 - raised by the consumer
            self.error = exc
            self.closed = True

    def check(self) -> None:
        """Raise what went wrong while submitting from a callback."""
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def consumed(self, fut: Future) -> None:
        """Forget a chunk the consumer took, and refill the window."""
        del self.inflight[fut]
        self.unfinished.discard(fut)
        self.check()
        self.fill()

    def cancel(self) -> None:
        self.closed = True
        self._release_probe()
        for fut in self.inflight:
            fut.cancel()
        self.inflight.clear()
        if self.waiter is not None:
            self.waiter.close()


def ordered(hub: Hub, task: Callable, fn: Callable,
            iterables: Tuple[Iterable, ...], extra: tuple, kwargs: dict,
            timeout: Optional[float]) -> Iterator[Tuple[Any, Any]]:
    """Yield ``(value, failure)`` of each chunk, in submission order."""
    deadline = deadline_after(timeout)
    window = _Window(hub, task, fn, iterables, extra, kwargs)
    window.fill()
    return _ordered(window, deadline)


def _ordered(window: _Window, deadline: Optional[float]):
    inflight = window.inflight
    try:
        while _more(window):
            fut = next(iter(inflight))
            value, failure = fut.result(time_left(deadline))
            window.consumed(fut)
            yield value, failure
        window.check()
    finally:
        window.cancel()


def completed(hub: Hub, task: Callable, fn: Callable,
              iterables: Tuple[Iterable, ...], extra: tuple, kwargs: dict,
              timeout: Optional[float]) -> Iterator[Tuple[Any, Any]]:
    """Yield ``(value, failure)`` of each chunk as it completes."""
    deadline = deadline_after(timeout)
    window = _Window(hub, task, fn, iterables, extra, kwargs)
    window.waiter = Waiter(hub)
    window.fill()
    return _completed(window, deadline)


def _completed(window: _Window, deadline: Optional[float]):
    inflight, waiter = window.inflight, window.waiter
    try:
        while _more(window):
            if not waiter.wait(deadline):
                raise FuturesTimeout(
                    f"{len(inflight)} chunks of the map are unfinished "
                    f"after the timeout")
            fut = waiter.fired.popleft()
            waiter.futures.remove(fut)
            window.consumed(fut)
            yield fut.result()
        window.check()
    finally:
        window.cancel()


def _more(window: _Window) -> bool:
    """Tell whether chunks remain, submitting some if none is in flight.

    A done-callback may run after the consumer took its chunk: the consumer
    also refills, here and after each chunk, rather than stop early.
    """
    if not window.inflight:
        window.fill()
    return bool(window.inflight)


def values(chunks: Iterator[Tuple[list, Any]]) -> Iterator[Any]:
    """Flatten map chunks; raise a chunk's failure after its values."""
    for chunk, failure in chunks:
        yield from chunk
        if failure is not None:
            raise execution.unwrap(failure)
