"""The `collector_exporter_queue_*` gauges: what memory and disk queues hold, their capacity, the oldest age."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Awaitable, Callable

from prometheus_client import REGISTRY

from collector.components.kit.exporterhelper.config import QueueArgs, RetryArgs
from collector.components.kit.exporterhelper.errors import RetryableError
from collector.components.kit.exporterhelper.persistent import FileStorageHandler, PersistentQueue
from collector.components.kit.exporterhelper.sender import ExportSender
from collector.signals import AckToken, Payload, Signal
from tests.components.kit.exporterhelper.doubles import GatedPush
from tests.signals import otlp_data as data

FAST_RETRY = RetryArgs(initial_interval=0.01, max_interval=0.02, max_elapsed_time=0)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def spans(n: int, token: AckToken | None = None) -> Payload:
    return data.payload(Signal.TRACES, data.traces([[n]]), token=token)


def gauge(name: str, component: str, storage: str, **extra: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"component_id": component, "component_path": "/", "storage": storage,
                                            **extra})


async def _until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


def test_memory_queue_gauges_count_waiting_and_in_flight_batches_and_their_age() -> None:
    async def scenario() -> None:
        clock = Clock(100.0)
        push = GatedPush()
        component = "otelcol.exporter.otlphttp.stats_memory"
        sender = ExportSender(component_id=component, logger=logging.getLogger("t"), push=push, timeout=0,
                              queue=QueueArgs(num_consumers=1, queue_size=10), retry=RetryArgs(), clock=clock)
        await sender.start()
        assert gauge("collector_exporter_queue_capacity", component, "memory", sizer="requests") == 10
        assert gauge("collector_exporter_queue_capacity_bytes", component, "memory") is None  # no byte budget
        payloads = [spans(2), spans(3), spans(4)]
        for payload, at in zip(payloads, (100.0, 105.0, 107.0)):
            clock.now = at
            await sender.consume(payload)
        await asyncio.sleep(0.01)  # the consumer took the first one: in flight, still held
        clock.now = 110.0
        stats = sender.update_queue_gauges()
        assert stats is not None
        assert (stats.requests, stats.items, stats.oldest_age) == (3, 9, 10.0)
        assert stats.bytes == sum(len(p.data) for p in payloads)
        assert gauge("collector_exporter_queue_items", component, "memory") == 9
        assert gauge("collector_exporter_queue_requests", component, "memory") == 3
        assert gauge("collector_exporter_queue_bytes", component, "memory") == stats.bytes
        assert gauge("collector_exporter_queue_oldest_age_seconds", component, "memory") == 10.0
        push.gate.set()
        await _until(lambda: sender.update_queue_gauges() == stats._replace(requests=0, items=0, bytes=0,
                                                                                 oldest_age=0.0))
        await sender.shutdown(time.monotonic() + 5)
        assert gauge("collector_exporter_queue_items", component, "memory") == 0

    asyncio.run(scenario())


def test_memory_queue_counts_bytes_without_serializing_a_message() -> None:
    async def scenario() -> None:
        push = GatedPush()
        sender = ExportSender(component_id="otelcol.exporter.otlp.stats_message", logger=logging.getLogger("t"),
                              push=push, timeout=0, queue=QueueArgs(num_consumers=1, queue_size=10),
                              retry=RetryArgs())
        await sender.start()
        first, modified = spans(1), Payload(Signal.TRACES, message=data.traces([[5]]), item_count=5)
        await sender.consume(first)
        await sender.consume(modified)
        stats = sender.update_queue_gauges()
        assert stats is not None and stats.items == 6
        assert modified._data is None  # not serialized for the statistics: it counts 0 bytes until sent
        assert stats.bytes == len(first.data)
        push.gate.set()
        await sender.shutdown(time.monotonic() + 5)

    asyncio.run(scenario())


def test_memory_queue_with_the_bytes_sizer_has_a_byte_capacity() -> None:
    async def scenario() -> None:
        async def push(payload: Payload) -> None:
            pass

        component = "otelcol.exporter.otlp.stats_bytes"
        sender = ExportSender(component_id=component, logger=logging.getLogger("t"), push=push, timeout=0,
                              queue=QueueArgs(num_consumers=1, queue_size=4096, sizer="bytes"), retry=RetryArgs())
        await sender.start()
        assert gauge("collector_exporter_queue_capacity", component, "memory", sizer="bytes") == 4096
        assert gauge("collector_exporter_queue_capacity_bytes", component, "memory") == 4096
        await sender.shutdown(time.monotonic() + 5)

    asyncio.run(scenario())


def _disk_sender(directory: Path, push: Callable[[Payload], Awaitable[None]], wall: Clock,
                 component: str) -> ExportSender:
    handler = FileStorageHandler("otelcol.storage.file.t", directory)
    return ExportSender(component_id=component, logger=logging.getLogger("t"), push=push, timeout=0,
                        queue=QueueArgs(num_consumers=1, queue_size=100, storage=handler), retry=FAST_RETRY,
                        worker_signal=Signal.TRACES, persistent_max_bytes=1 << 20, wall_clock=wall)


def test_disk_queue_gauges_and_the_age_of_records_recovered_after_a_restart(tmp_path: Path) -> None:
    component = "otelcol.exporter.otlphttp.stats_disk"

    async def down(payload: Payload) -> None:
        raise RetryableError("HTTP 503")

    async def first_run() -> None:
        wall = Clock(1000.0)
        sender = _disk_sender(tmp_path, down, wall, component)
        await sender.start()
        for at in (1000.0, 1003.0, 1004.0):
            wall.now = at
            await sender.consume(spans(2, AckToken(0)))
        wall.now = 1010.0
        stats = sender.update_queue_gauges()
        assert stats is not None
        assert (stats.storage, stats.requests, stats.items, stats.oldest_age) == ("disk", 3, 6, 10.0)
        assert stats.bytes > 0 and stats.file_bytes is not None and stats.file_bytes >= stats.bytes
        assert gauge("collector_exporter_queue_capacity_bytes", component, "disk") == 1 << 20
        assert gauge("collector_exporter_queue_capacity", component, "disk", sizer="requests") == 100
        assert gauge("collector_exporter_queue_items", component, "disk") == 6
        assert gauge("collector_exporter_queue_oldest_age_seconds", component, "disk") == 10.0
        assert gauge("collector_exporter_queue_file_bytes", component, "disk") == stats.file_bytes
        await sender.shutdown(time.monotonic() + 0.2)  # backend down: the records stay on disk
        assert gauge("collector_exporter_queue_items", component, "disk") == 0  # no longer this instance's

    asyncio.run(first_run())
    queue_dir = next(p for p in tmp_path.rglob("*") if p.is_dir() and any(p.glob("*.q*")))
    for segment in queue_dir.iterdir():
        os.utime(segment, (1500.0, 1500.0))  # the records' only time after a restart: the segment's

    async def second_run() -> None:
        slow = GatedPush()
        wall = Clock(2000.0)
        sender = _disk_sender(tmp_path, slow, wall, component)
        await sender.start()
        queue = sender._queue
        assert isinstance(queue, PersistentQueue)
        await _until(queue._opened.is_set)
        stats = sender.update_queue_gauges()
        assert stats is not None and (stats.requests, stats.items, stats.oldest_age) == (3, 6, 500.0)
        await sender.consume(spans(1, AckToken(1)))  # appended in this run, at 2000
        slow.gate.set()
        await _until(lambda: sum(slow.delivered) == 7)
        wall.now = 2002.0
        stats = sender.update_queue_gauges()
        assert stats is not None and (stats.requests, stats.items, stats.bytes, stats.oldest_age) == (0, 0, 0, 0.0)
        await sender.shutdown(time.monotonic() + 1)

    asyncio.run(second_run())
