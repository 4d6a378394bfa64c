"""Conversion between Alloy/Python values and OTLP `AnyValue` messages.

Alloy values (number, string, bool, array, object, null) map onto the AnyValue oneof the way the
OpenTelemetry Collector's `pcommon.Value.FromRaw` does: bool before int (bool is an int in
Python), lists become `array_value`, dicts `kvlist_value`, bytes `bytes_value`, None leaves the
value empty.
"""

from __future__ import annotations

from typing import Any, Iterable

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue


def set_any_value(target: AnyValue, value: Any) -> None:
    """Write `value` into `target` (which is cleared first)."""
    target.Clear()
    if value is None:
        return
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        target.int_value = value
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, (bytes, bytearray)):
        target.bytes_value = bytes(value)
    elif isinstance(value, (list, tuple)):
        array = target.array_value
        array.SetInParent()
        for element in value:
            set_any_value(array.values.add(), element)
    elif isinstance(value, dict):
        kvlist = target.kvlist_value
        kvlist.SetInParent()
        for key, element in value.items():
            kv = kvlist.values.add()
            kv.key = str(key)
            set_any_value(kv.value, element)
    else:
        target.string_value = str(value)


def any_value(value: Any) -> AnyValue:
    result = AnyValue()
    set_any_value(result, value)
    return result


def to_python(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [to_python(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: to_python(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind)


def as_string(value: AnyValue) -> str:
    """The string form the Collector's `Value.AsString` gives (used by hash, extract and matching)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind is None:
        return ""
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return _format_double(value.double_value)
    if kind == "bytes_value":
        import base64

        return base64.b64encode(value.bytes_value).decode("ascii")
    import json

    return json.dumps(to_python(value), separators=(",", ":"), default=str)


def _format_double(number: float) -> str:
    """Go's strconv.FormatFloat(f, 'f', -1, 64): shortest representation, no exponent."""
    if number != number or number in (float("inf"), float("-inf")):
        return {True: "NaN"}.get(number != number, "+Inf" if number > 0 else "-Inf")
    text = repr(number)
    if "e" in text or "E" in text:
        text = format(number, "f").rstrip("0").rstrip(".") if number != int(number) else str(int(number))
    elif text.endswith(".0"):
        text = text[:-2]
    return text


def key_values(pairs: Iterable[tuple[str, Any]]) -> list[KeyValue]:
    out = []
    for key, value in pairs:
        kv = KeyValue(key=key)
        set_any_value(kv.value, value)
        out.append(kv)
    return out
