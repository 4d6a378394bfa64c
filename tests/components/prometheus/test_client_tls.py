"""TLS, proxies and OAuth 2.0 on the Prometheus clients (remote-write endpoints, scrape targets),
against real HTTPS servers with a private CA made by trustme."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web
from prometheus_client import REGISTRY

from collector.components.kit.api import ArgumentError, MetricsReceiverRef
from collector.components.kit.http_client import proxy_for
from collector.components.kit.prometheus_client import OAuth2, TLSConfig
from collector.components.prometheus.remote_write import Arguments, Endpoint, QueueConfig, RemoteWrite
from collector.components.prometheus.scrape import Arguments as ScrapeArguments, Scrape
from collector.protocols.prometheus.series import SampleBatch, Series
from collector.testing.context import build_context
from tests.components.prometheus.rwsink import RemoteWriteSink
from tests.components.prometheus.test_scrape import EXPOSITION, Collect

T = 1_700_000_000_000


@pytest.fixture()
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture()
def pki(ca: trustme.CA, tmp_path: Path) -> dict[str, Any]:
    """The private CA and a server certificate for 127.0.0.1, as files; a client certificate."""
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("client@example.test")
    files = {"ca": tmp_path / "ca.pem", "client_cert": tmp_path / "client.pem", "client_key": tmp_path / "client.key"}
    ca.cert_pem.write_to_path(str(files["ca"]))
    client.cert_chain_pems[0].write_to_path(str(files["client_cert"]))
    client.private_key_pem.write_to_path(str(files["client_key"]))
    return {"ca": ca, "server": server, "client": client, "files": files}


def server_context(pki: dict[str, Any], *, require_client_cert: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    pki["server"].configure_cert(context)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        pki["ca"].configure_trust(context)
    return context


def queue() -> QueueConfig:
    return QueueConfig(batch_send_deadline=0.05, min_backoff=0.01, max_backoff=0.05)


def batch() -> SampleBatch:
    out = SampleBatch()
    out.append(Series({"__name__": "up", "job": "tls"}), 1.0, T)
    return out


async def deliver(tmp_path: Path, endpoint: Endpoint, cid: str, sink: RemoteWriteSink | None = None,
                  until: Any = None) -> RemoteWrite:
    args = Arguments(endpoint=[endpoint])
    args.validate()
    component = RemoteWrite(build_context(RemoteWrite, cid, storage_path=tmp_path), args)
    await component.start()
    try:
        await component.append(batch())
        if sink is not None:
            await sink.wait_for(until or (lambda s: s.samples))
        else:
            await until()
    finally:
        await component.shutdown(time.monotonic() + 1)
    return component


def errors(cid: str, url: str, reason: str) -> float:
    return REGISTRY.get_sample_value("collector_http_client_request_errors_total", {
        "component_id": cid, "component_path": "/", "url": url, "reason": reason}) or 0.0


def test_remote_write_https_with_private_ca_file_delivers(tmp_path: Path, pki: dict[str, Any]) -> None:
    async def scenario() -> None:
        async with RemoteWriteSink(ssl_context=server_context(pki)) as sink:
            endpoint = Endpoint(url=sink.url, queue_config=queue(),
                                tls_config=TLSConfig(ca_file=str(pki["files"]["ca"])))
            await deliver(tmp_path, endpoint, "prometheus.remote_write.ca", sink)
            assert sink.samples == [((("__name__", "up"), ("job", "tls")), 1.0, T)]

    asyncio.run(scenario())


def test_remote_write_client_certificate_required_by_sink(tmp_path: Path, pki: dict[str, Any]) -> None:
    """The sink refuses a handshake without a certificate its CA signed; files and inline PEM both work."""
    async def scenario() -> None:
        files = pki["files"]
        async with RemoteWriteSink(ssl_context=server_context(pki, require_client_cert=True)) as sink:
            by_file = Endpoint(url=sink.url, queue_config=queue(), name="files",
                               tls_config=TLSConfig(ca_file=str(files["ca"]), cert_file=str(files["client_cert"]),
                                                    key_file=str(files["client_key"])))
            await deliver(tmp_path / "a", by_file, "prometheus.remote_write.mtls", sink)
            client = pki["client"]
            by_pem = Endpoint(url=sink.url, queue_config=queue(), name="pem",
                              tls_config=TLSConfig(ca_pem=pki["ca"].cert_pem.bytes().decode(),
                                                   cert_pem=client.cert_chain_pems[0].bytes().decode(),
                                                   key_pem=client.private_key_pem.bytes().decode()))  # type: ignore[arg-type]
            await deliver(tmp_path / "b", by_pem, "prometheus.remote_write.mtlspem", sink,
                          lambda s: len(s.samples) >= 2)
            assert len(sink.samples) == 2

    asyncio.run(scenario())


def test_remote_write_wrong_ca_is_counted_and_logged_with_the_tls_reason(
        tmp_path: Path, pki: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    cid = "prometheus.remote_write.wrongca"

    async def scenario() -> None:
        async with RemoteWriteSink(ssl_context=server_context(pki)) as sink:
            endpoint = Endpoint(url=sink.url, queue_config=queue(), tls_config=TLSConfig(ca_file=str(other)))

            async def failed() -> None:
                while errors(cid, sink.url, "tls") < 2:
                    await asyncio.sleep(0.02)

            with caplog.at_level(logging.WARNING):
                await deliver(tmp_path, endpoint, cid, until=failed)
            assert sink.attempts == 0 and not sink.samples

    asyncio.run(scenario())
    assert any("certificate verify failed" in r.getMessage() for r in caplog.records), caplog.text


def test_remote_write_through_an_http_proxy(tmp_path: Path) -> None:
    """The endpoint's host does not resolve; only the proxy (our sink, which takes the request in
    absolute form) can take the request. A no_proxy entry for other hosts changes nothing."""
    async def scenario() -> None:
        async with RemoteWriteSink() as proxy:
            endpoint = Endpoint(url="http://backend.invalid:9/api/v1/write", queue_config=queue(),
                                proxy_url=proxy.url.rsplit("/api", 1)[0], no_proxy="other.example,10.0.0.0/8")
            await deliver(tmp_path, endpoint, "prometheus.remote_write.proxy", proxy)
            assert proxy.received[0].headers["Host"] == "backend.invalid:9"

    asyncio.run(scenario())


class ConnectProxy:
    """A CONNECT-only proxy: records each CONNECT request's head, then pipes bytes both ways."""

    def __init__(self) -> None:
        self.heads: list[str] = []
        self.server: asyncio.Server | None = None
        self.url = ""

    async def __aenter__(self) -> ConnectProxy:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        self.heads.append(head)
        host, port = head.split()[1].rsplit(":", 1)
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


