"""The reliability wrapper every queued exporter uses: queue -> retry -> timeout -> push.

An exporter supplies only `push(payload)`, one attempt that raises `PermanentError` or
`RetryableError` (anything else counts as retryable, like an unclassified error in the Go
collector). The wrapper owns the outcomes, so every exporter keeps the same promise:

* success -> `otelcol_exporter_sent_*` and `settle()`;
* permanent failure or retries exhausted -> `otelcol_exporter_send_failed_*`, `settle()`, and a log
  line with the reason at most once per `log_interval` per component (never per item or per retry);
* still undelivered at the shutdown deadline -> the exporter's `hand_over` decides (kit/api.py
  `Component.hand_over`): when the process exits they stay unsettled, so the next start of this
  collector instance adopts the rings and delivers them (`collector/runtime/adoption.py`); on a
  reload they go to the exporter's new instance; a removed exporter counts them as dropped. What a
  persistent queue holds stays on disk for whichever instance opens it next. One warning says how
  many and where.

Queue statistics: a small task updates the `collector_exporter_queue_*` gauges once a second from
the queue's `stats()` (so the oldest age is right at scrape time, not only when the queue changes),
and stops at shutdown, which leaves them at zero.

Every payload that enters `consume()` is settled at most once, and exactly once unless the shutdown
deadline leaves it for the next start.
"""

from __future__ import annotations

import asyncio
import logging
import random as _random
import time
from typing import Awaitable, Callable, Final, Sequence

from collector.components.kit.api import Health
from collector.components.kit.exporterhelper.config import QueueArgs, RetryArgs
from collector.components.kit.exporterhelper.errors import ExportFailure, PermanentError, RetryableError
from collector.components.kit.exporterhelper.persistent import DEFAULT_MAX_BYTES, PersistentQueue
from collector.components.kit.exporterhelper.queue import BoundedQueue, QueueClosed, QueueStats
from collector.components.kit.exporterhelper.retry import RetriesExhausted, ShutdownAbort, send_with_retry
from collector.components.kit.tasks import cancel_and_wait
from collector.selfmetrics.otelcol import (
    EXPORTER_QUEUE_BYTES,
    EXPORTER_QUEUE_CAPACITY,
    EXPORTER_QUEUE_CAPACITY_BYTES,
    EXPORTER_QUEUE_CAPACITY_UNITS,
    EXPORTER_QUEUE_FILE_BYTES,
    EXPORTER_QUEUE_ITEMS,
    EXPORTER_QUEUE_OLDEST_AGE,
    EXPORTER_QUEUE_REQUESTS,
    EXPORTER_QUEUE_SIZE,
    EXPORTER_SEND_FAILED,
    EXPORTER_SENT,
)
from collector.signals import Payload, Signal

Push = Callable[[Payload], Awaitable[None]]
HandOver = Callable[[Sequence[Payload]], Awaitable[str]]


async def leave_in_rings(leftovers: Sequence[Payload]) -> str:
    """The hand-over of a sender outside a component (tests): leave them for the next start."""
    return "left in the rings for the next start"
DEFAULT_DRAIN: Final = 10.0  # seconds a shutdown without a deadline may spend draining
STATS_INTERVAL: Final = 1.0  # seconds between updates of the queue gauges


