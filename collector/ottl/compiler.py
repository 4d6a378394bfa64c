"""Compile parsed OTTL into Python closures, once per configuration.

Theory of operation: every value node becomes `fn(frame) -> value` plus the *level* of the data it
reads (constant, resource, scope, parent - the metric of a datapoint or span of a span event - or
item). A statement group is compiled with one `Hoister`: any maximal sub-expression below item
level that is pure (no `Now()`) and whose level the group never writes is given a slot in
`frame.slots`; the runner fills a level's slots when it enters a new resource / scope / parent, so
`resource.attributes["x"]` is read once per resource however many data points follow. Errors in
hoisted expressions are stored and re-raised when an item reads the slot, so error modes behave
as if nothing were hoisted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from collector.ottl import ast
from collector.ottl.enums import ENUMS
from collector.ottl.errors import OttlRuntimeError, OttlSyntaxError
from collector.ottl.functions import _MISSING, CONVERTERS, EDITORS, Arg
from collector.ottl.parser import parse_condition, parse_statement
from collector.ottl.paths import CONST, ITEM, PARENT, RESOURCE, SCOPE, Accessor, resolve
from collector.ottl.printer import print_value
from collector.ottl.values import compare, type_name

Fn = Callable[[Any], Any]


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


@dataclass
class Hoister:
    """Slots for values computed once per resource/scope/parent."""

    allowed: set[int] = field(default_factory=lambda: {RESOURCE, SCOPE, PARENT})
    by_level: dict[int, list[tuple[int, Fn]]] = field(default_factory=lambda: {RESOURCE: [], SCOPE: [], PARENT: []})
    count: int = 0

    def slot(self, fn: Fn, level: int) -> Fn:
        index = self.count
        self.count += 1
        self.by_level[level].append((index, fn))

        def read(f: Any) -> Any:
            v = f.slots[index]
            if type(v) is _Failed:
                raise v.error
            return v

        return read

    def fill(self, f: Any, level: int) -> None:
        """Compute the slots of `level` for the frame's current messages."""
        if len(f.slots) < self.count:
            f.slots = [None] * self.count
        slots = f.slots
        for index, fn in self.by_level[level]:
            try:
                slots[index] = fn(f)
            except Exception as exc:  # noqa: BLE001 - re-raised for each item that reads it
                slots[index] = _Failed(exc)


@dataclass(slots=True)
class _C:
    fn: Fn
    level: int
    pure: bool = True
    accessor: Accessor | None = None
    const: Any = None
    is_const: bool = False
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ConstantSet:
    """What a statement `set(attributes["key"], value) [where cond]` reveals to the runner when `value`
    and `cond` read nothing below the item's parent: evaluated once per resource/scope/parent (the
    getters read hoisted slots), its effect is the same for every item there, so the runner may apply
    it without evaluating anything per item (see `collector.ottl.splice`)."""

    key: str
    value: Fn
    cond: Callable[[Any], bool] | None


