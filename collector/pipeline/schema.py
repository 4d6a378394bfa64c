"""How a component's `Arguments` struct reads as an Alloy block schema.

`collector/components/kit/types.py` fixes the conventions: a field typed `Struct`, `Struct | None` or
`list[Struct]` is a block (single, optional single, repeatable); every other field is an attribute;
a field without a default is required; the Alloy name is the field's encoded name.
"""

from __future__ import annotations

import enum
import functools
import types
import typing
from dataclasses import dataclass
from typing import Any

import msgspec


class FieldKind(enum.Enum):
    ATTRIBUTE = "attribute"
    BLOCK = "block"  # at most once
    BLOCKS = "blocks"  # repeatable, textual order kept


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str  # the Alloy name
    attr: str  # the Python attribute of the struct
    kind: FieldKind
    required: bool
    type: Any  # the annotation (Annotated kept, so unit metadata survives)
    block_type: type[msgspec.Struct] | None  # the struct of a block field


@dataclass(frozen=True, slots=True)
class Schema:
    struct: type[msgspec.Struct]
    fields: dict[str, FieldSpec]  # by Alloy name, in declaration order

    def attributes(self) -> list[FieldSpec]:
        return [f for f in self.fields.values() if f.kind is FieldKind.ATTRIBUTE]

    def blocks(self) -> list[FieldSpec]:
        return [f for f in self.fields.values() if f.kind is not FieldKind.ATTRIBUTE]


def is_struct_type(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, msgspec.Struct)


def strip_annotated(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def optional_arm(tp: Any) -> Any | None:
    """`X | None` -> X (for one non-None arm); anything else -> None."""
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        arms = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(arms) == 1 and len(typing.get_args(tp)) == 2:
            return arms[0]
    return None


def _classify(tp: Any) -> tuple[FieldKind, type[msgspec.Struct] | None]:
    bare = strip_annotated(tp)
    if is_struct_type(bare):
        return FieldKind.BLOCK, bare
    arm = optional_arm(bare)
    if arm is not None and is_struct_type(strip_annotated(arm)):
        return FieldKind.BLOCK, strip_annotated(arm)
    if typing.get_origin(bare) is list:
        (item,) = typing.get_args(bare) or (Any,)
        if is_struct_type(strip_annotated(item)):
            return FieldKind.BLOCKS, strip_annotated(item)
    return FieldKind.ATTRIBUTE, None


@functools.cache
def schema_of(struct: type[msgspec.Struct]) -> Schema:
    fields: dict[str, FieldSpec] = {}
    for info in msgspec.structs.fields(struct):
        kind, block_type = _classify(info.type)
        fields[info.encode_name] = FieldSpec(
            name=info.encode_name,
            attr=info.name,
            kind=kind,
            required=info.required,
            type=info.type,
            block_type=block_type,
        )
    return Schema(struct, fields)


def struct_defaults(struct: type[msgspec.Struct]) -> dict[str, Any]:
    """Each field's default value (factories called), for telling what a configuration changed."""
    found: dict[str, Any] = {}
    for info in msgspec.structs.fields(struct):
        if info.default is not msgspec.NODEFAULT:
            found[info.name] = info.default
        elif info.default_factory is not msgspec.NODEFAULT:
            found[info.name] = info.default_factory()
    return found
