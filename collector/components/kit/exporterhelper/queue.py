"""`sending_queue`: a bounded in-memory queue between the pipeline and `num_consumers` senders.

DIFFERENCE FROM ALLOY. In Alloy (and the OpenTelemetry Collector) a full queue fails the caller with
`sending queue is full` and the data is dropped, unless `block_on_overflow = true`. Here a full queue
always makes `put()` wait: the batch processor stops flushing, the worker stops reading its ring,
the ring fills and the receivers answer "retry later" to clients. Nothing is lost silently, which is
this collector's promise (data that was acknowledged is delivered or counted as dropped with a
reason). `block_on_overflow` is still accepted so Alloy configurations load unchanged.

Capacity is counted with the configured sizer: requests (default), items, or bytes. One element
larger than the whole capacity is admitted when the queue is empty, so it cannot wait forever.

Statistics (`stats()`, read by the sender's gauges once a second): what the queue holds is what it
has not settled, i.e. the elements waiting plus those a sender took and has not finished (`done`).
Each element carries its enqueue time, so the oldest age is exact. Bytes are the serialized size of
the elements whose bytes already exist (`len()` of bytes present, no serialization on the hot
path); an element held only as a decoded message (a processor changed it; it is serialized when
sent) counts 0 bytes, so the figure is a lower bound in that case. With the `bytes` sizer every
element is serialized anyway for its size, and the figure is exact.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Callable, NamedTuple

from collector.signals import Payload

SIZERS: dict[str, Callable[[Payload], int]] = {
    "requests": lambda payload: 1,
    "items": lambda payload: payload.item_count,
    "bytes": lambda payload: payload.size_bytes,
}


class QueueClosed(Exception):
    pass


class QueueStats(NamedTuple):
    """What a sending queue holds now (waiting or being sent), for the self-metrics."""

    storage: str  # "memory" or "disk"
    requests: int
    items: int
    bytes: int
    oldest_age: float  # seconds since the oldest held element was queued; 0 when empty
    capacity: int  # queue_size, in the sizer's unit
    capacity_bytes: int | None  # the byte budget, None when there is none
    file_bytes: int | None = None  # disk only: bytes of the segment files


class _Entry(NamedTuple):
    payload: Payload
    size: int  # in the sizer's unit
    items: int
    bytes: int
    queued_at: float


def _known_bytes(payload: Payload) -> int:
    """The serialized size if the bytes exist; 0 for a message not yet serialized (see module doc)."""
    data = payload._data  # never serialize here: the exporter does it once, when it sends
    return len(data) if data is not None else 0


class BoundedQueue:
    def __init__(self, capacity: int, sizer: str = "requests", clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = capacity
        self.sizer = sizer
        self._size_of = SIZERS[sizer]
        self._items: deque[_Entry] = deque()
        self.used = 0
        self._changed = asyncio.Condition()
        self.closed = False
        self.clock = clock
        self._held_items = 0  # of the waiting elements (taken ones are in _taken)
        self._held_bytes = 0
        self._taken: dict[int, _Entry] = {}  # id(payload) -> entry, taken by a sender and not yet done

    def __len__(self) -> int:
        return len(self._items)

    async def put(self, payload: Payload) -> None:
        """Wait for room, then enqueue. Raises QueueClosed once `close()` was called."""
        size = self._size_of(payload)
        async with self._changed:
            await self._changed.wait_for(
                lambda: self.closed or not self._items or self.used + size <= self.capacity)
            if self.closed:
                raise QueueClosed("sending queue is shut down")
            entry = _Entry(payload, size, payload.item_count, size if self.sizer == "bytes" else _known_bytes(payload),
                           self.clock())
            self._items.append(entry)
            self.used += size
            self._held_items += entry.items
            self._held_bytes += entry.bytes
            self._changed.notify_all()

    async def get(self) -> Payload | None:
        """The oldest element, waiting for one; None once the queue is closed and empty."""
        async with self._changed:
            await self._changed.wait_for(lambda: bool(self._items) or self.closed)
            if not self._items:
                return None
            entry = self._items.popleft()
            self.used -= entry.size
            self._held_items -= entry.items
            self._held_bytes -= entry.bytes
            self._taken[id(entry.payload)] = entry
            self._changed.notify_all()
            return entry.payload

    def done(self, payload: Payload) -> None:
        """A sender finished with a payload it took (delivered, failed or held at shutdown)."""
        self._taken.pop(id(payload), None)

    async def close(self) -> None:
        """Refuse new elements; consumers still drain what is queued."""
        async with self._changed:
            self.closed = True
            self._changed.notify_all()

    def release(self) -> None:
        """Nothing to release: the queue lives in memory."""

    def take_all(self) -> list[Payload]:
        """Remove and return what is left (used at the shutdown deadline)."""
        left = [entry.payload for entry in self._items]
        self._items.clear()
        self._taken.clear()
        self.used = self._held_items = self._held_bytes = 0
        return left

    def stats(self) -> QueueStats:
        taken = self._taken.values()  # at most num_consumers entries
        oldest = min((entry.queued_at for entry in taken), default=None)
        if self._items and (oldest is None or self._items[0].queued_at < oldest):
            oldest = self._items[0].queued_at
        return QueueStats(
            "memory", len(self._items) + len(taken),
            self._held_items + sum(entry.items for entry in taken),
            self._held_bytes + sum(entry.bytes for entry in taken),
            max(0.0, self.clock() - oldest) if oldest is not None else 0.0,
            self.capacity, self.capacity if self.sizer == "bytes" else None)
