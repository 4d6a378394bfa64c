"""`otelcol.receiver.otlp` end to end on 127.0.0.1: the OpenTelemetry SDK's OTLP exporters (gRPC and
HTTP) send into the component, and the admission double must hold exactly what was sent."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import Iterator

import grpc
import msgspec
import pytest
from prometheus_client import REGISTRY

from collector.components.kit.api import (
    ArgumentError, EvalContext, MissingServiceError, NoExports, RuntimeServices, Service,
)
from collector.components.otelcol.receiver.otlp import (
    Arguments, GrpcArguments, HttpArguments, OtlpReceiver, TlsArguments, split_endpoint,
)
from collector.components.kit.registry import lookup
from collector.components.kit.types import Output
from collector.signals import Signal
from collector.testing import sdk
from collector.testing.admission import CollectingAdmission
from collector.transport.errors import BindError
from tests.transport import payloads
from tests.transport.harness import LoopThread, RunningReceiver, build_context, default_args, running_receiver


@pytest.fixture(scope="module")
def receiver() -> Iterator[RunningReceiver]:
    yield from running_receiver()


@pytest.fixture(autouse=True)
def _clear(receiver: RunningReceiver) -> Iterator[None]:
    yield
    receiver.admission.admitted.clear()


def _attributes(message: object) -> list[dict[str, object]]:
    out = []
    for rs in message.resource_spans:  # type: ignore[attr-defined]
        for ss in rs.scope_spans:
            for span in ss.spans:
                out.append({kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in span.attributes})
    return out


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_sdk_spans_arrive_with_counts_and_attributes(receiver: RunningReceiver, protocol: sdk.Protocol) -> None:
    endpoint = f"127.0.0.1:{receiver.grpc_port}" if protocol == "grpc" else receiver.http_url
    sdk.send_spans(protocol, endpoint, 25, resource={"service.name": "checkout"},
                   attributes={"http.route": "/cart", "retries": 3, "ok": True, "ratio": 0.5})
    assert receiver.admission.items(Signal.TRACES) == 25
    messages = receiver.admission.messages(Signal.TRACES)
    attrs = [a for m in messages for a in _attributes(m)]
    assert sorted(a["i"] for a in attrs) == list(range(25))
    assert all(a["http.route"] == "/cart" and a["retries"] == 3 and a["ok"] is True and a["ratio"] == 0.5
               for a in attrs)
    resource = messages[0].resource_spans[0].resource
    assert {kv.key: kv.value.string_value for kv in resource.attributes}["service.name"] == "checkout"


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_sdk_metrics_arrive(receiver: RunningReceiver, protocol: sdk.Protocol) -> None:
    endpoint = f"127.0.0.1:{receiver.grpc_port}" if protocol == "grpc" else receiver.http_url
    sdk.send_metrics(protocol, endpoint, counter_value=9, attributes={"route": "/a"})
    assert receiver.admission.items(Signal.METRICS) == 4
    [message] = receiver.admission.messages(Signal.METRICS)
    metrics = {m.name: m for m in message.resource_metrics[0].scope_metrics[0].metrics}
    assert metrics["requests"].sum.data_points[0].as_int == 9
    assert metrics["requests"].sum.data_points[0].attributes[0].value.string_value == "/a"
    assert metrics["latency"].histogram.data_points[0].count == 2


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_sdk_logs_arrive(receiver: RunningReceiver, protocol: sdk.Protocol) -> None:
    endpoint = f"127.0.0.1:{receiver.grpc_port}" if protocol == "grpc" else receiver.http_url
    sdk.send_logs(protocol, endpoint, 12, attributes={"user": "ann"})
    assert receiver.admission.items(Signal.LOGS) == 12
    records = [r for m in receiver.admission.messages(Signal.LOGS)
               for rl in m.resource_logs for sl in rl.scope_logs for r in sl.log_records]
    assert sorted(r.body.string_value for r in records) == sorted(f"line {i}" for i in range(12))
    assert all(r.attributes[0].value.string_value == "ann" for r in records)


def test_self_metrics_count_accepted_and_refused_items(receiver: RunningReceiver) -> None:
    labels = {"component_id": "otelcol.receiver.otlp.default", "component_path": "/", "transport": "grpc"}

    def value(name: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    accepted, refused = value("otelcol_receiver_accepted_log_records_total"), \
        value("otelcol_receiver_refused_log_records_total")
    with grpc.insecure_channel(f"127.0.0.1:{receiver.grpc_port}") as channel:
        method = channel.unary_unary(Signal.LOGS.spec.grpc_method)
        method(payloads.logs(4).SerializeToString(), timeout=10)
        receiver.admission.outcome = receiver.admission.outcome.FULL
        try:
            with pytest.raises(grpc.RpcError):
                method(payloads.logs(3).SerializeToString(), timeout=10)
        finally:
            receiver.admission.outcome = receiver.admission.outcome.ACCEPTED
    assert value("otelcol_receiver_accepted_log_records_total") - accepted == 4
    assert value("otelcol_receiver_refused_log_records_total") - refused == 3


# --- TLS -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a self-signed certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


def test_tls_on_both_listeners(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    tls = TlsArguments(cert_file=str(cert), key_file=str(key))
    args = Arguments(output=Output(), grpc=GrpcArguments(endpoint="127.0.0.1:0", tls=tls),
                     http=HttpArguments(endpoint="127.0.0.1:0", tls=tls))
    args.validate()
    for rr in running_receiver(args):
        import http.client

        context = ssl.create_default_context(cafile=str(cert))
        conn = http.client.HTTPSConnection("127.0.0.1", rr.http_port, context=context, timeout=10)
        conn.request("POST", "/v1/logs", body=payloads.logs(2).SerializeToString(),
                     headers={"Content-Type": "application/x-protobuf"})
        assert conn.getresponse().status == 200
        conn.close()
        credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        with grpc.secure_channel(f"127.0.0.1:{rr.grpc_port}", credentials) as channel:
            channel.unary_unary(Signal.LOGS.spec.grpc_method)(payloads.logs(3).SerializeToString(), timeout=10)
        assert rr.admission.items(Signal.LOGS) == 5
        # a plaintext client cannot talk to the TLS listener
        with pytest.raises(http.client.RemoteDisconnected):
            plain = http.client.HTTPConnection("127.0.0.1", rr.http_port, timeout=10)
            plain.request("POST", "/v1/logs", body=b"", headers={"Content-Type": "application/x-protobuf"})
            plain.getresponse()


# --- arguments and lifecycle -------------------------------------------------------------------
def test_registration_and_defaults() -> None:
    info = lookup("otelcol.receiver.otlp")
    assert info is not None and info.factory is OtlpReceiver
    assert info.emits == frozenset(Signal) and not info.accepts
    assert info.exports is NoExports
    assert OtlpReceiver.exports(EvalContext("otelcol.receiver.otlp.default"), default_args()) == NoExports()
    assert OtlpReceiver.needs == {Service.ADMISSION, Service.REUSE_PORT}


def test_building_outside_a_receiver_process_is_a_clear_error() -> None:
    ctx = build_context(CollectingAdmission())
    worker = dataclasses.replace(ctx, process_role="worker traces/0", services=RuntimeServices(workers_for_signal=1))
    with pytest.raises(MissingServiceError, match=r"otelcol.receiver.otlp.default needs admission .*'worker traces/0'"):
        OtlpReceiver(worker, default_args())
    g, h = GrpcArguments(), HttpArguments()
    assert (g.endpoint, g.max_recv_msg_size, g.read_buffer_size) == ("127.0.0.1:4317", 4 << 20, 512 << 10)
    assert (h.endpoint, h.max_request_body_size, h.traces_url_path) == ("127.0.0.1:4318", 20 << 20, "/v1/traces")
    assert h.compression_algorithms == ["", "gzip", "zstd", "zlib", "snappy", "deflate", "lz4"]
    assert HttpArguments().compression_algorithms is not h.compression_algorithms


@pytest.mark.parametrize("args, attribute", [
    (dict(grpc=GrpcArguments(endpoint="nope")), "grpc.endpoint"),
    (dict(grpc=GrpcArguments(transport="unix")), "grpc.transport"),
    (dict(http=HttpArguments(endpoint="host:99999")), "http.endpoint"),
    (dict(http=HttpArguments(traces_url_path="v1/traces")), "http.traces_url_path"),
    (dict(http=HttpArguments(logs_url_path="/v1/traces")), "http.traces_url_path"),
    (dict(http=HttpArguments(max_request_body_size=0)), "http.max_request_body_size"),
    (dict(http=HttpArguments(tls=TlsArguments(cert_file="c.pem"))), "http.tls.key_file"),
    (dict(grpc=GrpcArguments(tls=TlsArguments(key_file="k.pem"))), "grpc.tls.cert_file"),
    (dict(grpc=GrpcArguments(tls=TlsArguments(cert_file="c", key_file="k", min_version="TLS 9"))),
     "grpc.tls.min_version"),
])
def test_invalid_arguments_name_the_attribute(args: dict[str, object], attribute: str) -> None:
    with pytest.raises(ArgumentError) as info:
        Arguments(output=Output(), **args).validate()  # type: ignore[arg-type]
    assert info.value.attribute == attribute


def test_endpoints_parse() -> None:
    assert split_endpoint("[::1]:4317", "x") == ("::1", 4317)
    assert split_endpoint(":4318", "x") == ("0.0.0.0", 4318)


def test_arguments_decode_from_alloy_shaped_values() -> None:
    args = msgspec.convert({"output": {}, "http": {"endpoint": "127.0.0.1:0", "cors": {"allowed_origins": ["*"]}}},
                           Arguments)
    assert args.http is not None and args.http.cors is not None and args.grpc is None


def test_a_taken_port_is_a_clear_bind_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for kind in ("grpc", "http"):
            args = Arguments(output=Output(), **{kind: (GrpcArguments if kind == "grpc" else HttpArguments)(
                endpoint=f"127.0.0.1:{port}")})
            loop = LoopThread()
            component = OtlpReceiver(build_context(CollectingAdmission()), args)
            try:
                with pytest.raises(BindError, match=f"127.0.0.1:{port}"):
                    loop.run(component.start())
            finally:
                loop.run(component.shutdown())
                loop.stop()


def test_non_loopback_listener_without_tls_warns(caplog: pytest.LogCaptureFixture) -> None:
    args = Arguments(output=Output(), http=HttpArguments(endpoint="0.0.0.0:0"))
    with caplog.at_level(logging.WARNING):
        for _ in running_receiver(args):
            pass
    assert any("reachable from other hosts and has no TLS" in r.getMessage() for r in caplog.records)


def test_shutdown_stops_listening() -> None:
    for rr in running_receiver():
        old_port = rr.http_port
        rr.loop.run(rr.component.shutdown(time.monotonic() + 2))
        assert rr.component.servers == []
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", old_port), timeout=2).close()
