"""`prometheus.exporter.self`: a scrape target for the collector's own metrics.

Difference from Alloy: Alloy's target points at the in-memory address `alloy.internal:12345`; ours is
the real HTTP listener (`--server.http.listen-addr`), where the supervisor serves
`/api/v0/component/prometheus.exporter.self.<label>/metrics` with the merged metrics of all processes.
"""

from __future__ import annotations

import os
import socket
import msgspec

from collector.components.kit.api import Component, EvalContext, Placement
from collector.components.kit.registry import register
from collector.components.kit.types import TargetsExports


class Arguments(msgspec.Struct, frozen=True, kw_only=True):
    def validate(self) -> None:
        return None


def instance_name() -> str:
    """$HOSTNAME, else the OS hostname, else "unknown" (Alloy's rule)."""
    name = os.environ.get("HOSTNAME")
    if name:
        return name
    try:
        return socket.gethostname() or "unknown"
    except OSError:
        return "unknown"


@register("prometheus.exporter.self", arguments=Arguments, exports=TargetsExports, placement=Placement.NOWHERE)
class SelfExporter(Component[Arguments]):
    @classmethod
    def exports(cls, ctx: EvalContext, args: Arguments) -> TargetsExports:
        target = {
            "__address__": ctx.http_listen_addr,
            "__scheme__": "http",
            "__metrics_path__": f"/api/v0/component/{ctx.component_id}/metrics",
            "job": "integrations/self",
            "instance": instance_name(),
            "__meta_component_name": "prometheus.exporter.self",
            "__meta_component_id": ctx.component_id,
        }
        return TargetsExports(targets=[target])
