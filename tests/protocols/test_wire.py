"""collector.protocols.wire against the Go outputs it stands in for.

Expected strings are what Go prints: strconv.FormatFloat(v, 'f'|'g', -1, 64) (shortest round-trip
digits; 'g' switches to the exponent form below 1e-4 and from 1e6, with at least two exponent
digits) and pdata's pcommon.Value.AsString (ES6 rule, `e-7` not `e-07`, encoding/json's error text
for NaN and infinities).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2

from collector.protocols.wire import (
    WireError, any_value, as_string, encode_varint, fields, format_double, format_f, format_g, go_json, int64,
    key_values, read_varint, scan_field, set_any_value, to_python,
)

NAN = float("nan")
INF = float("inf")

# value, pdata AsString, FormatFloat 'f', FormatFloat 'g'
FLOATS: list[tuple[float, str, str, str]] = [
    (1e-7, "1e-7", "0.0000001", "1e-07"),
    (1e21, "1e+21", "1000000000000000000000", "1e+21"),
    (1e20, "100000000000000000000", "100000000000000000000", "1e+20"),
    (1e-6, "0.000001", "0.000001", "1e-06"),
    (123456789.0, "123456789", "123456789", "1.23456789e+08"),
    (-0.0, "-0", "-0", "-0"),
    (0.0, "0", "0", "0"),
    (NAN, "json: unsupported value: NaN", "NaN", "NaN"),
    (INF, "json: unsupported value: +Inf", "+Inf", "+Inf"),
    (-INF, "json: unsupported value: -Inf", "-Inf", "-Inf"),
    (0.1 + 0.2, "0.30000000000000004", "0.30000000000000004", "0.30000000000000004"),
    (float(2**53 + 1), "9007199254740992", "9007199254740992", "9.007199254740992e+15"),
    (5e-324, "5e-324", "0." + "0" * 323 + "5", "5e-324"),
    (1.7976931348623157e308, "1.7976931348623157e+308", "17976931348623157" + "0" * 292,
     "1.7976931348623157e+308"),
    (100.0, "100", "100", "100"),
    (0.5, "0.5", "0.5", "0.5"),
    # around the cut-offs of each layout
    (1e-5, "0.00001", "0.00001", "1e-05"),
    (0.0001, "0.0001", "0.0001", "0.0001"),
    (9.99e-7, "9.99e-7", "0.000000999", "9.99e-07"),
    (1.5e-10, "1.5e-10", "0.00000000015", "1.5e-10"),
    (999999.0, "999999", "999999", "999999"),
    (1e6, "1000000", "1000000", "1e+06"),
    (1e16, "10000000000000000", "10000000000000000", "1e+16"),
    (-2.5e22, "-2.5e+22", "-25000000000000000000000", "-2.5e+22"),
    (-1e-100, "-1e-100", "-0." + "0" * 99 + "1", "-1e-100"),
    (2.0, "2", "2", "2"),
    (0.005, "0.005", "0.005", "0.005"),
]


@pytest.mark.parametrize(("value", "as_str", "f", "g"), FLOATS)
def test_floats_like_go(value: float, as_str: str, f: str, g: str) -> None:
    assert format_double(value) == as_str
    assert format_f(value) == f
    assert format_g(value) == g


@pytest.mark.parametrize(("value", "_as_str", "f", "g"), [row for row in FLOATS if math.isfinite(row[0])])
def test_float_text_round_trips(value: float, _as_str: str, f: str, g: str) -> None:
    """Shortest digits: every layout parses back to the same double."""
    assert float(f) == value and float(g) == value


# --- varints ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "encoded"), [
    (0, b"\x00"), (1, b"\x01"), (127, b"\x7f"), (128, b"\x80\x01"), (300, b"\xac\x02"),
    (16383, b"\xff\x7f"), (16384, b"\x80\x80\x01"),
    (2**32, b"\x80\x80\x80\x80\x10"),
    (2**63, b"\x80" * 9 + b"\x01"),
    (2**64 - 1, b"\xff" * 9 + b"\x01"),
])
def test_varint_boundaries(value: int, encoded: bytes) -> None:
    assert encode_varint(value) == encoded
    assert read_varint(b"\xaa" + encoded + b"\x55", 1) == (value, 1 + len(encoded))


@pytest.mark.parametrize("value", [-1, -2, -(2**31), -(2**63)])
def test_negative_int64_takes_ten_bytes(value: int) -> None:
    encoded = encode_varint(value)
    assert len(encoded) == 10
    raw, end = read_varint(encoded, 0)
    assert end == 10 and int64(raw) == value
    # the same bytes upb writes for an int64 field (AnyValue.int_value is field 3)
    assert AnyValue(int_value=value).SerializeToString() == b"\x18" + encoded


def test_varint_errors() -> None:
    with pytest.raises(WireError):
        read_varint(b"\xff" * 10 + b"\x01", 0)  # eleven bytes
    with pytest.raises(IndexError):
        read_varint(b"\x80\x80", 0)  # truncated


# --- field scanning --------------------------------------------------------------------------
def test_fields_walks_every_wire_type() -> None:
    point = metrics_pb2.NumberDataPoint(time_unix_nano=5, as_double=1.5, flags=300,
                                        attributes=[KeyValue(key="k", value=AnyValue(string_value="v"))])
    point.exemplars.add(as_int=7)
    data = point.SerializeToString()
    found = fields(data, 0, len(data))
    assert [number for number, *_ in found] == [3, 4, 5, 7, 8]
    by_number = {number: (start, value, stop) for number, start, value, stop in found}
    assert by_number[3][1] == -1 and by_number[3][2] - by_number[3][0] == 9  # fixed64
    assert by_number[8][1] == -1 and by_number[8][2] - by_number[8][0] == 3  # varint 300
    start, value, stop = by_number[7]
    assert KeyValue.FromString(data[value:stop]).key == "k"
    assert found[-1][3] == len(data)


def test_scan_field_long_tag_and_length() -> None:
    payload = b"x" * 200
    data = encode_varint(1000 << 3 | 2) + encode_varint(len(payload)) + payload
    assert scan_field(data, 0, len(data)) == (1000, 2, 4, len(data))


@pytest.mark.parametrize("data", [b"\x0a\x05abc", b"\x0b", b"\x09\x00\x00"])
def test_scan_field_rejects_truncation_and_groups(data: bytes) -> None:
    with pytest.raises(WireError):
        scan_field(data, 0, len(data))


# --- AnyValue <-> Python ---------------------------------------------------------------------
ROUND_TRIPS: list[Any] = [
    "text", "", True, False, 0, -(2**63), 2**63 - 1, 1.5, -0.0, b"\x00\xff", b"",
    [1, "a", [True, None]], [], {"a": 1, "b": {"c": [1.5]}}, {}, None,
]


@pytest.mark.parametrize("value", ROUND_TRIPS, ids=repr)
def test_any_value_round_trip(value: Any) -> None:
    encoded = any_value(value)
    assert to_python(encoded) == value
    assert type(to_python(encoded)) is type(value)
    again = AnyValue.FromString(encoded.SerializeToString())
    assert to_python(again) == value


def test_any_value_kinds() -> None:
    assert any_value(True).WhichOneof("value") == "bool_value"  # bool before int
    assert any_value(None).WhichOneof("value") is None
    assert any_value([]).WhichOneof("value") == "array_value"
    assert any_value({}).WhichOneof("value") == "kvlist_value"
    assert to_python(any_value((1, 2))) == [1, 2]
    assert to_python(any_value(bytearray(b"ab"))) == b"ab"


def test_set_any_value_replaces_and_refuses_unknown_types() -> None:
    target = any_value({"a": [1, 2]})
    assert set_any_value(target, [3])
    assert to_python(target) == [3]
    assert set_any_value(target, None) and target.WhichOneof("value") is None
    assert not set_any_value(target, object()) and target.WhichOneof("value") is None
    assert any_value(object()).WhichOneof("value") == "string_value"


def test_key_values() -> None:
    kvs = key_values([("a", 1), ("b", ["x"])])
    assert [(kv.key, to_python(kv.value)) for kv in kvs] == [("a", 1), ("b", ["x"])]


# --- AsString --------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "expected"), [
    ("s", "s"), (None, ""), (True, "true"), (False, "false"), (-42, "-42"), (1e-7, "1e-7"), (1e21, "1e+21"),
    (2.0, "2"), (b"\x00\x01", "AAE="),
    # maps: keys sorted; doubles ES6; bytes base64; <, >, & escaped; non-ASCII kept
    ({"b": 1, "a": [2.0, 1e-7, b"hi"]}, '{"a":[2,1e-7,"aGk="],"b":1}'),
    (["<a&b>", "é\u2028", None, True], '["\\u003ca\\u0026b\\u003e","é\\u2028",null,true]'),
    (["line\nbreak\t\x01"], '["line\\nbreak\\t\\u0001"]'),
    ([1.0, NAN], ""),  # encoding/json refuses NaN; pdata ignores the error
])
def test_as_string_like_pdata(value: Any, expected: str) -> None:
    assert as_string(any_value(value)) == expected


def test_go_json_empty_containers() -> None:
    assert go_json({}) == "{}" and go_json([]) == "[]"
