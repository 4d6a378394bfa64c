"""The real aiohttp shell on 127.0.0.1, driven by a raw HTTP client, for every status it answers."""

from __future__ import annotations

import gzip
import http.client
import socket
import zlib

import orjson
import pytest
from google.rpc import error_details_pb2, status_pb2

from collector.signals import Signal
from collector.transport.admission import AdmitOutcome
from tests.transport import payloads
from tests.transport.harness import RunningReceiver

PB = "application/x-protobuf"


def post(rr: RunningReceiver, path: str, body: bytes, content_type: str = PB, method: str = "POST",
         **headers: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", rr.http_port, timeout=10)
    try:
        all_headers = {"Content-Type": content_type, **{k.replace("_", "-"): v for k, v in headers.items()}}
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def status_of(body: bytes) -> status_pb2.Status:
    status = status_pb2.Status()
    status.ParseFromString(body)
    return status


@pytest.mark.parametrize("signal, request_, items", payloads.EXPORTS)
def test_protobuf_success_passes_the_received_bytes_on(receiver: RunningReceiver, signal: Signal, request_: object,
                                                       items: int) -> None:
    data = request_.SerializeToString()  # type: ignore[attr-defined]
    status, headers, body = post(receiver, signal.spec.http_path, data)
    assert (status, headers["content-type"], body) == (200, PB, b"")
    [admitted] = receiver.admission.admitted
    assert (admitted.signal, admitted.item_count, admitted.data) == (signal, items, data)
    assert admitted.receiver_id == "otelcol.receiver.otlp.default"


@pytest.mark.parametrize("encoding, compress", [
    ("gzip", lambda b: gzip.compress(b)),
    ("deflate", zlib.compress),
    ("zlib", zlib.compress),
    ("zstd", lambda b: __import__("zstandard").ZstdCompressor().compress(b)),
    ("snappy", lambda b: __import__("snappy").compress(b)),
    ("identity", lambda b: b),
])
def test_compressed_bodies_are_accepted(receiver: RunningReceiver, encoding: str, compress: object) -> None:
    data = payloads.logs(7).SerializeToString()
    status, _, _ = post(receiver, "/v1/logs", compress(data), Content_Encoding=encoding)  # type: ignore[operator]
    assert status == 200
    assert receiver.admission.admitted[0].data == data
    assert receiver.admission.items(Signal.LOGS) == 7


def test_json_request_gets_json_response_and_is_passed_on_as_protobuf(receiver: RunningReceiver) -> None:
    body = orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": "5B8EFFF798038103D269B633813FC60C", "spanId": "eee19b7ec3c1b174", "name": "x", "kind": 2,
         "startTimeUnixNano": "1544712660000000000", "endTimeUnixNano": 1544712661000000000}]}]}]})
    status, headers, response = post(receiver, "/v1/traces", body, "application/json; charset=utf-8")
    assert (status, headers["content-type"], response) == (200, "application/json", b"{}")
    [message] = receiver.admission.messages(Signal.TRACES)
    span = message.resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id.hex() == "5b8efff798038103d269b633813fc60c"
    assert span.end_time_unix_nano == 1544712661000000000


def test_empty_request_is_success(receiver: RunningReceiver) -> None:
    assert post(receiver, "/v1/metrics", b"")[0] == 200
    assert post(receiver, "/v1/metrics", b"{}", "application/json")[:3:2] == (200, b"{}")


def test_unknown_path_is_404(receiver: RunningReceiver) -> None:
    assert post(receiver, "/v1/nope", b"")[0] == 404


def test_get_is_405(receiver: RunningReceiver) -> None:
    status, headers, body = post(receiver, "/v1/traces", b"", method="GET")
    assert (status, body) == (405, b"405 method not allowed, supported: [POST]")
    assert headers["content-type"].startswith("text/plain")


def test_wrong_content_type_is_415(receiver: RunningReceiver) -> None:
    assert post(receiver, "/v1/traces", b"x", "text/plain")[0] == 415


