"""`otelcol.exporter.otlphttp`: POST OTLP Export requests to a backend (Loki `/otlp`, Tempo, ...)."""

from __future__ import annotations

import msgspec

from collector.components.api import ArgumentError, Component, Placement
from collector.components.exporterhelper.config import QueueArgs, RetryArgs
from collector.components.otelcol.client import HTTPClientArgs
from collector.components.registry import register
from collector.components.types import DebugMetrics
from collector.signals import Signal


class Arguments(msgspec.Struct, frozen=True, kw_only=True):
    client: HTTPClientArgs
    traces_endpoint: str = ""
    metrics_endpoint: str = ""
    logs_endpoint: str = ""
    encoding: str = "proto"
    sending_queue: QueueArgs = msgspec.field(default_factory=QueueArgs)
    retry_on_failure: RetryArgs = msgspec.field(default_factory=RetryArgs)
    debug_metrics: DebugMetrics | None = None

    def validate(self) -> None:
        if not (self.client.endpoint or self.traces_endpoint or self.metrics_endpoint or self.logs_endpoint):
            raise ArgumentError("at least one endpoint must be specified", "client.endpoint")
        if self.encoding not in ("proto", "json"):
            raise ArgumentError(f"invalid encoding {self.encoding!r}: must be proto or json", "encoding")
        self.client.validate()
        self.sending_queue.validate()
        self.retry_on_failure.validate()


@register("otelcol.exporter.otlphttp", arguments=Arguments, accepts=tuple(Signal), placement=Placement.WORKER)
class OTLPHTTPExporter(Component):
    pass
