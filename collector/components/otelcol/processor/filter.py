"""`otelcol.processor.filter`: drop the items for which any OTTL condition is true."""

from __future__ import annotations

from typing import Literal

import msgspec

from collector.components.api import Component, Placement
from collector.components.registry import register
from collector.components.types import DebugMetrics, Output
from collector.signals import Signal

ErrorMode = Literal["ignore", "silent", "propagate"]


class TracesConditions(msgspec.Struct, frozen=True, kw_only=True):
    span: list[str] = msgspec.field(default_factory=list)
    spanevent: list[str] = msgspec.field(default_factory=list)


class MetricsConditions(msgspec.Struct, frozen=True, kw_only=True):
    metric: list[str] = msgspec.field(default_factory=list)
    datapoint: list[str] = msgspec.field(default_factory=list)


class LogsConditions(msgspec.Struct, frozen=True, kw_only=True):
    log_record: list[str] = msgspec.field(default_factory=list)


class Arguments(msgspec.Struct, frozen=True, kw_only=True):
    output: Output
    error_mode: ErrorMode = "ignore"
    traces: TracesConditions | None = None
    metrics: MetricsConditions | None = None
    logs: LogsConditions | None = None
    debug_metrics: DebugMetrics | None = None


@register(
    "otelcol.processor.filter",
    arguments=Arguments,
    accepts=(Signal.TRACES, Signal.METRICS, Signal.LOGS),
    emits=(Signal.TRACES, Signal.METRICS, Signal.LOGS),
    placement=Placement.WORKER,
)
class FilterProcessor(Component):
    mutates_data = True
