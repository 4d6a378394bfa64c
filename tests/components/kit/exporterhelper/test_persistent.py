"""The persistent sending queue inside `ExportSender`: settle after append, restart, backpressure, disk full."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest

from collector.components.kit.api import Health, HealthState
from collector.components.kit.exporterhelper.config import QueueArgs, RetryArgs
from collector.components.kit.exporterhelper.errors import PermanentError, RetryableError
from collector.components.kit.exporterhelper.persistent import FileStorageHandler
from collector.components.kit.exporterhelper.sender import ExportSender
from collector.selfmetrics.otelcol import PIPELINE_DROPPED
from collector.signals import AckToken, Payload, Signal
from tests.components.kit.exporterhelper.doubles import GatedPush
from collector.testing.tmpfs import mounted_tmpfs
from tests.signals import otlp_data as data

FAST_RETRY = RetryArgs(initial_interval=0.01, max_interval=0.02, max_elapsed_time=0)


def spans(n: int, token: AckToken, name: str = "s") -> Payload:
    request = data.traces([[n]])
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                span.name = name
    return data.payload(Signal.TRACES, request, token=token)


def _sender(directory: Path, push: Callable[[Payload], Awaitable[None]], *, queue_size: int = 100,
            sizer: str = "requests", consumers: int = 2, health: list[Health] | None = None,
            max_bytes: int = 1 << 30, worker_index: int = 0, workers: int | None = None) -> ExportSender:
    handler = FileStorageHandler("otelcol.storage.file.t", directory)
    return ExportSender(component_id="otelcol.exporter.otlphttp.t", logger=logging.getLogger("t"), push=push,
                        timeout=0, queue=QueueArgs(num_consumers=consumers, queue_size=queue_size, sizer=sizer,
                                                   storage=handler),
                        retry=FAST_RETRY, worker_signal=Signal.TRACES, worker_index=worker_index, workers=workers,
                        on_health=(health.append if health is not None else lambda h: None),
                        persistent_max_bytes=max_bytes)


def _names(payload: Payload) -> list[str]:
    return [span.name for rs in payload.message.resource_spans  # type: ignore[attr-defined]
            for ss in rs.scope_spans for span in ss.spans]


async def _down(payload: Payload) -> None:
    raise RetryableError("HTTP 503")


def _recorder(delivered: list[str]) -> Callable[[Payload], Awaitable[None]]:
    """A push that succeeds and records the names of the spans it delivered."""
    async def up(payload: Payload) -> None:
        delivered.extend(_names(payload))
    return up


def _run(directory: Path, push: Callable[[Payload], Awaitable[None]], *, until: Callable[[], bool] | None = None,
         wait: float = 5.0, **kwargs: Any) -> None:
    """Start a sender over `directory` (what an earlier one left there is recovered), let it deliver until
    `until()` holds or `wait` seconds have passed, then shut it down with a second to drain."""
    async def scenario() -> None:
        sender = _sender(directory, push, **kwargs)
        await sender.start()
        deadline = time.monotonic() + wait
        while not (until is not None and until()) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await sender.shutdown(time.monotonic() + 1)

    asyncio.run(scenario())


def test_payload_is_settled_once_on_disk_and_delivered_after_a_restart(tmp_path: Path) -> None:
    delivered: list[str] = []

    async def first_run() -> list[AckToken]:
        sender = _sender(tmp_path, _down)
        await sender.start()
        tokens = [AckToken(i) for i in range(5)]
        for i, token in enumerate(tokens):
            await sender.consume(spans(2, token, name=f"b{i}"))
        assert all(token.released for token in tokens)  # ring records released: the batches are on disk
        await sender.shutdown(time.monotonic() + 0.2)  # backend down: nothing delivered, nothing dropped
        return tokens

    asyncio.run(first_run())
    queue_dir = tmp_path / "otelcol.exporter.otlphttp.t" / "traces-0"
    assert list(queue_dir.glob("*.q"))
    _run(tmp_path, _recorder(delivered), until=lambda: len(delivered) >= 10)
    assert sorted(set(delivered)) == sorted(f"b{i}" for i in range(5))
    delivered.clear()
    _run(tmp_path, _recorder(delivered), until=lambda: len(delivered) >= 10)  # everything was acknowledged: nothing comes back
    assert delivered == []


def test_permanent_failure_removes_the_record(tmp_path: Path) -> None:
    async def reject(payload: Payload) -> None:
        raise PermanentError("HTTP 400")

    async def scenario() -> None:
        sender = _sender(tmp_path, reject)
        await sender.start()
        await sender.consume(spans(3, AckToken(0)))
        await asyncio.sleep(0.1)
        await sender.shutdown(time.monotonic() + 1)

    asyncio.run(scenario())
    seen: list[str] = []
    _run(tmp_path, _recorder(seen), wait=0.1)
    assert seen == []


@pytest.mark.parametrize("sizer,queue_size,max_bytes", [("requests", 2, 1 << 30), ("items", 4, 1 << 30),
                                                        ("requests", 100, 1)])
def test_full_queue_or_byte_budget_holds_the_caller_and_its_ring_records(
        tmp_path: Path, sizer: str, queue_size: int, max_bytes: int) -> None:
    async def scenario() -> None:
        push = GatedPush()
        sender = _sender(tmp_path, push, queue_size=queue_size, sizer=sizer, consumers=1, max_bytes=max_bytes)
        await sender.start()
        await sender.consume(spans(2, AckToken(0)))  # the first always fits
        if max_bytes > 1:
            await sender.consume(spans(2, AckToken(1)))
        held = AckToken(9)
        waiting = asyncio.create_task(sender.consume(spans(2, held)))
        await asyncio.sleep(0.1)
        assert not waiting.done() and not held.released  # backpressure: the ring keeps it
        push.gate.set()
        await asyncio.wait_for(waiting, 5)
        assert held.released
        await sender.shutdown(time.monotonic() + 2)

    asyncio.run(scenario())


def test_corrupt_record_is_counted_as_dropped_and_the_rest_delivered(tmp_path: Path) -> None:
    async def fill() -> None:
        sender = _sender(tmp_path, _down)
        await sender.start()
        for i in range(3):
            await sender.consume(spans(5, AckToken(i), name=f"c{i}"))
        await sender.shutdown(time.monotonic() + 0.1)

    asyncio.run(fill())
    [segment] = (tmp_path / "otelcol.exporter.otlphttp.t" / "traces-0").glob("*.q")
    raw = bytearray(segment.read_bytes())
    middle = len(raw) // 2
    raw[middle] ^= 0xFF
    segment.write_bytes(bytes(raw[:-7]))  # and a torn tail
    counter = PIPELINE_DROPPED[Signal.TRACES].labels("otelcol.exporter.otlphttp.t", "/", "corrupt")
    before = counter._value.get()
    delivered: list[str] = []
    _run(tmp_path, _recorder(delivered), wait=0.2)
    assert sorted(set(delivered)) == ["c0"]  # c1 corrupt, c2 torn
    assert counter._value.get() - before == 5  # the corrupt record's items (its header survived)


def _fill(path: Path) -> None:
    """Write until the filesystem is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b"\xff" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)


