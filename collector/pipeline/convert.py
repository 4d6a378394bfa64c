"""Alloy assignability (reference A.5): evaluated values -> a component field's Python type.

Alloy is looser than msgspec in a few places and stricter in others, so values first pass through
`_coerce`, which applies only the Alloy rules (null -> zero value, number -> string, duration and
byte-size strings -> numbers, string -> secret but never secret -> string, capsules by kind), and
then through `msgspec.convert(strict=False)`, which does the rest (numeric strings, constraints,
literals). Errors carry the path inside the value so the decoder can point at an array element.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any, Final

import msgspec

from collector.components.kit.api import ConsumerRef, MetricsReceiverRef
from collector.components.kit.auth import AuthHandler
from collector.config.values import Secret, type_name

Path = tuple[int | str, ...]


class ConversionError(Exception):
    def __init__(self, message: str, path: Path = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


CAPSULE_NAMES: Final[dict[type, str]] = {
    ConsumerRef: "otelcol.Consumer",
    MetricsReceiverRef: "MetricsReceiver",
    AuthHandler: "otelcol.Handler",
}

_PLAIN: Final = (str, int, float, bool, list, dict, tuple, set, frozenset, bytes, type(None))


def capsule_name(cls: type) -> str:
    return f'capsule("{CAPSULE_NAMES.get(cls, cls.__name__)}")'


def alloy_type_name(value: Any) -> str:
    """The Alloy type of a Python value, as error messages name it: `type_name`, with capsules
    named by kind and plain Python callables counted as functions."""
    name = type_name(value)
    if name != "capsule":
        return name
    return "function" if callable(value) else capsule_name(type(value))


def _expected_name(tp: Any) -> str:
    tp = _strip(tp)
    if tp is str:
        return "string"
    if tp is bool:
        return "bool"
    if tp in (int, float):
        return "number"
    if tp is Secret:
        return "secret"
    origin = typing.get_origin(tp)
    if origin in (list, tuple, set, frozenset):
        return "array"
    if origin is dict:
        return "object"
    if isinstance(tp, type):
        return capsule_name(tp)
    return str(tp)


def _strip(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _alloy_unit(tp: Any) -> str | None:
    if typing.get_origin(tp) is not typing.Annotated:
        return None
    for meta in tp.__metadata__:
        if isinstance(meta, msgspec.Meta) and meta.extra and "alloy_type" in meta.extra:
            return str(meta.extra["alloy_type"])
    return _alloy_unit(typing.get_args(tp)[0])


def _union_arms(tp: Any) -> tuple[Any, ...] | None:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return typing.get_args(tp)
    return None


def zero_value(tp: Any) -> Any:
    """Go's zero value for a field type: what `null` decodes to (not the documented default)."""
    tp = _strip(tp)
    arms = _union_arms(tp)
    if arms is not None:
        return None if type(None) in arms else zero_value(arms[0])
    if tp is Secret:
        return Secret("")
    if tp is str:
        return ""
    if tp is bool:
        return False
    if tp is int:
        return 0
    if tp is float:
        return 0.0
    origin = typing.get_origin(tp)
    if origin in (list, tuple, set, frozenset) or tp is list:
        return []
    if origin is dict or tp is dict:
        return {}
    return None


def _number_text(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


def _parse_unit(unit: str, value: Any, path: Path) -> Any:
    from collector.config import units

    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = _number_text(value)
    if not isinstance(value, str):
        raise ConversionError(f"expected string, got {alloy_type_name(value)}", path)
    try:
        if unit == "duration":
            return units.parse_duration(value)
        if unit == "bytesize":
            return units.parse_bytesize(value)
    except ValueError as exc:
        raise ConversionError(str(exc), path) from None
    return value


def _coerce(value: Any, tp: Any, path: Path) -> Any:
    unit = _alloy_unit(tp)
    if unit in ("duration", "bytesize"):
        if value is None:
            return zero_value(tp)
        return _parse_unit(unit, value, path)
    tp = _strip(tp)
    if value is None:
        return zero_value(tp)
    if tp is Any or tp is object:
        return value
    arms = _union_arms(tp)
    if arms is not None:
        others = [a for a in arms if a is not type(None)]
        return _coerce(value, others[0], path) if len(others) == 1 else value
    mismatch = ConversionError(f"expected {_expected_name(tp)}, got {alloy_type_name(value)}", path)
    if tp is Secret:
        if isinstance(value, str):
            return Secret(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return Secret(_number_text(value))
        raise mismatch
    if tp is str:
        if isinstance(value, Secret):
            raise mismatch
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return _number_text(value)
        raise mismatch
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise mismatch
    if tp in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)) or isinstance(value, Secret):
            raise mismatch
        if tp is int and isinstance(value, float):
            if not value.is_integer():
                raise ConversionError(f"expected an integer, got {_number_text(value)}", path)
            return int(value)
        return value
    origin = typing.get_origin(tp)
    if origin in (list, tuple, set, frozenset):
        if not isinstance(value, (list, tuple)):
            raise mismatch
        args = typing.get_args(tp)
        item = args[0] if args else Any
        return [_coerce(v, item, (*path, i)) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise mismatch
        args = typing.get_args(tp)
        item = args[1] if len(args) == 2 else Any
        return {k: _coerce(v, item, (*path, k)) for k, v in value.items()}
    if isinstance(tp, type) and not issubclass(tp, _PLAIN) and not issubclass(tp, msgspec.Struct):
        if not isinstance(value, tp):
            raise mismatch
        return value
    return value


def _dec_hook(tp: type, value: Any) -> Any:
    if tp is Secret and isinstance(value, str):
        return Secret(value)
    if isinstance(value, tp):
        return value
    raise NotImplementedError


_MSGSPEC_TYPES: Final[dict[str, str]] = {
    "str": "string",
    "int": "number",
    "float": "number",
    "bool": "bool",
    "null": "null",
    "array": "array",
    "object": "object",
}
_AT = re.compile(r" - at `\$(.*)`$")
_PATH_PART = re.compile(r"\[(\d+|\.\.\.)\]|\.(\w+)")


def _translate(error: msgspec.ValidationError) -> ConversionError:
    text = str(error)
    path: list[int | str] = []
    at = _AT.search(text)
    if at:
        text = text[: at.start()]
        for index, key in _PATH_PART.findall(at.group(1)):
            if index == "...":
                break
            path.append(int(index) if index else key)
    text = re.sub(r"`(\w+)`", lambda m: _MSGSPEC_TYPES.get(m.group(1), m.group(1)), text)
    return ConversionError(text[:1].lower() + text[1:], tuple(path))


def convert_value(value: Any, tp: Any) -> Any:
    """Convert one evaluated attribute value to the field type `tp`; raises `ConversionError`."""
    coerced = _coerce(value, tp, ())
    try:
        return msgspec.convert(coerced, tp, strict=False, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        raise _translate(exc) from None
