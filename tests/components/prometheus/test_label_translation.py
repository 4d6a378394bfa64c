"""OTLP names and attribute keys that start with `_`, `__`, digits or non-ASCII characters, from an
OTLP request through otelcol.exporter.prometheus and prometheus.remote_write to the bytes a
remote-write receiver decodes (protocols.md §6.1, §6.2; the name and label tables of
tests/protocols/prometheus/test_naming.py cover the functions alone)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.common.v1 import common_pb2

from collector.components.kit.api import MetricsReceiverRef
from collector.components.otelcol.exporter.prometheus import Arguments, PrometheusExporter
from collector.components.prometheus.remote_write import Arguments as RWArguments
from collector.components.prometheus.remote_write import Endpoint, QueueConfig, RemoteWrite
from collector.signals import Payload, Signal
from collector.testing.context import build_context
from tests.components.prometheus.rwsink import RemoteWriteSink

T_NS = 1_700_000_000_000_000_000

# OTLP metric name (a gauge without unit) -> the name on the wire; None: the metric is dropped.
METRIC_NAMES = {
    "_private.metric": "private_metric",  # separators, leading ones included, vanish
    "__internal": "internal",
    "9metric": "_9metric",  # a leading digit gets "_"
    "métrique": "m_trique",  # a non-ASCII character is a separator
    "ok:with:colons": "ok:with:colons",
    "日本": None,  # nothing left: dropped
}

# data point attribute key -> label name on the wire; None: the label is left out.
LABEL_KEYS = {
    "_a": "key_a",  # one leading "_": prefixed with "key"
    "__test": "__test",  # a leading "__" is kept, and remote write sends it
    "9lives": "key_9lives",  # a leading digit: prefixed with "key_"
    "éa": "key_a",  # "é" becomes "_", which then takes the "key" prefix
    "a.é": "a__",  # one "_" per character, runs kept
    "é": None,  # only underscores after sanitizing: rejected
    "日本": None,
    "__": None,
}


def request() -> bytes:
    req = metrics_service_pb2.ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.add(key="service.name", value=common_pb2.AnyValue(string_value="svc"))
    sm = rm.scope_metrics.add()
    for name in METRIC_NAMES:
        point = sm.metrics.add(name=name).gauge.data_points.add(time_unix_nano=T_NS, as_double=1.0)
        for key in LABEL_KEYS:
            point.attributes.add(key=key, value=common_pb2.AnyValue(string_value=f"v-{key}"))
    return req.SerializeToString()


def test_names_and_labels_on_the_wire(tmp_path: Path) -> None:
    async def scenario() -> list[dict[str, str]]:
        async with RemoteWriteSink() as sink:
            rw = RemoteWrite(build_context(RemoteWrite, "prometheus.remote_write.names", storage_path=tmp_path),
                             RWArguments(endpoint=[Endpoint(url=sink.url,
                                                            queue_config=QueueConfig(batch_send_deadline=0.05))]))
            ctx = build_context(PrometheusExporter, "otelcol.exporter.prometheus.names", consumers={"rw": rw})
            exporter = PrometheusExporter(ctx, Arguments(forward_to=[MetricsReceiverRef("rw")],
                                                         include_target_info=False, include_scope_info=False))
            await rw.start()
            await exporter.start()
            await exporter.consume(Payload(Signal.METRICS, data=request()))
            expected = sum(1 for name in METRIC_NAMES.values() if name)
            await sink.wait_for(lambda s: s.sample_count() >= expected)
            await exporter.shutdown()
            await rw.shutdown(time.monotonic() + 2)
            return [dict(labels) for labels, _, _ in sink.samples]

    series = asyncio.run(scenario())
    assert sorted(s["__name__"] for s in series) == sorted(n for n in METRIC_NAMES.values() if n)
    # "_a" and "éa" both become "key_a": the values are joined with ";" in the order of the original keys
    kept = {label: f"v-{key}" for key, label in LABEL_KEYS.items() if label and label != "key_a"}
    kept["key_a"] = "v-_a;v-éa"
    for labels in series:
        assert {k: v for k, v in labels.items() if k not in ("__name__", "job")} == kept, labels
        assert labels["job"] == "svc"