class Compiler:
    def __init__(self, context: str, hoister: Hoister | None = None) -> None:
        self.context = context
        self.hoister = hoister
        self._seen: list[_C] | None = None  # every value compiled while a `where` is being compiled
        self._editor_args: dict[str, Arg | None] = {}

    # --- entry points ---------------------------------------------------------------------
    def statement(self, text: str) -> Callable[[Any], None]:
        return self.statement_info(text)[0]

    def statement_info(self, text: str) -> tuple[Callable[[Any], None], ConstantSet | None]:
        """The statement's closure and, when it has that shape, its `ConstantSet`."""
        stmt = parse_statement(text)
        editor = self._call(stmt.editor, EDITORS, "editor")
        run = editor.fn
        const_set = self._constant_set(stmt.editor, self._editor_args)
        if stmt.where is None:
            return run, const_set
        cond, upper = self._tracked_bool(stmt.where)

        def guarded(f: Any) -> None:
            if cond(f):
                run(f)

        if const_set is not None:
            const_set = ConstantSet(const_set.key, const_set.value, cond) if upper else None
        return guarded, const_set

    def condition(self, text: str) -> Callable[[Any], bool]:
        return self.condition_info(text)[0]

    def condition_info(self, text: str) -> tuple[Callable[[Any], bool], bool]:
        """The condition's closure, and whether it reads nothing at item level (constant per parent)."""
        return self._tracked_bool(parse_condition(text))

    def _tracked_bool(self, node: ast.BoolExpr) -> tuple[Callable[[Any], bool], bool]:
        outer, self._seen = self._seen, []
        try:
            fn = self._bool(node)
            upper = all(c.pure and c.level < ITEM for c in self._seen)
        finally:
            self._seen = outer
        return fn, upper

    def _constant_set(self, call: ast.Call, bound: dict[str, Arg | None]) -> ConstantSet | None:
        if call.name != "set":
            return None
        target, value = bound.get("target"), bound.get("value")
        if target is None or value is None or target.accessor is None or value.level is None:
            return None
        node = target.node
        if (not isinstance(node, ast.Path) or node.fields[-1] != "attributes" or len(node.keys) != 1
                or target.accessor.level != ITEM or not isinstance(node.keys[0], ast.Literal)
                or type(node.keys[0].value) is not str):
            return None
        if value.level >= ITEM or not value.pure:
            return None
        return ConstantSet(node.keys[0].value, value.get, None)

    # --- hoisting -------------------------------------------------------------------------
    def _finish(self, c: _C) -> Fn:
        """The closure to use for `c` inside an item-level expression (hoisted if possible)."""
        if c.is_const:
            value = c.const

            def constant(f: Any) -> Any:
                return value

            constant.ottl_const = value  # type: ignore[attr-defined]  # lets paths specialise literal keys
            return constant
        if self.hoister is not None and c.pure and c.level in self.hoister.allowed:
            return self.hoister.slot(c.fn, c.level)
        return c.fn

    def _arg(self, c: _C, node: ast.Value, *, hoist: bool) -> Arg:
        get = self._finish(c) if hoist else c.fn
        return Arg(node, get, c.accessor, c.const if c.is_const else _MISSING, c.name, c.level, c.pure)

    # --- values ---------------------------------------------------------------------------
    def _value(self, node: ast.Value) -> _C:
        c = self._compile_value(node)
        if self._seen is not None:
            self._seen.append(c)
        return c

    def _compile_value(self, node: ast.Value) -> _C:
        if isinstance(node, ast.Literal):
            v = node.value
            return _C(lambda f: v, CONST, const=v, is_const=True)
        if isinstance(node, ast.Enum):
            if node.name in ENUMS:
                n = ENUMS[node.name]
                return _C(lambda f: n, CONST, const=n, is_const=True)
            if node.name in CONVERTERS:  # a converter passed by name (replace_pattern's function)
                return _C(lambda f: None, CONST, name=node.name)
            raise OttlSyntaxError(f"unknown enum {node.name!r}", node.pos + 1)
        if isinstance(node, ast.ListLit):
            items = [self._value(x) for x in node.items]
            if all(c.is_const for c in items):
                consts = [c.const for c in items]
                return _C(lambda f: list(consts), CONST, const=consts, is_const=True)
            return self._combine(items, lambda *vs: list(vs))
        if isinstance(node, ast.MapLit):
            names = [k for k, _ in node.items]
            entries = [self._value(x) for _, x in node.items]
            if all(c.is_const for c in entries):
                map_consts = dict(zip(names, (c.const for c in entries)))
                return _C(lambda f: dict(map_consts), CONST, const=map_consts, is_const=True)
            return self._combine(entries, lambda *vs: dict(zip(names, vs)))
        if isinstance(node, ast.Path):
            path_keys = [self._value(k) for k in node.keys]
            key_fns = [self._finish(k) for k in path_keys]
            acc = resolve(self.context, node.fields, key_fns, print_value(node), node.pos)
            level = max([acc.level] + [k.level for k in path_keys])
            return _C(acc.get, level, all(k.pure for k in path_keys), accessor=acc)
        if isinstance(node, ast.Call):
            if not node.is_converter:
                raise OttlSyntaxError(f"editor {node.name!r} cannot be used as a value", node.pos + 1)
            return self._call(node, CONVERTERS, "converter")
        if isinstance(node, ast.MathOp):
            return self._combine([self._value(node.left), self._value(node.right)], _MATH[node.op])
        if isinstance(node, ast.Neg):
            return self._combine([self._value(node.operand)], _negate)
        raise OttlSyntaxError(f"unsupported expression {node!r}", getattr(node, "pos", 0) + 1)

    def _combine(self, parts: list[_C], op: Callable[..., Any]) -> _C:
        level = max([c.level for c in parts] + [CONST])
        pure = all(c.pure for c in parts)
        if level == ITEM or not pure:
            fns = [self._finish(c) for c in parts]
        else:
            fns = [c.fn for c in parts]
        if len(fns) == 1:
            (a,) = fns
            return _C(lambda f: op(a(f)), level, pure)
        if len(fns) == 2:
            a, b = fns
            return _C(lambda f: op(a(f), b(f)), level, pure)
        return _C(lambda f: op(*[g(f) for g in fns]), level, pure)

    def _call(self, node: ast.Call, table: dict[str, Any], kind: str) -> _C:
        func = table.get(node.name)
        if func is None:
            raise OttlSyntaxError(f"undefined {kind} {node.name!r}", node.pos + 1)
        compiled = [self._value(a.value) for a in node.args]
        level = max([c.level for c in compiled] + [CONST])
        pure = all(c.pure for c in compiled) and node.name != "Now"
        item_level = level == ITEM or not pure or kind == "editor"
        bound: dict[str, Arg | None] = {p: None for p in func.params}
        positional = True
        for i, (a, c) in enumerate(zip(node.args, compiled)):
            arg = self._arg(c, a.value, hoist=item_level)
            if a.name is None:
                if not positional:
                    raise OttlSyntaxError("positional argument after a named one", a.pos + 1)
                if i >= len(func.params):
                    raise OttlSyntaxError(f"too many arguments to {node.name}: expected at most {len(func.params)}", a.pos + 1)
                bound[func.params[i]] = arg
            else:
                positional = False
                if a.name not in bound:
                    raise OttlSyntaxError(f"{node.name} has no parameter {a.name!r}", a.pos + 1)
                if bound[a.name] is not None:
                    raise OttlSyntaxError(f"argument {a.name!r} given twice", a.pos + 1)
                bound[a.name] = arg
        missing = [p for p in func.params[: func.required] if bound[p] is None]
        if missing:
            raise OttlSyntaxError(f"{node.name}: missing argument {missing[0]!r}", node.pos + 1)
        if kind == "editor":
            self._editor_args = bound
        try:
            fn = func.factory(bound)
        except OttlSyntaxError as exc:
            if exc.column == 1:  # a factory without a better position: point at the call
                raise OttlSyntaxError(exc.message, node.pos + 1) from exc
            raise
        if node.keys:
            keys = [self._value(k) for k in node.keys]
            key_fns = [self._finish(k) if item_level else k.fn for k in keys]
            level = max([level] + [k.level for k in keys])
            base = fn

            def fn(f: Any) -> Any:
                return _index_value(base(f), [g(f) for g in key_fns])

        return _C(fn, level if kind == "converter" else ITEM, pure)

    # --- booleans -------------------------------------------------------------------------
    def _bool(self, node: ast.BoolExpr) -> Callable[[Any], bool]:
        if isinstance(node, ast.Literal):
            if not isinstance(node.value, bool):
                raise OttlSyntaxError("expected a boolean", node.pos + 1)
            b = node.value
            return lambda f: b
        if isinstance(node, ast.Call):
            c = self._value(node)
            g = self._finish(c)

            def call(f: Any) -> bool:
                v = g(f)
                if type(v) is not bool:
                    raise OttlRuntimeError(f"{node.name} returned {type_name(v)}, not a boolean")
                return v

            return call
        if isinstance(node, ast.Not):
            inner = self._bool(node.operand)
            return lambda f: not inner(f)
        if isinstance(node, ast.And):
            parts = [self._bool(x) for x in node.items]
            return lambda f: all(p(f) for p in parts)
        if isinstance(node, ast.Or):
            parts = [self._bool(x) for x in node.items]
            return lambda f: any(p(f) for p in parts)
        if isinstance(node, ast.Comparison):
            left = self._finish(self._value(node.left))
            right = self._finish(self._value(node.right))
            op = node.op
            if op == "==":
                from collector.ottl.values import equals

                return lambda f: equals(left(f), right(f))
            return lambda f: compare(op, left(f), right(f))
        raise OttlSyntaxError("expected a boolean expression", getattr(node, "pos", 0) + 1)


