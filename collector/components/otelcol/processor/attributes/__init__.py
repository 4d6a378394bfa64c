"""`otelcol.processor.attributes`: insert/update/upsert/delete/hash/extract/convert item attributes.

Actions and include/exclude matchers are compiled once (`collector.components.otelcol.processor.attributes.actions`,
`collector.components.otelcol.processor.attributes.matching`); `process` walks the spans, log records or data points of
the payload and applies the action list to each matching item's attributes, in place.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

import msgspec

from collector.components.kit.api import ArgumentError, BuildContext
from collector.components.kit.processorhelper import Processor, register_processor
from collector.components.kit.types import DebugMetrics, Output
from collector.components.otelcol.processor.attributes.actions import Action, compile_actions
from collector.components.otelcol.processor.attributes.matching import MatchSpec, check_for_signal, compile_filter
from collector.components.otelcol.processor.attributes.walk import apply_to_items, context_from_metadata
from collector.signals import Payload, Signal


class MatchAttribute(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    value: Any = None


class Library(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    version: str | None = None


class Regexp(msgspec.Struct, frozen=True, kw_only=True):
    NOT_APPLIED: ClassVar[dict[str, str]] = {
        "cache_enabled": "patterns are compiled once (RE2); match results are not cached",
        "cache_max_num_entries": "patterns are compiled once (RE2); match results are not cached",
    }

    cache_enabled: bool = False
    cache_max_num_entries: int = 0


class LogSeverity(msgspec.Struct, frozen=True, kw_only=True):
    min: int
    match_undefined: bool = False


class Match(msgspec.Struct, frozen=True, kw_only=True):
    match_type: Literal["strict", "regexp"]
    regexp: Regexp | None = None
    services: list[str] = msgspec.field(default_factory=list)
    span_names: list[str] = msgspec.field(default_factory=list)
    span_kinds: list[str] = msgspec.field(default_factory=list)
    log_bodies: list[str] = msgspec.field(default_factory=list)
    log_severity_texts: list[str] = msgspec.field(default_factory=list)
    log_severity: LogSeverity | None = None
    metric_names: list[str] = msgspec.field(default_factory=list)
    attribute: list[MatchAttribute] = msgspec.field(default_factory=list)
    resource: list[MatchAttribute] = msgspec.field(default_factory=list)
    library: list[Library] = msgspec.field(default_factory=list)

    def spec(self) -> MatchSpec:
        return MatchSpec(
            match_type=self.match_type,
            services=tuple(self.services),
            span_names=tuple(self.span_names),
            span_kinds=tuple(self.span_kinds),
            log_bodies=tuple(self.log_bodies),
            log_severity_texts=tuple(self.log_severity_texts),
            log_severity_min=None if self.log_severity is None else self.log_severity.min,
            log_severity_match_undefined=False if self.log_severity is None else self.log_severity.match_undefined,
            metric_names=tuple(self.metric_names),
            attributes=tuple((a.key, a.value) for a in self.attribute),
            resources=tuple((a.key, a.value) for a in self.resource),
            libraries=tuple((lib.name, lib.version) for lib in self.library),
        )


class Arguments(msgspec.Struct, frozen=True, kw_only=True):
    output: Output
    action: list[Action] = msgspec.field(default_factory=list)
    include: Match | None = None
    exclude: Match | None = None
    debug_metrics: DebugMetrics | None = None

    def validate(self) -> None:
        try:
            compile_actions(self.action)
        except ValueError as exc:
            index = getattr(exc, "index", None)
            raise ArgumentError(str(exc), "action" if index is None else f"action[{index}]") from None
        for name, block in (("include", self.include), ("exclude", self.exclude)):
            if block is None:
                continue
            try:
                compile_filter(block.spec(), None)
                for signal in Signal:
                    if self.output.for_signal(signal):
                        check_for_signal(block.spec(), signal)
            except (ValueError, re.error) as exc:
                raise ArgumentError(str(exc), name) from None


@register_processor("otelcol.processor.attributes", arguments=Arguments)
class AttributesProcessor(Processor[Arguments]):
    mutates_data = True
    preserves_count = True

    def __init__(self, ctx: BuildContext, args: Arguments) -> None:
        super().__init__(ctx, args)
        self._actions = compile_actions(args.action)
        include = None if args.include is None else args.include.spec()
        exclude = None if args.exclude is None else args.exclude.spec()
        self._filter = {
            sig: compile_filter(include, exclude, sig if args.output.for_signal(sig) else None) for sig in Signal
        }

    def process(self, payload: Payload) -> Payload:
        if self._actions and apply_to_items(payload.signal, payload.message, self._actions,
                                            self._filter[payload.signal], context_from_metadata(payload.metadata)):
            payload.modified(keep_count=True)
        return payload
