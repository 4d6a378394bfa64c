"""OtlpHttpProtocol without sockets: header checks, body decoding and answers, as tables."""

from __future__ import annotations

import gzip

import orjson
import pytest
from google.rpc import error_details_pb2, status_pb2
from multidict import CIMultiDict

from collector.protocols.otlp_http import BodyEncoding, HttpReply, HttpRoute, OtlpHttpProtocol
from collector.protocols.otlp_request import DecodedExport
from collector.protocols.status import ExportError, GrpcCode
from collector.signals import Signal
from tests.transport import payloads

PATHS = {"/v1/traces": Signal.TRACES, "/v1/metrics": Signal.METRICS, "/custom/logs": Signal.LOGS}
PB = "application/x-protobuf"


def protocol(limit: int = 1024 * 1024) -> OtlpHttpProtocol:
    return OtlpHttpProtocol(PATHS, limit)


def headers(**kw: str) -> CIMultiDict[str]:
    return CIMultiDict({k.replace("_", "-"): v for k, v in kw.items()})


@pytest.mark.parametrize("method, path, hdrs, status", [
    ("POST", "/v1/logs", {"Content_Type": PB}, 404),  # logs moved to /custom/logs
    ("GET", "/v1/traces", {}, 405),
    ("PUT", "/custom/logs", {"Content_Type": PB}, 405),
    ("POST", "/v1/traces", {}, 415),
    ("POST", "/v1/traces", {"Content_Type": "text/plain"}, 415),
    ("POST", "/v1/traces", {"Content_Type": "application/protobuf"}, 415),
    ("POST", "/v1/traces", {"Content_Type": PB, "Content_Encoding": "br"}, 400),
    ("POST", "/v1/traces", {"Content_Type": PB, "Content_Length": str(1024 * 1024 + 1)}, 413),
])
def test_requests_refused_before_the_body(method: str, path: str, hdrs: dict[str, str], status: int) -> None:
    decision = protocol().start(method, path, headers(**hdrs))
    assert isinstance(decision, HttpReply) and decision.status == status


@pytest.mark.parametrize("path, content_type, signal, encoding", [
    ("/v1/traces", PB, Signal.TRACES, BodyEncoding.PROTOBUF),
    ("/v1/metrics", "application/json", Signal.METRICS, BodyEncoding.JSON),
    ("/custom/logs", "Application/JSON; charset=utf-8", Signal.LOGS, BodyEncoding.JSON),
    ("/custom/logs", "application/x-protobuf ; proto=x", Signal.LOGS, BodyEncoding.PROTOBUF),
])
def test_routes(path: str, content_type: str, signal: Signal, encoding: BodyEncoding) -> None:
    route = protocol().start("POST", path, headers(Content_Type=content_type, Content_Encoding="GZIP",
                                                   Accept_Encoding="gzip, br"))
    assert route == HttpRoute(signal, encoding, "gzip", True)


def route(encoding: BodyEncoding = BodyEncoding.PROTOBUF, content_encoding: str = "",
          signal: Signal = Signal.TRACES) -> HttpRoute:
    return HttpRoute(signal, encoding, content_encoding, False)


def test_protobuf_body_is_decoded_once_and_passed_on_unchanged() -> None:
    data = payloads.traces(4, 3).SerializeToString()
    decoded = protocol().decode(route(content_encoding="gzip"), gzip.compress(data))
    assert isinstance(decoded, DecodedExport)
    assert (decoded.data, decoded.item_count, decoded.signal) == (data, 12, Signal.TRACES)
    assert decoded.message.resource_spans[0].scope_spans[2].spans[3].name == "span3"


def test_json_body_is_serialized_once_to_protobuf() -> None:
    request = payloads.logs(3)
    body = orjson.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"severityNumber": 9, "body": {"stringValue": f"line {i}"}, "timeUnixNano": str(1_700_000_000_000_000_000 + i)}
        for i in range(3)]}]}]})
    decoded = protocol().decode(route(BodyEncoding.JSON, signal=Signal.LOGS), body)
    assert isinstance(decoded, DecodedExport)
    assert decoded.data == request.SerializeToString() and decoded.item_count == 3


@pytest.mark.parametrize("encoding, body, content_encoding, status", [
    (BodyEncoding.PROTOBUF, b"\x0a\xff", "", 400),
    (BodyEncoding.JSON, b'{"resourceSpans": 3}', "", 400),
    (BodyEncoding.PROTOBUF, b"\x1f\x8b\x08\x00xx", "gzip", 400),
    (BodyEncoding.PROTOBUF, gzip.compress(bytes(2 * 1024 * 1024)), "gzip", 413),
    (BodyEncoding.JSON, b" " * (1024 * 1024 + 1), "", 413),
])
def test_bad_bodies(encoding: BodyEncoding, body: bytes, content_encoding: str, status: int) -> None:
    reply = protocol().decode(route(encoding, content_encoding), body)
    assert isinstance(reply, HttpReply) and reply.status == status
    assert reply.content_type == encoding.content_type
    if encoding is BodyEncoding.PROTOBUF:
        assert status_pb2.Status.FromString(reply.body).message
    else:
        assert orjson.loads(reply.body)["message"]


def test_success_is_an_empty_response_in_the_request_encoding() -> None:
    p = protocol()
    assert p.success(route()) == HttpReply(200, b"", PB)
    assert p.success(route(BodyEncoding.JSON)) == HttpReply(200, b"{}", "application/json")


def test_refusal_carries_retry_after_and_retry_info() -> None:
    reply = protocol().failure(route(), ExportError(GrpcCode.UNAVAILABLE, "queue full", retry_after=0.2))
    assert (reply.status, reply.headers) == (503, (("Retry-After", "1"),))
    status = status_pb2.Status.FromString(reply.body)
    info = error_details_pb2.RetryInfo()
    assert status.code == 14 and status.details[0].Unpack(info) and info.retry_delay.nanos == 200_000_000


def test_json_refusal_names_the_detail_type() -> None:
    reply = protocol().failure(route(BodyEncoding.JSON), ExportError(GrpcCode.UNAVAILABLE, "full", retry_after=2))
    body = orjson.loads(reply.body)
    assert body["code"] == 14 and body["details"][0] == {"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                                         "retryDelay": "2s"}


def test_large_error_bodies_are_gzipped_when_the_client_accepts_it() -> None:
    accepting = HttpRoute(Signal.TRACES, BodyEncoding.PROTOBUF, "", True)
    reply = protocol().failure(accepting, ExportError(GrpcCode.INVALID_ARGUMENT, "x" * 5000))
    assert ("Content-Encoding", "gzip") in reply.headers
    assert status_pb2.Status.FromString(gzip.decompress(reply.body)).message == "x" * 5000
    small = protocol().failure(accepting, ExportError(GrpcCode.INVALID_ARGUMENT, "short"))
    assert small.headers == ()
