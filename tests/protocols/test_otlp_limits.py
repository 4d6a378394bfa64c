"""Per-request caps (otlp_limits): over a cap is refused before upb decodes; within them, nothing changes."""

from __future__ import annotations

import orjson
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.protocols.otlp_limits import RequestLimits, TooMuchWork, prescan_protobuf
from collector.protocols.otlp_request import decode_json, decode_protobuf
from collector.protocols.status import ExportRejected, GrpcCode
from collector.signals import Signal

SMALL = RequestLimits(max_resources=3, max_scopes=4, max_items=5, max_json_objects=40)


def _traces(resources: int, scopes: int, spans: int) -> bytes:
    request = ExportTraceServiceRequest()
    for _ in range(resources):
        resource = request.resource_spans.add()
        for _ in range(scopes):
            scope = resource.scope_spans.add()
            for _ in range(spans):
                scope.spans.add(name="s")
    return request.SerializeToString()


@pytest.mark.parametrize(("shape", "reason"), [
    ((4, 1, 1), "too_many_resources"),
    ((3, 2, 0), "too_many_scopes"),
    ((1, 2, 3), "too_many_items"),
])
def test_over_a_cap_is_refused_as_too_large(shape: tuple[int, int, int], reason: str) -> None:
    with pytest.raises(TooMuchWork) as raised:
        decode_protobuf(Signal.TRACES, _traces(*shape), SMALL)
    assert raised.value.reason == reason
    assert raised.value.error.code is GrpcCode.RESOURCE_EXHAUSTED and raised.value.error.http == 413
    assert raised.value.error.retry_after is None  # permanent: no RetryInfo


def test_at_the_caps_is_accepted() -> None:
    decoded = decode_protobuf(Signal.TRACES, _traces(1, 1, 5), SMALL)
    assert decoded.item_count == 5
    assert decode_protobuf(Signal.TRACES, _traces(2, 2, 1), SMALL).item_count == 4


def test_metric_data_points_count_as_items() -> None:
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name="m")
    for _ in range(5):
        metric.sum.data_points.add(as_int=1)
    with pytest.raises(TooMuchWork):
        decode_protobuf(Signal.METRICS, request.SerializeToString(), SMALL)  # 1 metric + 5 points


def test_the_probe_body_costs_one_hop_per_resource_up_to_the_cap() -> None:
    body = b"\x0a\x00" * (10 * 1024 * 1024)  # 10.5 million empty ResourceSpans
    with pytest.raises(TooMuchWork) as raised:
        prescan_protobuf(Signal.TRACES, body)
    assert raised.value.reason == "too_many_resources"


def test_truncated_outer_levels_are_invalid_argument() -> None:
    body = _traces(1, 1, 10)[:-3] * 10  # bound above the caps: the scan runs and hits the truncation
    with pytest.raises(ExportRejected) as raised:
        decode_protobuf(Signal.TRACES, body, SMALL)
    assert not isinstance(raised.value, TooMuchWork)
    assert raised.value.error.code is GrpcCode.INVALID_ARGUMENT


def test_json_caps_apply_before_conversion() -> None:
    logs = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{} for _ in range(6)]}]}]}
    with pytest.raises(TooMuchWork) as raised:
        decode_json(Signal.LOGS, orjson.dumps(logs), SMALL)
    assert raised.value.reason == "too_many_items"
    objects = {"resourceLogs": [{"resource": {"attributes": [{"key": "k", "value": {}} for _ in range(30)]}}]}
    with pytest.raises(TooMuchWork) as raised:
        decode_json(Signal.LOGS, orjson.dumps(objects), SMALL)
    assert raised.value.reason == "too_many_json_objects"
    ok = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{} for _ in range(5)]}]}]}
    assert decode_json(Signal.LOGS, orjson.dumps(ok), SMALL).item_count == 5


def test_deeply_nested_json_is_a_decode_error_not_a_crash() -> None:
    for depth in (60, 240):  # 4 JSON levels each: within and beyond what the JSON parser accepts
        value = '{"kvlistValue":{"values":[{"key":"k","value":' * depth + '{"stringValue":"x"}' + "}]}}" * depth
        body = ('{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":' + value + "}]}]}]}").encode()
        with pytest.raises(ExportRejected) as raised:
            decode_json(Signal.LOGS, body)
        assert raised.value.error.code is GrpcCode.INVALID_ARGUMENT


def test_logs_request_within_default_caps_is_untouched() -> None:
    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add().log_records
    for i in range(1000):
        records.add(time_unix_nano=i)
    assert decode_protobuf(Signal.LOGS, request.SerializeToString()).item_count == 1000
