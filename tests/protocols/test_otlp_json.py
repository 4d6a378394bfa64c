"""OTLP/JSON mapping both ways, on example requests shaped like the opentelemetry-proto examples."""

from __future__ import annotations

import base64
import math
from pathlib import Path

import orjson
import pytest

from collector.protocols.otlp_json import JsonDecodeError, json_to_message, message_to_dict, message_to_json
from collector.signals import Signal
from tests.transport import payloads

DATA = Path(__file__).parent / "data"


def load(signal: Signal, name: str):  # type: ignore[no-untyped-def]
    return json_to_message((DATA / name).read_bytes(), signal.spec.request_class())


def test_trace_example_decodes_ids_as_hex_and_keeps_other_bytes_base64() -> None:
    request = load(Signal.TRACES, "trace.json")
    span = request.resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id == bytes.fromhex("5b8efff798038103d269b633813fc60c")
    assert span.span_id == bytes.fromhex("eee19b7ec3c1b174")
    assert span.parent_span_id == bytes.fromhex("eee19b7ec3c1b173")
    assert span.links[0].trace_id == bytes(range(1, 17)) and span.links[0].span_id == bytes(range(1, 9))
    assert (span.start_time_unix_nano, span.end_time_unix_nano) == (1544712660000000000, 1544712661000000000)
    assert (span.kind, span.status.code, span.status.message) == (2, 2, "boom")
    attrs = {kv.key: kv.value for kv in span.attributes}
    assert attrs["traceId"].int_value == 42  # an attribute *named* traceId is not an id field
    assert attrs["blob"].bytes_value == b"\x00\x01\x02\xff"
    assert attrs["list"].array_value.values[0].bool_value is True
    assert math.isnan(attrs["list"].array_value.values[1].double_value)
    assert request.resource_spans[0].scope_spans[0].scope.version == "1.0.0"


def test_metrics_example_accepts_int64_as_strings_and_numbers() -> None:
    request = load(Signal.METRICS, "metrics.json")
    metrics = request.resource_metrics[0].scope_metrics[0].metrics
    assert metrics[0].sum.aggregation_temporality == 1 and metrics[0].sum.is_monotonic
    assert [p.as_int for p in metrics[1].gauge.data_points] == [10, -3]
    hist = metrics[2].histogram.data_points[0]
    assert list(hist.bucket_counts) == [1, 1] and hist.count == 2 and hist.HasField("sum")
    assert hist.exemplars[0].trace_id.hex() == "5b8efff798038103d269b633813fc60c"
    assert Signal.METRICS.spec.count_items(request) == 4


def test_logs_example() -> None:
    request = load(Signal.LOGS, "logs.json")
    record = request.resource_logs[0].scope_logs[0].log_records[0]
    assert record.trace_id.hex() == "5b8efff798038103d269b633813fc60c" and record.span_id.hex() == "eee19b7ec3c1b174"
    assert record.severity_number == 10 and record.body.string_value == "Example log record"
    assert record.attributes[1].value.kvlist_value.values[0].key == "some.map.key"


@pytest.mark.parametrize("signal, name", [(Signal.TRACES, "trace.json"), (Signal.METRICS, "metrics.json"),
                                          (Signal.LOGS, "logs.json")])
def test_round_trip_through_json_preserves_the_message(signal: Signal, name: str) -> None:
    request = load(signal, name)
    again = json_to_message(message_to_json(request), signal.spec.request_class())
    # dicts, not messages: the trace example holds a NaN, and NaN != NaN (its dict form is "NaN")
    assert message_to_dict(again) == message_to_dict(request)
    assert again.ByteSize() == request.ByteSize()


def test_encoding_uses_lower_hex_ids_camel_case_int_enums_and_string_int64() -> None:
    out = orjson.loads(message_to_json(load(Signal.TRACES, "trace.json")))
    span = out["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span["traceId"] == "5b8efff798038103d269b633813fc60c"
    assert span["spanId"] == "eee19b7ec3c1b174" and span["parentSpanId"] == "eee19b7ec3c1b173"
    assert span["links"][0]["spanId"] == "0102030405060708"
    assert span["startTimeUnixNano"] == "1544712660000000000"
    assert span["kind"] == 2 and span["status"]["code"] == 2
    blob = next(a for a in span["attributes"] if a["key"] == "blob")
    assert blob["value"]["bytesValue"] == base64.b64encode(b"\x00\x01\x02\xff").decode()
    assert "someFutureField" not in span


def test_encoding_of_generated_requests_round_trips() -> None:
    for request in (payloads.traces(), payloads.metrics(), payloads.logs()):
        tree = message_to_dict(request)
        again = json_to_message(orjson.dumps(tree), type(request)())
        assert again == request


def test_empty_message_encodes_as_empty_object() -> None:
    assert message_to_json(Signal.LOGS.spec.response_class()) == b"{}"


def test_partial_success_int64_is_a_string() -> None:
    response = Signal.METRICS.spec.response_class()
    response.partial_success.rejected_data_points = 3
    response.partial_success.error_message = "bad"
    assert orjson.loads(message_to_json(response)) == {"partialSuccess": {"rejectedDataPoints": "3",
                                                                          "errorMessage": "bad"}}


@pytest.mark.parametrize("body, fragment", [
    (b"{", "invalid JSON"),
    (b"[]", "must be an object"),
    (b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"abc"}]}]}]}', "invalid length for traceId"),
    (b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"zzzzzzzzzzzzzzzz"}]}]}]}', "not hex"),
    (b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":5}]}]}]}', "hex string"),
    (b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":5}]}]}]}', "name"),
    (b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"soon"}]}]}]}', "startTimeUnixNano"),
])
def test_invalid_json_is_rejected_with_a_reason(body: bytes, fragment: str) -> None:
    with pytest.raises(JsonDecodeError, match=fragment):
        json_to_message(body, Signal.TRACES.spec.request_class())


def test_empty_ids_and_empty_body_are_allowed() -> None:
    request = json_to_message(b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"","name":"a"}]}]}]}',
                              Signal.TRACES.spec.request_class())
    assert request.resource_spans[0].scope_spans[0].spans[0].trace_id == b""
    assert json_to_message(b"  ", Signal.TRACES.spec.request_class()).ByteSize() == 0
