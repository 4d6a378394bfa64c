"""Run-time values of the configuration language.

Alloy values map onto Python: number -> int | float, string -> str, bool -> bool, null -> None,
array -> list, object -> dict[str, Any], function -> `Function`, secret -> `Secret`; any other object
is a capsule (an opaque value such as a `ConsumerRef`), displayed with `str()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence


class Secret(str):
    """A string that must not be displayed: the UI and logs show `(secret)` instead."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "(secret)"


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    call: Callable[..., Any]


TypeTable = Sequence[tuple[type | tuple[type, ...], str]]


def name_by_type(value: Any, table: TypeTable, default: str) -> str:
    """The name in the first row of `table` whose types `value` is an instance of.

    A table rather than an `isinstance` chain per language (Alloy's names here, Go's in `gofmt`);
    rows are ordered because `bool` is an `int` and `Secret` a `str`."""
    for types, name in table:
        if isinstance(value, types):
            return name
    return default


_ALLOY_TYPES: TypeTable = (
    (type(None), "null"),
    (bool, "bool"),
    ((int, float), "number"),
    (Secret, "secret"),
    (str, "string"),
    ((list, tuple), "array"),
    (dict, "object"),
    (Function, "function"),
)


def type_name(value: Any) -> str:
    """The Alloy type name of a value, as used in error messages (`expected string, got bool`)."""
    return name_by_type(value, _ALLOY_TYPES, "capsule")


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def values_equal(a: Any, b: Any) -> bool:
    """Deep equality that never confuses `true` with `1` (Python's bool is an int)."""
    ta, tb = type_name(a), type_name(b)
    if ta in ("string", "secret") and tb in ("string", "secret"):
        return ta == tb and str.__eq__(a, b)
    if ta != tb:
        return False
    if ta == "array":
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    if ta == "object":
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    return bool(a == b)
