"""Syntax tree of an Alloy file.

Every node records byte-offset spans so later stages (evaluation, schema decoding, the graph) can
point at the offending text. Comments are not part of the tree; they are kept in `File.comments`
for the formatter. `strip_spans`/`same_shape` compare trees structurally, ignoring positions.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Union

from collector.config.diag import Span

NO_SPAN = Span("", 0, 0)


@dataclass(frozen=True, slots=True)
class Comment:
    text: str  # including the `//` or `/* */` markers
    span: Span


@dataclass(frozen=True, slots=True)
class Literal:
    value: int | float | str | bool | None
    span: Span


@dataclass(frozen=True, slots=True)
class Identifier:
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class Access:
    value: Expr
    name: str
    name_span: Span
    span: Span


@dataclass(frozen=True, slots=True)
class Index:
    value: Expr
    index: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Call:
    func: Expr
    args: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "!" or "-"
    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # operator text, e.g. "+", "&&", "<="
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class ArrayExpr:
    elements: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class ObjectField:
    key: str
    key_span: Span
    value: Expr
    quoted: bool = False  # key written as a string literal


@dataclass(frozen=True, slots=True)
class ObjectExpr:
    fields: tuple[ObjectField, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Paren:
    inner: Expr
    span: Span


Expr = Union[Literal, Identifier, Access, Index, Call, Unary, Binary, ArrayExpr, ObjectExpr, Paren]


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    name_span: Span
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Block:
    name: tuple[str, ...]
    name_span: Span
    label: str | None
    label_span: Span | None
    body: tuple[Statement, ...]
    span: Span

    @property
    def full_name(self) -> str:
        return ".".join(self.name)

    @property
    def id(self) -> str:
        """Component ID (`name.label`) or the plain name for unlabelled blocks."""
        return f"{self.full_name}.{self.label}" if self.label else self.full_name


Statement = Union[Attribute, Block]


@dataclass(frozen=True, slots=True)
class File:
    body: tuple[Statement, ...]
    span: Span
    comments: tuple[Comment, ...] = field(default=(), compare=False)


Node = Union[File, Statement, Expr, ObjectField, Comment]

_SPAN_FIELDS = frozenset({"span", "name_span", "label_span", "key_span"})


def _strip(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_strip(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, (type, Span)):
        changes: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            current = getattr(value, f.name)
            if f.name in _SPAN_FIELDS:
                changes[f.name] = None if current is None else NO_SPAN
            elif f.name == "comments":
                changes[f.name] = ()
            elif f.name == "value" and isinstance(value, Literal):
                # Keep the Python type so that `1`, `1.0` and `true` stay distinct.
                changes[f.name] = (type(current).__name__, current)
            elif f.name == "quoted":
                changes[f.name] = False
            else:
                changes[f.name] = _strip(current)
        return dataclasses.replace(value, **changes)
    return value


def strip_spans(node: Any) -> Any:
    """A copy of `node` with every position erased (and comments dropped)."""
    return _strip(node)


def same_shape(a: Any, b: Any) -> bool:
    """True if two trees are equal ignoring positions, comments and key quoting."""
    return bool(strip_spans(a) == strip_spans(b))