@pytest.mark.parametrize("body, content_type, headers, fragment", [
    (b"\xff\xff\xff", PB, {}, "protobuf"),
    (b"{not json", "application/json", {}, "JSON"),
    (b"\x1f\x8b\x08\x00garbage", PB, {"Content_Encoding": "gzip"}, "invalid compressed body"),
    (b"x", PB, {"Content_Encoding": "br"}, "unsupported Content-Encoding"),
])
def test_bad_bodies_are_400_with_a_status_in_the_request_encoding(receiver: RunningReceiver, body: bytes,
                                                                  content_type: str, headers: dict[str, str],
                                                                  fragment: str) -> None:
    status, response_headers, response = post(receiver, "/v1/traces", body, content_type, **headers)
    assert status == 400
    if content_type == PB:
        decoded = status_of(response)
        assert (decoded.code, fragment in decoded.message) == (3, True)
    else:
        decoded_json = orjson.loads(response)
        assert decoded_json["code"] == 3 and fragment in decoded_json["message"]
    assert not receiver.admission.admitted


def test_body_over_the_limit_is_413(receiver: RunningReceiver) -> None:
    status, _, response = post(receiver, "/v1/logs", b"\x00" * (20 * 1024 * 1024 + 1))
    assert status == 413 and "too large" in status_of(response).message


def test_body_over_the_limit_after_decompression_is_413(receiver: RunningReceiver) -> None:
    bomb = gzip.compress(b"\x00" * (21 * 1024 * 1024))
    assert len(bomb) < 64 * 1024
    status, _, _ = post(receiver, "/v1/logs", bomb, Content_Encoding="gzip")
    assert status == 413


def test_chunked_body_over_the_limit_is_413(receiver: RunningReceiver) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", receiver.http_port, timeout=10)
    chunk = b"\x00" * (1024 * 1024)
    conn.request("POST", "/v1/logs", body=iter([chunk] * 21), headers={"Content-Type": PB},
                 encode_chunked=True)
    try:
        assert conn.getresponse().status == 413
    finally:
        conn.close()


def test_full_admission_is_503_with_retry_after(receiver: RunningReceiver) -> None:
    receiver.admission.outcome = AdmitOutcome.FULL
    receiver.admission.retry_after = 2.5
    status, headers, body = post(receiver, "/v1/traces", payloads.traces().SerializeToString())
    assert (status, headers["retry-after"]) == (503, "3")
    decoded = status_of(body)
    assert decoded.code == 14
    info = error_details_pb2.RetryInfo()
    assert decoded.details[0].Unpack(info) and info.retry_delay.seconds == 2 and info.retry_delay.nanos == 500_000_000
    assert receiver.admission.refused[0].item_count == 6 and not receiver.admission.admitted


def test_full_admission_json_answer_is_json(receiver: RunningReceiver) -> None:
    receiver.admission.outcome = AdmitOutcome.FULL
    status, headers, body = post(receiver, "/v1/logs", b"{}", "application/json")
    assert (status, headers["content-type"]) == (503, "application/json")
    assert orjson.loads(body)["code"] == 14


def test_keepalive_connection_serves_several_requests(receiver: RunningReceiver) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", receiver.http_port, timeout=10)
    try:
        for _ in range(3):
            conn.request("POST", "/v1/logs", body=payloads.logs(1).SerializeToString(), headers={"Content-Type": PB})
            response = conn.getresponse()
            response.read()
            assert response.status == 200
    finally:
        conn.close()
    assert receiver.admission.items(Signal.LOGS) == 3


def test_a_body_that_never_arrives_is_cut_off() -> None:
    from tests.transport.harness import default_args, running_receiver

    for rr in running_receiver(default_args(read_header_timeout=0.2)):
        with socket.create_connection(("127.0.0.1", rr.http_port), timeout=10) as sock:
            sock.sendall(b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                         b"Content-Length: 100\r\n\r\nabc")
            answer = sock.recv(4096)  # blocks until the server's body timeout fires
            assert answer.startswith(b"HTTP/1.1 408")
