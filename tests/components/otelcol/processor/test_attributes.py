from __future__ import annotations

import asyncio
import hashlib
import struct
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from collector.components.kit.api import ArgumentError, ConsumerRef
from collector.components.otelcol.processor.attributes import AttributesProcessor
from collector.protocols.wire import set_any_value, to_python
from collector.components.otelcol.processor.attributes.actions import Action, compile_actions, run_actions
from collector.components.otelcol.processor.attributes.matching import Matcher, MatchSpec
from collector.signals import Payload, Signal
from tests.components.otelcol.connector.doubles import decode_args, make_context

NAME = "otelcol.processor.attributes"


def _attrs(values: dict[str, Any]) -> Any:
    holder = ExportTraceServiceRequest().resource_spans.add().scope_spans.add().spans.add()
    for key, value in values.items():
        set_any_value(holder.attributes.add(key=key).value, value)
    return holder.attributes


def _dict(attrs: Any) -> dict[str, Any]:
    return {kv.key: to_python(kv.value) for kv in attrs}


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


BASE = {"user.email": "a@b.c", "http.status": "404", "count": 3, "ratio": 2.5, "ok": True,
        "url": "/api/v1/users/42/orders"}

CASES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"key": "env", "action": "insert", "value": "prod"}, {**BASE, "env": "prod"}),
    ({"key": "count", "action": "insert", "value": 9}, BASE),
    ({"key": "count", "action": "update", "value": 9}, {**BASE, "count": 9}),
    ({"key": "missing", "action": "update", "value": 9}, BASE),
    ({"key": "count", "action": "upsert", "value": [1, "x"]}, {**BASE, "count": [1, "x"]}),
    ({"key": "new", "action": "upsert", "value": {"a": 1}}, {**BASE, "new": {"a": 1}}),
    ({"key": "copy", "action": "insert", "from_attribute": "user.email"}, {**BASE, "copy": "a@b.c"}),
    ({"key": "copy", "action": "insert", "from_attribute": "absent"}, BASE),
    ({"key": "user.email", "action": "delete"}, {k: v for k, v in BASE.items() if k != "user.email"}),
    ({"pattern": "^(count|ratio)$", "action": "delete"},
     {k: v for k, v in BASE.items() if k not in ("count", "ratio")}),
    ({"key": "user.email", "action": "hash"}, {**BASE, "user.email": _sha1(b"a@b.c")}),
    ({"key": "count", "action": "hash"}, {**BASE, "count": _sha1(struct.pack("<q", 3))}),
    ({"key": "ok", "action": "hash"}, {**BASE, "ok": _sha1(b"\x01")}),
    ({"key": "ratio", "action": "hash"}, {**BASE, "ratio": _sha1(struct.pack("<d", 2.5))}),
    ({"key": "url", "action": "extract", "pattern": r"^/api/(?P<version>v\d+)/users/(?<user_id>\d+)"},
     {**BASE, "version": "v1", "user_id": "42"}),
    ({"key": "url", "action": "extract", "pattern": r"^/nomatch/(?P<x>.*)"}, BASE),
    ({"key": "http.status", "action": "convert", "converted_type": "int"}, {**BASE, "http.status": 404}),
    ({"key": "user.email", "action": "convert", "converted_type": "int"}, BASE),
    ({"key": "count", "action": "convert", "converted_type": "double"}, {**BASE, "count": 3.0}),
    ({"key": "ratio", "action": "convert", "converted_type": "int"}, {**BASE, "ratio": 2}),
    ({"key": "ratio", "action": "convert", "converted_type": "string"}, {**BASE, "ratio": "2.5"}),
    ({"key": "ok", "action": "convert", "converted_type": "string"}, {**BASE, "ok": "true"}),
    ({"key": "env", "action": "UPSERT", "value": "x"}, {**BASE, "env": "x"}),
]


@pytest.mark.parametrize(("action", "expected"), CASES)
def test_action(action: dict[str, Any], expected: dict[str, Any]) -> None:
    attrs = _attrs(BASE)
    run_actions(compile_actions([Action(**{"key": "", **action})]), attrs, {})
    assert _dict(attrs) == expected


def test_from_context_reads_request_metadata() -> None:
    attrs = _attrs({})
    steps = compile_actions([Action(key="tenant", action="insert", from_context="metadata.x-scope-orgid")])
    run_actions(steps, attrs, {"x-scope-orgid": ["42"]})
    assert _dict(attrs) == {"tenant": "42"}


