from __future__ import annotations

import asyncio
import email.utils
import gzip
import time
from typing import Any, Awaitable, Callable

import msgspec
import orjson
import pytest

from collector.components.kit.api import ArgumentError
from collector.components.otelcol.exporter.otlphttp import USER_AGENT, Arguments, OTLPHTTPExporter
from collector.selfmetrics.otelcol import EXPORTER_SEND_FAILED, EXPORTER_SENT, PIPELINE_DROPPED
from collector.signals import AckToken, Payload, Signal
from collector.testing.context import build_context
from tests.components.otelcol.exporter.backend import Backend
from tests.signals import otlp_data as data

FAST_RETRY = {"initial_interval": "10ms", "max_interval": "20ms", "randomization_factor": 0.1,
              "max_elapsed_time": "10s"}
_ids = iter(range(1_000_000))


def args_for(endpoint: str, **extra: Any) -> Arguments:
    raw: dict[str, Any] = {"client": {"endpoint": endpoint}, "retry_on_failure": dict(FAST_RETRY)}
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    raw["retry_on_failure"] = {k: _seconds(v) for k, v in raw["retry_on_failure"].items()}
    if "timeout" in raw["client"]:
        raw["client"]["timeout"] = _seconds(raw["client"]["timeout"])
    args = msgspec.convert(raw, Arguments)
    args.validate()
    return args


def _seconds(value: Any) -> Any:
    if isinstance(value, str) and value.endswith("ms"):
        return float(value[:-2]) / 1000
    if isinstance(value, str) and value.endswith("s"):
        return float(value[:-1])
    return value


class Tokens:
    """Ack tokens that record how often each was released (must end at exactly once)."""

    def __init__(self) -> None:
        self.released: dict[int, int] = {}

    def new(self) -> AckToken:
        seq = next(_ids)
        self.released[seq] = 0

        def on_released(token: AckToken) -> None:
            self.released[token.seq] += 1

        return AckToken(seq, on_released)

    def all_once(self) -> bool:
        return all(count == 1 for count in self.released.values())

    def traces(self, spans: int) -> Payload:
        """A one-span-group traces payload carrying a fresh token."""
        return data.payload(Signal.TRACES, data.traces([[spans]]), token=self.new())

    async def settled(self) -> None:
        """Wait until the exporter released every token (delivered, dropped or failed)."""
        while not all(self.released.values()):
            await asyncio.sleep(0.01)


def counter(family: Any, cid: str, *labels: str) -> float:
    value = family.labels(cid, "/", *labels)._value.get()
    return float(value)


async def with_exporter(args: Arguments, body: Callable[[OTLPHTTPExporter, str], Awaitable[None]],
                        deadline: float = 5.0) -> str:
    cid = f"otelcol.exporter.otlphttp.t{next(_ids)}"
    exporter = OTLPHTTPExporter(build_context(OTLPHTTPExporter, cid), args)
    await exporter.start()
    try:
        await body(exporter, cid)
    finally:
        await exporter.shutdown(time.monotonic() + deadline)
        await exporter.shutdown(time.monotonic() + deadline)  # idempotent
    return cid


def sending(tokens: Tokens, backend: Backend, batches: int, spans: int,
            requests: int = 0) -> Callable[[OTLPHTTPExporter, str], Awaitable[None]]:
    """An exporter body: consume `batches` traces payloads, wait for `requests` requests, then for
    every token to be released."""
    async def body(exporter: OTLPHTTPExporter, cid: str) -> None:
        for _ in range(batches):
            await exporter.consume(tokens.traces(spans))
        await backend.wait_for_requests(requests)
        await tokens.settled()
    return body


@pytest.mark.parametrize("endpoint,signal,url", [
    ("http://loki:3100/otlp", Signal.LOGS, "http://loki:3100/otlp/v1/logs"),
    ("http://tempo:4318", Signal.TRACES, "http://tempo:4318/v1/traces"),
    ("http://tempo:4318/", Signal.TRACES, "http://tempo:4318/v1/traces"),
    ("http://tempo/v1/traces", Signal.TRACES, "http://tempo/v1/traces/v1/traces"),
    ("https://otlp.example:443/base/", Signal.METRICS, "https://otlp.example:443/base/v1/metrics"),
])
def test_signal_url_rule(endpoint: str, signal: Signal, url: str) -> None:
    assert args_for(endpoint).signal_url(signal) == url


