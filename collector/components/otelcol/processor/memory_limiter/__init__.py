"""`otelcol.processor.memory_limiter`: stop taking data while the process uses too much memory.

Every `check_interval` a background task samples the process's resident memory
(`collector.components.otelcol.processor.memory_limiter.memory`). Above the soft limit (hard - spike) the processor refuses data;
above the hard limit it also runs `gc.collect()`. Below the soft limit data flows again.

What "refuse" means here. In the OpenTelemetry Collector the limiter returns an error to the
receiver, which answers 503/Unavailable. In this collector the receiver has already answered (the
data sits in a shared-memory ring) by the time a worker runs processors, so refusing means holding:
`process()` waits, re-checking every `check_interval`, until usage falls below the soft limit, then
forwards the payload. Held payloads are counted in `otelcol_processor_refused_*`. While it waits the
worker stops reading its ring; the ring fills up and the receivers answer clients with a retryable
status — the same back-pressure, one hop later, and nothing accepted is lost.
"""

from __future__ import annotations

import asyncio
import gc
from typing import Callable

import msgspec

from collector.components.kit.api import ArgumentError, BuildContext
from collector.components.kit.processorhelper import AsyncProcessor, register_processor
from collector.components.kit.types import ByteSize, DebugMetrics, Duration, Output
from collector.components.otelcol.processor.memory_limiter.memory import MemoryLimits, MemoryState, read_rss_bytes, total_memory_bytes
from collector.selfmetrics.otelcol import PROCESSOR_REFUSED
from collector.signals import Payload, Signal

MIB = 1 << 20


class Arguments(msgspec.Struct, frozen=True, kw_only=True):
    output: Output
    check_interval: Duration
    limit: ByteSize = 0
    spike_limit: ByteSize = 0
    limit_percentage: int = 0
    spike_limit_percentage: int = 0
    debug_metrics: DebugMetrics | None = None

    def validate(self) -> None:
        if self.check_interval <= 0:
            raise ArgumentError("check_interval must be greater than zero", "check_interval")
        if self.limit > 0 and self.limit_percentage > 0:
            raise ArgumentError("either limit or limit_percentage must be set to greater than zero, but not both",
                                "limit")
        if self.spike_limit > 0 and self.spike_limit_percentage > 0:
            raise ArgumentError(
                "either spike_limit or spike_limit_percentage must be set to greater than zero, but not both",
                "spike_limit")
        if self.limit > 0:
            if self.limit < MIB:
                raise ArgumentError("limit must be at least 1MiB", "limit")
            if self.spike_limit_percentage > 0:
                raise ArgumentError("spike_limit_percentage can only be used with limit_percentage",
                                    "spike_limit_percentage")
            if self.spike_limit >= self.limit:
                raise ArgumentError("spike_limit must be less than limit", "spike_limit")
            return
        if self.limit_percentage > 0:
            if self.spike_limit > 0:
                raise ArgumentError("spike_limit can only be used with limit", "spike_limit")
            if self.limit_percentage > 100 or self.spike_limit_percentage >= self.limit_percentage:
                raise ArgumentError(
                    "limit_percentage and spike_limit_percentage must be greater than 0 and less than or equal to "
                    "100, and spike_limit_percentage must be less than limit_percentage",
                    "limit_percentage")
            return
        if self.limit_percentage < 0 or self.spike_limit_percentage < 0:
            raise ArgumentError("percentages must not be negative", "limit_percentage")
        raise ArgumentError("either limit or limit_percentage must be set to greater than zero", "limit")

    def limits(self, total_memory: Callable[[], int] = total_memory_bytes) -> MemoryLimits:
        if self.limit > 0:
            spike = self.spike_limit or self.limit // 5
            return MemoryLimits(hard=self.limit, soft=self.limit - spike)
        total = total_memory()
        hard = total * self.limit_percentage // 100
        spike = total * self.spike_limit_percentage // 100
        return MemoryLimits(hard=hard, soft=hard - spike)


@register_processor("otelcol.processor.memory_limiter", arguments=Arguments)
class MemoryLimiterProcessor(AsyncProcessor[Arguments]):
    mutates_data = False
    preserves_count = True

    def __init__(self, ctx: BuildContext, args: Arguments, *, read_memory: Callable[[], int] = read_rss_bytes,
                 total_memory: Callable[[], int] = total_memory_bytes) -> None:
        super().__init__(ctx, args)
        self._read_memory = read_memory
        self._total_memory = total_memory
        self.state = MemoryState(args.limits(total_memory))
        self._refused = {signal: PROCESSOR_REFUSED[signal].labels(ctx.component_id, "/") for signal in Signal}
        self._task: asyncio.Task[None] | None = None
        self._below = asyncio.Event()
        self._below.set()

    async def start(self) -> None:
        self.check()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"{self.ctx.component_id} check")
        await super().start()

    def check(self) -> None:
        """Sample memory once; the state machine decides refusing and forced GC."""
        decision = self.state.observe(self._read_memory())
        if decision.force_gc:
            gc.collect()
        if decision.changed:
            if self.state.refusing:
                self.ctx.logger.warning("memory usage %d bytes is above the soft limit %d; refusing data",
                                        decision.usage, self.state.limits.soft)
            else:
                self.ctx.logger.info("memory usage %d bytes is back below the soft limit; accepting data",
                                     decision.usage)
        if self.state.refusing:
            self._below.clear()
        else:
            self._below.set()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.args.check_interval)
            self.check()

    async def process(self, payload: Payload) -> Payload:
        if self.state.refusing:
            self._refused[payload.signal].inc(payload.item_count)
            await self._below.wait()
        return payload

    async def shutdown(self, deadline: float | None = None) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        # Held payloads are released so the pipeline can drain; the memory reader decides nothing now.
        self._below.set()
        await super().shutdown(deadline)
