"""`otelcol.processor.filter`: drop the items for which any OTTL condition is true.

Conditions compile once; `consume` filters the decoded message in place (metric before datapoint,
span before spanevent, then empty metrics/scopes/resources are removed), counts what it removed,
and forwards the rest. A payload left empty is settled and not forwarded.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from collector.components.kit.api import ArgumentError, BuildContext, Component, Placement
from collector.components.kit.registry import register
from collector.components.kit.types import DebugMetrics, Output
from collector.components.otelcol.processor.filter.matching import Matcher, filter_request
from collector.components.kit.errormode import ErrorReporter, drop_payload
from collector.ottl.runner import CompiledGroup, GroupCompileError, PropagateError, compile_conditions
from collector.selfmetrics.otelcol import PROCESSOR_DROPPED, PROCESSOR_INCOMING, PROCESSOR_OUTGOING
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
        raise ArgumentError(str(exc), f"{block}.{attribute}") from exc


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


@register(
    "otelcol.processor.filter",
    arguments=Arguments,
    accepts=(Signal.TRACES, Signal.METRICS, Signal.LOGS),
    emits=(Signal.TRACES, Signal.METRICS, Signal.LOGS),
    placement=Placement.WORKER,
)
class FilterProcessor(Component):
    mutates_data = True

    def __init__(self, ctx: BuildContext, args: Arguments) -> None:  # type: ignore[override]
        super().__init__(ctx, args)
        self.report = ErrorReporter(ctx.logger)
        self.compiled = compile_all(args)
        cid = ctx.component_id
        self._incoming = {s: PROCESSOR_INCOMING.labels(cid, "/", s.value) for s in Signal}
        self._outgoing = {s: PROCESSOR_OUTGOING.labels(cid, "/", s.value) for s in Signal}

    async def update(self, args: msgspec.Struct) -> None:
        assert isinstance(args, Arguments)
        self.compiled = compile_all(args)
        self.args = args

    async def consume(self, payload: Payload) -> None:
        signal = payload.signal
        args: Arguments = self.args  # type: ignore[assignment]
        item, sub = self.compiled[signal]
        before = payload.item_count
        self._incoming[signal].inc(before)
        if item is not None or sub is not None:
            mode = args.error_mode
            item_m = Matcher(item, mode, self.report) if item is not None else None
            sub_m = Matcher(sub, mode, self.report) if sub is not None else None
            try:
                removed = filter_request(payload.message, signal.spec, item_m, sub_m, _LAYOUT[signal][1][1])
            except PropagateError as exc:
                self.ctx.logger.error("dropping %s payload: %s", signal.value, exc)
                drop_payload(payload, self.ctx.component_id, "filter_error")
                return
            payload.modified(before - removed)  # empty scopes/resources may go even when no item did
            if removed:
                PROCESSOR_DROPPED.labels(self.ctx.component_id, "/", signal.value, "filtered").inc(removed)
            if payload.item_count == 0:
                payload.settle()
                return
        self._outgoing[signal].inc(payload.item_count)
        await self.ctx.next_consumer(args.output.for_signal(signal), signal).consume(payload)
