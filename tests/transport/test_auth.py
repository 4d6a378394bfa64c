"""Receiver authentication in both shells: a request without valid credentials is answered (HTTP 401,
gRPC UNAUTHENTICATED) before its body is decompressed or decoded, counted, and logged at most once
per interval per client address; `include_metadata` hands the request's headers to admission."""

from __future__ import annotations

import base64
import gzip
import hashlib
import logging
import urllib.error
import urllib.request
from typing import Any, Iterator

import grpc
import pytest

from collector.components.kit.api import EvalContext
from collector.components.kit.auth import AuthHandler, AuthOutcome
from collector.components.otelcol.auth.basic import Arguments as BasicArguments
from collector.components.otelcol.auth.basic import BasicAuth, Htpasswd
from collector.components.otelcol.auth.bearer import Arguments as BearerArguments
from collector.components.otelcol.auth.bearer import BearerAuth
from collector.components.otelcol.receiver.otlp import Arguments, GrpcArguments, HttpArguments
from collector.components.kit.types import Output, Secret
from collector.protocols import otlp_grpc
from collector.protocols.otlp_http import OtlpHttpProtocol
from collector.selfmetrics.otelcol import RECEIVER_REFUSED_REQUESTS
from collector.signals import Signal
from collector.transport.auth import AuthGate, client_address
from tests.signals import otlp_data as data
from tests.transport.harness import RunningReceiver, running_receiver

CID = "otelcol.receiver.otlp.default"
BOMB = gzip.compress(b"\x0a\x00" * (8 * 1024 * 1024), 9)  # 16 MiB of empty ResourceSpans, ~16 KB gzipped
SPANS = data.traces([[3]]).SerializeToString()
GOOD = {"Authorization": "Basic YWxpY2U6cHc="}  # alice:pw


def basic_server() -> AuthHandler:
    sha = "{SHA}" + base64.b64encode(hashlib.sha1(b"pw").digest()).decode()
    args = BasicArguments(htpasswd=Htpasswd(inline=Secret(f"alice:{sha}")))
    return BasicAuth.exports(EvalContext("otelcol.auth.basic.server"), args).handler


def bearer() -> AuthHandler:
    return BearerAuth.exports(EvalContext("otelcol.auth.bearer.b"), BearerArguments(token=Secret("tok"))).handler


def receiver_args(auth: AuthHandler, include_metadata: bool = False) -> Arguments:
    args = Arguments(output=Output(),
                     grpc=GrpcArguments(endpoint="127.0.0.1:0", auth=auth, include_metadata=include_metadata),
                     http=HttpArguments(endpoint="127.0.0.1:0", auth=auth, include_metadata=include_metadata))
    args.validate()
    return args


@pytest.fixture(scope="module")
def guarded_receiver() -> Iterator[RunningReceiver]:
    yield from running_receiver(receiver_args(basic_server(), include_metadata=True))


