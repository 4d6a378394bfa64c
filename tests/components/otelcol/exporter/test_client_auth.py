"""`client { auth = otelcol.auth.*.handler }` on both OTLP exporters: every request carries the
handler's credentials, and `otelcol.auth.headers` with `from_context` takes its values from the
client metadata of the batch that request came from."""

from __future__ import annotations

import asyncio
import base64
import time

import msgspec

from collector.components.kit.api import EvalContext
from collector.components.kit.auth import AuthHandler
from collector.components.kit.types import Secret
from collector.components.otelcol.auth.basic import Arguments as BasicArguments
from collector.components.otelcol.auth.basic import BasicAuth, ClientAuth
from collector.components.otelcol.auth.bearer import Arguments as BearerArguments
from collector.components.otelcol.auth.bearer import BearerAuth
from collector.components.otelcol.auth.headers import Arguments as HeadersArguments
from collector.components.otelcol.auth.headers import Header, HeadersAuth
from collector.components.otelcol.exporter.otlphttp import Arguments as HttpArguments
from collector.components.otelcol.exporter.otlphttp import OTLPHTTPExporter
from collector.signals import Signal
from collector.testing.context import build_context
from tests.components.otelcol.exporter.backend import Backend
from tests.components.otelcol.exporter.test_otlp_grpc import GrpcBackend, run_exporter
from tests.components.otelcol.exporter.test_otlphttp import Tokens
from tests.signals import otlp_data as data


def basic_client() -> AuthHandler:
    args = BasicArguments(client_auth=ClientAuth(username="collector", password=Secret("pw")))
    return BasicAuth.exports(EvalContext("otelcol.auth.basic.out"), args).handler


def tenant_headers() -> AuthHandler:
    args = HeadersArguments(header=[Header(key="X-Scope-OrgID", from_context="x-scope-orgid"),
                                    Header(key="X-Source", value=Secret("gateway"))])
    return HeadersAuth.exports(EvalContext("otelcol.auth.headers.h"), args).handler


def test_otlphttp_sends_basic_credentials_and_tenant_headers_per_batch() -> None:
    async def scenario() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        received = []
        for auth in (basic_client(), tenant_headers()):
            backend = await Backend().start()
            tokens = Tokens()
            args = msgspec.convert({"client": {"endpoint": backend.url, "auth": auth}}, HttpArguments,
                                   dec_hook=lambda tp, value: value)
            args.validate()
            exporter = OTLPHTTPExporter(build_context(OTLPHTTPExporter, "otelcol.exporter.otlphttp.t"), args)
            await exporter.start()
            try:
                for tenant in ("a", "b", ""):
                    metadata = (("x-scope-orgid", tenant),) if tenant else ()
                    await exporter.consume(data.payload(Signal.TRACES, data.traces([[1]]), token=tokens.new(),
                                                        metadata=metadata))
                await backend.wait_for_requests(3)
            finally:
                await exporter.shutdown(time.monotonic() + 5)
                await backend.stop()
            received.append([r.headers for r in backend.received])
        return received[0], received[1]

    basic, tenants = asyncio.run(scenario())
    assert {h["Authorization"] for h in basic} == {"Basic " + base64.b64encode(b"collector:pw").decode()}
    assert sorted(h.get("X-Scope-OrgID", "-") for h in tenants) == ["-", "a", "b"]
    assert all(h["X-Source"] == "gateway" for h in tenants)


def test_otlp_grpc_sends_bearer_metadata() -> None:
    tokens = Tokens()
    backend = GrpcBackend([])
    auth = BearerAuth.exports(EvalContext("otelcol.auth.bearer.b"), BearerArguments(token=Secret("tok"))).handler
    asyncio.run(run_exporter(backend, 1, tokens, auth=auth))
    assert backend.items == 5
    assert backend.metadata[0]["authorization"] == "Bearer tok"
    assert backend.metadata[0]["x-scope-orgid"] == "t"  # the static client headers stay
