"""A collector whose OTLP receiver requires credentials (issue 12, first "Must show"): requests
without them get 401 / UNAUTHENTICATED before their body is decompressed (a gzip bomb costs
nothing), nothing of them reaches the exporter, refusals are counted and logged without the
credentials; with the right credentials the OpenTelemetry SDK exporters deliver."""

from __future__ import annotations

import gzip
import urllib.error
import urllib.request
from typing import Iterator

import bcrypt
import grpc
import pytest

from collector.signals import Signal
from collector.testing.configs import otlp_pipeline
from collector.testing.process import CollectorProcess, free_port
from collector.testing.sdk import send_spans, wait_until
from collector.testing.sink import OtlpSink, SinkThread

MIB = 1024 * 1024
PASSWORD = "correct horse"
BOMB = gzip.compress(b"\x0a\x00" * (10 * MIB), 9)  # 10.5 million empty ResourceSpans, ~20 KB gzipped
HTPASSWD = "alice:" + bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=5)).decode()

AUTHENTICATORS = {
    "basic": (f'otelcol.auth.basic "server" {{\n  htpasswd {{\n    inline = "{HTPASSWD}"\n  }}\n}}\n',
              "otelcol.auth.basic.server.handler",
              "Basic YWxpY2U6Y29ycmVjdCBob3JzZQ==",  # alice:correct horse
              "Basic YWxpY2U6d3Jvbmc="),  # alice:wrong
    "bearer": ('otelcol.auth.bearer "server" {\n  token = "t0ken-value"\n}\n',
               "otelcol.auth.bearer.server.handler", "Bearer t0ken-value", "Bearer wrong"),
}


def config(auth_block: str, handler: str, grpc_port: int, http_port: int, sink_url: str) -> str:
    return auth_block + otlp_pipeline(sink_url=sink_url, grpc_port=grpc_port, http_port=http_port,
                                      server_attributes={"auth": handler})


class Guarded:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        block, handler, self.good, self.bad = AUTHENTICATORS[kind]
        self.sink = SinkThread(OtlpSink()).start()
        self.grpc_port, self.http_port = free_port(), free_port()
        self.collector = CollectorProcess(config(block, handler, self.grpc_port, self.http_port, self.sink.url))

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def refused(self, transport: str, reason: str) -> float:
        return self.collector.metric_value("otelcol_receiver_refused_requests_total", transport=transport,
                                           reason=f"unauthenticated: {reason}")

    def receiver_rss(self) -> int:
        return sum(p.memory_info().rss for title, p in self.collector.children().items()
                   if title.startswith("receiver"))


@pytest.fixture(params=sorted(AUTHENTICATORS))
def guarded(request: pytest.FixtureRequest) -> Iterator[Guarded]:
    g = Guarded(request.param)
    try:
        g.collector.start()
        yield g
    finally:
        g.collector.close()
        g.sink.stop()


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/x-protobuf", **headers})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status), ""
    except urllib.error.HTTPError as err:
        return int(err.code), err.headers.get("WWW-Authenticate", "")


def grpc_call(port: int, body: bytes, metadata: tuple[tuple[str, str], ...]) -> grpc.StatusCode:
    with grpc.insecure_channel(f"127.0.0.1:{port}", compression=grpc.Compression.Gzip) as channel:
        try:
            channel.unary_unary(Signal.TRACES.spec.grpc_method)(body, metadata=metadata, timeout=60)
        except grpc.RpcError as err:
            return err.code()  # type: ignore[no-any-return,attr-defined]
    return grpc.StatusCode.OK


def test_unauthenticated_requests_are_refused_before_decompression(guarded: Guarded) -> None:
    before = guarded.receiver_rss()
    for _ in range(6):
        status, challenge = post(f"{guarded.http_url}/v1/traces", BOMB, {"Content-Encoding": "gzip"})
        assert status == 401
        assert challenge.startswith("Basic realm=" if guarded.kind == "basic" else "Bearer realm=")
    status, _ = post(f"{guarded.http_url}/v1/traces", BOMB, {"Content-Encoding": "gzip", "Authorization": guarded.bad})
    assert status == 401
    # gRPC: a 4 MiB message (gzip on the wire) without / with wrong credentials
    assert grpc_call(guarded.grpc_port, b"\x0a\x00" * (2 * MIB - 64), ()) is grpc.StatusCode.UNAUTHENTICATED
    assert grpc_call(guarded.grpc_port, b"\x0a\x00" * 16, (("authorization", guarded.bad),)) \
        is grpc.StatusCode.UNAUTHENTICATED
    assert not send_spans("http", guarded.http_url, 5)  # the SDK without credentials fails too
    assert not send_spans("grpc", f"127.0.0.1:{guarded.grpc_port}", 5)

    assert wait_until(lambda: guarded.refused("http", "missing credentials") == 7)
    assert wait_until(lambda: guarded.refused("http", "invalid credentials") == 1)
    assert wait_until(lambda: guarded.refused("grpc", "missing credentials") == 2)
    assert guarded.refused("grpc", "invalid credentials") == 1
    # nothing was decoded (the bombs' 10.5 million resources would be counted as failures or
    # too_many_resources), nothing was admitted, nothing reached the exporter
    assert guarded.collector.metric_value("otelcol_receiver_refused_requests_total",
                                          reason="too_many_resources") == 0
    assert guarded.collector.metric_value("otelcol_receiver_accepted_spans_total") == 0
    assert guarded.sink.sink.items(Signal.TRACES) == 0
    assert guarded.receiver_rss() - before < 50 * MIB  # no bomb was inflated (a figure, not a timing)

    logs = guarded.collector.logs()
    assert "refused an unauthenticated http request from 127.0.0.1" in logs
    assert logs.count("refused an unauthenticated http request") == 1  # once per interval per address
    for secret in (PASSWORD, "t0ken-value", guarded.bad.split(" ", 1)[1]):
        assert secret not in logs


def test_the_sdk_exporters_deliver_with_the_right_credentials(guarded: Guarded) -> None:
    headers = {"Authorization": guarded.good}
    assert send_spans("http", guarded.http_url, 40, headers=headers)
    assert send_spans("grpc", f"127.0.0.1:{guarded.grpc_port}", 60, headers=headers)
    assert wait_until(lambda: guarded.sink.sink.items(Signal.TRACES) == 100)
    assert guarded.refused("http", "missing credentials") == 0
