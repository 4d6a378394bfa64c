"""`prometheus.relabel`: apply `rule` blocks to every sample's label set and forward the survivors.

Results are cached per input `Series` (bounded by `max_cache_size`, oldest entries evicted first; with
`cache_ttl` entries expire instead), so the rules run once per series, not once per sample. A
staleness marker evicts its series' entry after use, as in Alloy. A series whose labels the rules do
not change is forwarded as the same `Series` object, which keeps downstream caches warm.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import msgspec

from collector.components.kit.api import ArgumentError, BuildContext, Component, EvalContext, MetricsReceiverRef, Placement
from collector.components.kit import prometheus_metrics as m
from collector.components.discovery.relabel import validate_rules
from collector.components.kit.registry import register
from collector.components.kit.types import Duration
from collector.protocols.prometheus.relabel import CompiledRule, Rule, apply, compile_rules
from collector.protocols.prometheus.series import Exemplar, SampleBatch, Series, is_stale_nan

_MISSING: Any = object()


class Arguments(msgspec.Struct, frozen=True, kw_only=True):
    forward_to: list[MetricsReceiverRef]
    rule: list[Rule] = msgspec.field(default_factory=list)
    max_cache_size: int = 100_000
    cache_ttl: Duration = 0.0

    def validate(self) -> None:
        if self.max_cache_size <= 0 and self.cache_ttl <= 0:
            raise ArgumentError(f"max_cache_size must be greater than 0 and is {self.max_cache_size}",
                                "max_cache_size")
        if self.cache_ttl < 0:
            raise ArgumentError("cache_ttl must not be negative", "cache_ttl")
        validate_rules(self.rule, "rule")


class RelabelCache:
    """Input `Series` -> output `Series` (or None: dropped), bounded by size or by age."""

    def __init__(self, rules: tuple[CompiledRule, ...], max_size: int, ttl: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rules = rules
        self.max_size = max_size
        self.ttl = ttl
        self.clock = clock
        self.entries: dict[Series, tuple[Series | None, float]] = {}
        self.hits = 0
        self.misses = 0
        self._next_sweep = clock() + ttl

    def compute(self, series: Series) -> Series | None:
        labels = series.as_dict()
        result = apply(self.rules, labels)
        if not result:
            return None
        if result == labels:
            return series
        return Series(result)

    def lookup(self, series: Series) -> Series | None:
        entry = self.entries.get(series, _MISSING)
        if entry is not _MISSING:
            out, expires = entry
            if not self.ttl or expires > self.clock():
                self.hits += 1
                return out
        self.misses += 1
        out = self.compute(series)
        if self.ttl:
            now = self.clock()
            self.entries[series] = (out, now + self.ttl)
            if now >= self._next_sweep:  # drop expired entries once per ttl
                self._next_sweep = now + self.ttl
                self.entries = {k: v for k, v in self.entries.items() if v[1] > now}
        else:
            if len(self.entries) >= self.max_size:
                del self.entries[next(iter(self.entries))]
            self.entries[series] = (out, 0.0)
        return out

    def evict(self, series: Series) -> None:
        self.entries.pop(series, None)


class Exports(msgspec.Struct, frozen=True):
    receiver: MetricsReceiverRef
    rules: list[Rule]


@register("prometheus.relabel", arguments=Arguments, exports=Exports, placement=Placement.WORKER)
class PrometheusRelabel(Component[Arguments]):
    def __init__(self, ctx: BuildContext, args: Arguments) -> None:
        super().__init__(ctx, args)
        self.cache = RelabelCache(compile_rules(args.rule), args.max_cache_size, args.cache_ttl)
        self._receivers = ctx.forward_to(args.forward_to)
        labels = (ctx.component_id, "/")
        self._m = (m.RELABEL_PROCESSED.labels(*labels), m.RELABEL_WRITTEN.labels(*labels),
                   m.RELABEL_CACHE_HITS.labels(*labels), m.RELABEL_CACHE_MISSES.labels(*labels),
                   m.RELABEL_CACHE_SIZE.labels(*labels), m.FORWARDED.labels(*labels))

    @classmethod
    def exports(cls, ctx: EvalContext, args: Arguments) -> Exports:
        return Exports(receiver=MetricsReceiverRef(ctx.component_id), rules=list(args.rule))

    def relabel(self, batch: SampleBatch) -> SampleBatch:
        """The sans-IO part: a new batch with relabelled series; the input batch is not modified."""
        cache = self.cache
        hits, misses = cache.hits, cache.misses
        out = SampleBatch(metadata=batch.metadata)
        exemplars: dict[int, list[Exemplar]] = {}
        for ex in batch.exemplars:
            exemplars.setdefault(ex.index, []).append(ex)
        append = out.append
        for i, (series, value, ts) in enumerate(zip(batch.series, batch.values, batch.timestamps_ms)):
            result = cache.lookup(series)
            if value != value and is_stale_nan(value):
                cache.evict(series)
            if result is None:
                continue
            if exemplars and i in exemplars:
                out.exemplars.extend(Exemplar(len(out.values), e.labels, e.value, e.timestamp_ms)
                                     for e in exemplars[i])
            append(result, value, ts)
        processed, written, hit, miss, size, _ = self._m
        processed.inc(len(batch))
        written.inc(len(out))
        hit.inc(cache.hits - hits)
        miss.inc(cache.misses - misses)
        size.set(len(cache.entries))
        return out

    async def append(self, batch: SampleBatch) -> None:
        out = self.relabel(batch)
        if not len(out):
            return
        receivers = self._receivers
        for receiver in receivers:
            await receiver.append(out)
        self._m[5].inc(len(out) * len(receivers))
