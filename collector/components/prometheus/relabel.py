"""`prometheus.relabel`: apply `rule` blocks to every sample's label set and forward the survivors."""

from __future__ import annotations

from typing import Any, Mapping

import msgspec

from collector.components.api import ArgumentError, Component, EvalContext, MetricsReceiverRef, Placement
from collector.components.discovery.relabel import validate_rules
from collector.components.registry import register
from collector.components.types import Duration
from collector.protocols.prometheus.relabel import Rule


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


@register("prometheus.relabel", arguments=Arguments, placement=Placement.WORKER)
class PrometheusRelabel(Component):
    @classmethod
    def exports(cls, ctx: EvalContext, args: msgspec.Struct) -> Mapping[str, Any]:
        assert isinstance(args, Arguments)
        return {"receiver": MetricsReceiverRef(ctx.component_id), "rules": list(args.rule)}
