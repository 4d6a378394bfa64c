"""Component block body -> `Arguments` struct (reference A.4, A.5, A.8).

Decoding is defaults -> convert -> validate: fields the body leaves out keep the struct's defaults,
every attribute is evaluated and converted to its field type, nested blocks are decoded the same
way recursively, then the struct is built and the top-level `validate()` (if any) checks
cross-field rules; it validates nested blocks itself and names the attribute it objects to with a
dotted path ("endpoint.url"), which `attribute_span` turns back into a position.
Every mistake becomes a `Diagnostic` at the name or value it concerns, and decoding keeps going so
one run reports all independent mistakes of a body; a body with any error yields no struct.
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from typing import Any, Protocol

import msgspec

from collector.components.kit.api import ArgumentError, ConsumerRef
from collector.config import ast
from collector.config.diag import Diagnostic, Span
from collector.pipeline.convert import ConversionError, Path, convert_value
from collector.pipeline.schema import FieldKind, FieldSpec, schema_of, strip_annotated
from collector.signals import Signal

_SIGNAL_NAMES = {s.value: s for s in Signal}


class Evaluates(Protocol):
    """`collector.config.evaluator.Evaluator`, as far as decoding needs it."""

    def evaluate(self, expr: ast.Expr) -> Any: ...


def decode_block(
    body: Sequence[ast.Statement],
    struct: type[msgspec.Struct],
    evaluator: Evaluates,
    where: Span,
) -> tuple[msgspec.Struct | None, list[Diagnostic]]:
    """Decode `body` into `struct`. `where` is the span reported for what the body lacks (the
    block's name)."""
    diags: list[Diagnostic] = []
    value = _Decoder(evaluator, diags).body(body, struct, where, top=True)
    return value, diags


class _Decoder:
    def __init__(self, evaluator: Evaluates, diags: list[Diagnostic]) -> None:
        self.evaluator = evaluator
        self.diags = diags

    def error(self, span: Span, message: str) -> None:
        self.diags.append(Diagnostic.error(span, message))

    def body(
        self,
        body: Sequence[ast.Statement],
        struct: type[msgspec.Struct],
        where: Span,
        top: bool = False,
    ) -> msgspec.Struct | None:
        before = len(self.diags)
        schema = schema_of(struct)
        attrs: dict[str, ast.Attribute] = {}
        blocks: dict[str, list[ast.Block]] = {}
        for stmt in body:
            if isinstance(stmt, ast.Attribute):
                self._sort_attribute(stmt, schema.fields.get(stmt.name), attrs)
            else:
                self._sort_block(stmt, schema.fields.get(stmt.full_name), blocks)
        for spec in schema.fields.values():
            if spec.required and spec.name not in attrs and spec.name not in blocks:
                kind = "attribute" if spec.kind is FieldKind.ATTRIBUTE else "block"
                self.error(where, f'missing required {kind} "{spec.name}"')

        kwargs: dict[str, Any] = {}
        for name, attr in attrs.items():
            spec = schema.fields[name]
            converted = self._attribute(attr, spec)
            if converted is not _FAILED:
                kwargs[spec.attr] = converted
        for name, found in blocks.items():
            spec = schema.fields[name]
            assert spec.block_type is not None
            decoded = [self.body(b.body, spec.block_type, b.name_span) for b in found]
            if spec.kind is FieldKind.BLOCKS:
                kwargs[spec.attr] = decoded
            else:
                kwargs[spec.attr] = decoded[0]
        if len(self.diags) > before:
            return None
        return self._build(struct, kwargs, body, where, top)

    def _sort_attribute(
        self, stmt: ast.Attribute, spec: FieldSpec | None, attrs: dict[str, ast.Attribute]
    ) -> None:
        if spec is None:
            self.error(stmt.name_span, f'unrecognized attribute name "{stmt.name}"')
        elif spec.kind is not FieldKind.ATTRIBUTE:
            self.error(stmt.name_span, f'"{stmt.name}" must be a block, but is used as an attribute')
        elif stmt.name in attrs:
            self.error(stmt.name_span, f'attribute "{stmt.name}" may only be provided once')
        else:
            attrs[stmt.name] = stmt

    def _sort_block(
        self, stmt: ast.Block, spec: FieldSpec | None, blocks: dict[str, list[ast.Block]]
    ) -> None:
        name = stmt.full_name
        if spec is None:
            self.error(stmt.name_span, f'unrecognized block name "{name}"')
        elif spec.kind is FieldKind.ATTRIBUTE:
            self.error(stmt.name_span, f'"{name}" must be an attribute, but is used as a block')
        elif stmt.label is not None:
            self.error(stmt.name_span, f'block "{name}" does not support specifying labels')
        elif spec.kind is FieldKind.BLOCK and name in blocks:
            self.error(stmt.name_span, f'block "{name}" may only be specified once')
        else:
            blocks.setdefault(name, []).append(stmt)

    def _attribute(self, attr: ast.Attribute, spec: FieldSpec) -> Any:
        from collector.config.evaluator import EvalError

        try:
            value = self.evaluator.evaluate(attr.value)
        except EvalError as exc:
            self.error(exc.span, exc.message)
            return _FAILED
        try:
            converted = convert_value(value, spec.type)
        except ConversionError as exc:
            self.error(element_span(attr.value, exc.path), exc.message)
            return _FAILED
        signal = _SIGNAL_NAMES.get(spec.name)
        if signal is not None and _is_consumer_list(spec.type):
            ok = True
            for i, ref in enumerate(converted):
                if signal not in ref.signals:
                    self.error(
                        element_span(attr.value, (i,)),
                        f'component "{ref.component_id}" does not accept {signal.value}',
                    )
                    ok = False
            if not ok:
                return _FAILED
        return converted

    def _build(
        self,
        struct: type[msgspec.Struct],
        kwargs: dict[str, Any],
        body: Sequence[ast.Statement],
        where: Span,
        top: bool,
    ) -> msgspec.Struct | None:
        try:
            value = struct(**kwargs)
            check = getattr(value, "validate", None)
            if top and callable(check):
                check()
        except ArgumentError as exc:
            self.error(attribute_span(body, exc.attribute, where, value_of=kwargs, message=str(exc)), str(exc))
            return None
        except (ValueError, TypeError) as exc:
            self.error(where, str(exc))
            return None
        if top:
            return self._declared_inert(value, body, where)
        return value

    def _declared_inert(self, value: msgspec.Struct, body: Sequence[ast.Statement], where: Span) -> msgspec.Struct:
        """A warning for each setting the component declares it does not apply
        (`collector/components/kit/inert.py`)."""
        from collector.components.kit import inert

        for path, reason in inert.deviations(value):
            self.diags.append(Diagnostic.warning(attribute_span(body, path, where), inert.message(path, reason)))
        return value


class _Failed:
    pass


_FAILED: Any = _Failed()


def _is_consumer_list(tp: Any) -> bool:
    tp = strip_annotated(tp)
    return typing.get_origin(tp) is list and typing.get_args(tp) == (ConsumerRef,)


def element_span(expr: ast.Expr, path: Path) -> Span:
    """The span of the part of a literal that `path` (array indexes, object keys) leads to; as deep
    as the expression is written literally, else the whole expression."""
    for step in path:
        while isinstance(expr, ast.Paren):
            expr = expr.inner
        if isinstance(expr, ast.ArrayExpr) and isinstance(step, int) and step < len(expr.elements):
            expr = expr.elements[step]
        elif isinstance(expr, ast.ObjectExpr) and isinstance(step, str):
            match = next((f for f in expr.fields if f.key == step), None)
            if match is None:
                break
            expr = match.value
        else:
            break
    return expr.span


def attribute_span(
    body: Sequence[ast.Statement],
    attribute: str | None,
    where: Span,
    *,
    value_of: dict[str, Any] | None = None,
    message: str = "",
) -> Span:
    """Where an `ArgumentError` about `attribute` ("name", "block.name", "block[2].name") points:
    the value of that attribute, or the block, or, when the body does not write it, `where`.

    Without an index, an error inside a repeated block is placed in the first instance whose own
    `validate` fails with the same message (`value_of` holds the decoded fields), else the first.
    """
    if not attribute:
        return where
    for stmt in body:
        if isinstance(stmt, ast.Attribute) and stmt.name == attribute:
            return stmt.value.span
    name, element = _split_index(attribute)
    for stmt in body:
        # "statements[2]": the third element of a list attribute (one OTTL statement of a list)
        if element is not None and isinstance(stmt, ast.Attribute) and stmt.name == name:
            items = stmt.value.elements if isinstance(stmt.value, ast.ArrayExpr) else ()
            return items[element].span if element < len(items) else stmt.value.span
    head, _, rest = attribute.partition(".")
    head, index = _split_index(head)
    matches = [s for s in body if isinstance(s, ast.Block) and s.full_name == head]
    if not matches:
        # dotted block names ("a.b { }") are matched whole
        for stmt in body:
            if isinstance(stmt, ast.Block) and attribute.startswith(stmt.full_name + "."):
                tail = attribute[len(stmt.full_name) + 1 :]
                return attribute_span(stmt.body, tail, stmt.name_span)
        return where
    chosen = 0
    if index is not None:
        chosen = index if index < len(matches) else 0
    elif len(matches) > 1 and value_of is not None:
        chosen = _probe(value_of.get(head), head, message)
    block = matches[chosen]
    if not rest:
        return block.name_span
    return attribute_span(block.body, rest, block.name_span)


def _split_index(name: str) -> tuple[str, int | None]:
    if name.endswith("]") and "[" in name:
        base, _, number = name[:-1].partition("[")
        if number.isdigit():
            return base, int(number)
    return name, None


def _probe(instances: Any, name: str, message: str) -> int:
    if not isinstance(instances, list):
        return 0
    for i, instance in enumerate(instances):
        check = getattr(instance, "validate", None)
        if not callable(check):
            continue
        for call_args in ((), (name,)):
            try:
                check(*call_args)
            except TypeError:
                continue
            except Exception as exc:  # noqa: BLE001 - any failure with the same text identifies it
                if str(exc) == message:
                    return i
            break
    return 0
