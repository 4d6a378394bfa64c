"""`GET /-/support?duration=N` on the admin server: the support bundle as a zip download."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable

from aiohttp import web

from collector.support.bundle import build_bundle, parse_duration_param

if TYPE_CHECKING:
    from collector.runtime.view import SupervisorView
    from collector.web.observe import Observer

DEFAULT_DURATION = 5.0  # Alloy's default is its HTTP write timeout; a short window keeps `curl` quick


class SupportRoutes:
    def __init__(self, supervisor: SupervisorView, observer: Observer, metrics: Callable[[], bytes]) -> None:
        self.supervisor = supervisor
        self.observer = observer
        self.metrics = metrics

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/-/support", self.bundle)]

    async def bundle(self, request: web.Request) -> web.Response:
        try:
            duration = parse_duration_param(request.query.get("duration"), DEFAULT_DURATION)
        except ValueError as err:
            return web.Response(status=400, text=f"{err}\n")
        body = await build_bundle(self.supervisor, self.observer, self.metrics, duration=duration,
                                  run_dir=self.supervisor.metrics_dir.parent, extra=_instance(self.supervisor))
        name = time.strftime("collector-support-%Y%m%dT%H%M%SZ.zip", time.gmtime())
        return web.Response(body=body, content_type="application/zip",
                            headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _instance(supervisor: SupervisorView) -> dict[str, Any]:
    """Where and how this collector runs (read from the supervisor when it has the attribute; a
    test double need not)."""
    topology = getattr(supervisor, "topology", None)
    doc: dict[str, Any] = {
        "listenAddress": getattr(supervisor, "http_listen_addr", None),
        "storagePath": str(getattr(supervisor, "storage_path", "")) or None,
        "configPath": str(getattr(supervisor, "source_path", "")) or None,
        "configFormat": getattr(supervisor, "config_format", None) or "alloy",
    }
    if topology is not None:
        doc["topology"] = {"workers": {signal.value: count for signal, count in topology.workers.items()},
                           "receiverProcesses": topology.receiver_processes, "ringBytes": topology.ring_bytes}
    return doc
