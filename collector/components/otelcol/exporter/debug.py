"""`otelcol.exporter.debug`: log what arrives (counts, or every record), then count it as sent."""

from __future__ import annotations

import msgspec

from collector.components.api import ArgumentError, Component, Placement
from collector.components.registry import register
from collector.components.types import DebugMetrics
from collector.signals import Signal

VERBOSITIES = ("basic", "normal", "detailed")


class Arguments(msgspec.Struct, frozen=True, kw_only=True):
    verbosity: str = "basic"
    sampling_initial: int = 2
    sampling_thereafter: int = 1
    use_internal_logger: bool = True
    output_paths: list[str] = msgspec.field(default_factory=lambda: ["stdout"])
    debug_metrics: DebugMetrics | None = None

    def validate(self) -> None:
        if self.verbosity not in VERBOSITIES:
            raise ArgumentError(f"verbosity must be one of {', '.join(VERBOSITIES)}", "verbosity")
        if self.sampling_initial < 0:
            raise ArgumentError("sampling_initial must not be negative", "sampling_initial")
        if self.sampling_thereafter < 0:
            raise ArgumentError("sampling_thereafter must not be negative", "sampling_thereafter")


@register("otelcol.exporter.debug", arguments=Arguments, accepts=tuple(Signal), placement=Placement.WORKER)
class DebugExporter(Component):
    pass
