"""`otelcol.exporter.prometheus`: translate OTLP metrics to Prometheus samples for `forward_to`."""

from __future__ import annotations

import msgspec

from collector.components.api import ArgumentError, Component, MetricsReceiverRef, Placement
from collector.components.registry import register
from collector.components.types import DebugMetrics, Duration
from collector.signals import Signal


class Arguments(msgspec.Struct, frozen=True, kw_only=True):
    forward_to: list[MetricsReceiverRef]
    include_target_info: bool = True
    include_scope_info: bool = False
    include_scope_labels: bool = True
    add_metric_suffixes: bool = True
    resource_to_telemetry_conversion: bool = False
    keep_identifying_resource_attributes: bool = False
    honor_metadata: bool = False
    gc_frequency: Duration = 300.0
    debug_metrics: DebugMetrics | None = None

    def validate(self) -> None:
        if self.gc_frequency <= 0:
            raise ArgumentError("gc_frequency must be greater than 0", "gc_frequency")


@register("otelcol.exporter.prometheus", arguments=Arguments, accepts=(Signal.METRICS,), placement=Placement.WORKER)
class PrometheusExporter(Component):
    pass
