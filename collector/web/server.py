"""The supervisor's HTTP server (`--server.http.listen-addr`, default 127.0.0.1:12345)."""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import TYPE_CHECKING

from aiohttp import web

from collector.selfmetrics.exposition import build_registry, exposition
from collector.support.routes import SupportRoutes
from collector.web.livedebug import LiveDebugRoutes
from collector.web.observe import Observer
from collector.web.routes import UiRoutes
from collector.web.security import guard
from collector.pipeline.configblocks import Auth, Http, Tls
from collector.transport.addresses import is_loopback

if TYPE_CHECKING:
    from collector.runtime.view import SupervisorControl

log = logging.getLogger(__name__)

CONTENT_TYPE_METRICS = "text/plain; version=0.0.4; charset=utf-8"


def split_host_port(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"invalid listen address {addr!r}: expected host:port")
    return host.strip("[]"), int(port)


class AdminServerError(Exception):
    """The admin server cannot start (port taken, address not local, TLS files unusable)."""


class AdminServer:
    def __init__(self, supervisor: SupervisorControl, *, sample_interval: float = 2.0, rate_window: float = 10.0) -> None:
        self.supervisor = supervisor
        self.registry = build_registry(supervisor, supervisor.metrics_dir)
        self.observer = Observer(supervisor, self.registry, interval=sample_interval, window=rate_window)
        self.ui = UiRoutes(supervisor, self.observer)
        self.live_debugging = LiveDebugRoutes(supervisor)
        self._sampler: asyncio.Task[None] | None = None
        self.listen_host = ""
        self._served_tls: Tls | None = None  # what start() listened with
        self._tls_warned: Tls | None = None
        self.app = web.Application(middlewares=[guard(lambda: self.listen_host, self._auth)])
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

    def _http_block(self) -> Http | None:
        block = self.supervisor.pipeline.config_blocks.get("http")
        return block if isinstance(block, Http) else None

    def _auth(self) -> Auth | None:
        block = self._http_block()
        tls = block.tls if block is not None else None
        if tls != self._served_tls and tls != self._tls_warned:
            self._tls_warned = tls  # once per change, not per request
            log.warning("the http block's tls settings changed; the admin server keeps serving %s until the "
                        "collector restarts", "TLS" if self._served_tls is not None else "plain HTTP")
        return block.auth if block is not None else None

    async def start(self, listen_addr: str) -> None:
        """Listen on `listen_addr`, over TLS when the `http { tls { ... } }` block says so (read
        once: a reload does not switch a running server between plain HTTP and TLS)."""
        host, port = split_host_port(listen_addr)
        self.listen_host = host
        block = self._http_block()
        context: ssl.SSLContext | None = None
        if block is not None and block.tls is not None:
            self._served_tls = self._tls_warned = block.tls
            try:
                context = block.tls.server_context()
            except (OSError, ssl.SSLError, ValueError) as err:
                raise AdminServerError(f"admin HTTP server: cannot load the http.tls certificate: {err}") from None
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, ssl_context=context)
        try:
            await site.start()
        except OSError as err:
            await self._runner.cleanup()
            self._runner = None
            raise AdminServerError(f"admin HTTP server cannot listen on {listen_addr}: {err.strerror or err} "
                                   "(choose another with --server.http.listen-addr)") from None
        self._sampler = asyncio.ensure_future(self.observer.run())
        scheme = "https" if context is not None else "http"
        log.info("admin HTTP server listening on %s://%s", scheme, listen_addr)
        if not is_loopback(host):
            protection = []
            if context is None:
                protection.append("no TLS")
            auth = self._auth()
            if auth is None or auth.basic is None:
                protection.append("no authentication")
            if protection:
                log.warning("the admin HTTP server on %s is reachable from other hosts and has %s (it can reload "
                            "the configuration and shows the pipeline); configure the http block or listen on "
                            "127.0.0.1", listen_addr, " and ".join(protection))

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
