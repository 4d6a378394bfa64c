"""`otelcol.exporter.otlp`: send OTLP Export requests over gRPC (unary `Export` per signal)."""

from __future__ import annotations

import msgspec

from collector.components.api import ArgumentError, Component, Placement
from collector.components.exporterhelper.config import QueueArgs, RetryArgs
from collector.components.otelcol.client import GRPCClientArgs
from collector.components.registry import register
from collector.components.types import DebugMetrics, Duration
from collector.signals import Signal


class Arguments(msgspec.Struct, frozen=True, kw_only=True):
    client: GRPCClientArgs
    timeout: Duration = 5.0
    sending_queue: QueueArgs = msgspec.field(default_factory=QueueArgs)
    retry_on_failure: RetryArgs = msgspec.field(default_factory=RetryArgs)
    debug_metrics: DebugMetrics | None = None

    def validate(self) -> None:
        if self.timeout < 0:
            raise ArgumentError("timeout must not be negative", "timeout")
        self.client.validate()
        self.sending_queue.validate()
        self.retry_on_failure.validate()


@register("otelcol.exporter.otlp", arguments=Arguments, accepts=tuple(Signal), placement=Placement.WORKER)
class OTLPExporter(Component):
    pass
