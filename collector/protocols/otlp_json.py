"""OTLP/JSON <-> protobuf messages.

OTLP/JSON is proto3 JSON with one deviation that matters: trace and span ids (`traceId`, `spanId`,
`parentSpanId` on spans, links, exemplars and log records) are hex strings, not base64. We let
`google.protobuf.json_format` do the generic mapping (camelCase names, int64 as string or number,
enums as ints, NaN strings, unknown fields ignored) and rewrite just the id fields around it: hex ->
base64 on the way in, base64 -> hex on the way out. Other `bytes` fields (`bytesValue`) stay base64.
The rewrite is safe as a key-name walk because OTLP attributes are lists of `{key, value}` objects:
user-chosen names never appear as JSON object keys.

JSON is the slow path (per-field Python work in json_format); protobuf bodies never come here.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Callable, Container, Final

import orjson
from google.protobuf import json_format
from google.protobuf.message import Message

__all__ = ["JsonDecodeError", "json_to_message", "message_to_json", "message_to_dict"]

# id field name (both spellings json_format accepts) -> required byte length
_ID_FIELDS: Final[dict[str, int]] = {
    "traceId": 16, "trace_id": 16,
    "spanId": 8, "span_id": 8,
    "parentSpanId": 8, "parent_span_id": 8,
}
_ID_OUT: Final = frozenset(("traceId", "spanId", "parentSpanId"))


class JsonDecodeError(ValueError):
    pass


def _hex_to_b64(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        raise JsonDecodeError(f"{key} must be a hex string")
    if not value:
        return value
    want = _ID_FIELDS[key]
    if len(value) != 2 * want:
        raise JsonDecodeError(f"invalid length for {key}: {value!r} (want {2 * want} hex digits)")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise JsonDecodeError(f"{key} is not hex: {value!r}") from None
    return base64.b64encode(raw).decode("ascii")


def _b64_to_hex(key: str, value: Any) -> Any:
    return base64.b64decode(value).hex() if isinstance(value, str) else value


def _rewrite_ids(node: Any, fields: Container[str], convert: Callable[[str, Any], Any]) -> None:
    """Replace, in place, the value of every key in `fields` anywhere in a JSON tree by
    `convert(key, value)`: OTLP/JSON spells ids in hex where protobuf's JSON mapping uses base64."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in fields:
                node[key] = convert(key, value)
            elif isinstance(value, (dict, list)):
                _rewrite_ids(value, fields, convert)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, (dict, list)):
                _rewrite_ids(item, fields, convert)


def json_to_message(body: bytes, message: Message, check: Callable[[dict[str, Any]], None] | None = None) -> Message:
    """Parse an OTLP/JSON body into `message` (an empty instance of the request class). `check` sees
    the parsed tree before the costly conversion and may raise to refuse it."""
    try:
        tree = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise JsonDecodeError(f"invalid JSON: {exc}") from None
    if not isinstance(tree, dict):
        raise JsonDecodeError("the JSON body must be an object")
    if check is not None:
        check(tree)
    try:
        _rewrite_ids(tree, _ID_FIELDS, _hex_to_b64)
        json_format.ParseDict(tree, message, ignore_unknown_fields=True)
    except (json_format.ParseError, binascii.Error, ValueError, TypeError) as exc:
        raise JsonDecodeError(str(exc)) from None
    except RecursionError:  # json_format recurses per nesting level (kvlist in kvlist ...)
        raise JsonDecodeError("the JSON body is nested too deeply") from None
    return message


def message_to_dict(message: Message) -> dict[str, Any]:
    tree: dict[str, Any] = json_format.MessageToDict(message, use_integers_for_enums=True)
    _rewrite_ids(tree, _ID_OUT, _b64_to_hex)
    return tree


def message_to_json(message: Message) -> bytes:
    """OTLP/JSON encoding: camelCase, hex ids, enums as ints, 64-bit ints as strings."""
    if message.ByteSize() == 0:
        return b"{}"
    return orjson.dumps(message_to_dict(message))
