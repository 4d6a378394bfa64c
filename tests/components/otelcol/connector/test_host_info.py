from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.components.kit.api import ArgumentError, ConsumerRef, RuntimeServices
from collector.components.otelcol.connector.host_info import HostInfoConnector
from collector.signals import AckToken, Payload, Signal
from tests.components.otelcol.connector.doubles import Recorder, decode_args, make_context

NAME = "otelcol.connector.host_info"
METRICS_OUT = {"output": {"metrics": [ConsumerRef("next", frozenset({Signal.METRICS}))]}}


def _traces(*resources: dict[str, Any]) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    for attrs in resources:
        rs = request.resource_spans.add()
        for key, value in attrs.items():
            kv = rs.resource.attributes.add(key=key)
            if isinstance(value, int):
                kv.value.int_value = value
            else:
                kv.value.string_value = value
        rs.scope_spans.add().spans.add(name="s")
    return request


def _hosts(recorder: Recorder) -> list[list[str]]:
    """Hosts per emitted payload, checking the B.10 shape on the way."""
    out = []
    for payload in recorder.payloads:
        assert payload.signal is Signal.METRICS
        request = payload.message
        assert len(request.resource_metrics) == 1
        rm = request.resource_metrics[0]
        assert rm.HasField("resource") and len(rm.resource.attributes) == 0
        assert len(rm.scope_metrics) == 1
        sm = rm.scope_metrics[0]
        assert sm.scope.name == "hostinfoconnector"
        assert [m.name for m in sm.metrics] == ["traces_host_info"]
        metric = sm.metrics[0]
        assert metric.WhichOneof("data") == "gauge"
        hosts = []
        for point in metric.gauge.data_points:
            assert point.WhichOneof("value") == "as_int" and point.as_int == 1
            assert point.start_time_unix_nano == point.time_unix_nano == 1_700_000_000 * 10**9
            assert [kv.key for kv in point.attributes] == ["grafana.host.id"]
            hosts.append(point.attributes[0].value.string_value)
        assert payload.item_count == len(hosts)
        out.append(hosts)
    return out


def _connector(values: dict[str, Any], *, worker: int = 0, services: RuntimeServices | None = None
               ) -> tuple[HostInfoConnector, Recorder]:
    args = decode_args(NAME, {**METRICS_OUT, **values})
    ctx, recorders = make_context(NAME, worker_index=worker, services=services, signal=Signal.TRACES)
    return HostInfoConnector(ctx, args, clock=lambda: 1_700_000_000.0, grace=0.0), recorders[Signal.METRICS]


def test_arguments() -> None:
    args = decode_args(NAME, {})
    assert args.host_identifiers == ["host.id"] and args.metrics_flush_interval == 60.0
    # Alloy enforces only > 0 (the upstream 15s..5m validator is not called by Alloy).
    assert decode_args(NAME, {"metrics_flush_interval": 1.0}).metrics_flush_interval == 1.0
    for values, attribute in (({"host_identifiers": []}, "host_identifiers"),
                              ({"metrics_flush_interval": 0.0}, "metrics_flush_interval"),
                              ({"output": {"logs": [ConsumerRef("x", frozenset(Signal))]}}, "output.logs")):
        with pytest.raises(ArgumentError) as info:
            decode_args(NAME, values)
        assert info.value.attribute == attribute


def test_single_instance_unique_hosts_absorbs_and_flushes_on_shutdown() -> None:
    async def run() -> None:
        connector, out = _connector({"host_identifiers": ["host.id", "host.name"]})
        await connector.start()
        released: list[int] = []
        await connector.consume(Payload(
            Signal.TRACES, message=_traces({"host.id": "a"}, {"host.id": "a", "host.name": "b"}, {"host.name": "c"},
                                           {"other": "z"}, {"host.id": 7}),
            acks=[AckToken(1, lambda t: released.append(t.seq))]))
        await connector.consume(Payload(Signal.TRACES, message=_traces({"host.id": "a"})))
        assert released == [1]  # traces are absorbed
        assert out.payloads == []  # nothing before the interval ends
        await connector.flush(0)
        # the first identifier present names the host: {"host.id": a, "host.name": b} is host a
        assert _hosts(out) == [["a", "c"]]
        await connector.flush(1)  # empty set: nothing emitted
        assert len(out.payloads) == 1
        await connector.consume(Payload(Signal.TRACES, message=_traces({"host.id": "d"})))
        await connector.shutdown()
        await connector.shutdown()
        assert _hosts(out) == [["a", "c"], ["d"]]

    asyncio.run(run())


def test_two_workers_report_each_host_once(tmp_path: Path) -> None:
    async def run() -> None:
        services = RuntimeServices(workers_for_signal=2, run_dir=tmp_path)
        first, out0 = _connector({"host_identifiers": ["host.name"]}, worker=0, services=services)
        second, out1 = _connector({"host_identifiers": ["host.name"]}, worker=1, services=services)
        await first.start()
        await second.start()
        await first.consume(Payload(Signal.TRACES, message=_traces({"host.name": "a"}, {"host.name": "b"})))
        await second.consume(Payload(Signal.TRACES, message=_traces({"host.name": "b"}, {"host.name": "c"})))
        await second.flush(5)
        await first.flush(5)
        assert _hosts(out0) == [["a", "b", "c"]]
        assert out1.payloads == []
        # a late share for an interval already emitted is reported with the next one, not twice
        await first.flush(6)
        await second.consume(Payload(Signal.TRACES, message=_traces({"host.name": "late"})))
        await second.flush(6)
        await first.consume(Payload(Signal.TRACES, message=_traces({"host.name": "a"})))
        await first.flush(7)
        assert _hosts(out0) == [["a", "b", "c"], ["a", "late"]]
        # shutdown: the follower hands over its hosts, the emitter reports the union
        await second.consume(Payload(Signal.TRACES, message=_traces({"host.name": "x"})))
        await first.consume(Payload(Signal.TRACES, message=_traces({"host.name": "y"})))
        await second.shutdown()
        await first.shutdown()
        assert _hosts(out0)[-1] == ["x", "y"]
        assert out1.payloads == []
        assert not [p for p in (tmp_path / "host_info").rglob("*") if p.is_file()]

    asyncio.run(run())


def test_periodic_flush_runs_on_its_own() -> None:
    async def run() -> None:
        args = decode_args(NAME, {**METRICS_OUT, "metrics_flush_interval": 0.05})
        ctx, recorders = make_context(NAME, signal=Signal.TRACES)
        connector = HostInfoConnector(ctx, args)
        await connector.start()
        await connector.consume(Payload(Signal.TRACES, message=_traces({"host.id": "h"})))
        for _ in range(400):
            if recorders[Signal.METRICS].payloads:
                break
            await asyncio.sleep(0.01)
        payloads = recorders[Signal.METRICS].payloads
        assert len(payloads) == 1
        point = payloads[0].message.resource_metrics[0].scope_metrics[0].metrics[0].gauge.data_points[0]
        assert point.attributes[0].value.string_value == "h"
        await connector.shutdown()
        assert len(payloads) == 1  # nothing left to flush

    asyncio.run(run())
