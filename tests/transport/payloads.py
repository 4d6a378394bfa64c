"""Small Export requests for the transport and component tests."""

from __future__ import annotations

from typing import Any

import pytest

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from collector.signals import Signal


def traces(spans: int = 3, scopes: int = 2) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value="svc")))
    for s in range(scopes):
        ss = rs.scope_spans.add()
        ss.scope.name = f"scope{s}"
        for i in range(spans):
            span = ss.spans.add(name=f"span{i}", trace_id=bytes(range(16)), span_id=bytes([s, i] * 4), kind=2,
                                start_time_unix_nano=1_700_000_000_000_000_000 + i,
                                end_time_unix_nano=1_700_000_000_100_000_000 + i)
            span.attributes.append(KeyValue(key="http.status_code", value=AnyValue(int_value=200 + i)))
    return request


def metrics(points: int = 4) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    sm = request.resource_metrics.add().scope_metrics.add()
    gauge = sm.metrics.add(name="g")
    for i in range(points):
        gauge.gauge.data_points.add(as_double=float(i), time_unix_nano=1_700_000_000_000_000_000 + i)
    total = sm.metrics.add(name="s")
    total.sum.aggregation_temporality = 2
    total.sum.is_monotonic = True
    total.sum.data_points.add(as_int=7, time_unix_nano=1_700_000_000_000_000_000)
    return request


def logs(records: int = 5) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    sl = request.resource_logs.add().scope_logs.add()
    for i in range(records):
        sl.log_records.add(severity_number=9, body=AnyValue(string_value=f"line {i}"),
                           time_unix_nano=1_700_000_000_000_000_000 + i)
    return request


# (signal, request, items in it): one request per signal, for the tests that run one body over all three
EXPORTS: list[Any] = [
    pytest.param(Signal.TRACES, traces(2, 3), 6, id="traces"),
    pytest.param(Signal.METRICS, metrics(4), 5, id="metrics"),
    pytest.param(Signal.LOGS, logs(5), 5, id="logs"),
]
