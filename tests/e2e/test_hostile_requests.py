"""Requests meant to hurt the receiver (issue 12's probe): each is refused or bounded, is counted,
does not flood the log, and valid traffic keeps being delivered."""

from __future__ import annotations

import gzip
import socket

import grpc
import psutil
import pytest

from collector.signals import Signal
from collector.testing.http import post_status
from collector.testing.sdk import send_spans, wait_until
from tests.e2e.conftest import Gateway

MIB = 1024 * 1024
# 10.5 million empty ResourceSpans (two bytes each on the wire): exactly the 20 MiB body limit, ~20 KB gzipped
AMPLIFICATION = b"\x0a\x00" * (10 * MIB)


def _rss(gateway: Gateway) -> dict[str, int]:
    return {title: proc.memory_info().rss for title, proc in gateway.collector.children().items()
            if title.startswith(("receiver", "worker traces"))}


def _refused(gateway: Gateway, reason: str, transport: str) -> float:
    return gateway.collector.metric_value("otelcol_receiver_refused_requests_total", reason=reason,
                                          transport=transport)


def test_amplification_body_is_refused_without_decoding(gateway: Gateway) -> None:
    before = _rss(gateway)
    body = gzip.compress(AMPLIFICATION, 9)
    assert len(body) < 25_000
    headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}
    for _ in range(6):  # the probe sent six: together they stalled valid requests for 32 s
        assert post_status(f"{gateway.http_url}/v1/traces", body, headers) == 413

    with grpc.insecure_channel(gateway.grpc_endpoint, options=[("grpc.max_send_message_length", 64 * MIB)]) as channel:
        export = channel.unary_unary(Signal.TRACES.spec.grpc_method)
        with pytest.raises(grpc.RpcError) as raised:
            export(AMPLIFICATION[:4 * MIB - 64], timeout=60)  # under the 4 MiB receive limit
    assert raised.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
    assert "resources" in raised.value.details()  # type: ignore[attr-defined]

    after = _rss(gateway)
    for title, rss in after.items():
        assert rss - before.get(title, rss) < 100 * MIB, (title, before.get(title), rss)
    assert wait_until(lambda: _refused(gateway, "too_many_resources", "http") == 6)
    assert wait_until(lambda: _refused(gateway, "too_many_resources", "grpc") == 1)

    send_spans("http", gateway.http_url, 5)  # valid traffic is still served and delivered
    assert wait_until(lambda: gateway.sink.sink.items(Signal.TRACES) == 5)


def test_a_gibibyte_compression_bomb_is_413_in_bounded_memory(gateway: Gateway) -> None:
    member = gzip.compress(b"\x00" * MIB, 9)
    bomb = member * 1024  # 1 GiB inflated, ~1 MB on the wire
    before = _rss(gateway)
    status = post_status(f"{gateway.http_url}/v1/logs", bomb,
                   {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})
    assert status == 413
    after = _rss(gateway)
    for title, rss in after.items():
        assert rss - before.get(title, rss) < 100 * MIB, (title, before.get(title), rss)
    assert wait_until(lambda: _refused(gateway, "too_large", "http") == 1)


MALFORMED = [
    b"GARBAGE\r\n\r\n",
    b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
    b"POST /v1/traces HTTP/1.1\r\n" + b"X: " + b"a" * 9000 + b"\r\n\r\n",
]


def test_malformed_http_requests_are_counted_not_logged_with_tracebacks(gateway: Gateway) -> None:
    rounds = 50
    for _ in range(rounds):
        for raw in MALFORMED:
            with socket.create_connection(("127.0.0.1", gateway.http_port), timeout=10) as sock:
                sock.sendall(raw)
                answer = sock.recv(64)
                assert answer.startswith(b"HTTP/1.") and b" 4" in answer[:13], answer
    total = rounds * len(MALFORMED)
    assert wait_until(lambda: _refused(gateway, "bad_http_request", "http") == total)
    logs = gateway.collector.logs()
    assert "Traceback" not in logs
    assert "level=error" not in logs  # aiohttp logged each one at ERROR
    # one rate-limited warning for the lot, not one line per request
    assert 1 <= logs.count("refused a malformed HTTP request") <= 2
