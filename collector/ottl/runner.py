"""Run compiled statement groups over an OTLP Export request in place (sans-IO).

Iteration is resources -> scopes -> items; the frame is reused and only its fields change, and
hoisted resource/scope/parent values are refreshed when the walk enters a new one. Error modes:
`ignore` reports (through `on_error`, which the component rate-limits) and continues with the next
statement, `silent` continues quietly, `propagate` raises `PropagateError` so the caller drops the
whole payload. A group whose `constant_sets` is set may instead run on the serialized request
(`collector.ottl.splice`), with the same result and the same errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Sequence

from collector.ottl.compiler import Compiler, ConstantSet, Hoister, writes_levels
from collector.ottl.errors import OttlSyntaxError
from collector.ottl.paths import PARENT, RESOURCE, SCOPE, Frame

ErrorMode = Literal["ignore", "silent", "propagate"]
OnError = Callable[[str, Exception], None]


class PropagateError(Exception):
    """A statement failed under error_mode=propagate; the payload must be dropped."""

    def __init__(self, statement: str, cause: Exception) -> None:
        super().__init__(f"failed to execute statement {statement!r}: {cause}")
        self.statement = statement
        self.cause = cause


class GroupCompileError(Exception):
    """`index` is the 0-based position of the failing statement/condition in its list."""

    def __init__(self, kind: str, index: int, error: OttlSyntaxError) -> None:
        super().__init__(f"{kind} {index}: {error}")
        self.kind = kind
        self.index = index
        self.error = error


@dataclass
class CompiledGroup:
    context: str
    statements: list[tuple[str, Callable[[Any], None]]]
    conditions: list[tuple[str, Callable[[Any], bool]]]
    error_mode: ErrorMode
    hoister: Hoister = field(default_factory=Hoister)
    # Set when every statement is a `ConstantSet` and every condition reads nothing at item level:
    # then `collector.ottl.splice` can apply the group to serialized bytes.
    constant_sets: list[ConstantSet] | None = None


def compile_group(context: str, statements: Sequence[str], conditions: Sequence[str] = (),
                  error_mode: ErrorMode = "ignore") -> CompiledGroup:
    """Compile one `*_statements` block; raises GroupCompileError naming the bad entry."""
    for i, text in enumerate(statements):
        try:
            writes = writes_levels(context, [text])
        except OttlSyntaxError as exc:
            raise GroupCompileError("statement", i, exc) from exc
    writes = writes_levels(context, list(statements))
    hoister = Hoister(allowed={RESOURCE, SCOPE, PARENT} - writes)
    compiler = Compiler(context, hoister)
    compiled_statements = []
    constant_sets: list[ConstantSet] | None = []
    for i, text in enumerate(statements):
        try:
            fn, const_set = compiler.statement_info(text)
        except OttlSyntaxError as exc:
            raise GroupCompileError("statement", i, exc) from exc
        compiled_statements.append((text, fn))
        constant_sets = None if const_set is None or constant_sets is None else constant_sets + [const_set]
    compiled_conditions = []
    for i, text in enumerate(conditions):
        try:
            cond, upper = compiler.condition_info(text)
        except OttlSyntaxError as exc:
            raise GroupCompileError("condition", i, exc) from exc
        compiled_conditions.append((text, cond))
        if not upper:
            constant_sets = None
    return CompiledGroup(context, compiled_statements, compiled_conditions, error_mode, hoister,
                         constant_sets if compiled_statements else None)


def compile_conditions(context: str, conditions: Sequence[str]) -> CompiledGroup:
    """Conditions only (the filter processor): nothing is written, so every level can be hoisted."""
    compiler = Compiler(context, Hoister())
    compiled = []
    for i, text in enumerate(conditions):
        try:
            compiled.append((text, compiler.condition(text)))
        except OttlSyntaxError as exc:
            raise GroupCompileError("condition", i, exc) from exc
    return CompiledGroup(context, [], compiled, "ignore", compiler.hoister or Hoister())


# --- walking ---------------------------------------------------------------------------------
def walk(message: Any, context: str, spec: Any, hoister: Hoister,
         visit: Callable[[Frame], None]) -> None:
    """Call `visit(frame)` for every item of `context` in an Export request."""
    f = Frame()
    f.slots = [None] * hoister.count
    has = {lvl: bool(hoister.by_level[lvl]) for lvl in (RESOURCE, SCOPE, PARENT)}
    for rx in getattr(message, spec.resource_field):
        f.resource = rx.resource
        if has[RESOURCE]:
            hoister.fill(f, RESOURCE)
        if context == "resource":
            f.item = rx.resource
            visit(f)
            continue
        for sx in getattr(rx, spec.scope_field):
            f.scope = sx.scope
            if has[SCOPE]:
                hoister.fill(f, SCOPE)
            if context == "scope":
                f.item = sx.scope
                visit(f)
                continue
            items = getattr(sx, spec.item_field)
            if context == "datapoint":
                for metric in items:
                    kind = metric.WhichOneof("data")
                    if kind is None:
                        continue
                    f.parent = metric
                    if has[PARENT]:
                        hoister.fill(f, PARENT)
                    for dp in getattr(metric, kind).data_points:
                        f.item = dp
                        visit(f)
            elif context == "spanevent":
                for span in items:
                    f.parent = span
                    if has[PARENT]:
                        hoister.fill(f, PARENT)
                    for event in span.events:
                        f.item = event
                        visit(f)
            else:
                for item in items:
                    f.item = item
                    visit(f)


def visit_fn(group: CompiledGroup, on_error: OnError) -> Callable[[Frame], None]:
    """The per-item visitor of a group: guard conditions, statements, error modes."""
    statements = group.statements
    conditions = group.conditions
    mode = group.error_mode

    def failed(text: str, exc: Exception) -> None:
        if mode == "propagate":
            raise PropagateError(text, exc) from exc
        if mode == "ignore":
            on_error(text, exc)

    def guard(f: Frame) -> bool:
        for text, cond in conditions:
            try:
                if cond(f):
                    return True
            except PropagateError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure is the statement's error
                failed(text, exc)
        return False

    if len(statements) == 1 and not conditions:
        (text0, fn0), = statements

        def visit(f: Frame) -> None:
            try:
                fn0(f)
            except Exception as exc:  # noqa: BLE001
                failed(text0, exc)
    else:
        def visit(f: Frame) -> None:
            if conditions and not guard(f):
                return
            for text, fn in statements:
                try:
                    fn(f)
                except Exception as exc:  # noqa: BLE001
                    failed(text, exc)

    return visit


def run_group(message: Any, spec: Any, group: CompiledGroup, on_error: OnError) -> None:
    """Execute a compiled statement group over every item of its context."""
    walk(message, group.context, spec, group.hoister, visit_fn(group, on_error))
