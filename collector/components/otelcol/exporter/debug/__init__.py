"""`otelcol.exporter.debug`: log what arrives (counts, or every record), then count it as sent.

Like the OpenTelemetry Collector's debug exporter, the log output is sampled per second: of the
identical messages in one second, the first `sampling_initial` are written and then every
`sampling_thereafter`-th (0: none). Sampling bounds the cost of a debug exporter left on in a busy
pipeline; "detailed" decodes the request, so it is for troubleshooting only.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Callable, TextIO

import msgspec

from collector.components.kit.api import ArgumentError, BuildContext, Component, Placement
from collector.components.otelcol.exporter.debug.format import describe
from collector.components.kit.registry import register
from collector.components.kit.types import DebugMetrics
from collector.selfmetrics.otelcol import EXPORTER_SENT
from collector.signals import Payload, Signal

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


class Sampler:
    """zap's sampler: per `tick` and per message, `initial` entries, then every `thereafter`-th."""

    def __init__(self, initial: int, thereafter: int, clock: Callable[[], float], tick: float = 1.0) -> None:
        self.initial = initial
        self.thereafter = thereafter
        self.clock = clock
        self.tick = tick
        self._window_end = float("-inf")
        self._counts: dict[str, int] = {}

    def allow(self, key: str) -> bool:
        now = self.clock()
        if now >= self._window_end:
            self._window_end = now + self.tick
            self._counts.clear()
        n = self._counts.get(key, 0) + 1
        self._counts[key] = n
        if n <= self.initial:
            return True
        return self.thereafter > 0 and (n - self.initial) % self.thereafter == 0


def summary(payload: Payload) -> str:
    """The basic line: resource count and item count (the items count is usually known undecoded)."""
    spec = payload.signal.spec
    resources = len(getattr(payload.message, spec.resource_field))
    label = {"traces": "Traces", "metrics": "Metrics", "logs": "Logs"}[payload.signal.value]
    return f"{label} {spec.resource_field.replace('_', ' ')}={resources} {spec.items.replace('_', ' ')}={payload.item_count}"


@register("otelcol.exporter.debug", arguments=Arguments, accepts=tuple(Signal), placement=Placement.WORKER)
class DebugExporter(Component[Arguments]):
    def __init__(self, ctx: BuildContext, args: Arguments, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(ctx, args)
        self.logger: logging.Logger = ctx.logger
        self.sampler = Sampler(args.sampling_initial, args.sampling_thereafter, clock)
        self._streams: list[TextIO] = []

    async def start(self) -> None:
        if not self.args.use_internal_logger and not self._streams:
            for path in self.args.output_paths:
                if path == "stdout":
                    self._streams.append(sys.stdout)
                elif path == "stderr":
                    self._streams.append(sys.stderr)
                else:
                    self._streams.append(open(path, "a", encoding="utf-8"))  # noqa: SIM115 (closed in shutdown)
        await super().start()

    async def shutdown(self, deadline: float | None = None) -> None:
        await self._close_streams()
        await super().shutdown(deadline)

    async def _close_streams(self) -> None:
        for stream in self._streams:
            if stream not in (sys.stdout, sys.stderr):
                stream.close()
        self._streams = []

    async def consume(self, payload: Payload) -> None:
        try:
            if self.sampler.allow(payload.signal.value):
                line = summary(payload)
                if self.args.verbosity == "detailed":
                    line = f"{line}\n{describe(payload.signal, payload.message)}"
                self._write(line)
            EXPORTER_SENT[payload.signal].labels(self.ctx.component_id, "/").inc(
                payload.item_count)
        finally:
            payload.settle()

    def _write(self, text: str) -> None:
        if self.args.use_internal_logger:
            self.logger.info("%s", text)
            return
        for stream in self._streams:
            stream.write(text + "\n")
            stream.flush()
