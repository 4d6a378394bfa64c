"""Every otelcol processor and connector keeps incoming/outgoing item counters (the UI's items/s)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import REGISTRY

from collector.components.kit.registry import lookup
from collector.signals import Payload, Signal
from tests.components.otelcol.connector.doubles import OUTPUT_ALL, decode_args, make_context
from tests.transport import payloads

PROCESSORS = {
    "otelcol.processor.attributes": {"action": [{"key": "k", "value": "v", "action": "insert"}]},
    "otelcol.processor.filter": {},
    "otelcol.processor.memory_limiter": {"check_interval": 1.0, "limit": 1 << 40},
    "otelcol.processor.resourcedetection": {},
    "otelcol.processor.transform": {"trace_statements": [{"context": "span", "statements": ['set(name, "x")']}]},
}


def _counter(name: str, cid: str, signal: Signal) -> float:
    return REGISTRY.get_sample_value(name, {"component_id": cid, "component_path": "/",
                                            "otel_signal": signal.value}) or 0.0


async def _one_payload(component: Any) -> None:
    """Start, take 6 spans (2 scopes x 3), shut down (a connector emits what it saw)."""
    await component.start()
    await component.consume(Payload(Signal.TRACES, data=payloads.traces(3).SerializeToString()))
    await component.shutdown()


def _counters(cid: str, incoming: Signal, outgoing: Signal) -> tuple[float, float]:
    return (_counter("otelcol_processor_incoming_items_total", cid, incoming),
            _counter("otelcol_processor_outgoing_items_total", cid, outgoing))


@pytest.mark.parametrize("name", sorted(PROCESSORS))
def test_processors_count_items_in_and_out(name: str) -> None:
    info = lookup(name)
    assert info is not None
    args = decode_args(name, {**OUTPUT_ALL, **PROCESSORS[name]})
    ctx, recorders = make_context(name, signal=Signal.TRACES)
    before = _counters(ctx.component_id, Signal.TRACES, Signal.TRACES)
    asyncio.run(_one_payload(info.factory(ctx, args)))
    assert len(recorders[Signal.TRACES].payloads) == 1
    after = _counters(ctx.component_id, Signal.TRACES, Signal.TRACES)
    assert (after[0] - before[0], after[1] - before[1]) == (6, 6)


def test_host_info_counts_traces_in_and_metrics_out() -> None:
    name = "otelcol.connector.host_info"
    info = lookup(name)
    assert info is not None
    args = decode_args(name, {"output": {"metrics": OUTPUT_ALL["output"]["metrics"]},
                              "host_identifiers": ["service.name"]})
    ctx, recorders = make_context(name, signal=Signal.TRACES)
    before = _counters(ctx.component_id, Signal.TRACES, Signal.METRICS)
    asyncio.run(_one_payload(info.factory(ctx, args)))
    after = _counters(ctx.component_id, Signal.TRACES, Signal.METRICS)
    emitted = sum(p.item_count for p in recorders[Signal.METRICS].payloads)
    assert emitted >= 1
    assert (after[0] - before[0], after[1] - before[1]) == (6, emitted)
