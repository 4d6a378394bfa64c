"""One table describes each signal, so code dispatches on `Signal` once instead of copying per signal."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Callable, Final

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2


class Signal(enum.Enum):
    TRACES = "traces"
    METRICS = "metrics"
    LOGS = "logs"

    @property
    def spec(self) -> SignalSpec:
        return _SPECS[self]


def _count_spans(request: Any) -> int:
    return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)


def _count_log_records(request: Any) -> int:
    return sum(len(sl.log_records) for rl in request.resource_logs for sl in rl.scope_logs)


def _count_metric_points(request: Any) -> int:
    total = 0
    for rm in request.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                kind = metric.WhichOneof("data")
                if kind is not None:
                    total += len(getattr(metric, kind).data_points)
    return total


@dataclass(frozen=True, slots=True)
class SignalSpec:
    """Everything that differs between signals: message classes, wire names and how items are counted.

    `items` is the OpenTelemetry Collector's unit for the signal's internal metrics
    (`otelcol_receiver_accepted_spans_total`, `..._metric_points_total`, `..._log_records_total`).
    """

    signal: Signal
    request_class: type[Message]
    response_class: type[Message]
    partial_success_class: type[Message]
    resource_field: str  # repeated field 1 of the Export request: resource_spans / resource_metrics / resource_logs
    scope_field: str  # scope_spans / scope_metrics / scope_logs
    item_field: str  # spans / metrics / log_records
    items: str  # spans / metric_points / log_records
    rejected_field: str  # partial success counter: rejected_spans / rejected_data_points / rejected_log_records
    grpc_service: str
    http_path: str
    count_items: Callable[[Message], int]

    @property
    def grpc_method(self) -> str:
        return f"/{self.grpc_service}/Export"


_SPECS: Final[dict[Signal, SignalSpec]] = {
    Signal.TRACES: SignalSpec(
        Signal.TRACES,
        trace_service_pb2.ExportTraceServiceRequest,
        trace_service_pb2.ExportTraceServiceResponse,
        trace_service_pb2.ExportTracePartialSuccess,
        "resource_spans",
        "scope_spans",
        "spans",
        "spans",
        "rejected_spans",
        "opentelemetry.proto.collector.trace.v1.TraceService",
        "/v1/traces",
        _count_spans,
    ),
    Signal.METRICS: SignalSpec(
        Signal.METRICS,
        metrics_service_pb2.ExportMetricsServiceRequest,
        metrics_service_pb2.ExportMetricsServiceResponse,
        metrics_service_pb2.ExportMetricsPartialSuccess,
        "resource_metrics",
        "scope_metrics",
        "metrics",
        "metric_points",
        "rejected_data_points",
        "opentelemetry.proto.collector.metrics.v1.MetricsService",
        "/v1/metrics",
        _count_metric_points,
    ),
    Signal.LOGS: SignalSpec(
        Signal.LOGS,
        logs_service_pb2.ExportLogsServiceRequest,
        logs_service_pb2.ExportLogsServiceResponse,
        logs_service_pb2.ExportLogsPartialSuccess,
        "resource_logs",
        "scope_logs",
        "log_records",
        "log_records",
        "rejected_log_records",
        "opentelemetry.proto.collector.logs.v1.LogsService",
        "/v1/logs",
        _count_log_records,
    ),
}


def spec_of(signal: Signal) -> SignalSpec:
    return _SPECS[signal]
