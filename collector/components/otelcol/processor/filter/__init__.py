"""`otelcol.processor.filter`: drop the items for which any OTTL condition is true.

Conditions compile once; `process` filters the decoded message in place (metric before datapoint,
span before spanevent, then empty metrics/scopes/resources are removed), counts what it removed as
dropped ("filtered"), and forwards the rest. A payload left empty is settled and not forwarded. Under
`error_mode = "propagate"` a failing condition drops the whole payload (the processor helper counts,
logs and settles it).
"""

from __future__ import annotations

from typing import Literal

import msgspec

from collector.components.kit.api import ArgumentError, BuildContext
from collector.components.kit.processorhelper import Processor, register_processor
from collector.components.kit.types import DebugMetrics, Output
from collector.components.otelcol.processor.filter.matching import Matcher, filter_request
from collector.ottl.runner import CompiledGroup, GroupCompileError, PropagateError, compile_conditions
from collector.signals import Payload, Signal

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

    def validate(self) -> None:
        compile_all(self)


# signal -> (block, (attribute, OTTL context) for items, (attribute, context) for sub-items)
_LAYOUT = {
    Signal.TRACES: ("traces", ("span", "span"), ("spanevent", "spanevent")),
    Signal.METRICS: ("metrics", ("metric", "metric"), ("datapoint", "datapoint")),
    Signal.LOGS: ("logs", ("log_record", "log"), None),
}


def _compile(block: str, attribute: str, context: str, conditions: list[str]) -> CompiledGroup | None:
    if not conditions:
        return None
    try:
        return compile_conditions(context, conditions)
    except GroupCompileError as exc:
        raise ArgumentError(str(exc), f"{block}.{attribute}[{exc.index}]") from exc


def compile_all(args: Arguments) -> dict[Signal, tuple[CompiledGroup | None, CompiledGroup | None]]:
    out: dict[Signal, tuple[CompiledGroup | None, CompiledGroup | None]] = {}
    for signal, (block, (item_attr, item_ctx), sub) in _LAYOUT.items():
        conf = getattr(args, block)
        if conf is None:
            out[signal] = (None, None)
            continue
        item = _compile(block, item_attr, item_ctx, getattr(conf, item_attr))
        sub_group = _compile(block, sub[0], sub[1], getattr(conf, sub[0])) if sub else None
        out[signal] = (item, sub_group)
    return out


@register_processor("otelcol.processor.filter", arguments=Arguments)
class FilterProcessor(Processor[Arguments]):
    mutates_data = True
    drop_reason = "filtered"
    error_reason = "filter_error"
    payload_errors = (PropagateError,)

    def __init__(self, ctx: BuildContext, args: Arguments) -> None:
        super().__init__(ctx, args)
        mode = args.error_mode
        self.matchers = {
            signal: (Matcher(item, mode, self.report) if item is not None else None,
                     Matcher(sub, mode, self.report) if sub is not None else None)
            for signal, (item, sub) in compile_all(args).items()
        }

    def process(self, payload: Payload) -> Payload | None:
        signal = payload.signal
        item, sub = self.matchers[signal]
        if item is None and sub is None:
            return payload
        before = payload.item_count
        removed = filter_request(payload.message, signal.spec, item, sub, _LAYOUT[signal][1][1])
        payload.modified(before - removed)  # empty scopes/resources may go even when no item did
        if removed:
            self.dropped(signal, removed, self.drop_reason)
        return payload if payload.item_count else None