def test_remote_write_https_through_a_connect_proxy_with_connect_headers(tmp_path: Path,
                                                                          pki: dict[str, Any]) -> None:
    async def scenario() -> None:
        async with RemoteWriteSink(ssl_context=server_context(pki)) as sink, ConnectProxy() as proxy:
            endpoint = Endpoint(url=sink.url, queue_config=queue(), proxy_url=proxy.url,
                                tls_config=TLSConfig(ca_file=str(pki["files"]["ca"])),
                                proxy_connect_header={"X-Proxy-Token": ["t1"]})  # type: ignore[list-item]
            await deliver(tmp_path, endpoint, "prometheus.remote_write.connect", sink)
            assert proxy.heads and proxy.heads[0].startswith("CONNECT 127.0.0.1:")
            assert "X-Proxy-Token: t1" in proxy.heads[0]

    asyncio.run(scenario())


def test_no_proxy_and_environment_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    config = Endpoint(url="http://x", proxy_url="http://proxy:3128", no_proxy="internal.example,10.0.0.0/8,::1")
    assert proxy_for(config, "http://a.internal.example/w") is None
    assert proxy_for(config, "http://internal.example/w") is None
    assert proxy_for(config, "http://10.1.2.3:9090/w") is None
    assert proxy_for(config, "http://[::1]:9090/w") is None
    assert proxy_for(config, "http://notinternal.example/w") == "http://proxy:3128"
    assert proxy_for(config, "http://11.0.0.1/w") == "http://proxy:3128"
    monkeypatch.setenv("HTTPS_PROXY", "http://envproxy:8080")
    monkeypatch.setenv("NO_PROXY", "skip.example")
    env = Endpoint(url="http://x", proxy_from_environment=True)
    assert proxy_for(env, "https://mimir.example/api/v1/push") == "http://envproxy:8080"
    assert proxy_for(env, "https://skip.example/api/v1/push") is None
    assert proxy_for(env, "http://mimir.example/api/v1/push") is None  # no HTTP_PROXY set


