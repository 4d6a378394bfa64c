from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
import pytest

from collector.components.kit.api import ArgumentError, Retirement
from collector.components.otelcol.processor.batch import Arguments, BatchProcessor
from collector.selfmetrics.otelcol import BATCH_SIZE_TRIGGER, BATCH_TIMEOUT_TRIGGER
from collector.signals import AckToken, Payload, Signal
from collector.testing.context import CollectingConsumer, build_context, ref
from tests.signals import otlp_data as data

_n = iter(range(1_000_000))


class GatedConsumer:
    """A downstream that blocks until the test opens the gate (an exporter with a full queue)."""

    mutates_data = False

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.payloads: list[Payload] = []
        self.arrived = asyncio.Event()

    async def consume(self, payload: Payload) -> None:
        self.arrived.set()
        await self.gate.wait()
        self.payloads.append(payload)
        payload.settle()


def make(consumer: Any, **raw: Any) -> BatchProcessor:
    args = msgspec.convert({"output": {}, **raw}, Arguments)
    args = msgspec.structs.replace(args, output=msgspec.structs.replace(
        args.output, traces=[ref("sink")], logs=[ref("sink")]))
    args.validate()
    cid = f"otelcol.processor.batch.b{next(_n)}"
    return BatchProcessor(build_context(BatchProcessor, cid, consumers={"sink": consumer}), args)


def spans(n: int, token: AckToken | None = None) -> Payload:
    return data.payload(Signal.TRACES, data.traces([[n]]), token=token)


def test_defaults_and_validation() -> None:
    args = msgspec.convert({"output": {}}, Arguments)
    assert (args.send_batch_size, args.send_batch_max_size, args.timeout) == (2000, 3000, 0.2)
    with pytest.raises(ArgumentError) as info:
        msgspec.convert({"output": {}, "send_batch_size": 10, "send_batch_max_size": 5}, Arguments).validate()
    assert info.value.attribute == "send_batch_max_size"


def test_size_trigger_and_timeout_flush() -> None:
    async def scenario() -> None:
        sink = CollectingConsumer()
        processor = make(sink, send_batch_size=10, send_batch_max_size=10, timeout=0.05)
        await processor.start()
        for _ in range(4):
            await processor.consume(spans(3))  # 12 items: one size batch of 10, 2 wait for the timeout
        while sink.items < 12:
            await asyncio.sleep(0.01)
        assert [p.item_count for p in sink.payloads] == [10, 2]
        cid = processor.ctx.component_id
        assert BATCH_SIZE_TRIGGER.labels(cid, "/")._value.get() == 1
        assert BATCH_TIMEOUT_TRIGGER.labels(cid, "/")._value.get() == 1
        await processor.shutdown(time.monotonic() + 1)

    asyncio.run(scenario())


def test_shutdown_flushes_everything() -> None:
    async def scenario() -> None:
        sink = CollectingConsumer()
        tokens = [AckToken(i) for i in range(5)]
        processor = make(sink, send_batch_size=1000, timeout=60.0)
        await processor.start()
        for token in tokens:
            await processor.consume(spans(2, token))
        assert sink.items == 0
        await processor.shutdown(time.monotonic() + 1)
        await processor.shutdown(time.monotonic() + 1)
        assert sink.items == 10
        assert all(t.released for t in tokens)

    asyncio.run(scenario())


def test_backpressure_blocks_consume_while_downstream_is_blocked() -> None:
    async def scenario() -> None:
        downstream = GatedConsumer()
        processor = make(downstream, send_batch_size=10, send_batch_max_size=10, timeout=60.0)
        await processor.start()
        await processor.consume(spans(10))  # first batch: taken by the flusher, which blocks downstream
        await downstream.arrived.wait()
        await processor.consume(spans(10))  # second batch waits in the outbox: within the allowance
        third = asyncio.create_task(processor.consume(spans(5)))  # 15 pending > 10: must wait
        await asyncio.sleep(0.05)
        assert not third.done()
        assert processor.pending_items == 15
        downstream.gate.set()
        await asyncio.wait_for(third, 5)
        await processor.shutdown(time.monotonic() + 1)
        assert sum(p.item_count for p in downstream.payloads) == 25

    asyncio.run(scenario())


