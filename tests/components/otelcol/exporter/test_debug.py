from __future__ import annotations

import asyncio
import logging

import msgspec
import pytest

from collector.components.otelcol.exporter.debug import Arguments, DebugExporter, Sampler
from collector.selfmetrics.otelcol import EXPORTER_SENT
from collector.signals import AckToken, Signal
from collector.testing.context import build_context
from tests.signals import otlp_data as data


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_sampler_initial_then_every_nth_per_second() -> None:
    clock = Clock()
    sampler = Sampler(2, 3, clock)
    assert [sampler.allow("traces") for _ in range(9)] == [True, True, False, False, True, False, False, True, False]
    assert sampler.allow("logs")  # counted per message
    clock.now = 1.0
    assert sampler.allow("traces")  # a new second starts over
    never = Sampler(1, 0, clock)
    assert [never.allow("x") for _ in range(3)] == [True, False, False]


@pytest.mark.parametrize("verbosity", ["basic", "detailed"])
def test_logs_counts_settles_and_counts_as_sent(verbosity: str, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> str:
        cid = f"otelcol.exporter.debug.{verbosity}"
        args = msgspec.convert({"verbosity": verbosity}, Arguments)
        args.validate()
        exporter = DebugExporter(build_context(DebugExporter, cid), args)
        await exporter.start()
        token = AckToken(1)
        await exporter.consume(data.payload(Signal.TRACES, data.traces([[2], [1]]), token=token))
        await exporter.consume(data.payload(Signal.METRICS, data.metrics([[[2, 1]]])))
        await exporter.shutdown()
        assert token.released
        return cid

    with caplog.at_level(logging.INFO):
        cid = asyncio.run(scenario())
    text = caplog.text
    assert "Traces resource spans=2 spans=3" in text
    assert "Metrics resource metrics=1 metric points=3" in text
    if verbosity == "detailed":
        assert "Span #0" in text and "Trace ID       : 00000000000000000000000000000002" in text
        assert "-> service.name: Str(service-0)" in text
        assert "-> DataType: Sum" in text and "-> AggregationTemporality: Cumulative" in text
    else:
        assert "Span #0" not in text
    assert EXPORTER_SENT[Signal.TRACES].labels(cid, "/")._value.get() == 3  # type: ignore[attr-defined]
