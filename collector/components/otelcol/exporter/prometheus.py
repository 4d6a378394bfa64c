"""`otelcol.exporter.prometheus`: translate OTLP metrics to Prometheus samples for `forward_to`.

The payload is settled once every receiver has accepted the batch (remote_write: queued; later:
written to its WAL). Points that cannot be converted (delta temporality, exponential histograms,
names that normalise to nothing) are counted by reason; Alloy drops them silently.

Two timers keep the translator's series caches as big as the load (translate.py's docstring): every
`expiry.GENERATION` seconds point entries not used for about a minute are retired, so the worker's
memory shrinks soon after a burst of series; every `gc_frequency` what was not seen for 5 minutes is
forgotten, as Alloy forgets it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, ClassVar

import msgspec

from collector.components.kit.api import ArgumentError, BuildContext, Component, MetricsReceiverRef, Placement
from collector.components.kit import prometheus_metrics as m
from collector.components.kit.registry import register
from collector.components.kit.tasks import cancel_and_wait
from collector.components.kit.types import DebugMetrics, Duration
from collector.protocols.prometheus.expiry import GENERATION
from collector.protocols.prometheus.translate import TranslateOptions, TranslateStats, Translator
from collector.selfmetrics.otelcol import EXPORTER_SENT
from collector.signals import Payload, Signal


class Arguments(msgspec.Struct, frozen=True, kw_only=True):
    forward_to: list[MetricsReceiverRef]
    include_target_info: bool = True
    include_scope_info: bool = False
    include_scope_labels: bool = True
    add_metric_suffixes: bool = True
    resource_to_telemetry_conversion: bool = False
    keep_identifying_resource_attributes: bool = False
    honor_metadata: bool = False
    NOT_APPLIED: ClassVar[dict[str, str]] = {
        "honor_metadata": "metric metadata is always taken from the OTLP metric (name, type, description, unit)",
    }
    gc_frequency: Duration = 300.0
    debug_metrics: DebugMetrics | None = None

    def validate(self) -> None:
        if self.gc_frequency <= 0:
            raise ArgumentError("gc_frequency must be greater than 0", "gc_frequency")

    def translate_options(self) -> TranslateOptions:
        """Every `TranslateOptions` setting is an argument of the same name."""
        return TranslateOptions(**{f.name: getattr(self, f.name) for f in dataclasses.fields(TranslateOptions)})


_REASONS = (("dropped_delta", "delta temporality"), ("dropped_exponential_histogram", "exponential histogram"),
            ("dropped_invalid_name", "invalid metric name"), ("dropped_unspecified", "no data"),
            ("skipped_out_of_order", "out of order"))


@register("otelcol.exporter.prometheus", arguments=Arguments, accepts=(Signal.METRICS,), placement=Placement.WORKER)
class PrometheusExporter(Component[Arguments]):
    def __init__(self, ctx: BuildContext, args: Arguments) -> None:
        super().__init__(ctx, args)
        self.translator = Translator(args.translate_options())
        self._receivers = ctx.forward_to(args.forward_to)
        self._gc_task: asyncio.Task[None] | None = None
        self._rotate_task: asyncio.Task[None] | None = None
        self._sent = EXPORTER_SENT[Signal.METRICS].labels(ctx.component_id, "/")
        self._forwarded = m.FORWARDED.labels(ctx.component_id, "/")

    async def start(self) -> None:
        self._gc_task = asyncio.create_task(self._gc_loop(), name=f"{self.ctx.component_id} gc")
        self._rotate_task = asyncio.create_task(self._rotate_loop(), name=f"{self.ctx.component_id} cache expiry")
        await super().start()

    async def _gc_loop(self) -> None:
        while True:
            await asyncio.sleep(self.args.gc_frequency)
            self.translator.gc()

    async def _rotate_loop(self) -> None:
        while True:
            await asyncio.sleep(GENERATION)
            self.translator.rotate()

    async def consume(self, payload: Payload) -> None:
        if payload.signal is not Signal.METRICS:
            payload.settle()
            return
        stats = TranslateStats()
        batch = self.translator.translate(payload.message, stats)
        for attr, reason in _REASONS:
            count = getattr(stats, attr)
            if count:
                m.OTLP_DROPPED.labels(self.ctx.component_id, "/", reason).inc(count)
        receivers = self._receivers
        if len(batch):
            for receiver in receivers:
                await receiver.append(batch)
            if receivers:
                self._forwarded.inc(len(batch) * len(receivers))
        self._sent.inc(stats.points - stats.dropped - stats.skipped_out_of_order)
        payload.settle()

    async def shutdown(self, deadline: float | None = None) -> None:
        for task in (self._gc_task, self._rotate_task):
            await cancel_and_wait(task)
        self._gc_task = self._rotate_task = None
        await super().shutdown(deadline)
