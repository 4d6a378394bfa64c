"""`sending_queue`: a bounded in-memory queue between the pipeline and `num_consumers` senders.

DIFFERENCE FROM ALLOY. In Alloy (and the OpenTelemetry Collector) a full queue fails the caller with
`sending queue is full` and the data is dropped, unless `block_on_overflow = true`. Here a full queue
always makes `put()` wait: the batch processor stops flushing, the worker stops reading its ring,
the ring fills and the receivers answer "retry later" to clients. Nothing is lost silently, which is
this collector's promise (data that was acknowledged is delivered or counted as dropped with a
reason). `block_on_overflow` is still accepted so Alloy configurations load unchanged.

Capacity is counted with the configured sizer: requests (default), items, or bytes. One element
larger than the whole capacity is admitted when the queue is empty, so it cannot wait forever.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Callable

from collector.signals import Payload

SIZERS: dict[str, Callable[[Payload], int]] = {
    "requests": lambda payload: 1,
    "items": lambda payload: payload.item_count,
    "bytes": lambda payload: payload.size_bytes,
}


class QueueClosed(Exception):
    pass


class BoundedQueue:
    def __init__(self, capacity: int, sizer: str = "requests") -> None:
        self.capacity = capacity
        self._size_of = SIZERS[sizer]
        self._items: deque[tuple[Payload, int]] = deque()
        self.used = 0
        self._changed = asyncio.Condition()
        self.closed = False

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
            self._items.append((payload, size))
            self.used += size
            self._changed.notify_all()

    async def get(self) -> Payload | None:
        """The oldest element, waiting for one; None once the queue is closed and empty."""
        async with self._changed:
            await self._changed.wait_for(lambda: bool(self._items) or self.closed)
            if not self._items:
                return None
            payload, size = self._items.popleft()
            self.used -= size
            self._changed.notify_all()
            return payload

    async def close(self) -> None:
        """Refuse new elements; consumers still drain what is queued."""
        async with self._changed:
            self.closed = True
            self._changed.notify_all()

    def release(self) -> None:
        """Nothing to release: the queue lives in memory."""

    def take_all(self) -> list[Payload]:
        """Remove and return what is left (used at the shutdown deadline)."""
        left = [payload for payload, _ in self._items]
        self._items.clear()
        self.used = 0
        return left
