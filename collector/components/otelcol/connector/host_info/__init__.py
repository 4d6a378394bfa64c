"""`otelcol.connector.host_info`: count the distinct hosts that send traces (Grafana billing metric).

Traces are absorbed; every `metrics_flush_interval` (and at shutdown) the hosts seen since the last
flush become one `traces_host_info` gauge point each (see `collector.components.otelcol.connector.host_info.hosts`).

Several worker processes. Each traces worker runs its own instance and sees only part of the
traffic, so naive per-worker emission would write the same series (`grafana.host.id=h`) from several
processes with interleaved timestamps. Instead flushes are aligned to wall-clock multiples of the
interval, and at each boundary:

1. every worker writes the hosts it saw in the interval that just ended to
   `<run_dir>/host_info/<component id>/<interval>.<worker>` (write to a temp name, then rename: a
   reader never sees a half-written file);
2. worker 0 alone emits, one grace period (a tenth of the interval, at most 5s) after the boundary:
   the union of every file for that interval, then deletes those files. Files of workers that were
   late are picked up at the next boundary as part of that later interval's union (a host seen late
   is reported one interval later, never twice for one timestamp).

So each host is reported at most once per interval by exactly one process. If only one traces
worker exists, the instance emits directly from memory. At shutdown each
worker writes its pending hosts; worker 0 waits one grace period for them and emits the union.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path
from typing import Any, Callable

import msgspec

from collector.components.kit.api import ArgumentError, BuildContext, Component, Placement, Service
from collector.components.kit.processorhelper import ItemCounters
from collector.components.kit.registry import register
from collector.components.kit.types import DebugMetrics, Duration, Output
from collector.components.otelcol.connector.host_info.hosts import HostSet, host_info_metrics
from collector.signals import Payload, Signal


class Arguments(msgspec.Struct, frozen=True, kw_only=True):
    output: Output
    host_identifiers: list[str] = msgspec.field(default_factory=lambda: ["host.id"])
    metrics_flush_interval: Duration = 60.0
    debug_metrics: DebugMetrics | None = None

    def validate(self) -> None:
        # Alloy checks only these two; the upstream 15s..5m range is in a config validator Alloy never calls.
        if not self.host_identifiers:
            raise ArgumentError("host_identifiers must not be empty", "host_identifiers")
        if self.metrics_flush_interval <= 0:
            raise ArgumentError("metrics_flush_interval must be greater than 0", "metrics_flush_interval")
        if self.output.logs:
            raise ArgumentError("logs output is not supported yet", "output.logs")
        if self.output.traces:
            raise ArgumentError("traces output is not supported yet", "output.traces")


@register(
    "otelcol.connector.host_info",
    arguments=Arguments,
    accepts=(Signal.TRACES,),
    emits=(Signal.METRICS,),
    placement=Placement.WORKER,
)
class HostInfoConnector(Component[Arguments]):
    mutates_data = False
    needs = frozenset({Service.RUN_DIR, Service.WORKER_COUNT})

    def __init__(self, ctx: BuildContext, args: Arguments, *, clock: Callable[[], float] = time.time,
                 grace: float | None = None) -> None:
        super().__init__(ctx, args)
        self.hosts = HostSet(args.host_identifiers)
        self._clock = clock
        self._next = self.output[Signal.METRICS]
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        # a connector counts like a processor, so the UI shows its traces in and metrics out
        self.counters = ItemCounters(ctx.component_id, self.info.accepts, self.info.emits)
        self._shared: Path | None = None
        if ctx.workers_for_signal > 1:
            self._shared = ctx.run_dir / "host_info" / ctx.component_id.replace("/", "_")
        self._worker = ctx.worker_index
        self._grace_override = grace

    @property
    def _emitter(self) -> bool:
        return self._shared is None or self._worker == 0

    @property
    def _grace(self) -> float:
        if self._grace_override is not None:
            return self._grace_override
        return min(self.args.metrics_flush_interval / 10, 5.0)

    async def start(self) -> None:
        if self._shared is not None:
            self._shared.mkdir(parents=True, exist_ok=True)
        self._stopped = False
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"{self.ctx.component_id} flush")
        await super().start()

    async def consume(self, payload: Payload) -> None:
        self.counters.incoming[payload.signal].inc(payload.item_count)
        self.hosts.record(payload.message.resource_spans)  # type: ignore[attr-defined]
        payload.settle()

    # --- flushing -----------------------------------------------------------------------------
    def _interval_index(self, now: float) -> int:
        return int(now // self.args.metrics_flush_interval)

    async def _run(self) -> None:
        interval = self.args.metrics_flush_interval
        while not self._stopped:
            now = self._clock()
            boundary = (self._interval_index(now) + 1) * interval
            await asyncio.sleep(max(0.0, boundary - now))
            ended = self._interval_index(boundary) - 1
            try:
                await self.flush(ended)
            except Exception:  # a failing downstream must not stop future flushes
                self.ctx.logger.exception("host_info flush failed")

    async def flush(self, interval_index: int) -> None:
        """Report the interval that ended: write our share, and if we are the emitter emit the union."""
        if self._shared is None:
            await self._emit(self.hosts.take())
            return
        self._write_share(interval_index, self.hosts.take())
        if self._emitter:
            await asyncio.sleep(self._grace)
            await self._emit(self._collect_shares(up_to=interval_index))

    def _write_share(self, interval_index: int, hosts: set[str]) -> None:
        if not hosts or self._shared is None:
            return
        final = self._shared / f"{interval_index}.{self._worker}"
        temp = self._shared / f".{interval_index}.{self._worker}.tmp"
        existing = set(final.read_text().split("\n")) - {""} if final.exists() else set()
        temp.write_text("\n".join(sorted(hosts | existing)))
        os.replace(temp, final)

    def _collect_shares(self, up_to: int) -> set[str]:
        assert self._shared is not None
        union: set[str] = set()
        for path in self._shared.iterdir():
            stem, _, worker = path.name.partition(".")
            if path.name.startswith(".") or not stem.lstrip("-").isdigit() or int(stem) > up_to:
                continue
            with contextlib.suppress(FileNotFoundError):
                union.update(line for line in path.read_text().split("\n") if line)
                path.unlink()
        return union

    async def _emit(self, hosts: set[str]) -> None:
        if not hosts:
            return
        now_ns = int(self._clock() * 1e9)
        message = host_info_metrics(hosts, now_ns)
        self.counters.outgoing[Signal.METRICS].inc(len(hosts))
        await self._next.consume(Payload(Signal.METRICS, message=message, item_count=len(hosts)))

    async def shutdown(self, deadline: float | None = None) -> None:
        if self._stopped and self._task is None:
            return
        self._stopped = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        current = self._interval_index(self._clock())
        if self._shared is not None and not self._emitter:
            self._write_share(current, self.hosts.take())
        else:
            if self._shared is not None:
                self._write_share(current, self.hosts.take())
                await asyncio.sleep(self._grace if deadline is None else
                                    max(0.0, min(self._grace, deadline - time.monotonic())))
                await self._emit(self._collect_shares(up_to=current + 1))
            else:
                await self._emit(self.hosts.take())
        await super().shutdown(deadline)
