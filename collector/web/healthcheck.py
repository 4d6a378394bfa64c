"""The OpenTelemetry Collector's `health_check` extension, for YAML configurations that run it: an
HTTP endpoint of its own (default `localhost:13133`, path `/`) that load balancers and orchestrators
probe. It answers as the extension does: 200 `{"status": "Server available", "upSince", "uptime"}`
while every child process is ready and no component is unhealthy, 503 `"Server not available"`
otherwise. It reads the supervisor through the same read-only view as the admin server."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import orjson
from aiohttp import web

from collector.config.units import format_duration
from collector.web.server import split_host_port

if TYPE_CHECKING:
    from collector.runtime.view import SupervisorView

log = logging.getLogger(__name__)


def health_document(supervisor: SupervisorView, now: float) -> tuple[int, bytes]:
    """(status code, JSON body) of one probe."""
    unhealthy = any(h.get("state") == "unhealthy" for h in supervisor.component_health().values())
    available = supervisor.ready and not unhealthy
    body = {
        "status": "Server available" if available else "Server not available",
        "upSince": datetime.fromtimestamp(supervisor.started_at, timezone.utc).isoformat().replace("+00:00", "Z"),
        "uptime": format_duration(max(0.0, now - supervisor.started_at)),
    }
    return (200 if available else 503), orjson.dumps(body)


class HealthCheckServer:
    def __init__(self, supervisor: SupervisorView, endpoint: str, path: str) -> None:
        self.supervisor = supervisor
        self.endpoint = endpoint
        self.path = path
        app = web.Application()
        app.router.add_get(path, self.probe)
        self._runner: web.AppRunner | None = web.AppRunner(app, access_log=None)

    async def probe(self, _request: web.Request) -> web.Response:
        status, body = health_document(self.supervisor, time.time())
        return web.Response(status=status, body=body, content_type="application/json")

    async def start(self) -> None:
        assert self._runner is not None
        host, port = split_host_port(self.endpoint)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        log.info("health_check extension listening on %s%s", self.endpoint, self.path)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
