"""The processor helper: counters, drops, error handling and forwarding around a plain `process()`."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest
from prometheus_client import REGISTRY

from collector.components.kit.processorhelper import AsyncProcessor, Processor
from collector.components.kit.registry import ComponentInfo, register
from collector.components.kit.types import Output
from collector.signals import AckToken, Payload, Signal
from collector.testing.context import CollectingConsumer, build_context, ref
from tests.transport import payloads

TABLE: dict[str, ComponentInfo] = {}


class Args(msgspec.Struct, frozen=True, kw_only=True):
    output: Output
    mode: str = "keep"


class Boom(Exception):
    pass


@register("test.processor.sync", arguments=Args, accepts=tuple(Signal), emits=tuple(Signal), table=TABLE)
class SyncProcessor(Processor[Args]):
    drop_reason = "unwanted"
    error_reason = "boom"
    payload_errors = (Boom,)

    def process(self, payload: Payload) -> Payload | None:
        if self.args.mode == "drop":
            return None
        if self.args.mode == "fail":
            raise Boom("statement failed")
        if self.args.mode == "halve":
            self.dropped(payload.signal, 1, "trimmed")
            payload.modified(payload.item_count - 1)
        return payload


@register("test.processor.async", arguments=Args, accepts=tuple(Signal), emits=tuple(Signal), table=TABLE)
class WaitingProcessor(AsyncProcessor[Args]):
    preserves_count = True

    async def process(self, payload: Payload) -> Payload:
        await asyncio.sleep(0)
        return payload


def _value(name: str, cid: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"component_id": cid, "component_path": "/", **labels}) or 0.0


def _build(cls: Any, cid: str, mode: str = "keep") -> tuple[Any, CollectingConsumer]:
    sink = CollectingConsumer()
    args = Args(output=Output(logs=[ref("sink")]), mode=mode)
    return cls(build_context(cls, cid, consumers={"sink": sink}), args), sink


def _payload(records: int) -> tuple[Payload, AckToken]:
    token = AckToken(1)
    return Payload(Signal.LOGS, data=payloads.logs(records).SerializeToString(), acks=[token]), token


def test_forwarded_payloads_are_counted_in_and_out() -> None:
    proc, sink = _build(SyncProcessor, "test.processor.sync.keep")
    payload, _ = _payload(3)
    asyncio.run(proc.consume(payload))
    assert sink.payloads == [payload]
    assert _value("otelcol_processor_incoming_items_total", proc.ctx.component_id, otel_signal="logs") == 3
    assert _value("otelcol_processor_outgoing_items_total", proc.ctx.component_id, otel_signal="logs") == 3


def test_items_removed_on_the_way_are_counted_as_dropped() -> None:
    proc, sink = _build(SyncProcessor, "test.processor.sync.halve", "halve")
    asyncio.run(proc.consume(_payload(3)[0]))
    cid = proc.ctx.component_id
    assert _value("otelcol_processor_incoming_items_total", cid, otel_signal="logs") == 3
    assert _value("otelcol_processor_outgoing_items_total", cid, otel_signal="logs") == 2
    assert _value("collector_processor_dropped_items_total", cid, otel_signal="logs", reason="trimmed") == 1


def test_a_payload_not_handed_back_is_settled_and_counted() -> None:
    proc, sink = _build(SyncProcessor, "test.processor.sync.drop", "drop")
    payload, token = _payload(4)
    asyncio.run(proc.consume(payload))
    assert sink.payloads == [] and token.released
    cid = proc.ctx.component_id
    assert _value("collector_processor_dropped_items_total", cid, otel_signal="logs", reason="unwanted") == 4
    assert _value("otelcol_processor_outgoing_items_total", cid, otel_signal="logs") == 0
    assert _value("collector_dropped_log_records_total", cid, reason="unwanted") == 0  # on purpose: not lost


def test_a_payload_error_drops_the_payload_as_lost(caplog: pytest.LogCaptureFixture) -> None:
    proc, sink = _build(SyncProcessor, "test.processor.sync.fail", "fail")
    payload, token = _payload(2)
    asyncio.run(proc.consume(payload))
    assert sink.payloads == [] and token.released
    cid = proc.ctx.component_id
    assert _value("collector_dropped_log_records_total", cid, reason="boom") == 2
    assert _value("otelcol_processor_incoming_items_total", cid, otel_signal="logs") == 2
    assert any("statement failed" in r.getMessage() for r in caplog.records)


def test_other_exceptions_reach_the_caller() -> None:
    proc, _ = _build(SyncProcessor, "test.processor.sync.bug")
    payload = Payload(Signal.LOGS, data=b"\xff\xff")  # undecodable: counting it raises
    with pytest.raises(Exception):
        asyncio.run(proc.consume(payload))


def test_async_processors_count_once_after_processing() -> None:
    proc, sink = _build(WaitingProcessor, "test.processor.async.x")
    asyncio.run(proc.consume(_payload(5)[0]))
    assert len(sink.payloads) == 1
    cid = proc.ctx.component_id
    assert _value("otelcol_processor_incoming_items_total", cid, otel_signal="logs") == 5
    assert _value("otelcol_processor_outgoing_items_total", cid, otel_signal="logs") == 5


def test_outputs_are_resolved_at_build_into_one_fanout_per_signal() -> None:
    proc, sink = _build(SyncProcessor, "test.processor.sync.wiring")
    assert set(proc.output) == set(Signal)
    assert proc.output[Signal.LOGS].consumers == [sink]
    assert proc.output[Signal.TRACES].consumers == []