def test_signal_endpoint_is_used_verbatim() -> None:
    args = msgspec.convert({"client": {}, "traces_endpoint": "http://tempo:4318/custom"}, Arguments)
    args.validate()
    assert args.signal_url(Signal.TRACES) == "http://tempo:4318/custom"
    assert args.signal_url(Signal.LOGS) == ""


@pytest.mark.parametrize("raw,attribute", [
    ({"client": {}}, "client.endpoint"),
    ({"client": {"endpoint": "http://x"}, "encoding": "xml"}, "encoding"),
    ({"client": {"endpoint": "http://x", "compression": "brotli"}}, "client.compression"),
    ({"client": {"endpoint": "http://x"}, "retry_on_failure": {"multiplier": 0.5}}, "retry_on_failure.multiplier"),
    ({"client": {"endpoint": "http://x"}, "sending_queue": {"num_consumers": 0}}, "sending_queue.num_consumers"),
])
def test_validation(raw: dict[str, Any], attribute: str) -> None:
    with pytest.raises(ArgumentError) as info:
        msgspec.convert(raw, Arguments).validate()
    assert info.value.attribute == attribute


def test_delivers_exact_counts_gzip_and_headers() -> None:
    tokens = Tokens()

    async def scenario() -> None:
        async with Backend(success_status=204) as backend:  # Loki answers 204 with no body
            async def body(exporter: OTLPHTTPExporter, cid: str) -> None:
                for n in range(1, 21):
                    await exporter.consume(data.payload(Signal.LOGS, data.logs([[n]]), token=tokens.new()))
                await backend.wait_for_requests(20)
                await asyncio.sleep(0)
            cid = await with_exporter(args_for(backend.url + "/otlp", client={"endpoint": backend.url + "/otlp",
                                                                             "headers": {"X-Scope-OrgID": "t1"}}),
                                      body)
        assert backend.delivered_items == sum(range(1, 21))
        assert {r.path for r in backend.received} == {"/otlp/v1/logs"}
        headers = backend.received[0].headers
        assert headers["Content-Encoding"] == "gzip"
        assert headers["Content-Type"] == "application/x-protobuf"
        assert headers["User-Agent"] == USER_AGENT
        assert headers["X-Scope-OrgID"] == "t1"
        assert counter(EXPORTER_SENT[Signal.LOGS], cid) == sum(range(1, 21))
        assert tokens.all_once()

    asyncio.run(scenario())


@pytest.mark.parametrize("retry_after", [None, "0", "date"])
def test_503_for_a_while_then_everything_arrives(retry_after: str | None) -> None:
    tokens = Tokens()

    async def scenario() -> None:
        headers = {}
        if retry_after == "date":
            headers = {"Retry-After": email.utils.formatdate(time.time(), usegmt=True)}
        elif retry_after is not None:
            headers = {"Retry-After": retry_after}
        async with Backend(script=[(503, headers)] * 4 + [(502, {}), (504, {})]) as backend:
            cid = await with_exporter(args_for(backend.url), sending(tokens, backend, 5, spans=10, requests=11))
        assert backend.delivered_items == 50
        assert counter(EXPORTER_SENT[Signal.TRACES], cid) == 50
        assert counter(EXPORTER_SEND_FAILED[Signal.TRACES], cid) == 0
        assert tokens.all_once()

    asyncio.run(scenario())


def test_429_retry_after_is_honoured() -> None:
    tokens = Tokens()

    async def scenario() -> None:
        async with Backend(script=[(429, {"Retry-After": "1"})]) as backend:
            times: list[float] = []
            async def body(exporter: OTLPHTTPExporter, cid: str) -> None:
                await exporter.consume(tokens.traces(3))
                await backend.wait_for_requests(1)
                times.append(time.monotonic())
                await backend.wait_for_requests(2)
                times.append(time.monotonic())
            await with_exporter(args_for(backend.url), body)
        assert backend.delivered_items == 3
        # the hint (1 s) replaced the 10 ms backoff: the second request cannot come before it
        assert times[1] - times[0] >= 0.9
        assert tokens.all_once()

    asyncio.run(scenario())


@pytest.mark.parametrize("status", [400, 404, 500])
def test_permanent_status_drops_with_one_request_per_batch(status: int) -> None:
    tokens = Tokens()

    async def scenario() -> None:
        async with Backend(script=[(status, {})] * 3) as backend:
            cid = await with_exporter(args_for(backend.url), sending(tokens, backend, 3, spans=4, requests=3))
        assert len(backend.received) == 3  # no retry storm
        assert backend.delivered_items == 0
        assert counter(EXPORTER_SEND_FAILED[Signal.TRACES], cid) == 12
        assert counter(EXPORTER_SENT[Signal.TRACES], cid) == 0
        assert tokens.all_once()

    asyncio.run(scenario())


