"""The OTTL syntax tree. Nodes are frozen and compare by content; `pos` (0-based offset into the
statement) is kept for error messages and excluded from equality, so a printed-and-reparsed tree
equals the original."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

Scalar = Union[str, int, float, bool, bytes, None]


@dataclass(frozen=True, slots=True)
class _Node:
    """What every node carries besides its content: where it starts.

    Keyword-only, so each node's own fields stay positional (`Literal(1, pos=4)`), and left out of
    equality and hashing, so trees built by hand in tests equal parsed ones.
    """

    pos: int = field(default=0, compare=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Literal(_Node):
    value: Scalar


@dataclass(frozen=True, slots=True)
class Enum(_Node):
    """An all-capitals name: an enum constant (`SPAN_KIND_SERVER`) or a converter passed by name."""

    name: str


@dataclass(frozen=True, slots=True)
class MapLit(_Node):
    items: tuple[tuple[str, Value], ...]


@dataclass(frozen=True, slots=True)
class ListLit(_Node):
    items: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class Path(_Node):
    """`resource.attributes["k"]["n"]`: dotted `fields` then `keys` (literals or expressions)."""

    fields: tuple[str, ...]
    keys: tuple[Value, ...] = ()


@dataclass(frozen=True, slots=True)
class Arg(_Node):
    value: Value
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Call(_Node):
    """An editor (`set(...)`, lower case) or a converter (`Concat(...)`, capitalised, may be indexed)."""

    name: str
    args: tuple[Arg, ...] = ()
    keys: tuple[Value, ...] = ()

    @property
    def is_converter(self) -> bool:
        return self.name[:1].isupper()


@dataclass(frozen=True, slots=True)
class _Operation(_Node):
    """Two operands joined by an operator; the subclass says whether it computes or compares."""

    op: str
    left: Value
    right: Value


class MathOp(_Operation):
    """`+ - * /`: a value."""

    __slots__ = ()


class Comparison(_Operation):
    """`== != < <= > >=`: a boolean."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Neg(_Node):
    operand: Value


@dataclass(frozen=True, slots=True)
class And(_Node):
    items: tuple[BoolExpr, ...]


@dataclass(frozen=True, slots=True)
class Or(_Node):
    items: tuple[BoolExpr, ...]


@dataclass(frozen=True, slots=True)
class Not(_Node):
    operand: BoolExpr


@dataclass(frozen=True, slots=True)
class Statement(_Node):
    editor: Call
    where: BoolExpr | None = None


Value = Union[Literal, Enum, MapLit, ListLit, Path, Call, MathOp, Neg]
BoolExpr = Union[Comparison, And, Or, Not, Literal, Call]
Node = Union[Value, BoolExpr, Statement, Arg]