class FailureLog:
    """At most one line per `interval`, summarizing what failed since the previous line."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last: float | None = None
        self._batches = 0
        self._items = 0

    def record(self, items: int, now: float) -> tuple[int, int] | None:
        """Account a failure; return (batches, items) to report now, or None to stay quiet."""
        self._batches += 1
        self._items += items
        if self._last is not None and now - self._last < self.interval:
            return None
        self._last = now
        report = (self._batches, self._items)
        self._batches = self._items = 0
        return report


class ExportSender:
    """queue -> retry -> timeout around one exporter's `push`."""

    def __init__(
        self,
        *,
        component_id: str,
        logger: logging.Logger,
        push: Push,
        timeout: float,
        queue: QueueArgs,
        retry: RetryArgs,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
        log_interval: float = 10.0,
        worker_signal: Signal | None = None,
        worker_index: int = 0,
        on_health: Callable[[Health], None] = lambda health: None,
        persistent_max_bytes: int = DEFAULT_MAX_BYTES,
        hand_over: HandOver = leave_in_rings,
        workers: int | None = None,
        wall_clock: Callable[[], float] = time.time,
        stats_interval: float = STATS_INTERVAL,
    ) -> None:
        self.component_id = component_id
        self.logger = logger
        self.push = push
        self.timeout = timeout
        self.queue_args = queue
        self.retry_args = retry
        self.clock = clock
        self.random = random
        self.failure_log = FailureLog(log_interval)
        self.stopping = asyncio.Event()
        self._deadline: float | None = None
        self.worker_signal = worker_signal
        self.worker_index = worker_index
        if worker_signal is not None:  # exported as 0 from the start: the UI shows "0/s", not "no counter"
            EXPORTER_SENT[worker_signal].labels(component_id, "/")
        self.on_health = on_health
        self.persistent_max_bytes = persistent_max_bytes
        self._queue: BoundedQueue | PersistentQueue | None = None
        self._consumers: list[asyncio.Task[None]] = []
        self._in_flight = 0  # unqueued sends running in callers' tasks
        self._idle = asyncio.Event()
        self._idle.set()
        self._shutdown_done = False
        self.hand_over = hand_over
        self.workers = workers  # of this worker's signal, when known: queues of removed workers are adopted
        self._leftovers: list[Payload] = []  # ring-backed payloads still held at the shutdown deadline
        self._on_disk = [0, 0]  # batches, items a persistent queue keeps for the next start
        self._handed_over = False
        self._late: set[asyncio.Future[str]] = set()
        self._queue_size = EXPORTER_QUEUE_SIZE.labels(component_id, "/")
        self._queue_capacity = EXPORTER_QUEUE_CAPACITY.labels(component_id, "/")
        self.wall_clock = wall_clock
        self.stats_interval = stats_interval
        self._stats_task: asyncio.Task[None] | None = None

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        if self.queue_args.enabled and self._queue is None:
            self._queue = self._new_queue()
            self._queue_capacity.set(self.queue_args.queue_size)
            self._queue_size.set(0)
            self._consumers = [asyncio.create_task(self._consume_queue(), name=f"{self.component_id} sender {i}")
                               for i in range(self.queue_args.num_consumers)]
            self.update_queue_gauges()
            self._stats_task = asyncio.create_task(self._report_queue(), name=f"{self.component_id} queue stats")

    async def shutdown(self, deadline: float | None = None) -> None:
        """Stop accepting, drain until `deadline` (monotonic), leave what is left unsettled."""
        if self._shutdown_done:
            return
        self._shutdown_done = True
        self._deadline = deadline if deadline is not None else self.clock() + DEFAULT_DRAIN
        self.stopping.set()
        if self._queue is not None:
            await self._queue.close()
            remaining = max(0.0, self._deadline - self.clock())
            if self._consumers:
                _, pending = await asyncio.wait(self._consumers, timeout=remaining)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
            for payload in self._queue.take_all():
                self._hold(payload)
            self._queue.release()
            self._queue_size.set(0)
            await self._stop_reporting()
        if self._in_flight:
            # unqueued sends run in their callers' tasks: not ours to cancel; their retry loops
            # abort at the deadline and settle, so waiting for them is bounded by it
            try:
                await asyncio.wait_for(self._idle.wait(), max(0.0, self._deadline - self.clock()))
            except asyncio.TimeoutError:
                pass
        leftovers, self._leftovers, self._handed_over = self._leftovers, [], True
        if leftovers:
            outcome = await self.hand_over(leftovers)
            self.logger.warning("Not delivered before the shutdown deadline: %s. component_id=%s batches=%d "
                                "items=%d", outcome, self.component_id, len(leftovers),
                                sum(p.item_count for p in leftovers))
        if self._on_disk[0]:
            self.logger.warning("Not delivered before the shutdown deadline: left in the persistent queue for "
                                "the next start. component_id=%s batches=%d items=%d", self.component_id,
                                *self._on_disk)

    def _new_queue(self) -> BoundedQueue | PersistentQueue:
        args = self.queue_args
        if args.storage is None:
            return BoundedQueue(args.queue_size, args.sizer, clock=self.clock)
        directory = args.storage.queue_directory(self.component_id, self.worker_signal, self.worker_index)
        orphans = [] if self.workers is None else args.storage.orphaned_directories(
            self.component_id, self.worker_signal, self.worker_index, self.workers)
        queue = PersistentQueue(args.storage, directory, capacity=args.queue_size, sizer=args.sizer,
                                component_id=self.component_id, logger=self.logger, on_health=self.on_health,
                                max_bytes=self.persistent_max_bytes, clock=self.clock, orphans=orphans,
                                wall_clock=self.wall_clock)
        queue.start()
        return queue

    # --- data path -------------------------------------------------------------------------
    async def consume(self, payload: Payload) -> None:
        """Hand a payload over; waits while the queue is full (see queue.py for why)."""
        if self._queue is None:
            if self.stopping.is_set():
                self._hold(payload)
                return
            self._in_flight += 1
            self._idle.clear()
            try:
                await self._send(payload)
            finally:
                self._in_flight -= 1
                if not self._in_flight:
                    self._idle.set()
            return
        try:
            await self._queue.put(payload)
        except QueueClosed:
            self._hold(payload)
            return
        self._queue_size.set(len(self._queue))

    async def _consume_queue(self) -> None:
        assert self._queue is not None
        while True:
            payload = await self._queue.get()
            if payload is None:
                return
            self._queue_size.set(len(self._queue))
            try:
                await self._send(payload, from_disk=isinstance(self._queue, PersistentQueue))
            finally:
                self._queue.done(payload)

    # --- queue statistics ------------------------------------------------------------------
    def update_queue_gauges(self) -> QueueStats | None:
        """Set the `collector_exporter_queue_*` gauges from the queue's current figures."""
        if self._queue is None:
            return None
        stats = self._queue.stats()
        labels = (self.component_id, "/", stats.storage)
        EXPORTER_QUEUE_REQUESTS.labels(*labels).set(stats.requests)
        EXPORTER_QUEUE_ITEMS.labels(*labels).set(stats.items)
        EXPORTER_QUEUE_BYTES.labels(*labels).set(stats.bytes)
        EXPORTER_QUEUE_OLDEST_AGE.labels(*labels).set(stats.oldest_age)
        EXPORTER_QUEUE_CAPACITY_UNITS.labels(*labels, self.queue_args.sizer).set(stats.capacity)
        if stats.capacity_bytes is not None:
            EXPORTER_QUEUE_CAPACITY_BYTES.labels(*labels).set(stats.capacity_bytes)
        if stats.file_bytes is not None:
            EXPORTER_QUEUE_FILE_BYTES.labels(*labels).set(stats.file_bytes)
        return stats

    async def _report_queue(self) -> None:
        while True:
            await asyncio.sleep(self.stats_interval)
            self.update_queue_gauges()

    async def _stop_reporting(self) -> None:
        """Stop the gauge task; the queue no longer holds anything here (disk records stay on disk
        for the next owner, which reports them), so what it held reads zero."""
        task, self._stats_task = self._stats_task, None
        await cancel_and_wait(task)
        if self._queue is not None:
            storage = "memory" if isinstance(self._queue, BoundedQueue) else "disk"
            labels = (self.component_id, "/", storage)
            for gauge in (EXPORTER_QUEUE_REQUESTS, EXPORTER_QUEUE_ITEMS, EXPORTER_QUEUE_BYTES,
                          EXPORTER_QUEUE_OLDEST_AGE) + ((EXPORTER_QUEUE_FILE_BYTES,) if storage == "disk" else ()):
                gauge.labels(*labels).set(0)

    async def _attempt(self, payload: Payload) -> None:
        try:
            if self.timeout > 0:
                async with asyncio.timeout(self.timeout):
                    await self.push(payload)
            else:
                await self.push(payload)
        except ExportFailure:
            raise
        except TimeoutError:
            raise RetryableError(f"request timed out after {self.timeout}s") from None
        except asyncio.CancelledError:
            raise
        except Exception as error:  # unclassified: retry, as the Go collector does
            raise RetryableError(f"{type(error).__name__}: {error}") from error

    async def _send(self, payload: Payload, *, from_disk: bool = False) -> None:
        """Deliver one payload through retries and settle it, unless the shutdown deadline stops it
        (then `_hold` keeps it; a record read `from_disk` stays in the persistent queue)."""
        signal = payload.signal
        items = payload.item_count
        try:
            await send_with_retry(lambda: self._attempt(payload), self.retry_args, clock=self.clock,
                                  random=self.random, stopping=self.stopping, deadline=lambda: self._deadline)
        except ShutdownAbort:
            self._hold(payload, from_disk)
            return
        except asyncio.CancelledError:
            self._hold(payload, from_disk)
            raise
        except PermanentError as error:
            self._failed(signal, items, error)
            payload.settle()
            return
        EXPORTER_SENT[signal].labels(self.component_id, "/").inc(items)
        payload.settle()

    # --- outcomes --------------------------------------------------------------------------
    def _failed(self, signal: Signal, items: int, error: Exception) -> None:
        EXPORTER_SEND_FAILED[signal].labels(self.component_id, "/").inc(items)
        report = self.failure_log.record(items, self.clock())
        if report is not None:
            batches, total = report
            kind = "retries exhausted" if isinstance(error, RetriesExhausted) else "not retryable"
            self.logger.error("Exporting failed. Rejecting data. component_id=%s error=%r (%s) "
                              "dropped_batches=%d dropped_items=%d",
                              self.component_id, str(error), kind, batches, total)

    def _hold(self, payload: Payload, from_disk: bool = False) -> None:
        """Past the shutdown deadline: neither settle nor count it; `shutdown` hands it over."""
        if from_disk:  # its settle would remove the record: unsettled, it stays in the queue file
            self._on_disk[0] += 1
            self._on_disk[1] += payload.item_count
        elif self._handed_over:  # a send that outlived shutdown (it ran in its caller's task)
            task = asyncio.ensure_future(self.hand_over([payload]))
            self._late.add(task)
            task.add_done_callback(self._late.discard)
        else:
            self._leftovers.append(payload)
