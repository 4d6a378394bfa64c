"""Splitting Export requests by routing key on the wire: every part is a valid request, each key
lands in exactly one part, nothing is lost or duplicated, and untouched messages are copied whole."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.components.otelcol.exporter.loadbalancing.ring import HashRing
from collector.components.otelcol.exporter.loadbalancing.split import Splitter, service_name, split_request
from collector.signals import Signal
from tests.signals import otlp_data as data

RING = HashRing(["10.0.0.1:4317", "10.0.0.2:4317", "10.0.0.3:4317"])


def traces_with_shared_ids(resources: int = 3, scopes: int = 2, spans: int = 40,
                           traces: int = 25) -> ExportTraceServiceRequest:
    """Spans of `traces` trace ids spread over every resource and scope (a trace crosses resources)."""
    rng = random.Random(1)
    trace_ids = [rng.randbytes(16) for _ in range(traces)]
    request = data.traces([[spans] * scopes] * resources)
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                span.trace_id = rng.choice(trace_ids)
    return request


def decoded(signal: Signal, raw: bytes) -> Any:
    message = signal.spec.request_class()
    message.ParseFromString(raw)
    return message


def test_traces_by_trace_id_keep_each_trace_in_one_part() -> None:
    request = traces_with_shared_ids()
    parts = split_request(Signal.TRACES, "traceID", request.SerializeToString(), RING.endpoint_for)
    assert len(parts) == 3
    seen: dict[bytes, str] = {}
    names = []
    for endpoint, part in parts.items():
        message = decoded(Signal.TRACES, part.data)
        assert Signal.TRACES.spec.count_items(message) == part.items
        for rs in message.resource_spans:
            assert rs.resource.attributes[0].key == "service.name" and rs.schema_url  # resource kept
            for ss in rs.scope_spans:
                assert ss.scope.name and ss.schema_url  # scope kept
                for span in ss.spans:
                    assert RING.endpoint_for(span.trace_id) == endpoint
                    assert seen.setdefault(span.trace_id, endpoint) == endpoint
                    names.append(span.name)
    assert sorted(names) == sorted(s.name for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans)


def test_a_request_for_one_backend_is_passed_on_as_is() -> None:
    raw = traces_with_shared_ids().SerializeToString()
    parts = split_request(Signal.TRACES, "traceID", raw, lambda key: "only:4317")
    assert list(parts) == ["only:4317"]
    assert parts["only:4317"].data is raw and parts["only:4317"].items == 240


def test_a_resource_whose_spans_share_a_backend_is_copied_whole() -> None:
    request = data.traces([[3, 2], [4]])
    second = request.resource_spans[1]
    for span in second.scope_spans[0].spans:
        span.trace_id = b"\x01" * 16  # one trace: one backend
    raw = request.SerializeToString()
    whole = second.SerializeToString()
    parts = split_request(Signal.TRACES, "traceID", raw, RING.endpoint_for)
    owner = RING.endpoint_for(b"\x01" * 16)
    assert whole in parts[owner].data  # the original bytes, not a re-encoding


def test_service_routing_moves_whole_resources() -> None:
    request = data.traces([[2], [3], [1], [2]])
    raw = request.SerializeToString()
    parts = split_request(Signal.TRACES, "service", raw, RING.endpoint_for)
    total = 0
    for endpoint, part in parts.items():
        message = decoded(Signal.TRACES, part.data)
        for rs in message.resource_spans:
            name = rs.resource.attributes[0].value.string_value
            assert RING.endpoint_for(name.encode()) == endpoint
            assert rs.SerializeToString() in raw
        total += part.items
    assert total == 8


def test_service_name_is_read_from_the_resource() -> None:
    rs = data.traces([[1]]).resource_spans[0]
    raw = rs.SerializeToString()
    assert service_name(raw, 0, len(raw)) == b"service-0"
    rs.resource.ClearField("attributes")
    raw = rs.SerializeToString()
    assert service_name(raw, 0, len(raw)) == b""


def test_logs_by_trace_id_and_records_without_one_stay_together() -> None:
    request = data.logs([[6, 4], [5]])
    records = [r for rl in request.resource_logs for sl in rl.scope_logs for r in sl.log_records]
    for i, record in enumerate(records[:9]):
        record.trace_id = bytes([i % 3 + 1]) * 16
    parts = split_request(Signal.LOGS, "traceID", request.SerializeToString(), RING.endpoint_for)
    bodies: dict[str, set[str]] = defaultdict(set)
    for endpoint, part in parts.items():
        message = decoded(Signal.LOGS, part.data)
        assert Signal.LOGS.spec.count_items(message) == part.items
        for rl in message.resource_logs:
            for sl in rl.scope_logs:
                for record in sl.log_records:
                    if record.trace_id:
                        assert RING.endpoint_for(record.trace_id) == endpoint
                    bodies[endpoint].add(record.body.string_value)
    assert sum(len(b) for b in bodies.values()) == 15
    unkeyed = {f"log-{n}" for n in range(9, 15)}
    assert sum(1 for b in bodies.values() if unkeyed & b) == 1  # one random backend for all of them


@pytest.mark.parametrize("routing_key", ["service", "resource", "metric", "streamID"])
def test_metrics_keys_lose_nothing_and_count_points(routing_key: str) -> None:
    request = data.metrics([[[2, 3, 1], [4]], [[2, 2]], [[1, 1, 1]]])
    parts = split_request(Signal.METRICS, routing_key, request.SerializeToString(), RING.endpoint_for)
    points = []
    for part in parts.values():
        message = decoded(Signal.METRICS, part.data)
        assert Signal.METRICS.spec.count_items(message) == part.items
        for rm in message.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    kind = metric.WhichOneof("data")
                    assert kind is not None and metric.unit == "1"  # metric identity kept
                    for point in getattr(metric, kind).data_points:
                        points.append(point.attributes[0].value.string_value)
    assert sorted(points, key=int) == [str(n) for n in range(17)]


def test_metric_name_routing_puts_every_point_of_a_name_together() -> None:
    request = data.metrics([[[2, 3]], [[2, 2]]])
    request.resource_metrics[1].scope_metrics[0].metrics[0].name = "metric-0"  # same name, other resource
    parts = split_request(Signal.METRICS, "metric", request.SerializeToString(), RING.endpoint_for)
    owners: dict[str, set[str]] = defaultdict(set)
    for endpoint, part in parts.items():
        for rm in decoded(Signal.METRICS, part.data).resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    owners[metric.name].add(endpoint)
    assert all(len(endpoints) == 1 for endpoints in owners.values())
    assert owners["metric-0"] == {RING.endpoint_for(b"metric-0")}


def test_stream_id_routing_is_stable_per_series() -> None:
    """The same series (resource, scope, metric, point attributes) lands on the same backend in
    every request, whatever else the request holds."""
    first = data.metrics([[[3, 3, 3]]])
    second = data.metrics([[[3, 3, 3]], [[5]]])
    for request in (first, second):  # same point attributes in both requests
        for rm in request.resource_metrics[:1]:
            for metric in rm.scope_metrics[0].metrics:
                kind = metric.WhichOneof("data")
                for i, point in enumerate(getattr(metric, kind).data_points):
                    point.attributes[0].value.string_value = f"series-{i}"

    def owners(request: ExportMetricsServiceRequest) -> dict[tuple[str, str], str]:
        found = {}
        splitter = Splitter(Signal.METRICS, "streamID")
        for endpoint, part in splitter.split(request.SerializeToString(), RING.endpoint_for).items():
            for rm in decoded(Signal.METRICS, part.data).resource_metrics:
                if rm.resource.attributes[0].value.string_value != "service-0":
                    continue
                for metric in rm.scope_metrics[0].metrics:
                    kind = metric.WhichOneof("data")
                    for point in getattr(metric, kind).data_points:
                        found[(metric.name, point.attributes[0].value.string_value)] = endpoint
        return found

    a, b = owners(first), owners(second)
    assert len(a) == 9 and a == b
    assert len(set(a.values())) > 1  # series of one metric spread over backends


def test_a_key_that_does_not_apply_to_the_signal_is_refused() -> None:
    with pytest.raises(ValueError):
        Splitter(Signal.TRACES, "metric")


def test_an_empty_request_has_no_parts() -> None:
    assert split_request(Signal.LOGS, "traceID", ExportLogsServiceRequest().SerializeToString(),
                         RING.endpoint_for) == {}


def test_a_known_item_count_spares_the_count_of_an_uncut_request() -> None:
    raw = data.traces([[3], [2]]).SerializeToString()
    parts = Splitter(Signal.TRACES, "service").split(raw, lambda key: "one:4317", items=5)
    assert parts == {"one:4317": (raw, 5)}
    parts = Splitter(Signal.TRACES, "service").split(raw, lambda key: "a:1" if key == b"service-0" else "b:1", items=5)
    assert {backend: part.items for backend, part in parts.items()} == {"a:1": 3, "b:1": 2}