@pytest.fixture
def guarded(guarded_receiver: RunningReceiver) -> RunningReceiver:
    guarded_receiver.admission.admitted.clear()
    return guarded_receiver


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every body the receiver got as far as decompressing/decoding (HTTP) or decoding (gRPC)."""
    calls: list[str] = []
    http_decode = OtlpHttpProtocol.decode
    grpc_decode = otlp_grpc.decode

    def on_http(self: OtlpHttpProtocol, route: Any, body: bytes) -> Any:
        calls.append("http")
        return http_decode(self, route, body)

    def on_grpc(signal: Signal, request: bytes) -> Any:
        calls.append("grpc")
        return grpc_decode(signal, request)

    monkeypatch.setattr(OtlpHttpProtocol, "decode", on_http)
    monkeypatch.setattr(otlp_grpc, "decode", on_grpc)
    return calls


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/x-protobuf", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), dict(response.headers)
    except urllib.error.HTTPError as err:
        return int(err.code), dict(err.headers)


def refused(transport: str, reason: str) -> float:
    return float(RECEIVER_REFUSED_REQUESTS.labels(CID, "/", transport, f"unauthenticated: {reason}")._value.get())


def test_http_without_credentials_is_401_before_the_body_is_decompressed(guarded: RunningReceiver,
                                                                       decodes: list[str]) -> None:
    before = refused("http", "missing credentials")
    status, headers = post(f"{guarded.http_url}/v1/traces", BOMB, {"Content-Encoding": "gzip"})
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Basic realm=")
    status, _ = post(f"{guarded.http_url}/v1/traces", SPANS, {"Authorization": "Basic YWxpY2U6d3Jvbmc="})
    assert status == 401
    assert decodes == []  # neither body was inflated nor decoded
    assert guarded.admission.admitted == []
    assert refused("http", "missing credentials") == before + 1
    assert refused("http", "invalid credentials") >= 1


def test_http_refusal_of_a_large_body_reaches_the_client_still_sending_it(guarded: RunningReceiver,
                                                                            decodes: list[str]) -> None:
    """The body is never read for decoding, yet the client (which sends all of it before reading) gets
    the 401 rather than a reset connection."""
    status, _ = post(f"{guarded.http_url}/v1/traces", b"\x0a\x00" * (4 * 1024 * 1024), {})
    assert status == 401
    assert decodes == [] and guarded.admission.admitted == []


def test_http_with_credentials_is_admitted_with_its_metadata(guarded: RunningReceiver) -> None:
    status, _ = post(f"{guarded.http_url}/v1/traces", SPANS, {**GOOD, "X-Scope-OrgID": "tenant-a"})
    assert status == 200
    [admitted] = guarded.admission.admitted
    assert admitted.item_count == 3
    assert ("x-scope-orgid", "tenant-a") in admitted.metadata  # keys lower-cased
    assert all(key == key.lower() for key, _ in admitted.metadata)


def grpc_export(port: int, body: bytes, metadata: tuple[tuple[str, str], ...] = (),
                compression: grpc.Compression = grpc.Compression.NoCompression) -> Any:
    with grpc.insecure_channel(f"127.0.0.1:{port}", compression=compression) as channel:
        return channel.unary_unary(Signal.TRACES.spec.grpc_method)(body, metadata=metadata, timeout=30)


def test_grpc_without_credentials_is_unauthenticated_before_the_message_is_read(guarded: RunningReceiver,
                                                                                decodes: list[str]) -> None:
    before = refused("grpc", "missing credentials")
    with pytest.raises(grpc.RpcError) as raised:
        grpc_export(guarded.grpc_port, b"\x0a\x00" * (1024 * 1024), compression=grpc.Compression.Gzip)
    assert raised.value.code() is grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
    with pytest.raises(grpc.RpcError) as raised:
        grpc_export(guarded.grpc_port, SPANS, (("authorization", "Basic YWxpY2U6d3Jvbmc="),))
    assert raised.value.code() is grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
    assert "pw" not in (raised.value.details() or "")  # type: ignore[attr-defined]
    assert decodes == []
    assert guarded.admission.admitted == []
    assert refused("grpc", "missing credentials") == before + 1


def test_grpc_with_credentials_is_admitted_with_its_metadata(guarded: RunningReceiver) -> None:
    grpc_export(guarded.grpc_port, SPANS, (("authorization", GOOD["Authorization"]), ("x-scope-orgid", "b")))
    [admitted] = guarded.admission.admitted
    assert admitted.item_count == 3
    assert ("x-scope-orgid", "b") in admitted.metadata


def test_bearer_guards_both_transports_and_without_include_metadata_nothing_is_kept() -> None:
    for running in running_receiver(receiver_args(bearer())):
        assert post(f"{running.http_url}/v1/traces", SPANS, {"Authorization": "Bearer nope"})[0] == 401
        assert post(f"{running.http_url}/v1/traces", SPANS, {"Authorization": "Bearer tok", "X-A": "1"})[0] == 200
        with pytest.raises(grpc.RpcError) as raised:
            grpc_export(running.grpc_port, SPANS, (("authorization", "Bearer nope"),))
        assert raised.value.code() is grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
        grpc_export(running.grpc_port, SPANS, (("authorization", "Bearer tok"),))
        assert [a.metadata for a in running.admission.admitted] == [(), ()]


# --- the gate alone --------------------------------------------------------------------------------
class Refusing(AuthHandler):
    component_id = "otelcol.auth.test.x"

    @property
    def server(self) -> bool:
        return True

    async def authenticate(self, headers: Any) -> AuthOutcome:
        return AuthOutcome(False, "invalid credentials")


@pytest.mark.parametrize("peer,address", [("ipv4:10.0.0.1:5123", "10.0.0.1"), ("ipv6:[::1]:5123", "::1"),
                                          ("10.0.0.2", "10.0.0.2")])
def test_client_address_drops_the_port(peer: str, address: str) -> None:
    assert client_address(peer) == address


def test_refusals_are_logged_once_per_interval_per_address_without_credentials(caplog: pytest.LogCaptureFixture
                                                                               ) -> None:
    import asyncio

    now = [0.0]
    logger = logging.getLogger("test.auth.gate")
    gate = AuthGate(Refusing(), "otelcol.receiver.otlp.t", "http", logger, interval=60.0, clock=lambda: now[0])

    async def refuse(peer: str) -> None:
        outcome = await gate.check({"authorization": "Basic c2VjcmV0LXZhbHVl"}, peer)
        assert not outcome.ok

    with caplog.at_level(logging.WARNING, logger="test.auth.gate"):
        for _ in range(5):
            asyncio.run(refuse("ipv4:10.0.0.1:1000"))
        asyncio.run(refuse("ipv4:10.0.0.2:1000"))
        now[0] = 61.0
        asyncio.run(refuse("ipv4:10.0.0.1:2000"))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3
    assert "10.0.0.1" in lines[0] and "10.0.0.2" in lines[1] and "10.0.0.1" in lines[2]
    assert all("c2VjcmV0LXZhbHVl" not in line and "secret-value" not in line for line in lines)
    assert gate.refusals == 7


def test_oversized_metadata_is_refused_not_cut(guarded: RunningReceiver, decodes: list[str]) -> None:
    big = {f"X-Big-{i}": "v" * 7000 for i in range(5)}  # 35 KB of headers: over the 32 KiB metadata bound
    status, _ = post(f"{guarded.http_url}/v1/traces", SPANS, {**GOOD, **big})
    assert status == 431
    assert decodes == [] and guarded.admission.admitted == []
    assert float(RECEIVER_REFUSED_REQUESTS.labels(CID, "/", "http", "metadata_too_large")._value.get()) >= 1