class TokenServer:
    """A client-credentials token endpoint: checks the client's basic auth and the form."""

    def __init__(self, expires_in: int, ssl_context: ssl.SSLContext | None = None, status: int = 200) -> None:
        self.expires_in = expires_in
        self.ssl_context = ssl_context
        self.status = status
        self.forms: list[dict[str, str]] = []
        self.auth: list[str] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> TokenServer:
        async def token(request: web.Request) -> web.Response:
            self.forms.append(dict(await request.post()))  # type: ignore[arg-type]
            self.auth.append(request.headers.get("Authorization", ""))
            if self.status != 200:
                return web.json_response({"error": "invalid_client"}, status=self.status)
            return web.json_response({"access_token": f"tok{len(self.forms)}", "token_type": "bearer",
                                      "expires_in": self.expires_in})

        app = web.Application()
        app.router.add_post("/oauth/token", token)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=self.ssl_context).start()
        scheme = "https" if self.ssl_context is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.runner.addresses[0][1]}/oauth/token"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


@pytest.mark.parametrize("expires_in,fresh_tokens", [(3600, False), (5, True)])
def test_remote_write_oauth2_client_credentials(tmp_path: Path, expires_in: int, fresh_tokens: bool) -> None:
    """The token is fetched with the client's credentials, scopes and endpoint_params, sent as a
    bearer token, reused while valid, and fetched again when it expires within 10 s (Go's oauth2)."""
    async def scenario() -> None:
        async with TokenServer(expires_in) as tokens, RemoteWriteSink() as sink:
            secret_file = tmp_path / "secret"
            secret_file.write_text("s3cr:t\n")
            endpoint = Endpoint(url=sink.url, queue_config=queue(), oauth2=OAuth2(
                client_id="rw client", client_secret_file=str(secret_file), token_url=tokens.url,
                scopes=["write", "read"], endpoint_params={"audience": "mimir"}))
            args = Arguments(endpoint=[endpoint])
            args.validate()
            component = RemoteWrite(build_context(RemoteWrite, "prometheus.remote_write.oauth", storage_path=tmp_path),
                                    args)
            await component.start()
            try:
                for _ in range(3):
                    count = len(sink.received)
                    await component.append(batch())
                    await sink.wait_for(lambda s: len(s.received) > count)
            finally:
                await component.shutdown(time.monotonic() + 1)
            sent = [r.headers["Authorization"] for r in sink.received]
            if fresh_tokens:
                assert sent == ["Bearer tok1", "Bearer tok2", "Bearer tok3"]
            else:
                assert sent == ["Bearer tok1"] * 3 and len(tokens.forms) == 1
            assert tokens.forms[0] == {"grant_type": "client_credentials", "scope": "write read", "audience": "mimir"}
            import base64
            assert base64.b64decode(tokens.auth[0].split()[1]).decode() == "rw+client:s3cr%3At"

    asyncio.run(scenario())


def test_scrape_over_https_with_private_ca_and_oauth2(tmp_path: Path, pki: dict[str, Any]) -> None:
    async def scenario() -> None:
        seen: list[str] = []

        async def handler(request: web.Request) -> web.Response:
            seen.append(request.headers.get("Authorization", ""))
            return web.Response(text=EXPOSITION, content_type="text/plain")

        app = web.Application()
        app.router.add_get("/metrics", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context(pki)).start()
        address = f"127.0.0.1:{runner.addresses[0][1]}"
        try:
            async with TokenServer(3600) as tokens:
                sink = Collect()
                args = ScrapeArguments(targets=[{"__address__": address}], forward_to=[MetricsReceiverRef("sink")],
                                       scheme="https", scrape_interval=60.0, scrape_timeout=5.0,
                                       tls_config=TLSConfig(ca_file=str(pki["files"]["ca"])),
                                       oauth2=OAuth2(client_id="c", client_secret="s",  # type: ignore[arg-type]
                                                     token_url=tokens.url))
                args.validate()
                scrape = Scrape(build_context(Scrape, "prometheus.scrape.tls", consumers={"sink": sink}), args)
                await scrape.start()
                try:
                    state = next(iter(scrape._states.values()))
                    await scrape.scrape_once(state, args)
                finally:
                    await scrape.shutdown()
        finally:
            await runner.cleanup()
        assert seen == ["Bearer tok1"]
        up = [v for s, v, _ in sink.batches[-1].rows() if s.name == "up"]
        assert up == [1.0]

    asyncio.run(scenario())


