"""Human-readable dumps of Export requests for `otelcol.exporter.debug` (verbosity "detailed"),
laid out like the OpenTelemetry Collector's text marshaler: one block per resource, scope and item,
ids in hex, attribute values tagged with their type."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable

from google.protobuf.message import Message
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from collector.protocols.wire import format_double
from collector.signals import Signal

_SPAN_KINDS = ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")
_STATUS_CODES = ("Unset", "Ok", "Error")
_TEMPORALITIES = ("Unspecified", "Delta", "Cumulative")
_METRIC_TYPES = {"gauge": "Gauge", "sum": "Sum", "histogram": "Histogram",
                 "exponential_histogram": "ExponentialHistogram", "summary": "Summary"}


def timestamp(nanos: int) -> str:
    if not nanos:
        return "1970-01-01 00:00:00 +0000 UTC"
    seconds, rest = divmod(nanos, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return f"{base}.{rest:09d} +0000 UTC"


def any_value(value: AnyValue) -> str:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return f"Str({value.string_value})"
    if kind == "int_value":
        return f"Int({value.int_value})"
    if kind == "double_value":
        return f"Double({format_double(value.double_value)})"  # Go: Type(AsString)
    if kind == "bool_value":
        return f"Bool({str(value.bool_value).lower()})"
    if kind == "bytes_value":
        return f"Bytes({value.bytes_value.hex()})"
    if kind == "array_value":
        return "Slice([" + ", ".join(any_value(v) for v in value.array_value.values) + "])"
    if kind == "kvlist_value":
        return "Map({" + ", ".join(f"{kv.key}: {any_value(kv.value)}" for kv in value.kvlist_value.values) + "})"
    return "Empty()"


def _attributes(out: list[str], title: str, attributes: Iterable[Any]) -> None:
    attributes = list(attributes)
    if attributes:
        out.append(f"{title}:")
        out.extend(f"     -> {kv.key}: {any_value(kv.value)}" for kv in attributes)


def _resource_and_scope(out: list[str], kind: str, index: int, resource_node: Any) -> None:
    out.append(f"Resource{kind} #{index}")
    out.append(f"Resource SchemaURL: {resource_node.schema_url}")
    _attributes(out, "Resource attributes", resource_node.resource.attributes)


def _scope(out: list[str], kind: str, index: int, scope_node: Any) -> None:
    out.append(f"Scope{kind} #{index}")
    out.append(f"Scope{kind} SchemaURL: {scope_node.schema_url}")
    out.append(f"InstrumentationScope {scope_node.scope.name} {scope_node.scope.version}".rstrip())
    _attributes(out, "InstrumentationScope attributes", scope_node.scope.attributes)


def _span(out: list[str], index: int, span: Any) -> None:
    out.append(f"Span #{index}")
    out.append(f"    Trace ID       : {span.trace_id.hex()}")
    out.append(f"    Parent ID      : {span.parent_span_id.hex()}")
    out.append(f"    ID             : {span.span_id.hex()}")
    out.append(f"    Name           : {span.name}")
    kind = _SPAN_KINDS[span.kind] if span.kind < len(_SPAN_KINDS) else str(span.kind)
    out.append(f"    Kind           : {kind}")
    out.append(f"    Start time     : {timestamp(span.start_time_unix_nano)}")
    out.append(f"    End time       : {timestamp(span.end_time_unix_nano)}")
    code = _STATUS_CODES[span.status.code] if span.status.code < len(_STATUS_CODES) else str(span.status.code)
    out.append(f"    Status code    : {code}")
    out.append(f"    Status message : {span.status.message}")
    _attributes(out, "Attributes", span.attributes)
    for e, event in enumerate(span.events):
        out.append(f"SpanEvent #{e}")
        out.append(f"     -> Name: {event.name}")
        out.append(f"     -> Timestamp: {timestamp(event.time_unix_nano)}")
    for n, link in enumerate(span.links):
        out.append(f"SpanLink #{n}")
        out.append(f"     -> Trace ID: {link.trace_id.hex()}")
        out.append(f"     -> ID: {link.span_id.hex()}")


def _log_record(out: list[str], index: int, record: Any) -> None:
    out.append(f"LogRecord #{index}")
    out.append(f"ObservedTimestamp: {timestamp(record.observed_time_unix_nano)}")
    out.append(f"Timestamp: {timestamp(record.time_unix_nano)}")
    out.append(f"SeverityText: {record.severity_text}")
    out.append(f"SeverityNumber: {record.severity_number}")
    out.append(f"Body: {any_value(record.body)}")
    _attributes(out, "Attributes", record.attributes)
    out.append(f"Trace ID: {record.trace_id.hex()}")
    out.append(f"Span ID: {record.span_id.hex()}")
    out.append(f"Flags: {record.flags}")


def _point_header(out: list[str], label: str, index: int, point: Any) -> None:
    out.append(f"{label} #{index}")
    _attributes(out, "Data point attributes", point.attributes)
    out.append(f"StartTimestamp: {timestamp(point.start_time_unix_nano)}")
    out.append(f"Timestamp: {timestamp(point.time_unix_nano)}")


def _metric(out: list[str], index: int, metric: Any) -> None:
    out.append(f"Metric #{index}")
    out.append("Descriptor:")
    out.append(f"     -> Name: {metric.name}")
    out.append(f"     -> Description: {metric.description}")
    out.append(f"     -> Unit: {metric.unit}")
    kind = metric.WhichOneof("data")
    if kind is None:
        out.append("     -> DataType: Empty")
        return
    data = getattr(metric, kind)
    out.append(f"     -> DataType: {_METRIC_TYPES[kind]}")
    if kind == "sum":
        out.append(f"     -> IsMonotonic: {str(data.is_monotonic).lower()}")
    if kind in ("sum", "histogram", "exponential_histogram"):
        temporality = data.aggregation_temporality
        out.append(f"     -> AggregationTemporality: "
                   f"{_TEMPORALITIES[temporality] if temporality < 3 else temporality}")
    for p, point in enumerate(data.data_points):
        if kind in ("sum", "gauge"):
            _point_header(out, "NumberDataPoints", p, point)
            value = point.as_int if point.WhichOneof("value") == "as_int" else point.as_double
            out.append(f"Value: {value}")
        elif kind == "histogram":
            _point_header(out, "HistogramDataPoints", p, point)
            out.append(f"Count: {point.count}")
            if point.HasField("sum"):
                out.append(f"Sum: {point.sum}")
            out.extend(f"ExplicitBounds #{i}: {b}" for i, b in enumerate(point.explicit_bounds))
            out.extend(f"Buckets #{i}, Count: {c}" for i, c in enumerate(point.bucket_counts))
        elif kind == "exponential_histogram":
            _point_header(out, "ExponentialHistogramDataPoints", p, point)
            out.append(f"Count: {point.count}")
            out.append(f"Scale: {point.scale}")
            out.append(f"ZeroCount: {point.zero_count}")
        else:
            _point_header(out, "SummaryDataPoints", p, point)
            out.append(f"Count: {point.count}")
            out.append(f"Sum: {point.sum}")
            out.extend(f"QuantileValue #{i}: Quantile {q.quantile}, Value {q.value}"
                       for i, q in enumerate(point.quantile_values))


def describe(signal: Signal, request: Message) -> str:
    spec = signal.spec
    kind = {"traces": "Spans", "metrics": "Metrics", "logs": "Logs"}[signal.value]
    item = {"traces": _span, "metrics": _metric, "logs": _log_record}[signal.value]
    out: list[str] = []
    for r, resource_node in enumerate(getattr(request, spec.resource_field)):
        _resource_and_scope(out, kind, r, resource_node)
        for s, scope_node in enumerate(getattr(resource_node, spec.scope_field)):
            _scope(out, kind, s, scope_node)
            for i, entry in enumerate(getattr(scope_node, spec.item_field)):
                item(out, i, entry)
    return "\n".join(out)