def test_exhausted_retries_are_counted_as_failed() -> None:
    tokens = Tokens()

    async def scenario() -> None:
        async with Backend(script=[(503, {})] * 1000) as backend:
            args = args_for(backend.url, retry_on_failure={"max_elapsed_time": "100ms"})
            cid = await with_exporter(args, sending(tokens, backend, 1, spans=5))
        assert len(backend.received) >= 2
        assert counter(EXPORTER_SEND_FAILED[Signal.TRACES], cid) == 5
        assert tokens.all_once()

    asyncio.run(scenario())


def test_shutdown_with_backend_down_leaves_everything_unsettled_for_the_next_start() -> None:
    tokens = Tokens()

    async def scenario() -> None:
        async with Backend(script=[(503, {})] * 100_000) as backend:
            async def body(exporter: OTLPHTTPExporter, cid: str) -> None:
                for _ in range(30):  # more than the 2 consumers: most of it waits in the queue
                    await exporter.consume(tokens.traces(2))
                await backend.wait_for_requests(2)
            args = args_for(backend.url, sending_queue={"num_consumers": 2},
                            retry_on_failure={"max_elapsed_time": "0s"})
            cid = await with_exporter(args, body, deadline=0.2)
        # neither dropped nor settled: the ring records stay for the next start to adopt
        assert counter(PIPELINE_DROPPED[Signal.TRACES], cid, "shutdown") == 0
        assert len(tokens.released) == 30 and not any(tokens.released.values())

    asyncio.run(scenario())


def test_connection_refused_is_retried_until_the_backend_is_up() -> None:
    tokens = Tokens()

    async def scenario() -> None:
        backend = await Backend().start()
        url = backend.url
        await backend.stop()  # nothing listens on the port now
        async def body(exporter: OTLPHTTPExporter, cid: str) -> None:
            await exporter.consume(data.payload(Signal.LOGS, data.logs([[3]]), token=tokens.new()))
            await asyncio.sleep(0.05)
            host, port = url.rsplit(":", 1)
            from aiohttp import web
            revived = Backend()
            app = web.Application()
            app.router.add_post("/{tail:.*}", revived._handle)
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", int(port)).start()
            try:
                await revived.wait_for_requests(1)
                await tokens.settled()
            finally:
                await runner.cleanup()
            assert revived.delivered_items == 3
        await with_exporter(args_for(url), body)
        assert tokens.all_once()

    asyncio.run(scenario())


def test_json_encoding_and_no_compression() -> None:
    async def scenario() -> None:
        seen: list[tuple[dict[str, str], bytes]] = []
        from aiohttp import web

        async def handle(request: web.Request) -> web.Response:
            seen.append((dict(request.headers), await request.read()))
            return web.json_response({})

        app = web.Application()
        app.router.add_post("/v1/traces", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            async def body(exporter: OTLPHTTPExporter, cid: str) -> None:
                await exporter.consume(data.payload(Signal.TRACES, data.traces([[1]])))
                while not seen:
                    await asyncio.sleep(0.01)
            await with_exporter(args_for(f"http://127.0.0.1:{port}", encoding="json",
                                         client={"endpoint": f"http://127.0.0.1:{port}", "compression": "none"}),
                                body)
        finally:
            await runner.cleanup()
        headers, raw = seen[0]
        assert headers["Content-Type"] == "application/json"
        assert "Content-Encoding" not in headers
        span = orjson.loads(raw)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
        assert span["traceId"] == "0" * 32 and span["spanId"] == "0000000000000001"
        assert span["startTimeUnixNano"] == "1700000000000000000" and span["kind"] == 2

    asyncio.run(scenario())


def test_gzip_body_decodes_to_the_payload() -> None:
    async def scenario() -> None:
        async with Backend() as backend:
            payload = data.payload(Signal.METRICS, data.metrics([[[2, 3]]]))
            original = payload.data
            async def body(exporter: OTLPHTTPExporter, cid: str) -> None:
                await exporter.consume(payload)
                await backend.wait_for_requests(1)
            await with_exporter(args_for(backend.url), body)
        assert backend.received[0].body == original
        assert gzip.decompress(gzip.compress(original)) == original

    asyncio.run(scenario())
