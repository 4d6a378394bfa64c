"""OTTL values in Python and their mapping to OTLP `AnyValue`.

Python value model: str, int (int64), float, bool, bytes, None (nil), dict (map), list (slice),
`Time` (Go time.Time) and `Duration`. Attribute maps stay as repeated `KeyValue` in the upb message;
only the entries a statement touches are converted, by key lookup. The conversions themselves are
`collector.protocols.wire`'s, shared with every other component.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Iterable

import orjson
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from collector.ottl.errors import OttlRuntimeError
from collector.protocols.wire import format_f, set_any_value, to_python


@dataclass(frozen=True, slots=True, order=True)
class Time:
    """A point in time as Unix nanoseconds (OTTL's time.Time)."""

    ns: int


@dataclass(frozen=True, slots=True, order=True)
class Duration:
    ns: int


# One AnyValue <-> Python mapping for the whole collector (pcommon FromRaw/AsRaw); OTTL's names.
from_any = to_python
to_any = set_any_value


def find(kvs: Iterable[KeyValue], key: str) -> KeyValue | None:
    for kv in kvs:
        if kv.key == key:
            return kv
    return None


def map_get(kvs: Any, key: str) -> Any:
    for kv in kvs:
        if kv.key == key:
            return from_any(kv.value)
    return None


def map_put(kvs: Any, key: str, value: Any) -> None:
    """Set `key` in a repeated KeyValue (insert at the end when absent)."""
    for kv in kvs:
        if kv.key == key:
            to_any(kv.value, value)
            return
    kv = kvs.add()
    kv.key = key
    to_any(kv.value, value)


def map_from_python(kvs: Any, value: dict[str, Any]) -> None:
    del kvs[:]
    for k, x in value.items():
        kv = kvs.add()
        kv.key = k
        to_any(kv.value, x)


def map_to_python(kvs: Any) -> dict[str, Any]:
    return {kv.key: from_any(kv.value) for kv in kvs}


# --- type names and conversions --------------------------------------------------------------
def type_name(v: Any) -> str:
    if v is None:
        return "nil"
    return {str: "string", int: "int64", float: "float64", bool: "bool", bytes: "[]byte", dict: "map",
            list: "slice", Time: "time.Time", Duration: "time.Duration"}.get(type(v), type(v).__name__)


# Go strconv.FormatFloat(f, 'f', -1, 64), what OTTL's StringLikeGetter uses for a double.
format_float = format_f


def to_json(v: Any) -> str:
    return orjson.dumps(v, default=_json_default).decode()


def _json_default(v: Any) -> Any:
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    if isinstance(v, (Time, Duration)):
        return v.ns
    raise TypeError


def string_like(v: Any) -> str | None:
    """OTTL's StringLikeGetter: scalars via strconv, bytes as hex, maps and slices as JSON."""
    if v is None:
        return None
    t = type(v)
    if t is str:
        return v
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return str(v)
    if t is float:
        return format_float(v)
    if t is bytes:
        return v.hex()
    if t is dict or t is list:
        return to_json(v)
    raise OttlRuntimeError(f"unsupported type: {type_name(v)}")


# --- comparison rules ------------------------------------------------------------------------
def _is_number(v: Any) -> bool:
    t = type(v)
    return t is int or t is float


def equals(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if _is_number(a) and _is_number(b):
        return a == b
    if type(a) is not type(b):
        return False
    return bool(a == b)


def compare(op: str, a: Any, b: Any) -> bool:
    """OTTL comparison: == and != on any pair (different types are unequal); ordering only
    between numbers (int and float mix), strings, bytes, times and durations, else false."""
    if op == "==":
        return equals(a, b)
    if op == "!=":
        return not equals(a, b)
    if a is None or b is None:
        return False
    if _is_number(a) and _is_number(b):
        pass
    elif type(a) is not type(b) or type(a) not in (str, bytes, Time, Duration):
        return False
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)
