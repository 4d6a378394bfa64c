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
from typing import Any, Callable, Literal, Sequence, TypeVar

from collector.ottl.compiler import Compiler, ConstantSet, Hoister, writes_levels
from collector.ottl.errors import OttlSyntaxError
from collector.ottl.paths import PARENT, RESOURCE, SCOPE, Frame

ErrorMode = Literal["ignore", "silent", "propagate"]
OnError = Callable[[str, Exception], None]
_T = TypeVar("_T")


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
    # what the statements write decides what may be hoisted, so first name any that does not parse
    _compile_each("statement", statements, lambda text: writes_levels(context, [text]))
    writes = writes_levels(context, list(statements))
    hoister = Hoister(allowed={RESOURCE, SCOPE, PARENT} - writes)
    compiler = Compiler(context, hoister)
    statement_infos = _compile_each("statement", statements, compiler.statement_info)
    condition_infos = _compile_each("condition", conditions, compiler.condition_info)
    constant_sets = [const_set for _, (_, const_set) in statement_infos if const_set is not None]
    splicable = (bool(statement_infos) and len(constant_sets) == len(statement_infos)
                 and all(upper for _, (_, upper) in condition_infos))
    return CompiledGroup(context, [(text, fn) for text, (fn, _) in statement_infos],
                         [(text, cond) for text, (cond, _) in condition_infos], error_mode, hoister,
                         constant_sets if splicable else None)


def compile_conditions(context: str, conditions: Sequence[str]) -> CompiledGroup:
    """Conditions only (the filter processor): nothing is written, so every level can be hoisted."""
    compiler = Compiler(context, Hoister())
    compiled = _compile_each("condition", conditions, compiler.condition)
    return CompiledGroup(context, [], compiled, "ignore", compiler.hoister or Hoister())


def _compile_each(kind: str, texts: Sequence[str], compile_one: Callable[[str], _T]) -> list[tuple[str, _T]]:
    """`(text, compiled)` for every entry, in order; the first that fails is named by kind and index."""
    compiled = []
    for i, text in enumerate(texts):
        try:
            compiled.append((text, compile_one(text)))
        except OttlSyntaxError as exc:
            raise GroupCompileError(kind, i, exc) from exc
    return compiled


# --- walking ---------------------------------------------------------------------------------
def _data_points(metric: Any) -> Any:
    kind = metric.WhichOneof("data")
    return None if kind is None else getattr(metric, kind).data_points


# contexts whose items sit below a parent item (PARENT level): how to reach them from the parent
_CHILDREN: dict[str, Callable[[Any], Any]] = {"datapoint": _data_points, "spanevent": lambda span: span.events}
# contexts whose item is the resource or scope message itself
_ITEM_LEVEL = {"resource": RESOURCE, "scope": SCOPE}
_FRAME_FIELD = {RESOURCE: "resource", SCOPE: "scope", PARENT: "parent"}


def walk(message: Any, context: str, spec: Any, hoister: Hoister,
         visit: Callable[[Frame], None]) -> None:
    """Call `visit(frame)` for every item of `context` in an Export request."""
    f = Frame()
    f.slots = [None] * hoister.count
    refresh = {lvl for lvl in (RESOURCE, SCOPE, PARENT) if hoister.by_level[lvl]}
    item_level = _ITEM_LEVEL.get(context)
    children = _CHILDREN.get(context)

    def enter(level: int, msg: Any) -> bool:
        """Make `msg` the frame's message at `level` and refresh what was hoisted from it; True when
        it is itself the item (resource and scope contexts), which is then visited."""
        setattr(f, _FRAME_FIELD[level], msg)
        if level in refresh:
            hoister.fill(f, level)
        if level != item_level:
            return False
        f.item = msg
        visit(f)
        return True

    for rx in getattr(message, spec.resource_field):
        if enter(RESOURCE, rx.resource):
            continue
        for sx in getattr(rx, spec.scope_field):
            if enter(SCOPE, sx.scope):
                continue
            items = getattr(sx, spec.item_field)
            if children is None:
                for item in items:
                    f.item = item
                    visit(f)
                continue
            for parent in items:
                kids = children(parent)
                if kids is None:
                    continue
                enter(PARENT, parent)
                for kid in kids:
                    f.item = kid
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
