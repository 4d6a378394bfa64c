"""The supervisor's HTTP server (`--server.http.listen-addr`, default 127.0.0.1:12345)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiohttp import web

from collector.selfmetrics.exposition import build_registry, exposition
from collector.support.routes import SupportRoutes
from collector.web.livedebug import LiveDebugRoutes
from collector.web.observe import Observer
from collector.web.routes import UiRoutes

if TYPE_CHECKING:
    from collector.runtime.view import SupervisorControl

log = logging.getLogger(__name__)

CONTENT_TYPE_METRICS = "text/plain; version=0.0.4; charset=utf-8"


def split_host_port(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"invalid listen address {addr!r}: expected host:port")
    return host.strip("[]"), int(port)


class AdminServer:
    def __init__(self, supervisor: SupervisorControl, *, sample_interval: float = 2.0, rate_window: float = 10.0) -> None:
        self.supervisor = supervisor
        self.registry = build_registry(supervisor, supervisor.metrics_dir)
        self.observer = Observer(supervisor, self.registry, interval=sample_interval, window=rate_window)
        self.ui = UiRoutes(supervisor, self.observer)
        self.live_debugging = LiveDebugRoutes(supervisor)
        self._sampler: asyncio.Task[None] | None = None
        self.app = web.Application()
        self.app.add_routes([
            web.get("/metrics", self.metrics),
            web.get("/api/v0/component/{component_id}/metrics", self.component_metrics),
            web.get("/-/ready", self.ready),
            web.get("/-/healthy", self.healthy),
            web.post("/-/reload", self.reload),
            *SupportRoutes(supervisor, self.observer, lambda: exposition(self.registry)).routes(),
            *self.ui.routes(),
            *self.live_debugging.routes(),
        ])
        self._runner: web.AppRunner | None = None

    async def start(self, listen_addr: str) -> None:
        host, port = split_host_port(listen_addr)
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self._sampler = asyncio.ensure_future(self.observer.run())
        log.info("admin HTTP server listening on %s", listen_addr)

    async def stop(self) -> None:
        self.ui.close()  # ends open /api/v0/web/graph streams, so cleanup does not wait for them
        self.live_debugging.close()  # and /api/v0/web/debug streams
        if self._sampler is not None:
            self._sampler.cancel()
            self._sampler = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def metrics(self, _request: web.Request) -> web.Response:
        return web.Response(body=exposition(self.registry), headers={"Content-Type": CONTENT_TYPE_METRICS})

    async def component_metrics(self, request: web.Request) -> web.Response:
        """`prometheus.exporter.self` targets point here: the whole self-telemetry, as in Alloy."""
        component_id = request.match_info["component_id"]
        node = self.supervisor.pipeline.nodes.get(component_id)
        if node is None or node.name != "prometheus.exporter.self":
            raise web.HTTPNotFound(text=f"component {component_id} has no metrics handler\n")
        return await self.metrics(request)

    async def ready(self, _request: web.Request) -> web.Response:
        if self.supervisor.ready:
            return web.Response(text="collector is ready.\n")
        waiting = sorted(k for k, c in self.supervisor.children.items() if not c.ready)
        return web.Response(status=503, text=f"collector is not ready: waiting for {', '.join(waiting)}\n")

    async def reload(self, _request: web.Request) -> web.Response:
        log.info("reload requested via /-/reload endpoint")
        outcome = await self.supervisor.reload()
        if outcome.ok:
            return web.Response(text="config reloaded\n")
        return web.Response(status=400, text=outcome.message + "\n")

    async def healthy(self, _request: web.Request) -> web.Response:
        unhealthy = sorted(cid for cid, h in self.supervisor.component_health().items() if h["state"] == "unhealthy")
        if unhealthy:
            return web.Response(status=503, text=f"unhealthy components: {', '.join(unhealthy)}\n")
        return web.Response(text="All collector components are healthy.\n")
