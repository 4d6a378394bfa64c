"""`otelcol.exporter.otlphttp`'s `client { tls { ... } }` against an HTTPS backend with a private CA
(trustme): inline PEM client certificates and `server_name` are applied; what cannot be is refused."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import pytest
import trustme

from collector.components.kit.api import ArgumentError
from collector.components.otelcol.exporter.otlp import Arguments as GrpcArguments
from tests.components.otelcol.exporter.backend import Backend
from tests.components.otelcol.exporter.test_otlphttp import Tokens, args_for, with_exporter


def backend_context(ca: trustme.CA, name: str, *, require_client_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        ca.configure_trust(context)
    return context


def test_private_ca_inline_client_certificate_and_server_name() -> None:
    """The backend's certificate names only `backend.test` (not 127.0.0.1): only `server_name`
    makes the handshake verify; the backend requires a client certificate, given as inline PEM."""
    ca = trustme.CA()
    client = ca.issue_cert("exporter@example.test")

    async def scenario() -> None:
        tokens = Tokens()
        async with Backend(ssl_context=backend_context(ca, "backend.test", require_client_cert=True)) as backend:
            tls: dict[str, Any] = {"ca_pem": ca.cert_pem.bytes().decode(), "server_name": "backend.test",
                                   "cert_pem": client.cert_chain_pems[0].bytes().decode(),
                                   "key_pem": client.private_key_pem.bytes().decode()}
            args = args_for(backend.url, client={"endpoint": backend.url, "tls": tls})

            async def send(exporter: Any, _cid: str) -> None:
                await exporter.consume(tokens.traces(2))
                await backend.wait_for_requests(1)

            await with_exporter(args, send)
            assert backend.delivered_items == 2

    asyncio.run(scenario())


@pytest.mark.parametrize("tls,attribute", [
    ({"cipher_suites": ["TLS_AES_128_GCM_SHA256"]}, "client.tls.cipher_suites"),
    ({"reload_interval": 60.0}, "client.tls.reload_interval"),
])
def test_http_client_tls_settings_python_cannot_apply_are_refused(tls: dict[str, Any], attribute: str) -> None:
    with pytest.raises(ArgumentError) as err:
        args_for("https://backend.test", client={"endpoint": "https://backend.test", "tls": tls})
    assert err.value.attribute == attribute


@pytest.mark.parametrize("tls,attribute", [
    ({"min_version": "TLS 1.3"}, "client.tls.min_version"),
    ({"ca_file": "/ca.pem", "include_system_ca_certs_pool": True}, "client.tls.include_system_ca_certs_pool"),
])
def test_grpc_client_tls_settings_grpcio_cannot_apply_are_refused(tls: dict[str, Any], attribute: str) -> None:
    import msgspec

    args = msgspec.convert({"client": {"endpoint": "backend.test:4317", "tls": tls}}, GrpcArguments)
    with pytest.raises(ArgumentError) as err:
        args.validate()
    assert err.value.attribute == attribute


def test_socks_proxy_is_refused() -> None:
    with pytest.raises(ArgumentError) as err:
        args_for("https://backend.test", client={"endpoint": "https://backend.test",
                                                 "proxy_url": "socks5://127.0.0.1:1080"})
    assert err.value.attribute == "client.proxy_url"
