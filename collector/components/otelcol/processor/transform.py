"""`otelcol.processor.transform`: run OTTL statements over the items of each payload.

Statement groups are compiled once (at validation and construction); `consume` runs the groups of
the payload's signal, in order, on the decoded message in place, then hands the payload on.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from collector.components.api import ArgumentError, Component, Placement
from collector.components.registry import register
from collector.components.types import DebugMetrics, Output
from collector.signals import Signal

ErrorMode = Literal["ignore", "silent", "propagate"]

TRACE_CONTEXTS = ("resource", "scope", "span", "spanevent")
METRIC_CONTEXTS = ("resource", "scope", "metric", "datapoint")
LOG_CONTEXTS = ("resource", "scope", "log")


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
            for index, group in enumerate(groups_of(self, signal)):
                block = f"{_BLOCK[signal]}[{index}]"
                if group.context not in contexts_of(signal):
                    raise ArgumentError(
                        f"unknown context {group.context!r} for {signal.value}; expected one of "
                        + ", ".join(contexts_of(signal)),
                        f"{block}.context",
                    )


_BLOCK = {Signal.TRACES: "trace_statements", Signal.METRICS: "metric_statements", Signal.LOGS: "log_statements"}


def groups_of(args: Arguments, signal: Signal) -> list[StatementGroup]:
    return {
        Signal.TRACES: args.trace_statements,
        Signal.METRICS: args.metric_statements,
        Signal.LOGS: args.log_statements,
    }[signal]


def contexts_of(signal: Signal) -> tuple[str, ...]:
    return {Signal.TRACES: TRACE_CONTEXTS, Signal.METRICS: METRIC_CONTEXTS, Signal.LOGS: LOG_CONTEXTS}[signal]


@register(
    "otelcol.processor.transform",
    arguments=Arguments,
    accepts=(Signal.TRACES, Signal.METRICS, Signal.LOGS),
    emits=(Signal.TRACES, Signal.METRICS, Signal.LOGS),
    placement=Placement.WORKER,
)
class TransformProcessor(Component):
    mutates_data = True