@pytest.mark.parametrize(("action", "message"), [
    ({"key": "k", "action": "explode"}, "unsupported action"),
    ({"key": "k", "action": "insert"}, "missing value/from_attribute/from_context"),
    ({"key": "k", "action": "insert", "value": 1, "from_attribute": "x"}, "more than one"),
    ({"action": "upsert", "value": 1}, '"key" field is required'),
    ({"action": "delete"}, '"pattern" or "key"'),
    ({"key": "k", "action": "extract"}, '"key" or "pattern"'),
    ({"key": "k", "action": "extract", "pattern": "(a)"}, "no named matcher groups"),
    ({"key": "k", "action": "hash", "pattern": "("}, "invalid pattern"),
    ({"key": "k", "action": "convert", "converted_type": "float"}, "invalid converted_type"),
])
def test_invalid_actions(action: dict[str, Any], message: str) -> None:
    with pytest.raises(ArgumentError, match=message) as info:
        decode_args(NAME, {"action": [{"action": "insert", "key": "ok", "value": 1}, action]})
    assert info.value.attribute == "action[1]"


def test_match_blocks_are_checked_against_connected_signals() -> None:
    logs_only = {"output": {"logs": [ConsumerRef("n", frozenset(Signal))]}}
    with pytest.raises(ArgumentError, match="span_names should not be specified for logs") as info:
        decode_args(NAME, {**logs_only, "include": {"match_type": "strict", "span_names": ["x"]}})
    assert info.value.attribute == "include"
    with pytest.raises(ArgumentError, match="at least one of"):
        decode_args(NAME, {**logs_only, "exclude": {"match_type": "regexp"}})
    decode_args(NAME, {**logs_only, "include": {"match_type": "strict", "log_bodies": ["x"]}})
    # metrics ignore categories they do not understand, as the Collector's filtermetric does
    metrics_only = {"output": {"metrics": [ConsumerRef("n", frozenset(Signal))]}}
    decode_args(NAME, {**metrics_only, "include": {"match_type": "strict", "metric_names": ["m"],
                                                 "log_bodies": ["x"]}})


# --- the component over whole requests ------------------------------------------------------------
def _traces() -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    for service in ("checkout", "cart"):
        rs = request.resource_spans.add()
        rs.resource.attributes.add(key="service.name").value.string_value = service
        for library in ("net/http", "db"):
            ss = rs.scope_spans.add()
            ss.scope.name = library
            for name in ("GET /", "POST /pay"):
                span = ss.spans.add(name=name)
                span.attributes.add(key="tier").value.string_value = "gold" if name == "GET /" else "basic"
    return request


def _run(values: dict[str, Any], signal: Signal, message: Any) -> Any:
    async def run() -> Any:
        output = {"output": {signal.value: [ConsumerRef("next", frozenset(Signal))]}}
        args = decode_args(NAME, {**output, **values})
        ctx, recorders = make_context(NAME)
        component = AttributesProcessor(ctx, args)
        await component.start()
        await component.consume(Payload(signal, data=message.SerializeToString()))
        await component.shutdown()
        return signal.spec.request_class.FromString(recorders[signal].payloads[0].data)

    return asyncio.run(run())


def _marked_spans(request: Any) -> list[tuple[str, str, str]]:
    out = []
    for rs in request.resource_spans:
        service = rs.resource.attributes[0].value.string_value
        for ss in rs.scope_spans:
            for span in ss.spans:
                if any(kv.key == "marked" for kv in span.attributes):
                    out.append((service, ss.scope.name, span.name))
    return out


MARK = {"action": [{"key": "marked", "action": "insert", "value": True}]}


@pytest.mark.parametrize(("blocks", "expected"), [
    ({}, [(s, lib, n) for s in ("checkout", "cart") for lib in ("net/http", "db") for n in ("GET /", "POST /pay")]),
    ({"include": {"match_type": "strict", "services": ["checkout"], "span_names": ["GET /"]}},
     [("checkout", "net/http", "GET /"), ("checkout", "db", "GET /")]),
    ({"include": {"match_type": "regexp", "services": ["^cart$"], "library": [{"name": "^net"}]}},
     [("cart", "net/http", "GET /"), ("cart", "net/http", "POST /pay")]),
    ({"include": {"match_type": "strict", "attribute": [{"key": "tier", "value": "gold"}]},
      "exclude": {"match_type": "strict", "services": ["cart"]}},
     [("checkout", "net/http", "GET /"), ("checkout", "db", "GET /")]),
    ({"exclude": {"match_type": "regexp", "span_names": ["pay"], "resource": [{"key": "service.name",
                                                                               "value": "check.*"}]}},
     [("checkout", "net/http", "GET /"), ("checkout", "db", "GET /")]
     + [("cart", lib, n) for lib in ("net/http", "db") for n in ("GET /", "POST /pay")]),
])
def test_include_exclude_on_spans(blocks: dict[str, Any], expected: list[tuple[str, str, str]]) -> None:
    result = _run({**MARK, **blocks}, Signal.TRACES, _traces())
    assert _marked_spans(result) == expected


