"""Export requests of a chosen shape, for tests and benchmarks.

A shape is a list of resources, each a list of scopes, each the number of items in that scope
(for metrics: a list of metrics, each the number of data points). Every item carries its position
in a attribute/name so tests can check order and completeness after cutting and merging.
"""

from __future__ import annotations

from typing import Sequence

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from collector.signals import AckToken, Payload, Signal


def _kv(key: str, value: str) -> KeyValue:
    kv = KeyValue(key=key)
    kv.value.string_value = value
    return kv


def traces(shape: Sequence[Sequence[int]], attributes: int = 3) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    n = 0
    for r, scopes in enumerate(shape):
        rs = request.resource_spans.add(schema_url=f"resource-schema-{r}")
        rs.resource.attributes.append(_kv("service.name", f"service-{r}"))
        for s, count in enumerate(scopes):
            ss = rs.scope_spans.add(schema_url=f"scope-schema-{s}")
            ss.scope.name = f"scope-{r}-{s}"
            for _ in range(count):
                span = ss.spans.add(name=f"span-{n}", kind=2, start_time_unix_nano=1_700_000_000_000_000_000 + n,
                                    end_time_unix_nano=1_700_000_000_000_500_000 + n)
                span.trace_id = n.to_bytes(16, "big")
                span.span_id = (n + 1).to_bytes(8, "big")
                for a in range(attributes):
                    span.attributes.append(_kv(f"attr.{a}", f"value-{n}-{a}"))
                n += 1
    return request


def logs(shape: Sequence[Sequence[int]]) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    n = 0
    for r, scopes in enumerate(shape):
        rl = request.resource_logs.add()
        rl.resource.attributes.append(_kv("service.name", f"service-{r}"))
        for s, count in enumerate(scopes):
            sl = rl.scope_logs.add()
            sl.scope.name = f"scope-{r}-{s}"
            for _ in range(count):
                record = sl.log_records.add(time_unix_nano=1_700_000_000_000_000_000 + n, severity_number=9)
                record.body.string_value = f"log-{n}"
                n += 1
    return request


def metrics(shape: Sequence[Sequence[Sequence[int]]]) -> ExportMetricsServiceRequest:
    """Metrics alternate sum (cumulative, monotonic), gauge and histogram so every kind gets cut."""
    request = ExportMetricsServiceRequest()
    n = 0
    m_index = 0
    for r, scopes in enumerate(shape):
        rm = request.resource_metrics.add()
        rm.resource.attributes.append(_kv("service.name", f"service-{r}"))
        for s, metric_points in enumerate(scopes):
            sm = rm.scope_metrics.add()
            sm.scope.name = f"scope-{r}-{s}"
            for points in metric_points:
                metric = sm.metrics.add(name=f"metric-{m_index}", unit="1", description="test metric")
                kind = ("sum", "gauge", "histogram")[m_index % 3]
                m_index += 1
                if kind == "sum":
                    metric.sum.aggregation_temporality = 2
                    metric.sum.is_monotonic = True
                    container = metric.sum
                elif kind == "gauge":
                    container = metric.gauge
                    metric.gauge.SetInParent()
                else:
                    metric.histogram.aggregation_temporality = 2
                    container = metric.histogram
                for _ in range(points):
                    point = container.data_points.add(time_unix_nano=1_700_000_000_000_000_000 + n)
                    point.attributes.append(_kv("point", str(n)))
                    if kind == "histogram":
                        point.count = n
                        point.bucket_counts.extend([n])
                    else:
                        point.as_int = n
                    n += 1
    return request


def payload(signal: Signal, request: object, *, token: AckToken | None = None,
            metadata: tuple[tuple[str, str], ...] = ()) -> Payload:
    """A bytes-only payload of `request` with its item count, as a worker reads it from its ring."""
    data = request.SerializeToString()  # type: ignore[attr-defined]
    return Payload(signal, data=data, item_count=signal.spec.count_items(request),  # type: ignore[arg-type]
                   acks=[token] if token else [], metadata=metadata)
