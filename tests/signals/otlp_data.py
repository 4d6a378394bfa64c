"""Export requests of a chosen shape, for tests and benchmarks.

A shape is a list of resources, each a list of scopes, each the number of items in that scope
(for metrics: a list of metrics, each the number of data points). Every item carries its position
in a attribute/name so tests can check order and completeness after cutting and merging.
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence, TypeVar

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from collector.signals import AckToken, Payload, Signal

_T = TypeVar("_T")


def _kv(key: str, value: str) -> KeyValue:
    kv = KeyValue(key=key)
    kv.value.string_value = value
    return kv


def _scopes(request: Any, signal: Signal, shape: Sequence[Sequence[_T]],
            schema_urls: bool = False) -> Iterator[tuple[Any, _T]]:
    """Add the resources and scopes of `shape` to `request`; yield each scope message with its entry
    of the shape (what goes in it). Every signal names them alike: `service-{r}`, `scope-{r}-{s}`."""
    spec = signal.spec
    for r, scopes in enumerate(shape):
        resources = getattr(request, spec.resource_field)
        rx = resources.add(schema_url=f"resource-schema-{r}") if schema_urls else resources.add()
        rx.resource.attributes.append(_kv("service.name", f"service-{r}"))
        for s, entry in enumerate(scopes):
            scope_list = getattr(rx, spec.scope_field)
            sx = scope_list.add(schema_url=f"scope-schema-{s}") if schema_urls else scope_list.add()
            sx.scope.name = f"scope-{r}-{s}"
            yield sx, entry


def traces(shape: Sequence[Sequence[int]], attributes: int = 3) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    n = 0
    for ss, count in _scopes(request, Signal.TRACES, shape, schema_urls=True):
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
    for sl, count in _scopes(request, Signal.LOGS, shape):
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
    for sm, metric_points in _scopes(request, Signal.METRICS, shape):
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