@pytest.mark.parametrize("endpoint,attribute,message", [
    (dict(sigv4={}), "endpoint.sigv4", "sigv4 (AWS Signature Version 4) is not supported"),
    (dict(azuread={}), "endpoint.azuread", "azuread is not supported"),
    (dict(proxy_url="socks5://127.0.0.1:1080"), "endpoint.proxy_url", "no SOCKS"),
    (dict(no_proxy="a.example"), "endpoint.no_proxy", "no_proxy is configured, proxy_url must also"),
    (dict(proxy_connect_header={"A": ["b"]}), "endpoint.proxy_connect_header", "proxy_connect_header"),
    (dict(tls_config={"ca_file": "/nonexistent/ca.pem"}), "endpoint.tls_config.ca_file",
     "cannot load the TLS material"),
    (dict(oauth2={"client_id": "a", "token_url": "ftp://x"}), "endpoint.oauth2.token_url", "token_url"),
])
def test_refused_client_settings_are_located(endpoint: dict[str, Any], attribute: str, message: str) -> None:
    import msgspec

    from collector.config.values import Secret

    def secret(kind: type, value: Any) -> Any:
        if kind is Secret:
            return Secret(value)
        raise NotImplementedError(kind)

    args = msgspec.convert({"endpoint": [{"url": "https://mimir.example/api/v1/push", **endpoint}]}, Arguments,
                           dec_hook=secret)
    with pytest.raises(ArgumentError) as err:
        args.validate()
    assert message in str(err.value)
    assert err.value.attribute == attribute


def test_remote_write_server_name_and_insecure_skip_verify(tmp_path: Path, ca: trustme.CA) -> None:
    """The sink's certificate names only `mimir.test`: `server_name` makes it verify against
    127.0.0.1; `insecure_skip_verify` accepts it without any CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("mimir.test").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    async def scenario() -> None:
        async with RemoteWriteSink(ssl_context=context) as sink:
            named = Endpoint(url=sink.url, queue_config=queue(), name="named",
                             tls_config=TLSConfig(ca_file=str(ca_file), server_name="mimir.test"))
            await deliver(tmp_path / "a", named, "prometheus.remote_write.sni", sink)
            unverified = Endpoint(url=sink.url, queue_config=queue(), name="unverified",
                                  tls_config=TLSConfig(insecure_skip_verify=True, min_version="TLS12"))
            await deliver(tmp_path / "b", unverified, "prometheus.remote_write.skip", sink,
                          lambda s: len(s.samples) >= 2)

    asyncio.run(scenario())


def test_oauth2_token_endpoint_over_its_own_tls_config(tmp_path: Path, pki: dict[str, Any]) -> None:
    """The token endpoint is HTTPS with the private CA, given to the oauth2 block only."""
    async def scenario() -> None:
        async with TokenServer(3600, ssl_context=server_context(pki)) as tokens, RemoteWriteSink() as sink:
            endpoint = Endpoint(url=sink.url, queue_config=queue(), oauth2=OAuth2(
                client_id="c", client_secret="s", token_url=tokens.url,  # type: ignore[arg-type]
                tls_config=TLSConfig(ca_file=str(pki["files"]["ca"]))))
            await deliver(tmp_path, endpoint, "prometheus.remote_write.oauthtls", sink)
            assert sink.received[0].headers["Authorization"] == "Bearer tok1"

    asyncio.run(scenario())


def test_a_refused_token_is_counted_and_nothing_is_sent(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cid = "prometheus.remote_write.notoken"

    async def scenario() -> None:
        async with TokenServer(3600, status=401) as tokens, RemoteWriteSink() as sink:
            endpoint = Endpoint(url=sink.url, queue_config=queue(), oauth2=OAuth2(
                client_id="c", client_secret="wrong", token_url=tokens.url))  # type: ignore[arg-type]

            async def failed() -> None:
                while errors(cid, sink.url, "oauth2") < 2:
                    await asyncio.sleep(0.02)

            with caplog.at_level(logging.WARNING):
                await deliver(tmp_path, endpoint, cid, until=failed)
            assert sink.attempts == 0

    asyncio.run(scenario())
    assert any("answered HTTP 401" in r.getMessage() for r in caplog.records), caplog.text
