"""`otelcol.processor.batch`: buffer payloads per signal (and per metadata-key combination) and send
them downstream as larger batches, by size or after `timeout`.

The rules live in `collector.components.otelcol.processor.batch.batcher.Batcher` (sans-IO); this module is the async shell:

* `consume()` hands the payload to the batcher and returns once it is buffered (Alloy's contract:
  downstream errors are logged, not returned to the caller);
* one flusher task sends ready batches in order, and wakes at the batcher's next deadline;
* BACKPRESSURE: batches wait in an outbox while the flusher is blocked downstream (an exporter's full
  sending queue). Once buffered plus waiting items exceed one maximum batch (`send_batch_max_size`,
  or `send_batch_size` without a max), `consume()` waits for the flusher to make progress; so the
  worker stops reading its ring instead of this buffer growing without bound;
* `shutdown(deadline)` flushes everything; what cannot be handed on by the deadline goes where
  `Component.hand_over` says: left unsettled in the rings when the process exits (the next start
  adopts them), to the new instance on a reload, counted as dropped when the component was removed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Final

import msgspec

from collector.components.kit.api import ArgumentError, BuildContext, Component, Health, HealthState
from collector.components.kit.processorhelper import ItemCounters, register_processor
from collector.components.kit.types import DebugMetrics, Duration, Output
from collector.selfmetrics.otelcol import (
    BATCH_SEND_SIZE,
    BATCH_SIZE_TRIGGER,
    BATCH_TIMEOUT_TRIGGER,
    PIPELINE_DROPPED,
)
from collector.signals import Payload, Signal
from collector.components.otelcol.processor.batch.batcher import Batch, Batcher, CardinalityLimitError

DEFAULT_DRAIN: Final = 10.0
LOG_INTERVAL: Final = 10.0


class Arguments(msgspec.Struct, frozen=True, kw_only=True):
    output: Output
    send_batch_size: int = 2000
    send_batch_max_size: int = 3000
    timeout: Duration = 0.2
    metadata_keys: list[str] = msgspec.field(default_factory=list)
    metadata_cardinality_limit: int = 1000
    debug_metrics: DebugMetrics | None = None

    def validate(self) -> None:
        if self.send_batch_size < 0:
            raise ArgumentError("send_batch_size must not be negative", "send_batch_size")
        if self.send_batch_max_size < 0:
            raise ArgumentError("send_batch_max_size must not be negative", "send_batch_max_size")
        if self.send_batch_max_size > 0 and self.send_batch_max_size < self.send_batch_size:
            raise ArgumentError("send_batch_max_size must be greater or equal to send_batch_size",
                                "send_batch_max_size")
        if self.timeout < 0:
            raise ArgumentError("timeout must not be negative", "timeout")
        if self.metadata_cardinality_limit < 0:
            raise ArgumentError("metadata_cardinality_limit must not be negative", "metadata_cardinality_limit")


def _new_batcher(args: Arguments) -> Batcher:
    return Batcher(send_batch_size=args.send_batch_size, send_batch_max_size=args.send_batch_max_size,
                   timeout=args.timeout, clock=time.monotonic, metadata_keys=tuple(args.metadata_keys),
                   metadata_cardinality_limit=args.metadata_cardinality_limit)


@register_processor("otelcol.processor.batch", arguments=Arguments)
class BatchProcessor(Component[Arguments]):
    def __init__(self, ctx: BuildContext, args: Arguments) -> None:
        super().__init__(ctx, args)
        self.logger: logging.Logger = ctx.logger
        self.batcher = _new_batcher(args)
        self._outbox: deque[Batch] = deque()
        self._outbox_items = 0
        self._wake = asyncio.Event()  # new data or a new deadline for the flusher
        self._flusher_timed = False  # the flusher sleeps with a timer set for the earliest deadline
        self._progress = asyncio.Event()  # the flusher took a batch: blocked consume() calls re-check
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False
        self._shutdown_done = False
        self._cancelled: list[Payload] = []  # payloads whose delivery the shutdown deadline cut
        self._last_log = float("-inf")
        cid = ctx.component_id
        self._send_size = BATCH_SEND_SIZE.labels(cid, "/")
        self._size_trigger = BATCH_SIZE_TRIGGER.labels(cid, "/")
        self._timeout_trigger = BATCH_TIMEOUT_TRIGGER.labels(cid, "/")
        self.counters = ItemCounters(cid)

    @property
    def high_water(self) -> int:
        return max(self.args.send_batch_max_size or self.args.send_batch_size, 1)

    @property
    def holds_for(self) -> float:
        """Seconds a payload may wait here for company before it is sent on: `timeout`, or 0 when
        every payload goes on at once (`timeout = 0`, or `send_batch_size = 1`). A worker whose every
        entry holds payloads lets records gather in its rings for a share of this before reading
        them (`collector.runtime.worker.linger_for`)."""
        return 0.0 if self.args.send_batch_size == 1 else float(self.args.timeout)

    @property
    def pending_items(self) -> int:
        """Items buffered or waiting for the flusher (not counting the batch being sent)."""
        return self.batcher.buffered_items + self._outbox_items

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        if self._flusher is None and not self._closed:
            self._flusher = asyncio.create_task(self._flush_loop(), name=f"{self.ctx.component_id} flusher")
        self.health = Health(HealthState.HEALTHY, "started component")

    async def shutdown(self, deadline: float | None = None) -> None:
        if self._shutdown_done:
            return
        self._shutdown_done = True
        self._closed = True
        limit = deadline if deadline is not None else time.monotonic() + DEFAULT_DRAIN
        self._enqueue(self.batcher.flush_all())
        self._wake.set()
        self._progress.set()
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_loop())
        try:
            await asyncio.wait_for(asyncio.shield(self._flusher), max(0.0, limit - time.monotonic()))
        except asyncio.TimeoutError:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        leftovers, self._cancelled = self._cancelled + [batch.payload for batch in self._outbox], []
        self._outbox.clear()
        self._outbox_items = 0
        if leftovers:
            outcome = await self.hand_over(leftovers)
            self.logger.warning("Not sent on before the shutdown deadline: %s. component_id=%s batches=%d items=%d",
                                outcome, self.ctx.component_id, len(leftovers),
                                sum(p.item_count for p in leftovers))
        self.health = Health(HealthState.EXITED, "component shut down cleanly")

    # --- data path -------------------------------------------------------------------------
    async def consume(self, payload: Payload) -> None:
        signal = payload.signal
        self.counters.incoming[signal].inc(payload.item_count)
        if self._closed:  # upstream is stopped before us; anything late goes straight through
            await self._deliver(Batch(payload, "shutdown"))
            return
        try:
            ready = self.batcher.add(payload)
        except CardinalityLimitError as error:
            self._drop(payload, "metadata_cardinality_limit", error)
            return
        self._enqueue(ready)
        # Wake the flusher only when it has something to do: a batch is ready, or it sleeps without a
        # timer and this payload started one. A later payload cannot bring the deadline forward (each
        # is its first item's arrival + timeout), so at light load a payload costs no task switch.
        if ready or not self._flusher_timed:
            self._wake.set()
        while self.pending_items > self.high_water and not self._closed:
            self._progress.clear()
            await self._progress.wait()

    def _enqueue(self, batches: list[Batch]) -> None:
        for batch in batches:
            self._outbox.append(batch)
            self._outbox_items += batch.payload.item_count

    async def _flush_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while self._outbox:
                batch = self._outbox.popleft()
                self._outbox_items -= batch.payload.item_count
                self._progress.set()
                await self._deliver(batch)
            if self._closed:
                return
            self._wake.clear()
            deadline = self.batcher.next_deadline()
            timer = None
            if deadline is not None:
                timer = loop.call_later(max(0.0, deadline - time.monotonic()), self._wake.set)
            self._flusher_timed = timer is not None
            await self._wake.wait()
            self._flusher_timed = False
            if timer is not None:
                timer.cancel()
            self._enqueue(self.batcher.due())

    async def _deliver(self, batch: Batch) -> None:
        payload = batch.payload
        signal = payload.signal
        items = payload.item_count
        self._send_size.observe(items)
        if batch.trigger == "size":
            self._size_trigger.inc()
        elif batch.trigger == "timeout":
            self._timeout_trigger.inc()
        self.counters.outgoing[signal].inc(items)
        try:
            await self.output[signal].consume(payload)
        except asyncio.CancelledError:  # the shutdown deadline passed while downstream held it
            self._cancelled.append(payload)
            raise
        except Exception as error:  # Alloy: downstream errors are logged, the data is lost (and counted)
            self._drop(payload, "downstream_error", error)

    def _drop(self, payload: Payload, reason: str, error: Exception | None = None) -> None:
        signal = payload.signal
        cid = self.ctx.component_id
        if reason == "shutdown":
            PIPELINE_DROPPED[signal].labels(cid, "/", reason).inc(payload.item_count)
        else:
            self.counters.dropped(signal, payload.item_count, reason)
        now = time.monotonic()
        if now - self._last_log >= LOG_INTERVAL:
            self._last_log = now
            self.logger.error("dropping data: %s component_id=%s items=%d%s", reason, cid, payload.item_count,
                              f" error={error}" if error else "")
        payload.settle()
