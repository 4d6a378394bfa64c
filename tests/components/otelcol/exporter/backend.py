"""A scripted OTLP/HTTP backend on 127.0.0.1 for exporter tests: answers from a script of
(status, headers) per request, then 200; decodes (gzip) bodies through aiohttp and keeps the received requests."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field

from aiohttp import web

from collector.signals import Signal

PATHS = {"/v1/traces": Signal.TRACES, "/v1/metrics": Signal.METRICS, "/v1/logs": Signal.LOGS,
         "/otlp/v1/logs": Signal.LOGS}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes  # decompressed
    items: int


@dataclass
class Backend:
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    success_status: int = 200
    received: list[Received] = field(default_factory=list)  # every request, answered or not
    delivered_items: int = 0
    url: str = ""
    ssl_context: ssl.SSLContext | None = None  # serve HTTPS with it
    _runner: web.AppRunner | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()  # aiohttp inflates a gzip body (and fails on a broken one)
        signal = PATHS[request.path]
        message = signal.spec.request_class()
        message.ParseFromString(body)
        items = signal.spec.count_items(message)
        self.received.append(Received(request.path, dict(request.headers), body, items))
        self._changed.set()
        if self.script:
            status, headers = self.script.pop(0)
            return web.Response(status=status, headers=headers, text="scripted failure")
        self.delivered_items += items
        if self.success_status == 204:
            return web.Response(status=204)
        response = signal.spec.response_class()
        return web.Response(status=200, body=response.SerializeToString(), content_type="application/x-protobuf")

    async def start(self) -> Backend:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"{'https' if self.ssl_context is not None else 'http'}://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> Backend:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def wait_for_requests(self, n: int, timeout: float = 10.0) -> None:
        async def wait() -> None:
            while len(self.received) < n:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), timeout)
