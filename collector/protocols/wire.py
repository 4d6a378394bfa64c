"""The OTLP wire helpers every codec shares: varints, field scanning, `AnyValue`, Go's float text.

Theory of operation. Several hot paths read serialized protobuf without decoding it (splitting a
request by resource, splicing attributes into items, slicing a data point's attribute bytes), and
several components turn OTLP values into strings the way the Go implementations do (attribute
conversion and matching, Prometheus labels, OTTL string conversion, the debug exporter). Each of
those used to carry its own copy, and the copies disagreed; this module is the only one.

Wire format (protobuf encoding):

    field    = tag value ;            tag = varint( number << 3 | wire type )
    value    = varint                   (wire type 0)
             | 8 bytes, little-endian   (wire type 1)
             | varint( n ) n bytes      (wire type 2: strings, bytes, messages, packed)
             | 4 bytes, little-endian   (wire type 5)
    varint   = base-128, least significant group first, high bit = "more follows", at most 10 bytes

A negative int64 is written as its 64-bit two's complement, so it always takes ten bytes. Groups
(wire types 3 and 4) are obsolete and never appear in OTLP; scanning rejects them.

Go's float text, three flavours (all with the shortest digits that round-trip, which is what
Python's `repr` computes, so the digits come from `repr` and only the layout is Go's):

* `format_f` is `strconv.FormatFloat(v, 'f', -1, 64)`: never an exponent. Prometheus uses it for
  `le`/`quantile` label values; OTTL's string conversion of a double uses it too.
* `format_g` is `strconv.FormatFloat(v, 'g', -1, 64)`: exponent form when the decimal exponent is
  below -4 or at least 6 (`1e+06`, `1e-05`, two exponent digits at least).
* `format_double` is pdata's `pcommon.Value.AsString` for doubles (the ES6 number-to-string
  rule): positional for 1e-6 <= |v| < 1e21 and for zero, else exponent form without the zero
  padding of a one-digit negative exponent (`1e-7`, `1e+21`). pdata marshals through encoding/json,
  which refuses NaN and infinities; `AsString` then returns the error text, and so do we
  (`json: unsupported value: NaN`).

`AnyValue` <-> Python follows `pcommon.Value.FromRaw`/`AsRaw`: str, bool, int, float, bytes, list
(array), dict (kvlist), None (empty value).
"""

from __future__ import annotations

import base64
import json
from typing import Any, Final, Iterable

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

__all__ = [
    "WireError", "any_value", "as_string", "encode_varint", "fields", "format_double", "format_f", "format_g",
    "go_json", "int64", "key_values", "read_varint", "scan_field", "set_any_value", "to_python",
]

WIRE_VARINT: Final = 0
WIRE_FIXED64: Final = 1
WIRE_LEN: Final = 2
WIRE_FIXED32: Final = 5


class WireError(ValueError):
    """Bytes that are not well-formed protobuf (overlong varint, truncated field, group)."""


# --- varints ---------------------------------------------------------------------------------
_ONE_BYTE: Final = [bytes((i,)) for i in range(0x80)]


def encode_varint(value: int) -> bytes:
    """Base-128 varint of an unsigned value; a negative int64 becomes its 64-bit two's complement
    (ten bytes), as protobuf writes `int64` fields. One- and two-byte values (tags, most lengths)
    take a short path because encoders call this per field."""
    if value < 0:
        value += 1 << 64
    if value < 0x80:
        return _ONE_BYTE[value]
    if value < 0x4000:
        return bytes((value & 0x7F | 0x80, value >> 7))
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def read_varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    """(value, position after it) of the varint at `pos`, as an unsigned number.

    More than ten bytes is an error (no valid encoding is longer); reading past the end raises
    IndexError, which scanners turn into "truncated"."""
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError("varint too long")


def int64(value: int) -> int:
    """The signed int64 a varint (or fixed64) carries: the inverse of `encode_varint` for negatives."""
    value &= 0xFFFFFFFFFFFFFFFF
    return value - (1 << 64) if value >= 1 << 63 else value