def _index_value(v: Any, keys: list[Any]) -> Any:
    for key in keys:
        if type(v) is dict:
            if type(key) is not str:
                raise OttlRuntimeError("map must be indexed by a string")
            v = v.get(key)
            if v is None:
                return None
        elif type(v) is list:
            if type(key) is not int:
                raise OttlRuntimeError("slice must be indexed by an int")
            if key < 0 or key >= len(v):
                raise OttlRuntimeError(f"index {key} out of bounds")
            v = v[key]
        else:
            raise OttlRuntimeError(f"type {type_name(v)} does not support indexing")
    return v


def _numbers(a: Any, b: Any, op: str) -> None:
    ta, tb = type(a), type(b)
    if ta is not tb or ta not in (int, float):
        raise OttlRuntimeError(f"cannot apply {op} to {type_name(a)} and {type_name(b)}")


def _add(a: Any, b: Any) -> Any:
    _numbers(a, b, "+")
    return a + b


def _sub(a: Any, b: Any) -> Any:
    _numbers(a, b, "-")
    return a - b


def _mul(a: Any, b: Any) -> Any:
    _numbers(a, b, "*")
    return a * b


def _div(a: Any, b: Any) -> Any:
    _numbers(a, b, "/")
    if b == 0:
        raise OttlRuntimeError("attempted to divide by 0")
    if type(a) is int:
        q = abs(a) // abs(b)  # Go truncates towards zero
        return q if (a >= 0) == (b >= 0) else -q
    return a / b


def _negate(a: Any) -> Any:
    if type(a) not in (int, float):
        raise OttlRuntimeError(f"cannot negate {type_name(a)}")
    return -a


_MATH: dict[str, Callable[[Any, Any], Any]] = {"+": _add, "-": _sub, "*": _mul, "/": _div}


def writes_levels(context: str, statements: list[str]) -> set[int]:
    """Levels the statements' editors write (their first argument's path level)."""
    levels: set[int] = set()
    for text in statements:
        stmt = parse_statement(text)
        if not stmt.editor.args:
            continue
        target = stmt.editor.args[0].value
        if isinstance(target, ast.Path):
            acc = resolve(context, target.fields, [lambda f: None] * len(target.keys), "", target.pos)
            levels.add(acc.level)
    return levels
