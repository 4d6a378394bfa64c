from __future__ import annotations

from pathlib import Path

import asyncio
import time

import pytest
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2

from collector.components.kit.api import ArgumentError, MetricsReceiverRef
from collector.components.otelcol.exporter.prometheus import Arguments, PrometheusExporter
from collector.components.prometheus.remote_write import Arguments as RWArguments
from collector.components.prometheus.remote_write import Endpoint, QueueConfig, RemoteWrite
from collector.protocols.prometheus.series import SampleBatch
from collector.signals import AckToken, Payload, Signal
from collector.testing.context import build_context
from tests.components.prometheus.rwsink import RemoteWriteSink

T_NS = 1_700_000_000_000_000_000


def otlp_request(ts_ns: int) -> bytes:
    req = metrics_service_pb2.ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    for key, value in (("service.name", "checkout"), ("service.instance.id", "pod-1"), ("host.name", "n1")):
        rm.resource.attributes.add(key=key, value=common_pb2.AnyValue(string_value=value))
    sm = rm.scope_metrics.add()
    sm.scope.name = "app"
    c = sm.metrics.add(name="http.requests", unit="{request}")
    c.sum.is_monotonic = True
    c.sum.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
    dp = c.sum.data_points.add(time_unix_nano=ts_ns, as_int=10)
    dp.attributes.add(key="http.route", value=common_pb2.AnyValue(string_value="/pay"))
    d = sm.metrics.add(name="delta.requests")
    d.sum.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
    d.sum.data_points.add(time_unix_nano=ts_ns, as_int=1)
    return req.SerializeToString()


class Collect:
    def __init__(self) -> None:
        self.batches: list[SampleBatch] = []

    async def append(self, batch: SampleBatch) -> None:
        self.batches.append(batch)


def test_consume_translates_forwards_to_every_receiver_and_settles() -> None:
    a, b = Collect(), Collect()
    args = Arguments(forward_to=[MetricsReceiverRef("a"), MetricsReceiverRef("b")], include_target_info=False)
    ctx = build_context(PrometheusExporter, "otelcol.exporter.prometheus.t", consumers={"a": a, "b": b})
    exporter = PrometheusExporter(ctx, args)
    released: list[int] = []
    token = AckToken(1, lambda t: released.append(t.seq))

    async def scenario() -> None:
        await exporter.start()
        await exporter.consume(Payload(Signal.METRICS, data=otlp_request(T_NS), acks=[token]))
        await exporter.shutdown()
        await exporter.shutdown()

    asyncio.run(scenario())
    assert released == [1]
    assert a.batches[0] is b.batches[0]
    assert [(s.labels, v, t) for s, v, t in a.batches[0].rows()] == [
        ((("__name__", "http_requests_total"), ("http_route", "/pay"), ("instance", "pod-1"), ("job", "checkout"),
          ("otel_scope_name", "app")), 10.0, 1_700_000_000_000),
    ]


def test_end_to_end_to_remote_write_sink(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with RemoteWriteSink() as sink:
            rw_args = RWArguments(endpoint=[Endpoint(url=sink.url, queue_config=QueueConfig(batch_send_deadline=0.05))])
            rw = RemoteWrite(build_context(RemoteWrite, "prometheus.remote_write.e2e", storage_path=tmp_path), rw_args)
            ctx = build_context(PrometheusExporter, "otelcol.exporter.prometheus.e2e", consumers={"rw": rw})
            exporter = PrometheusExporter(ctx, Arguments(forward_to=[MetricsReceiverRef("rw")]))
            await rw.start()
            await exporter.start()
            for step in range(3):
                await exporter.consume(Payload(Signal.METRICS, data=otlp_request(T_NS + step * 10**9)))
            await sink.wait_for(lambda s: s.sample_count() >= 6)
            await exporter.shutdown()
            await rw.shutdown(time.monotonic() + 2)
            names = sorted({dict(labels)["__name__"] for labels, _, _ in sink.samples})
            assert names == ["http_requests_total", "target_info"]
            info = [labels for labels, _, _ in sink.samples if dict(labels)["__name__"] == "target_info"]
            assert info[0] == (("__name__", "target_info"), ("host_name", "n1"), ("instance", "pod-1"),
                               ("job", "checkout"))
            stamps = [t for labels, _, t in sink.samples if dict(labels)["__name__"] == "http_requests_total"]
            assert stamps == [1_700_000_000_000, 1_700_000_001_000, 1_700_000_002_000]

    asyncio.run(scenario())


def test_gc_frequency_must_be_positive() -> None:
    with pytest.raises(ArgumentError) as err:
        Arguments(forward_to=[], gc_frequency=0).validate()
    assert err.value.attribute == "gc_frequency"
