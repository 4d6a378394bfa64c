"""`otelcol.processor.transform`: run OTTL statements over the items of each payload.

Statement groups are compiled once (in `validate()` for error positions, and when the component is
built or updated); `consume` runs the groups of the payload's signal in order on the decoded
message in place, marks the payload modified, and hands it to the `output` consumers. Under
`error_mode = "propagate"` a failing statement drops the whole payload (counted, settled, logged).
"""

from __future__ import annotations

from typing import Literal

import msgspec

from collector.components.api import ArgumentError, BuildContext, Component, Placement
from collector.components.registry import register
from collector.components.types import DebugMetrics, Output
from collector.ottl.runner import CompiledGroup, GroupCompileError, PropagateError, compile_group, run_group
from collector.ottl.reporting import ErrorReporter, drop_payload
from collector.signals import Payload, Signal

ErrorMode = Literal["ignore", "silent", "propagate"]

_CONTEXTS = {
    Signal.TRACES: ("resource", "scope", "span", "spanevent"),
    Signal.METRICS: ("resource", "scope", "metric", "datapoint"),
    Signal.LOGS: ("resource", "scope", "log"),
}
_BLOCK = {Signal.TRACES: "trace_statements", Signal.METRICS: "metric_statements", Signal.LOGS: "log_statements"}


class StatementGroup(msgspec.Struct, frozen=True, kw_only=True):
    """One `*_statements` block: statements run for every item of `context`, guarded by `conditions`."""

    context: str
    statements: list[str]
    conditions: list[str] = msgspec.field(default_factory=list)
    error_mode: ErrorMode | None = None


class Arguments(msgspec.Struct, frozen=True, kw_only=True):
    output: Output
    error_mode: ErrorMode = "ignore"
    trace_statements: list[StatementGroup] = msgspec.field(default_factory=list)
    metric_statements: list[StatementGroup] = msgspec.field(default_factory=list)
    log_statements: list[StatementGroup] = msgspec.field(default_factory=list)
    debug_metrics: DebugMetrics | None = None

    def validate(self) -> None:
        for signal in Signal:
            compile_signal(self, signal)


def groups_of(args: Arguments, signal: Signal) -> list[StatementGroup]:
    return getattr(args, _BLOCK[signal])  # type: ignore[no-any-return]


def compile_signal(args: Arguments, signal: Signal) -> list[CompiledGroup]:
    """Compile the groups of one signal. Errors name the attribute (`metric_statements[0].statements`)
    and carry `statement <index>: 1:<column>: <message>`, index 0-based and column 1-based inside
    the statement text."""
    compiled = []
    for index, group in enumerate(groups_of(args, signal)):
        block = f"{_BLOCK[signal]}[{index}]"
        if group.context not in _CONTEXTS[signal]:
            raise ArgumentError(
                f"unknown context {group.context!r} for {_BLOCK[signal]}; expected one of "
                + ", ".join(_CONTEXTS[signal]),
                f"{block}.context",
            )
        try:
            compiled.append(compile_group(group.context, group.statements, group.conditions,
                                          group.error_mode or args.error_mode))
        except GroupCompileError as exc:
            attribute = "statements" if exc.kind == "statement" else "conditions"
            raise ArgumentError(str(exc), f"{block}.{attribute}") from exc
    return compiled


@register(
    "otelcol.processor.transform",
    arguments=Arguments,
    accepts=(Signal.TRACES, Signal.METRICS, Signal.LOGS),
    emits=(Signal.TRACES, Signal.METRICS, Signal.LOGS),
    placement=Placement.WORKER,
)
class TransformProcessor(Component):
    mutates_data = True

    def __init__(self, ctx: BuildContext, args: Arguments) -> None:  # type: ignore[override]
        super().__init__(ctx, args)
        self.report = ErrorReporter(ctx.logger)
        self._compile(args)

    def _compile(self, args: Arguments) -> None:
        self.groups = {signal: compile_signal(args, signal) for signal in Signal}

    async def update(self, args: msgspec.Struct) -> None:
        assert isinstance(args, Arguments)
        self._compile(args)
        self.args = args

    async def consume(self, payload: Payload) -> None:
        signal = payload.signal
        groups = self.groups[signal]
        if groups:
            message = payload.message
            spec = signal.spec
            try:
                for group in groups:
                    run_group(message, spec, group, self.report)
            except PropagateError as exc:
                self.ctx.logger.error("dropping %s payload: %s", signal.value, exc)
                drop_payload(payload, self.ctx.component_id, "transform_error")
                return
            payload.modified()
        args: Arguments = self.args  # type: ignore[assignment]
        await self.ctx.next_consumer(args.output.for_signal(signal), signal).consume(payload)