# --- field scanning --------------------------------------------------------------------------
def scan_field(data: bytes, pos: int, end: int) -> tuple[int, int, int, int]:
    """(field number, wire type, value start, field end) of the field at `pos`, which must end by `end`.

    The value of a length-delimited field is `data[value start:field end]`. One-byte tags and
    lengths (nearly all of OTLP) are read inline."""
    tag = data[pos]
    if tag < 0x80:
        p = pos + 1
    else:
        tag, p = read_varint(data, pos)
    wire = tag & 7
    if wire == WIRE_LEN:
        n = data[p]
        if n < 0x80:
            p += 1
        else:
            n, p = read_varint(data, p)
        stop = p + n
    elif wire == WIRE_VARINT:
        stop = read_varint(data, p)[1]
    elif wire == WIRE_FIXED64:
        stop = p + 8
    elif wire == WIRE_FIXED32:
        stop = p + 4
    else:
        raise WireError(f"unsupported wire type {wire}")
    if stop > end:
        raise WireError("truncated field")
    return tag >> 3, wire, p, stop


def fields(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """Every field in [start, end): (number, field start, value start, field end). The value start
    is -1 for fields that are not length-delimited, so `value >= 0` tests "message or bytes"."""
    out = []
    pos = start
    while pos < end:
        number, wire, value, stop = scan_field(data, pos, end)
        out.append((number, pos, value if wire == WIRE_LEN else -1, stop))
        pos = stop
    return out


# --- Go's float text -------------------------------------------------------------------------
# repr of the special values -> Go's spelling (strconv: NaN, +Inf, -Inf); repr never signs a NaN
_SPECIAL: Final = {"nan": "NaN", "inf": "+Inf", "-inf": "-Inf"}


def _decimal(text: str) -> tuple[str, str, int]:
    """(sign, digits, point) of a finite `repr`: value = sign 0.<digits> x 10**point, digits without
    leading or trailing zeros ("" for zero)."""
    sign = ""
    if text[0] == "-":
        sign, text = "-", text[1:]
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + (int(exponent) if exponent else 0)
    significant = digits.lstrip("0")
    point -= len(digits) - len(significant)
    return sign, significant.rstrip("0"), point


def _positional(sign: str, digits: str, point: int) -> str:
    if not digits:
        return sign + "0"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _exponent_form(sign: str, digits: str, point: int) -> str:
    """Go's 'e' layout with shortest digits: d[.ddd]e±dd (at least two exponent digits)."""
    exponent = point - 1
    mantissa = digits[0] + "." + digits[1:] if len(digits) > 1 else digits
    return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def format_f(value: float) -> str:
    """Go `strconv.FormatFloat(value, 'f', -1, 64)`: shortest round-trip digits, never an exponent.

    Fast path: for 1e-4 <= |v| < 1e16 `repr` is already positional and only `.0` differs."""
    text = repr(value)
    if "e" in text:
        return _positional(*_decimal(text))
    if "n" in text:  # nan, inf
        return _SPECIAL[text]
    return text[:-2] if text.endswith(".0") else text


def format_g(value: float) -> str:
    """Go `strconv.FormatFloat(value, 'g', -1, 64)`: exponent form when the decimal exponent is
    below -4 or at least 6 (Go fixes the cut-off at 6 for the shortest precision)."""
    text = repr(value)
    if "n" in text and "e" not in text:
        return _SPECIAL[text]
    sign, digits, point = _decimal(text)
    if digits and not -4 <= point - 1 < 6:
        return _exponent_form(sign, digits, point)
    return _positional(sign, digits, point)


_UNSUPPORTED: Final = "json: unsupported value: "


def format_double(value: float) -> str:
    """pdata `Value.AsString` of a double (ES6 rule): positional for 1e-6 <= |v| < 1e21 and zero,
    else `1e-7`/`1e+21` form; NaN and infinities give encoding/json's error text, as in pdata.

    Fast path: `repr` is positional exactly when 1e-4 <= |v| < 1e16 (or zero), inside the ES6 range."""
    text = repr(value)
    if "e" not in text:
        if "n" in text:  # nan, inf
            return _UNSUPPORTED + _SPECIAL[text]
        return text[:-2] if text.endswith(".0") else text
    if 1e-6 <= abs(value) < 1e21:
        return _positional(*_decimal(text))
    # repr's exponent layout is Go's 'e' layout (two exponent digits at least); pdata then drops
    # the padding zero of a negative one-digit exponent (positive ones are >= 21 here).
    mantissa, _, exponent = text.partition("e")
    if exponent[1] == "0" and len(exponent) == 3:
        exponent = exponent[0] + exponent[2]
    return f"{mantissa}e{exponent}"


# --- AnyValue <-> Python ---------------------------------------------------------------------
def to_python(value: AnyValue) -> Any:
    """pcommon `AsRaw`: the Python value of an AnyValue (recursively; an empty value is None)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind is None:
        return None
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "bytes_value":
        return value.bytes_value
    if kind == "kvlist_value":
        return {kv.key: to_python(kv.value) for kv in value.kvlist_value.values}
    return [to_python(item) for item in value.array_value.values]


def set_any_value(target: AnyValue, value: Any) -> bool:
    """pcommon `FromRaw` into `target`; False (target untouched) for a type AnyValue cannot hold.

    Exact types first: OTTL stores per item and the common case must stay one `is` test. Bool is
    tested before int (a bool is an int in Python); tuples count as arrays, bytearrays as bytes."""
    t = type(value)
    if t is str:
        target.string_value = value
    elif t is bool:
        target.bool_value = value
    elif t is int:
        target.int_value = value
    elif t is float:
        target.double_value = value
    elif value is None:
        target.Clear()
    elif t is bytes:
        target.bytes_value = value
    elif isinstance(value, dict):
        target.kvlist_value.SetInParent()
        entries = target.kvlist_value.values
        del entries[:]
        for key, element in value.items():
            kv = entries.add()
            kv.key = str(key)
            set_any_value(kv.value, element)
    elif isinstance(value, (list, tuple)):
        target.array_value.SetInParent()
        items = target.array_value.values
        del items[:]
        for element in value:
            set_any_value(items.add(), element)
    elif isinstance(value, bool):
        target.bool_value = bool(value)
    elif isinstance(value, int):
        target.int_value = int(value)
    elif isinstance(value, float):
        target.double_value = float(value)
    elif isinstance(value, str):
        target.string_value = str(value)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        target.bytes_value = bytes(value)
    else:
        return False
    return True


def any_value(value: Any) -> AnyValue:
    """A new AnyValue holding `value`; a type AnyValue cannot hold is stored as its `str()` (how
    Alloy values without an OTLP form, such as capsules, reach attributes)."""
    result = AnyValue()
    if not set_any_value(result, value):
        result.string_value = str(value)
    return result


def key_values(pairs: Iterable[tuple[str, Any]]) -> list[KeyValue]:
    out = []
    for key, value in pairs:
        kv = KeyValue(key=key)
        kv.value.CopyFrom(any_value(value))
        out.append(kv)
    return out


# --- AnyValue -> string ----------------------------------------------------------------------
def as_string(value: AnyValue) -> str:
    """pcommon `Value.AsString`: what the attributes processor's convert/hash/matching, Prometheus
    label values and Loki lines see for a non-string value."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind is None:
        return ""
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return format_double(value.double_value)
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return go_json(to_python(value))


# encoding/json escapes these inside strings (HTML safety and JavaScript line terminators).
_GO_ESCAPES: Final = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                                    "\u2028": "\\u2028", "\u2029": "\\u2029"})


class _Unsupported(Exception):
    """A NaN or infinity: encoding/json refuses the whole value."""


def go_json(raw: Any) -> str:
    """Go `json.Marshal` of an `AsRaw` tree, as pdata's `AsString` uses it for maps and slices: map
    keys sorted, bytes as base64, doubles in the ES6 form, HTML characters escaped. A NaN or an
    infinity anywhere makes Marshal fail, and `AsString` then returns "" (pdata ignores the error)."""
    try:
        return _json(raw)
    except _Unsupported:
        return ""


def _json(raw: Any) -> str:
    t = type(raw)
    if t is str:
        return json.dumps(raw, ensure_ascii=False).translate(_GO_ESCAPES)
    if raw is None:
        return "null"
    if t is bool:
        return "true" if raw else "false"
    if t is int:
        return str(raw)
    if t is float:
        if raw != raw or raw in (float("inf"), float("-inf")):
            raise _Unsupported
        return format_double(raw)
    if t is bytes:
        return '"' + base64.b64encode(raw).decode("ascii") + '"'
    if t is dict:
        return "{" + ",".join(_json(str(key)) + ":" + _json(raw[key]) for key in sorted(raw)) + "}"
    return "[" + ",".join(_json(item) for item in raw) + "]"
