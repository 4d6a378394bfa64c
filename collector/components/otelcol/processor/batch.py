"""`otelcol.processor.batch`: buffer payloads per signal (and per metadata-key combination) and
send them downstream as larger batches, by size or after `timeout`."""

from __future__ import annotations

import msgspec

from collector.components.api import ArgumentError, Component, Placement
from collector.components.registry import register
from collector.components.types import DebugMetrics, Duration, Output
from collector.signals import Signal


class Arguments(msgspec.Struct, frozen=True, kw_only=True):
    output: Output
    send_batch_size: int = 2000
    send_batch_max_size: int = 3000
    timeout: Duration = 0.2
    metadata_keys: list[str] = msgspec.field(default_factory=list)
    metadata_cardinality_limit: int = 1000
    debug_metrics: DebugMetrics | None = None

    def validate(self) -> None:
        if self.send_batch_size < 0:
            raise ArgumentError("send_batch_size must not be negative", "send_batch_size")
        if self.send_batch_max_size < 0:
            raise ArgumentError("send_batch_max_size must not be negative", "send_batch_max_size")
        if self.send_batch_max_size > 0 and self.send_batch_max_size < self.send_batch_size:
            raise ArgumentError("send_batch_max_size must be greater or equal to send_batch_size",
                                "send_batch_max_size")
        if self.timeout < 0:
            raise ArgumentError("timeout must not be negative", "timeout")
        if self.metadata_cardinality_limit < 0:
            raise ArgumentError("metadata_cardinality_limit must not be negative", "metadata_cardinality_limit")


@register("otelcol.processor.batch", arguments=Arguments, accepts=tuple(Signal), emits=tuple(Signal),
          placement=Placement.WORKER)
class BatchProcessor(Component):
    pass
