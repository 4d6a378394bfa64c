from __future__ import annotations

import asyncio
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.components.kit.api import ArgumentError
from collector.components.otelcol.processor.memory_limiter import MemoryLimiterProcessor
from collector.components.otelcol.processor.memory_limiter.memory import MemoryLimits, MemoryState, read_rss_bytes
from collector.selfmetrics.otelcol import PROCESSOR_REFUSED
from collector.signals import Payload, Signal
from tests.components.otelcol.connector.doubles import OUTPUT_ALL, decode_args, make_context

NAME = "otelcol.processor.memory_limiter"
MIB = 1 << 20


def test_limits_from_arguments() -> None:
    args = decode_args(NAME, {"check_interval": 1.0, "limit": 100 * MIB})
    assert args.limits() == MemoryLimits(hard=100 * MIB, soft=80 * MIB)  # spike defaults to 20%
    args = decode_args(NAME, {"check_interval": 1.0, "limit": 100 * MIB, "spike_limit": 10 * MIB})
    assert args.limits() == MemoryLimits(hard=100 * MIB, soft=90 * MIB)
    args = decode_args(NAME, {"check_interval": 1.0, "limit_percentage": 50, "spike_limit_percentage": 10})
    assert args.limits(lambda: 1000 * MIB) == MemoryLimits(hard=500 * MIB, soft=400 * MIB)


@pytest.mark.parametrize(("values", "attribute", "message"), [
    ({"check_interval": 0.0, "limit": 100 * MIB}, "check_interval", "greater than zero"),
    ({"check_interval": 1.0}, "limit", "either limit or limit_percentage"),
    ({"check_interval": 1.0, "limit": 100 * MIB, "limit_percentage": 50}, "limit", "but not both"),
    ({"check_interval": 1.0, "limit": MIB // 2}, "limit", "at least 1MiB"),
    ({"check_interval": 1.0, "limit": 100 * MIB, "spike_limit": 100 * MIB}, "spike_limit", "less than limit"),
    ({"check_interval": 1.0, "limit_percentage": 101}, "limit_percentage", "less than or equal to 100"),
    ({"check_interval": 1.0, "limit_percentage": 50, "spike_limit_percentage": 50}, "limit_percentage",
     "spike_limit_percentage must be less"),
    ({"check_interval": 1.0, "limit_percentage": 50, "spike_limit": MIB}, "spike_limit", "only be used with limit"),
    ({"check_interval": 1.0, "limit": 100 * MIB, "spike_limit_percentage": 5}, "spike_limit_percentage",
     "only be used with limit_percentage"),
])
def test_invalid_arguments(values: dict[str, Any], attribute: str, message: str) -> None:
    with pytest.raises(ArgumentError, match=message) as info:
        decode_args(NAME, values)
    assert info.value.attribute == attribute


def test_check_interval_is_required() -> None:
    import msgspec

    with pytest.raises(msgspec.ValidationError, match="check_interval"):
        decode_args(NAME, {"limit": 100 * MIB})


def test_state_machine() -> None:
    state = MemoryState(MemoryLimits(hard=100, soft=80))
    assert [(d.force_gc, d.changed, state.refusing) for d in [state.observe(50)]] == [(False, False, False)]
    decision = state.observe(85)
    assert (decision.force_gc, decision.changed, state.refusing) == (False, True, True)
    decision = state.observe(120)
    assert (decision.force_gc, decision.changed, state.refusing) == (True, False, True)
    decision = state.observe(79)
    assert (decision.force_gc, decision.changed, state.refusing) == (False, True, False)


def test_reads_real_rss() -> None:
    assert read_rss_bytes() > MIB


def _payload(spans: int) -> Payload:
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for n in range(spans):
        scope.spans.add(name=f"s{n}")
    return Payload(Signal.TRACES, message=request)


def test_holds_above_soft_limit_and_releases_below() -> None:
    async def run() -> None:
        usage = [10 * MIB]
        args = decode_args(NAME, {**OUTPUT_ALL, "check_interval": 3600.0, "limit": 100 * MIB})
        ctx, recorders = make_context(NAME)
        component = MemoryLimiterProcessor(ctx, args, read_memory=lambda: usage[0], total_memory=lambda: 0)
        await component.start()
        out = recorders[Signal.TRACES].payloads
        await component.consume(_payload(1))
        assert len(out) == 1

        refused = PROCESSOR_REFUSED[Signal.TRACES].labels(ctx.component_id, "/")
        before = refused._value.get()
        usage[0] = 90 * MIB  # above soft (80MiB)
        component.check()
        held = asyncio.get_running_loop().create_task(component.consume(_payload(4)))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not held.done() and len(out) == 1
        assert refused._value.get() - before == 4

        usage[0] = 70 * MIB
        component.check()
        await held
        assert len(out) == 2 and out[1].item_count == 4
        await component.shutdown()
        await component.shutdown()

    asyncio.run(run())


def test_periodic_check_releases_and_forces_gc(monkeypatch: pytest.MonkeyPatch) -> None:
    collected: list[bool] = []
    monkeypatch.setattr("collector.components.otelcol.processor.memory_limiter.gc.collect",
                        lambda: collected.append(True) or 0)

    async def run() -> None:
        readings = iter([200 * MIB] + [10 * MIB] * 10_000)
        args = decode_args(NAME, {**OUTPUT_ALL, "check_interval": 0.01, "limit": 100 * MIB})
        ctx, recorders = make_context(NAME)
        component = MemoryLimiterProcessor(ctx, args, read_memory=lambda: next(readings), total_memory=lambda: 0)
        await component.start()  # first sample: above the hard limit
        assert component.state.refusing and collected == [True]
        await component.consume(_payload(2))  # returns once the background check sees low usage
        assert len(recorders[Signal.TRACES].payloads) == 1
        await component.shutdown()

    asyncio.run(run())