def test_metrics_and_logs() -> None:
    metrics = ExportMetricsServiceRequest()
    sm = metrics.resource_metrics.add().scope_metrics.add()
    sm.metrics.add(name="http.requests").sum.data_points.add(as_int=1)
    sm.metrics.add(name="cpu").gauge.data_points.add(as_double=1.0)
    histogram = sm.metrics.add(name="http.latency").histogram
    histogram.data_points.add(count=1)
    result = _run({**MARK, "include": {"match_type": "regexp", "metric_names": ["^http"]}}, Signal.METRICS, metrics)
    marked = [(m.name, any(kv.key == "marked" for kv in getattr(m, m.WhichOneof("data")).data_points[0].attributes))
              for m in result.resource_metrics[0].scope_metrics[0].metrics]
    assert marked == [("http.requests", True), ("cpu", False), ("http.latency", True)]

    logs = ExportLogsServiceRequest()
    sl = logs.resource_logs.add().scope_logs.add()
    for body in ("user login", "disk full"):
        sl.log_records.add().body.string_value = body
    result = _run({**MARK, "exclude": {"match_type": "strict", "log_bodies": ["disk full"]}}, Signal.LOGS, logs)
    records = result.resource_logs[0].scope_logs[0].log_records
    assert [any(kv.key == "marked" for kv in r.attributes) for r in records] == [True, False]


def test_resource_attributes_are_untouched() -> None:
    result = _run({"action": [{"key": "service.name", "action": "delete"}]}, Signal.TRACES, _traces())
    assert all(rs.resource.attributes[0].key == "service.name" for rs in result.resource_spans)


def test_kv_helper_roundtrip() -> None:
    kv = KeyValue(key="k")
    set_any_value(kv.value, {"a": [1, 2.5, True, None, b"x"]})
    assert to_python(kv.value) == {"a": [1, 2.5, True, None, b"x"]}


@pytest.mark.parametrize(("action", "reason"), [
    ({"key": "k", "action": "extract", "pattern": r"(?P<a>x)\1"}, "backreferences are not supported in RE2"),
    ({"key": "k", "action": "delete", "pattern": "(?=x)"}, "lookahead is not supported in RE2"),
])
def test_patterns_go_rejects(action: dict[str, Any], reason: str) -> None:
    with pytest.raises(ArgumentError, match=reason):
        decode_args(NAME, {"action": [action]})


def test_regexp_match_blocks_reject_what_go_rejects() -> None:
    with pytest.raises(ArgumentError, match="backreferences are not supported in RE2"):
        decode_args(NAME, {"include": {"match_type": "regexp", "span_names": [r"(a)\1"]},
                           "action": [{"key": "x", "action": "delete"}]})


def test_extract_with_go_group_spellings_and_ascii_classes() -> None:
    extract = compile_actions([Action(key="url", action="extract",
                                      pattern=r"^/users/(?<user>\d*)/orders/(?P<order>\d+)")])
    attrs = _attrs({"url": "/users/٣/orders/42"})
    run_actions(extract, attrs, {})
    assert _dict(attrs) == {"url": "/users/٣/orders/42"}  # \d is ASCII in Go: "٣" is not a digit
    attrs = _attrs({"url": "/users/7/orders/42"})
    run_actions(extract, attrs, {})
    assert _dict(attrs) == {"url": "/users/7/orders/42", "user": "7", "order": "42"}


@pytest.mark.parametrize(("value", "expected"), [
    (1e-7, "1e-7"), (1e21, "1e+21"), (2.0, "2"), (1e20, "100000000000000000000"), (0.1 + 0.2, "0.30000000000000004"),
    (float("nan"), "json: unsupported value: NaN"),
])
def test_convert_double_to_string_like_the_collector(value: float, expected: str) -> None:
    """pdata's AsString (ES6 rule), what the Collector's convert action writes."""
    attrs = _attrs({"x": value})
    run_actions(compile_actions([Action(key="x", action="convert", converted_type="string")]), attrs, {})
    assert _dict(attrs) == {"x": expected}


def test_matching_sees_the_collectors_strings_for_doubles() -> None:
    """Regexp attribute filters see FormatFloat 'f' text (filtermatcher); log bodies AsString (filterlog)."""
    span = _traces().resource_spans[0].scope_spans[0].spans[0]
    set_any_value(span.attributes.add(key="ratio").value, 1e-7)
    for pattern, matched in ((r"^0\.0000001$", True), ("e-7", False)):
        matcher = Matcher(MatchSpec("regexp", attributes=(("ratio", pattern),)))
        assert matcher.match_item(Signal.TRACES, span, span.name) is matched
    record = ExportLogsServiceRequest().resource_logs.add().scope_logs.add().log_records.add()
    set_any_value(record.body, 1e21)
    assert Matcher(MatchSpec("strict", log_bodies=("1e+21",))).match_item(Signal.LOGS, record, "")
    assert not Matcher(MatchSpec("strict", log_bodies=("1000000000000000000000",))).match_item(Signal.LOGS, record, "")
