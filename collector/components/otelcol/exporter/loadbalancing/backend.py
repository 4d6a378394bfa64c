"""One backend of the load balancer: a gRPC channel and its own queue -> retry -> timeout.

Each backend is an `otelcol.exporter.otlp` in all but name: the same channel options, status
classification and partial-success handling (imported from `otlp.py`), and its own `ExportSender`,
so a backend that is down is retried and fills only its own queue; when that queue is full the
load balancer's `consume` waits, and backpressure reaches the clients as with any exporter.

The senders of all backends count `otelcol_exporter_sent_*`/`send_failed_*` under the load
balancer's component ID (counters add up). Queue gauges are set, not added, so a backend sender
does not set them; the load balancer sums every backend's queue statistics once a second instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Sequence

import grpc

from collector.components.kit.exporterhelper.config import QueueArgs, RetryArgs
from collector.components.kit.exporterhelper.errors import grpc_error
from collector.components.kit.exporterhelper.queue import QueueStats
from collector.components.kit.exporterhelper.sender import ExportSender, HandOver
from collector.components.kit.otelcol_client import GRPCClientArgs
from collector.components.kit.tasks import cancel_and_wait
from collector.components.otelcol.exporter.otlp import open_channel
from collector.components.otelcol.exporter.otlphttp import partial_success_message
from collector.selfmetrics.loadbalancer import BACKEND_ITEMS, BACKEND_OUTCOME
from collector.signals import Payload, Signal

PARTIAL_LOG_INTERVAL = 10.0


class _Unreported:
    """Stands in for the sender's queue-size gauges: the load balancer reports the sum instead."""

    def set(self, value: float) -> None:
        return None


class BackendSender(ExportSender):
    """An `ExportSender` that leaves the queue gauges to its owner and can give back its queue."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._queue_size = _Unreported()  # type: ignore[assignment]
        self._queue_capacity = _Unreported()  # type: ignore[assignment]

    def update_queue_gauges(self) -> QueueStats | None:
        return self._queue.stats() if self._queue is not None else None

    async def _stop_reporting(self) -> None:
        task, self._stats_task = self._stats_task, None
        await cancel_and_wait(task)

    def take_queued(self) -> list[Payload]:
        """Remove what waits in the queue (not what a sender is sending): the backend left the ring."""
        return self._queue.take_all() if self._queue is not None else []


class Backend:
    def __init__(self, *, component_id: str, endpoint: str, client: GRPCClientArgs, timeout: float,
                 queue: QueueArgs, retry: RetryArgs, logger: logging.Logger, worker_signal: Signal | None,
                 worker_index: int, hand_over: HandOver) -> None:
        self.component_id = component_id
        self.endpoint = endpoint
        self.client = client
        self.timeout = timeout
        self.logger = logger
        self.queued = queue.enabled
        self._metadata = tuple((k.lower(), v) for k, v in client.headers.items())
        self._channel: grpc.aio.Channel | None = None
        self._calls: dict[Signal, Any] = {}
        self._last_partial_log = float("-inf")
        self._succeeded = BACKEND_OUTCOME.labels(component_id, endpoint, "true")
        self._failed = BACKEND_OUTCOME.labels(component_id, endpoint, "false")
        self.sender = BackendSender(component_id=component_id, logger=logger, push=self._push, timeout=timeout,
                                    queue=queue, retry=retry, worker_signal=worker_signal,
                                    worker_index=worker_index, hand_over=hand_over)

    async def start(self) -> None:
        if self._channel is None:
            self._channel = open_channel(self.client)
            self._calls = {signal: self._channel.unary_unary(signal.spec.grpc_method) for signal in Signal}
        await self.sender.start()

    async def shutdown(self, deadline: float) -> None:
        await self.sender.shutdown(deadline)
        channel, self._channel = self._channel, None
        if channel is not None:
            await channel.close()

    def stats(self) -> QueueStats | None:
        return self.sender.update_queue_gauges()

    async def offer(self, payload: Payload, timeout: float) -> bool:
        """Hand a part to this backend's sender. With `timeout` (> 0, queue enabled), give up
        waiting for queue room after it and return False: the caller routes the part again, which
        sends it elsewhere only if the ring changed meanwhile."""
        signal, items = payload.signal, payload.item_count
        if timeout > 0 and self.queued:
            try:
                await asyncio.wait_for(self.sender.consume(payload), timeout)
            except asyncio.TimeoutError:
                return False
        else:
            await self.sender.consume(payload)
        BACKEND_ITEMS.labels(self.component_id, self.endpoint, signal.value).inc(items)
        return True

    async def _push(self, payload: Payload) -> None:
        call = self._calls[payload.signal]
        metadata = self._metadata
        auth = self.client.auth
        if auth is not None:  # per call: from_context headers come from this batch's metadata
            headers = dict(metadata)
            auth.apply(headers, payload.metadata)
            metadata = tuple((key.lower(), value) for key, value in headers.items())
        try:
            response = await call(payload.data, timeout=self.timeout or None, metadata=metadata,
                                  wait_for_ready=self.client.wait_for_ready)
        except grpc.aio.AioRpcError as error:
            self._failed.inc()
            code = error.code().value[0]
            raise grpc_error(code, error.details() or "", tuple(error.trailing_metadata() or ())) from None
        except BaseException:
            self._failed.inc()
            raise
        self._succeeded.inc()
        if response:
            warning = partial_success_message(payload.signal, response, "application/x-protobuf")
            now = time.monotonic()
            if warning and now - self._last_partial_log >= PARTIAL_LOG_INTERVAL:
                self._last_partial_log = now
                self.logger.warning("Partial success response: %s component_id=%s endpoint=%s", warning,
                                    self.component_id, self.endpoint)


def sum_stats(stats: Sequence[QueueStats]) -> QueueStats | None:
    """The load balancer's queue figures: every backend's held data added, the oldest age of all."""
    if not stats:
        return None
    capacity_bytes = [s.capacity_bytes for s in stats if s.capacity_bytes is not None]
    return QueueStats("memory", sum(s.requests for s in stats), sum(s.items for s in stats),
                      sum(s.bytes for s in stats), max(s.oldest_age for s in stats),
                      sum(s.capacity for s in stats), sum(capacity_bytes) if capacity_bytes else None)

