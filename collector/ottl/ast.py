"""The OTTL syntax tree. Nodes are frozen and compare by content; `pos` (0-based offset into the
statement) is kept for error messages and excluded from equality, so a printed-and-reparsed tree
equals the original."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

Scalar = Union[str, int, float, bool, bytes, None]


@dataclass(frozen=True, slots=True)
class Literal:
    value: Scalar
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Enum:
    """An all-capitals name: an enum constant (`SPAN_KIND_SERVER`) or a converter passed by name."""

    name: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class MapLit:
    items: tuple[tuple[str, Value], ...]
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class ListLit:
    items: tuple[Value, ...]
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Path:
    """`resource.attributes["k"]["n"]`: dotted `fields` then `keys` (literals or expressions)."""

    fields: tuple[str, ...]
    keys: tuple[Value, ...] = ()
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Arg:
    value: Value
    name: str | None = None
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Call:
    """An editor (`set(...)`, lower case) or a converter (`Concat(...)`, capitalised, may be indexed)."""

    name: str
    args: tuple[Arg, ...] = ()
    keys: tuple[Value, ...] = ()
    pos: int = field(default=0, compare=False)

    @property
    def is_converter(self) -> bool:
        return self.name[:1].isupper()


@dataclass(frozen=True, slots=True)
class MathOp:
    op: str  # + - * /
    left: Value
    right: Value
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Value
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Comparison:
    op: str  # == != < <= > >=
    left: Value
    right: Value
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[BoolExpr, ...]
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[BoolExpr, ...]
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Not:
    operand: BoolExpr
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Statement:
    editor: Call
    where: BoolExpr | None = None
    pos: int = field(default=0, compare=False)


Value = Union[Literal, Enum, MapLit, ListLit, Path, Call, MathOp, Neg]
BoolExpr = Union[Comparison, And, Or, Not, Literal, Call]
Node = Union[Value, BoolExpr, Statement, Arg]