@pytest.mark.parametrize(("retirement", "released"), [
    (Retirement.EXIT, False),  # the process stops: left unsettled in the rings for the next start
    (Retirement.REMOVED, True),  # a reload removed the component: counted as dropped and settled
])
def test_shutdown_deadline_with_blocked_downstream(retirement: Retirement, released: bool) -> None:
    async def scenario() -> None:
        downstream = GatedConsumer()  # never opens
        tokens = [AckToken(i) for i in range(3)]
        processor = make(downstream, send_batch_size=4, send_batch_max_size=4, timeout=60.0)
        processor.retirement = retirement
        await processor.start()
        await processor.consume(spans(3, tokens[0]))
        await processor.consume(spans(3, tokens[1]))
        await downstream.arrived.wait()
        blocked = asyncio.create_task(processor.consume(spans(3, tokens[2])))  # held by backpressure
        await asyncio.sleep(0.01)
        assert not blocked.done()
        await processor.shutdown(time.monotonic() + 0.1)
        await asyncio.wait_for(blocked, 5)  # shutdown releases a blocked caller
        assert [t.released for t in tokens] == [released] * 3
        assert downstream.payloads == []

    asyncio.run(scenario())


def test_shutdown_deadline_on_reload_hands_leftovers_to_the_successor() -> None:
    async def scenario() -> None:
        tokens = [AckToken(i) for i in range(2)]
        old = make(GatedConsumer(), send_batch_size=4, send_batch_max_size=4, timeout=60.0)
        sink = CollectingConsumer()
        new = make(sink, send_batch_size=1, timeout=0.01)
        old.retirement, old.successor = Retirement.REPLACED, new
        await old.start()
        await new.start()
        await old.consume(spans(3, tokens[0]))
        await old.consume(spans(3, tokens[1]))
        await old.shutdown(time.monotonic() + 0.1)
        await new.shutdown(time.monotonic() + 2)
        assert sum(p.item_count for p in sink.payloads) == 6
        assert all(t.released for t in tokens)

    asyncio.run(scenario())


def test_metadata_cardinality_limit_drops_and_settles() -> None:
    async def scenario() -> None:
        sink = CollectingConsumer()
        processor = make(sink, metadata_keys=["tenant"], metadata_cardinality_limit=1, timeout=60.0)
        await processor.start()
        first = AckToken(1)
        refused = AckToken(2)
        await processor.consume(data.payload(Signal.TRACES, data.traces([[1]]), token=first, metadata=(("tenant", "a"),)))
        await processor.consume(data.payload(Signal.TRACES, data.traces([[1]]), token=refused, metadata=(("tenant", "b"),)))
        assert refused.released and not first.released
        await processor.shutdown(time.monotonic() + 1)
        assert first.released and sink.items == 1

    asyncio.run(scenario())


def test_signals_go_to_their_own_output() -> None:
    async def scenario() -> None:
        sink = CollectingConsumer()
        processor = make(sink, send_batch_size=3, timeout=60.0)
        await processor.start()
        await processor.consume(spans(2))
        await processor.consume(data.payload(Signal.LOGS, data.logs([[3]])))
        while not sink.payloads:
            await asyncio.sleep(0.01)
        assert [(p.signal, p.item_count) for p in sink.payloads] == [(Signal.LOGS, 3)]
        await processor.shutdown(time.monotonic() + 1)
        assert sorted((p.signal.value, p.item_count) for p in sink.payloads) == [("logs", 3), ("traces", 2)]

    asyncio.run(scenario())


def test_a_successor_that_cannot_take_the_leftovers_in_time_gets_them_counted_as_dropped(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The hand-over on a reload is bounded: what the new instance cannot take is dropped, counted
    and settled (never left unsettled in a worker that keeps running)."""
    from collector.components.kit import api

    class Stuck:
        async def consume(self, payload: Payload) -> None:
            await asyncio.Event().wait()

    monkeypatch.setattr(api, "HAND_OVER_TIMEOUT", 0.05)

    async def scenario() -> None:
        tokens = [AckToken(i) for i in range(2)]
        old = make(GatedConsumer(), send_batch_size=4, send_batch_max_size=4, timeout=60.0)
        old.retirement, old.successor = Retirement.REPLACED, Stuck()  # type: ignore[assignment]
        await old.start()
        await old.consume(spans(3, tokens[0]))
        await old.consume(spans(3, tokens[1]))
        await old.shutdown(time.monotonic() + 0.1)
        assert all(t.released for t in tokens)

    asyncio.run(scenario())