def test_disk_full_holds_data_reports_unhealthy_and_recovers(tmp_path: Path) -> None:
    with mounted_tmpfs(tmp_path / "tiny", "256k", what="ENOSPC TEST") as mount:
        filler = mount / "filler"
        delivered: list[str] = []
        up = asyncio.Event()

        async def push(payload: Payload) -> None:
            await up.wait()
            delivered.extend(_names(payload))

        async def scenario() -> None:
            sender = _sender(mount, push, consumers=1)
            await sender.start()
            await sender.consume(spans(1, AckToken(0), name="before"))
            _fill(filler)
            held = AckToken(1)
            blocked = asyncio.create_task(sender.consume(spans(400, held, name="during")))
            await asyncio.sleep(0.3)
            assert not blocked.done() and not held.released  # kept upstream, not dropped
            filler.unlink()  # space is back
            await asyncio.wait_for(blocked, 5)
            assert held.released
            up.set()
            deadline = time.monotonic() + 5
            while "during" not in delivered and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            await sender.shutdown(time.monotonic() + 1)

        asyncio.run(scenario())
        assert "before" in delivered and "during" in delivered


def test_disk_full_sets_health_unhealthy_then_healthy(tmp_path: Path) -> None:
    with mounted_tmpfs(tmp_path / "tiny", "128k", what="ENOSPC TEST") as mount:
        async def push(payload: Payload) -> None:
            pass

        async def scenario() -> list[Health]:
            health: list[Health] = []
            sender = _sender(mount, push, consumers=1, health=health)
            await sender.start()
            await sender.consume(spans(1, AckToken(0)))
            filler = mount / "filler"
            _fill(filler)
            task = asyncio.create_task(sender.consume(spans(2000, AckToken(1), name="x")))
            await asyncio.sleep(0.2)
            assert health[-1].state is HealthState.UNHEALTHY and "No space left" in health[-1].message
            filler.unlink()
            await asyncio.wait_for(task, 5)
            await sender.shutdown(time.monotonic() + 1)
            return health

        health = asyncio.run(scenario())
        assert health[-1].state is HealthState.HEALTHY


def test_queues_of_workers_that_no_longer_exist_are_taken_over_and_removed(tmp_path: Path) -> None:
    """Three traces workers became one: worker 0 delivers what workers 1 and 2 left on disk."""
    delivered: list[str] = []

    async def old_worker(index: int) -> None:
        sender = _sender(tmp_path, _down, worker_index=index, workers=3)
        await sender.start()
        await sender.consume(spans(1, AckToken(index), name=f"w{index}"))
        await sender.shutdown(time.monotonic() + 0.1)

    for index in range(3):
        asyncio.run(old_worker(index))
    _run(tmp_path, _recorder(delivered), until=lambda: len(delivered) >= 3, worker_index=0, workers=1)
    assert sorted(delivered) == ["w0", "w1", "w2"]
    parent = tmp_path / "otelcol.exporter.otlphttp.t"
    assert sorted(p.name for p in parent.iterdir()) == ["traces-0"]
