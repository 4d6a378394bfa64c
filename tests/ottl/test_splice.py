"""The byte path must be indistinguishable from the decoded path: same decoded result, same errors.

Each case runs a group both ways (run_group on the parsed message; Splicer on its bytes) and
compares the decoded outputs and the reported errors.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.ottl.runner import PropagateError, compile_group, run_group, visit_fn
from collector.ottl.splice import Splicer, SpliceError
from collector.signals import Signal

TUTORIAL = [
    'set(attributes["deployment.environment"], resource.attributes["deployment.environment"])',
    'set(attributes["service.version"], resource.attributes["service.version"])',
]


def _s(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, dict):
        return {"kvlistValue": {"values": _attrs(v)}}
    return {"stringValue": v}


def _attrs(d: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _s(v)} for k, v in d.items()]


def _points(kind: str, attrs: list[dict[str, Any]]) -> dict[str, Any]:
    points = [{"attributes": _attrs(a), "timeUnixNano": "1"} for a in attrs]
    if kind in ("gauge", "sum"):
        for p in points:
            p["asDouble"] = 1.5
        body: dict[str, Any] = {"dataPoints": points}
        if kind == "sum":
            body.update(aggregationTemporality=2, isMonotonic=True)
        return {kind: body}
    if kind == "histogram":
        for p in points:
            p.update(count="2", bucketCounts=["1", "1"], explicitBounds=[1.0])
        return {"histogram": {"dataPoints": points, "aggregationTemporality": 1}}
    if kind == "exponentialHistogram":
        for p in points:
            p.update(count="1", scale=2, positive={"offset": 1, "bucketCounts": ["1"]})
        return {"exponentialHistogram": {"dataPoints": points, "aggregationTemporality": 1}}
    for p in points:
        p.update(count="1", sum=2.0)
    return {"summary": {"dataPoints": points}}


def metrics(resources: list[tuple[dict[str, Any], list[tuple[str, str, list[dict[str, Any]]]]]]) -> bytes:
    """[(resource attributes, [(metric name, kind, [point attributes])])] -> request bytes."""
    return json_format.ParseDict({"resourceMetrics": [
        {"resource": {"attributes": _attrs(res)}, "schemaUrl": "s",
         "scopeMetrics": [{"scope": {"name": "lib", "version": "1"},
                           "metrics": [{"name": name, "unit": "1", **_points(kind, pts)} for name, kind, pts in ms]}]}
        for res, ms in resources
    ]}, ExportMetricsServiceRequest()).SerializeToString()


def both_ways(context: str, statements: list[str], data: bytes, request_class: type[Message], signal: Signal,
              conditions: tuple[str, ...] = (), mode: str = "ignore") -> tuple[Message, list[str]]:
    """Run both paths; assert they agree; return the result and the errors."""
    group = compile_group(context, statements, conditions, mode)  # type: ignore[arg-type]
    assert group.constant_sets is not None, "the group should qualify for the byte path"
    expected = request_class.FromString(data)
    decoded_errors: list[str] = []
    decoded_exc = spliced_exc = None
    try:
        run_group(expected, signal.spec, group, lambda text, exc: decoded_errors.append(f"{text}: {exc}"))
    except PropagateError as exc:
        decoded_exc = str(exc)
    splice_group = compile_group(context, statements, conditions, mode)  # type: ignore[arg-type]
    assert splice_group.constant_sets is not None
    splicer = Splicer(context, splice_group.constant_sets, splice_group.conditions, splice_group.hoister)
    splice_errors: list[str] = []
    try:
        out, count = splicer.run(data, visit_fn(splice_group, lambda text, exc: splice_errors.append(f"{text}: {exc}")))
    except PropagateError as exc:
        spliced_exc = str(exc)
    assert spliced_exc == decoded_exc
    if decoded_exc is not None:
        return expected, decoded_errors
    result = request_class.FromString(out if out is not None else data)
    assert result == expected
    assert splice_errors == decoded_errors
    assert count == signal.spec.count_items(expected)
    if out is None:
        assert request_class.FromString(data) == expected, "reported unchanged but the decoded path changed it"
    return result, decoded_errors


def _point_attrs(result: Message) -> list[list[tuple[str, str]]]:
    out = []
    for rm in result.resource_metrics:  # type: ignore[attr-defined]
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                if m.WhichOneof("data") is None:
                    continue
                for dp in getattr(m, m.WhichOneof("data")).data_points:
                    out.append([(kv.key, kv.value.string_value) for kv in dp.attributes])
    return out


KINDS = ["gauge", "sum", "histogram", "exponentialHistogram", "summary"]


def test_tutorial_over_every_metric_type() -> None:
    data = metrics([({"deployment.environment": "prod", "service.version": "1.2.3"},
                     [(f"m{i}", kind, [{"a": "1"}, {}]) for i, kind in enumerate(KINDS)])])
    result, errors = both_ways("datapoint", TUTORIAL, data, ExportMetricsServiceRequest, Signal.METRICS)
    assert errors == []
    for attrs in _point_attrs(result):
        assert attrs[-2:] == [("deployment.environment", "prod"), ("service.version", "1.2.3")]


def test_key_already_on_some_points_is_updated_in_place() -> None:
    data = metrics([({"deployment.environment": "prod", "service.version": "2"},
                     [("m", "gauge", [{"service.version": "old", "b": "x"}, {"a": "1"},
                                      {"service.version": "dup1", "service.version2": "y"}]),
                      ("h", "histogram", [{"deployment.environment": "dev"}])])])
    result, _ = both_ways("datapoint", TUTORIAL, data, ExportMetricsServiceRequest, Signal.METRICS)
    attrs = _point_attrs(result)
    assert attrs[0] == [("service.version", "2"), ("b", "x"), ("deployment.environment", "prod")]
    assert attrs[3] == [("deployment.environment", "prod"), ("service.version", "2")]


def test_value_that_merely_contains_the_key_bytes() -> None:
    # A string value encodes exactly like a key: the search hits, the item is decided exactly.
    data = metrics([({"service.version": "v"}, [("m", "sum", [{"x": "service.version"}, {}])])])
    result, _ = both_ways("datapoint", TUTORIAL, data, ExportMetricsServiceRequest, Signal.METRICS)
    assert _point_attrs(result) == [[("x", "service.version"), ("service.version", "v")], [("service.version", "v")]]


def test_nil_values_leave_resources_alone() -> None:
    data = metrics([({}, [("m", "gauge", [{"a": "1"}])]),
                    ({"service.version": "9"}, [("m", "summary", [{}])]),
                    ({"other": "x"}, [("m", "exponentialHistogram", [{}])])])
    result, _ = both_ways("datapoint", TUTORIAL, data, ExportMetricsServiceRequest, Signal.METRICS)
    assert _point_attrs(result) == [[("a", "1")], [("service.version", "9")], []]


def test_nothing_to_do_reports_unchanged() -> None:
    data = metrics([({}, [("m", "gauge", [{"a": "1"}, {}])])])
    group = compile_group("datapoint", TUTORIAL)
    assert group.constant_sets is not None
    splicer = Splicer("datapoint", group.constant_sets, group.conditions, group.hoister)
    assert splicer.run(data, visit_fn(group, lambda t, e: None)) == (None, 2)


def test_literal_and_non_string_values_and_overrides() -> None:
    data = metrics([({"n": 5, "flag": True, "m": {"k": "v"}}, [("m", "gauge", [{}, {"t": "x"}])])])
    statements = ['set(attributes["team"], "checkout")', 'set(attributes["n"], resource.attributes["n"])',
                  'set(attributes["flag"], resource.attributes["flag"])', 'set(attributes["map"], resource.attributes["m"])',
                  'set(attributes["t"], "first")', 'set(attributes["t"], "second")', 'set(attributes["now"], nil)',
                  'set(attributes["sum"], 1 + 2)']
    result, _ = both_ways("datapoint", statements, data, ExportMetricsServiceRequest, Signal.METRICS)
    point = result.resource_metrics[0].scope_metrics[0].metrics[0].gauge.data_points[1]  # type: ignore[attr-defined]
    assert [kv.key for kv in point.attributes] == ["t", "team", "n", "flag", "map", "sum"]
    assert point.attributes[0].value.string_value == "second"


def test_metric_and_scope_level_conditions() -> None:
    data = metrics([({"env": "a"}, [("keep", "gauge", [{}]), ("skip", "sum", [{}]), ("keep", "histogram", [{}])]),
                    ({"env": "b"}, [("keep", "summary", [{}])])])
    both_ways("datapoint", ['set(attributes["x"], metric.name) where metric.type != METRIC_DATA_TYPE_SUM',
                            'set(attributes["u"], Concat([scope.name, metric.unit], "/"))'],
              data, ExportMetricsServiceRequest, Signal.METRICS)
    both_ways("datapoint", ['set(attributes["env"], resource.attributes["env"])'], data, ExportMetricsServiceRequest,
              Signal.METRICS, conditions=('resource.attributes["env"] == "b"', 'metric.name == "skip"'))


@pytest.mark.parametrize("mode", ["ignore", "silent", "propagate"])
def test_error_modes_match_the_decoded_path(mode: str) -> None:
    # ToUpperCase fails on an int: one resource's value raises, the other's does not.
    data = metrics([({"v": "ok"}, [("m", "gauge", [{}, {}])]), ({"v": 3}, [("m", "sum", [{}, {"v": "y"}])])])
    result, errors = both_ways("datapoint", ['set(attributes["v"], ToUpperCase(resource.attributes["v"]))',
                                             'set(attributes["w"], "lit")'],
                               data, ExportMetricsServiceRequest, Signal.METRICS, mode=mode)
    if mode == "ignore":
        assert len(errors) == 2
    else:
        assert errors == []


def test_failing_condition_is_reported_per_item() -> None:
    data = metrics([({"v": 3}, [("m", "gauge", [{}, {}, {}])])])
    _, errors = both_ways("datapoint", ['set(attributes["x"], "y")'], data, ExportMetricsServiceRequest, Signal.METRICS,
                          conditions=('IsMatch(ToUpperCase(resource.attributes["v"]), "x")', 'true'))
    assert len(errors) == 3


def test_spans_span_events_and_logs() -> None:
    res = [{"key": "service.version", "value": {"stringValue": "7"}}]
    spans = json_format.ParseDict({"resourceSpans": [{"resource": {"attributes": res}, "scopeSpans": [{"scope": {"name": "s"}, "spans": [
        {"traceId": "AAAAAAAAAAAAAAAAAAAAAQ==", "spanId": "AAAAAAAAAAE=", "name": "a", "kind": 2,
         "attributes": [{"key": "service.version", "value": {"intValue": "1"}}],
         "events": [{"name": "e1"}, {"name": "e2", "attributes": [{"key": "k", "value": {"stringValue": "v"}}]}]},
        {"name": "b"}]}]}]}, ExportTraceServiceRequest()).SerializeToString()
    both_ways("span", TUTORIAL[1:], spans, ExportTraceServiceRequest, Signal.TRACES)
    both_ways("spanevent", ['set(attributes["span"], span.name) where span.kind == SPAN_KIND_SERVER'],
              spans, ExportTraceServiceRequest, Signal.TRACES)
    logs = json_format.ParseDict({"resourceLogs": [{"resource": {"attributes": res}, "scopeLogs": [{"logRecords": [
        {"body": {"stringValue": "x"}, "attributes": [{"key": "a", "value": {"stringValue": "b"}}]}, {}]}]}]},
        ExportLogsServiceRequest()).SerializeToString()
    both_ways("log", TUTORIAL[1:], logs, ExportLogsServiceRequest, Signal.LOGS)


def test_groups_that_read_items_do_not_qualify() -> None:
    assert compile_group("datapoint", ['set(attributes["a"], attributes["b"])']).constant_sets is None
    assert compile_group("datapoint", ['set(attributes["a"], "x") where value_double > 1']).constant_sets is None
    assert compile_group("datapoint", ['set(attributes["a"], "x")'], ['attributes["b"] == "y"']).constant_sets is None
    assert compile_group("datapoint", ['set(attributes["a"], String(Now()))']).constant_sets is None
    assert compile_group("datapoint", ['delete_key(attributes, "a")']).constant_sets is None
    assert compile_group("datapoint", ['set(attributes["a"]["b"], "x")']).constant_sets is None


def test_truncated_bytes_are_refused() -> None:
    data = metrics([({"service.version": "1"}, [("m", "gauge", [{"a": "1"}])])])
    group = compile_group("datapoint", TUTORIAL)
    assert group.constant_sets is not None
    splicer = Splicer("datapoint", group.constant_sets, group.conditions, group.hoister)
    with pytest.raises(SpliceError):
        splicer.run(data[:-3], visit_fn(group, lambda t, e: None))


_keys = st.sampled_from(["service.version", "a", "deployment.environment", "x"])
_values = st.one_of(st.sampled_from(["1", "prod", "service.version", ""]), st.integers(-3, 3), st.booleans())
_attr_maps = st.dictionaries(_keys, _values, max_size=3)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_attr_maps, st.lists(st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(KINDS),
                                                         st.lists(_attr_maps, max_size=3)), max_size=3)),
                max_size=3),
       st.lists(st.tuples(_keys, st.sampled_from(['resource.attributes["a"]', 'resource.attributes["service.version"]',
                                                  '"lit"', "metric.name", "nil", "7"]),
                          st.sampled_from(["", ' where metric.name == "a"'])), min_size=1, max_size=3))
def test_property_byte_path_equals_decoded_path(resources: Any, sets: Any) -> None:
    statements = [f'set(attributes["{k}"], {v}){w}' for k, v, w in sets]
    both_ways("datapoint", statements, metrics(resources), ExportMetricsServiceRequest, Signal.METRICS)


def test_items_with_long_length_prefixes() -> None:
    # 1- and 2-byte length prefixes, items past the header table, and growth across 127 -> 128
    data = metrics([({"service.version": "v" * 20}, [("m", "gauge", [{"a": "x" * size} for size in (5, 60, 95, 200, 3000, 20000)])])])
    result, _ = both_ways("datapoint", TUTORIAL, data, ExportMetricsServiceRequest, Signal.METRICS)
    assert all(attrs[-1] == ("service.version", "v" * 20) for attrs in _point_attrs(result))


def test_metric_level_bytes_that_look_like_keys_and_many_scopes() -> None:
    # The metric's name and metadata encode like the key; a second scope and unknown fields ride along.
    request = ExportMetricsServiceRequest.FromString(metrics([({"service.version": "3"}, [
        ("service.version", "gauge", [{}, {"b": "c"}]), ("d", "summary", [{}])])]))
    metric = request.resource_metrics[0].scope_metrics[0].metrics[0]
    metric.description = "service.version"
    metric.metadata.add(key="service.version").value.string_value = "meta"
    extra_scope = request.resource_metrics[0].scope_metrics.add()
    extra_scope.scope.name = "second"
    extra_scope.metrics.add(name="e").sum.data_points.add(as_int=4)
    extra_scope.metrics.add(name="empty")
    data = request.SerializeToString() + b"\x98\x06\x01"  # unknown field 99 (varint) at request level
    result, _ = both_ways("datapoint", TUTORIAL, data, ExportMetricsServiceRequest, Signal.METRICS)
    assert _point_attrs(result)[-1] == [("service.version", "3")]
