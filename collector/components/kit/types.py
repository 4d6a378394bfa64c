"""Alloy argument types for component schemas (`msgspec.Struct` fields).

Conventions the configuration decoder relies on:
* a field whose type is a `msgspec.Struct` (or `Struct | None`) is a block; `list[Struct]` is a
  repeatable block kept in textual order; every other field is an attribute;
* a field without a default is required;
* `Duration` holds seconds (written as Go durations, "200ms", "1h30m"); `ByteSize` holds bytes
  ("4MiB"); `Secret` values are redacted when displayed;
* a field whose Alloy name is not a valid Python name uses `msgspec.field(name=...)`.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from collector.components.kit.api import ConsumerRef, MetricsReceiverRef
from collector.config.values import Secret
from collector.signals import Signal

Duration = Annotated[float, msgspec.Meta(extra={"alloy_type": "duration"})]
ByteSize = Annotated[int, msgspec.Meta(extra={"alloy_type": "bytesize"})]
Targets = list[dict[str, str]]


class TargetsExports(msgspec.Struct, frozen=True):
    """What a target source exports (Alloy's discovery `Exports`): the targets, as label sets."""

    targets: Targets


__all__ = [
    "ByteSize",
    "ConsumerRef",
    "DebugMetrics",
    "Duration",
    "MetricsReceiverRef",
    "Output",
    "Secret",
    "Targets",
    "TargetsExports",
]


class Output(msgspec.Struct, frozen=True, kw_only=True):
    """The `output` block shared by otelcol receivers, processors and connectors."""

    metrics: list[ConsumerRef] = msgspec.field(default_factory=list)
    logs: list[ConsumerRef] = msgspec.field(default_factory=list)
    traces: list[ConsumerRef] = msgspec.field(default_factory=list)

    def for_signal(self, signal: Signal) -> list[ConsumerRef]:
        if signal is Signal.TRACES:
            return self.traces
        if signal is Signal.METRICS:
            return self.metrics
        return self.logs


class DebugMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """Accepted on every otelcol component; kept for compatibility."""

    NOT_APPLIED: ClassVar[dict[str, str]] = {
        "disable_high_cardinality_metrics": "this collector's self-metrics have a fixed label set",
        "level": "this collector's self-metrics have no detail levels",
    }

    disable_high_cardinality_metrics: bool = True
    level: str = "detailed"
