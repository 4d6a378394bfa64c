"""A remote-write receiver for tests: decodes snappy + protobuf and records what arrived."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from typing import Any

import snappy
from aiohttp import web

from collector.protocols.prometheus import prompb


@dataclass
class Received:
    headers: dict[str, str]
    request: Any


@dataclass
class RemoteWriteSink:
    """Answers with the queued `responses` (status, headers) first, then 204."""

    responses: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    attempts: int = 0
    url: str = ""
    ssl_context: ssl.SSLContext | None = None  # serve HTTPS with it
    _runner: web.AppRunner | None = None
    _arrived: asyncio.Condition | None = None

    async def __aenter__(self) -> RemoteWriteSink:
        app = web.Application()
        app.router.add_post("/api/v1/write", self._handle)
        self._arrived = asyncio.Condition()
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
        await site.start()
        port = self._runner.addresses[0][1]
        scheme = "https" if self.ssl_context is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{port}/api/v1/write"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.attempts += 1
        assert self._arrived is not None
        if self.responses:
            status, headers = self.responses.pop(0)
            async with self._arrived:
                self._arrived.notify_all()
            return web.Response(status=status, headers=headers, text="nope")
        message = prompb.decode(snappy.uncompress(body))
        self.received.append(Received(dict(request.headers), message))
        async with self._arrived:
            self._arrived.notify_all()
        return web.Response(status=204)

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        assert self._arrived is not None

        async def wait() -> None:
            async with self._arrived:  # type: ignore[union-attr]
                await self._arrived.wait_for(lambda: predicate(self))  # type: ignore[union-attr]

        await asyncio.wait_for(wait(), timeout)

    @property
    def samples(self) -> list[tuple[tuple[tuple[str, str], ...], float, int]]:
        out = []
        for rec in self.received:
            for ts in rec.request.timeseries:
                labels = tuple((label.name, label.value) for label in ts.labels)
                for sample in ts.samples:
                    out.append((labels, sample.value, sample.timestamp))
        return out

    def sample_count(self) -> int:
        return len(self.samples)
