"""Pre-encoded OTLP requests of a chosen shape, so a load generator spends no CPU building them."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from collector.signals import Signal


@dataclass(frozen=True)
class Shape:
    items_per_request: int = 100
    resources_per_request: int = 3
    attributes_per_item: int = 10
    resource_attributes: int = 12
    value_size: int = 16
    distinct_series: int = 1000  # metrics: distinct attribute sets; also distinct hosts (host.name)


def _attrs(target: object, count: int, value_size: int, rng: random.Random, prefix: str) -> None:
    for i in range(count):
        kv: KeyValue = target.add()  # type: ignore[attr-defined]
        kv.key = f"{prefix}.attr{i}"
        if i % 3 == 2:
            kv.value.int_value = rng.randrange(1 << 30)
        else:
            kv.value.string_value = "".join(rng.choice("abcdefghijklmnop") for _ in range(value_size))


def _resource(target: object, shape: Shape, index: int, rng: random.Random) -> None:
    attrs = target.attributes  # type: ignore[attr-defined]
    for key, value in (("service.name", f"svc-{index % 7}"), ("service.namespace", "bench"),
                       ("service.instance.id", f"inst-{index}"), ("host.name", f"host-{index % shape.distinct_series}")):
        kv = attrs.add()
        kv.key, kv.value.string_value = key, value
    _attrs(attrs, max(0, shape.resource_attributes - 4), shape.value_size, rng, "res")


def traces_request(shape: Shape, seed: int = 0) -> bytes:
    rng = random.Random(seed)
    request = ExportTraceServiceRequest()
    per_resource = max(1, shape.items_per_request // shape.resources_per_request)
    made = 0
    for r in range(shape.resources_per_request):
        rs = request.resource_spans.add()
        _resource(rs.resource, shape, seed * 31 + r, rng)
        ss = rs.scope_spans.add()
        ss.scope.name, ss.scope.version = "bench", "1.0"
        count = per_resource if r < shape.resources_per_request - 1 else shape.items_per_request - made
        for i in range(count):
            span = ss.spans.add()
            span.trace_id, span.span_id = os.urandom(16), os.urandom(8)
            span.name = f"span-{i % 20}"
            span.kind = 2
            span.start_time_unix_nano = 1_700_000_000_000_000_000 + i
            span.end_time_unix_nano = span.start_time_unix_nano + 1000
            _attrs(span.attributes, shape.attributes_per_item, shape.value_size, rng, "span")
        made += count
    return request.SerializeToString()


def logs_request(shape: Shape, seed: int = 0) -> bytes:
    rng = random.Random(seed)
    request = ExportLogsServiceRequest()
    per_resource = max(1, shape.items_per_request // shape.resources_per_request)
    made = 0
    for r in range(shape.resources_per_request):
        rl = request.resource_logs.add()
        _resource(rl.resource, shape, seed * 31 + r, rng)
        sl = rl.scope_logs.add()
        sl.scope.name = "bench"
        count = per_resource if r < shape.resources_per_request - 1 else shape.items_per_request - made
        for i in range(count):
            record = sl.log_records.add()
            record.time_unix_nano = 1_700_000_000_000_000_000 + i
            record.severity_number, record.severity_text = 9, "INFO"
            record.body.string_value = f"request {i} served in {rng.randrange(1000)} ms " + "x" * shape.value_size
            _attrs(record.attributes, shape.attributes_per_item, shape.value_size, rng, "log")
        made += count
    return request.SerializeToString()


def metrics_request(shape: Shape, seed: int = 0, timestamp_ns: int | None = None) -> bytes:
    """Gauges, cumulative counters and 10-bucket histograms in equal parts; each point one series."""
    rng = random.Random(seed)
    import time as _time

    now = timestamp_ns or _time.time_ns()
    request = ExportMetricsServiceRequest()
    per_resource = max(1, shape.items_per_request // shape.resources_per_request)
    for r in range(shape.resources_per_request):
        rm = request.resource_metrics.add()
        _resource(rm.resource, shape, seed * 31 + r, rng)
        sm = rm.scope_metrics.add()
        sm.scope.name = "bench"
        kinds = ("gauge", "sum", "histogram")
        for k, kind in enumerate(kinds):
            metric = sm.metrics.add()
            metric.name = f"bench.{kind}"
            metric.unit = "ms" if kind == "histogram" else "1"
            if kind == "sum":
                metric.sum.is_monotonic = True
                metric.sum.aggregation_temporality = 2
            container = getattr(metric, kind)
            for i in range(per_resource // len(kinds) + (1 if k < per_resource % len(kinds) else 0)):
                point = container.data_points.add()
                point.time_unix_nano = now
                point.start_time_unix_nano = now - 60_000_000_000
                attr = point.attributes.add()
                attr.key, attr.value.string_value = "series", f"s{(seed * 1000 + i) % shape.distinct_series}"
                if kind == "histogram":
                    point.explicit_bounds.extend([1, 2, 5, 10, 20, 50, 100, 200, 500])
                    point.bucket_counts.extend([rng.randrange(10) for _ in range(10)])
                    point.count = sum(point.bucket_counts)
                    point.sum = float(point.count * 7)
                elif kind == "sum":
                    point.as_int = rng.randrange(1 << 20)
                else:
                    point.as_double = rng.random()
    return request.SerializeToString()


BUILDERS = {Signal.TRACES: traces_request, Signal.LOGS: logs_request, Signal.METRICS: metrics_request}


def build(signal: Signal, shape: Shape, variants: int = 8) -> list[bytes]:
    return [BUILDERS[signal](shape, seed) for seed in range(variants)]
