"""`otelcol.processor.transform`: run OTTL statements over the items of each payload.

Statement groups are compiled once (in `validate()` for error positions, and when the component is
built); `process` runs the groups of the payload's signal in order and hands the payload to
the `output` consumers. A group whose statements are all constant `set`s of item attributes (e.g.
copying resource attributes onto data points) runs on the serialized request (`collector.ottl.splice`,
about ten times cheaper per item than the decoded path); any other group runs on the decoded message
in place. The payload is marked modified only if something changed. Under
`error_mode = "propagate"` a failing statement drops the whole payload (the processor helper counts,
settles and logs it).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from collector.components.kit.api import ArgumentError, BuildContext
from collector.components.kit.processorhelper import Processor, register_processor
from collector.components.kit.types import DebugMetrics, Output
from collector.ottl.runner import (
    CompiledGroup, GroupCompileError, PropagateError, compile_group, visit_fn, walk,
)
from collector.ottl.splice import CONTEXTS as SPLICE_CONTEXTS
from collector.ottl.splice import Splicer, SpliceError
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
    return getattr(args, _BLOCK[signal])


def compile_signal(args: Arguments, signal: Signal) -> list[CompiledGroup]:
    """Compile the groups of one signal. Errors name the statement (`metric_statements[0].statements[2]`, so the caret points at it)
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
            raise ArgumentError(str(exc), f"{block}.{attribute}[{exc.index}]") from exc
    return compiled


@register_processor("otelcol.processor.transform", arguments=Arguments)
class TransformProcessor(Processor[Arguments]):
    mutates_data = True
    preserves_count = True
    error_reason = "transform_error"
    payload_errors = (PropagateError,)

    def __init__(self, ctx: BuildContext, args: Arguments) -> None:
        super().__init__(ctx, args)
        self.groups = {signal: [(group, _splicer(group)) for group in compile_signal(args, signal)]
                       for signal in Signal}

    def process(self, payload: Payload) -> Payload:
        groups = self.groups[payload.signal]
        return self._transform(payload, groups) if groups else payload

    def _transform(self, payload: Payload, groups: list[tuple[CompiledGroup, Splicer | None]]) -> Payload:
        """Run the groups in order, each on bytes or on the decoded message as it allows; returns the
        payload to forward (a new one taking over the claims when the contents were replaced). Raises
        PropagateError before any claim has moved, so the caller can drop `payload` itself."""
        spec = payload.signal.spec
        data: bytes | None = None  # the current state is a spliced request ...
        message: Any = None  # ... or a decoded message (`payload.message` unless `own`)
        own = touched = False
        count: int | None = None
        for group, splicer in groups:
            visit = visit_fn(group, self.report)
            if splicer is not None:
                if data is not None:
                    source = data
                elif message is not None:
                    source = message.SerializeToString()
                else:
                    source = payload.data
                try:
                    spliced, count = splicer.run(source, visit)
                except SpliceError:
                    pass  # not a request the walker understands: the decoded path decides
                else:
                    if spliced is not None:
                        data, message, own = spliced, None, False
                    continue
            if data is not None:
                message, data, own = spec.request_class.FromString(data), None, True
            elif message is None:
                message = payload.message
            walk(message, group.context, spec, group.hoister, visit)
            touched = True
        if data is not None:
            return _replace(payload, data=data, message=None, count=count)
        if own:
            return _replace(payload, data=None, message=message, count=count)
        if touched:
            payload.modified(keep_count=True)
        elif count is not None and not payload.is_decoded:  # unchanged: keep the count we walked for
            return _replace(payload, data=payload.data, message=None, count=count)
        return payload


def _splicer(group: CompiledGroup) -> Splicer | None:
    if group.constant_sets is None or group.context not in SPLICE_CONTEXTS:
        return None
    return Splicer(group.context, group.constant_sets, group.conditions, group.hoister)


def _replace(payload: Payload, *, data: bytes | None, message: object, count: int | None) -> Payload:
    """A payload with new contents that takes over `payload`'s claims (as `Payload.merge` does)."""
    fresh = Payload(payload.signal, data=data, message=message, item_count=count,  # type: ignore[arg-type]
                    acks=payload.acks, metadata=payload.metadata)
    payload.acks = []
    return fresh
