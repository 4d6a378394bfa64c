"""The attribute actions of `otelcol.processor.attributes`, compiled once and run per item.

An item's attributes are a protobuf `repeated KeyValue`; actions edit it in place, in order. The
semantics follow the OpenTelemetry Collector's `attraction` package: insert only adds a missing
key, update only changes a present one, upsert does both; delete and hash take a `key` and/or a
`pattern` over keys; extract sets one string attribute per named group of `pattern` matched against
the string value of `key`; convert changes a value's type (int | double | string) when it parses.
"""

from __future__ import annotations

import hashlib
import math
import struct
from typing import Any, Callable, Mapping, Sequence

import msgspec
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from collector.protocols.regex import Regex, RegexError, compile as compile_re2
from collector.protocols.wire import any_value, as_string

ACTIONS = ("insert", "update", "upsert", "delete", "hash", "extract", "convert")
CONVERTED_TYPES = ("int", "double", "string")


class ActionError(ValueError):
    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.index = index


class Action(msgspec.Struct, frozen=True, kw_only=True):
    """One `action` block, as configured (the `action` name is checked and lower-cased at compile)."""

    key: str = ""
    action: str
    value: Any = None
    pattern: str = ""
    from_attribute: str = ""
    from_context: str = ""
    converted_type: str = ""


def go_regex(pattern: str) -> Regex:
    """Compile as the Collector's `regexp.Compile` does: RE2 syntax and semantics, unanchored."""
    return compile_re2(pattern)


# The per-item context handed to actions: request metadata for `from_context = "metadata.x"`.
Context = Mapping[str, Sequence[str]]
Step = Callable[[Any, Context], None]


def _find(attrs: Any, key: str) -> int:
    for index, kv in enumerate(attrs):
        if kv.key == key:
            return index
    return -1


def _value_source(spec: Action) -> Callable[[Any, Context], AnyValue | None]:
    if spec.from_attribute:
        source = spec.from_attribute

        def from_attribute(attrs: Any, _ctx: Context) -> AnyValue | None:
            index = _find(attrs, source)
            return None if index < 0 else attrs[index].value

        return from_attribute
    if spec.from_context:
        name = spec.from_context.removeprefix("metadata.")

        def from_context(_attrs: Any, ctx: Context) -> AnyValue | None:
            values = ctx.get(name) or ctx.get(name.lower())
            if not values:
                return None
            return any_value(values[0] if len(values) == 1 else list(values))

        return from_context
    constant = any_value(spec.value)
    return lambda _attrs, _ctx: constant


def _set_step(spec: Action) -> Step:
    key = spec.key
    source = _value_source(spec)
    mode = spec.action

    def step(attrs: Any, ctx: Context) -> None:
        value = source(attrs, ctx)
        if value is None:
            return
        index = _find(attrs, key)
        if index < 0:
            if mode != "update":
                attrs.add(key=key).value.CopyFrom(value)
        elif mode != "insert":
            attrs[index].value.CopyFrom(value)

    return step


def _keys_matching(spec: Action) -> Callable[[Any], list[int]]:
    key = spec.key
    regex = go_regex(spec.pattern) if spec.pattern else None

    def indexes(attrs: Any) -> list[int]:
        return [i for i, kv in enumerate(attrs) if kv.key == key or (regex is not None and regex.test(kv.key))]

    return indexes


def _delete_step(spec: Action) -> Step:
    matching = _keys_matching(spec)

    def step(attrs: Any, _ctx: Context) -> None:
        for index in reversed(matching(attrs)):
            del attrs[index]

    return step


def sha1_hex(value: AnyValue) -> str:
    """Hash as the Collector does: UTF-8 strings, a byte 1/0 for bools, little-endian 8-byte numbers."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        data = value.string_value.encode()
    elif kind == "bool_value":
        data = b"\x01" if value.bool_value else b"\x00"
    elif kind == "int_value":
        data = struct.pack("<q", value.int_value)
    elif kind == "double_value":
        data = struct.pack("<d", value.double_value)
    else:
        data = b""
    return hashlib.sha1(data).hexdigest() if data else ""


def _hash_step(spec: Action) -> Step:
    matching = _keys_matching(spec)

    def step(attrs: Any, _ctx: Context) -> None:
        for index in matching(attrs):
            value = attrs[index].value
            value.string_value = sha1_hex(value)

    return step


def _extract_step(spec: Action) -> Step:
    key = spec.key
    regex = go_regex(spec.pattern)
    names = list(regex.groupindex)

    def step(attrs: Any, _ctx: Context) -> None:
        index = _find(attrs, key)
        if index < 0 or attrs[index].value.WhichOneof("value") != "string_value":
            return
        match = regex.search(attrs[index].value.string_value)
        if match is None:
            return
        for name in names:
            group = match.group(name)
            if group is None:
                group = ""
            target = _find(attrs, name)
            if target < 0:
                attrs.add(key=name).value.string_value = group
            else:
                attrs[target].value.string_value = group

    return step


def convert_value(value: AnyValue, to: str) -> None:
    """Change the type in place; values that do not parse are left as they are."""
    kind = value.WhichOneof("value")
    if to == "string":
        if kind != "string_value":
            value.string_value = as_string(value)
    elif to == "int":
        if kind == "double_value":
            number = value.double_value
            if math.isfinite(number):
                value.int_value = int(number)
        elif kind == "bool_value":
            value.int_value = 1 if value.bool_value else 0
        elif kind == "string_value":
            try:
                value.int_value = int(value.string_value.strip(), 10)
            except ValueError:
                pass
    elif to == "double":
        if kind == "int_value":
            value.double_value = float(value.int_value)
        elif kind == "bool_value":
            value.double_value = 1.0 if value.bool_value else 0.0
        elif kind == "string_value":
            try:
                value.double_value = float(value.string_value.strip())
            except ValueError:
                pass


def _convert_step(spec: Action) -> Step:
    key = spec.key
    to = spec.converted_type

    def step(attrs: Any, _ctx: Context) -> None:
        index = _find(attrs, key)
        if index >= 0:
            convert_value(attrs[index].value, to)

    return step


def _check(spec: Action, index: int) -> Action:
    action = spec.action.lower()
    spec = msgspec.structs.replace(spec, action=action)
    if action not in ACTIONS:
        raise ActionError(f"error creating AttrProc due to unsupported action {spec.action!r} at the {index}-th "
                          "actions", index)
    sources = sum(1 for present in (spec.value is not None, bool(spec.from_attribute), bool(spec.from_context))
                  if present)
    if action in ("insert", "update", "upsert"):
        if not spec.key:
            raise ActionError(f"error creating AttrProc. Action \"key\" field is required for action {action!r} "
                              f"at the {index}-th action", index)
        if sources != 1:
            raise ActionError(f"error creating AttrProc due to missing value/from_attribute/from_context field or "
                              f"more than one set for action {action!r} at the {index}-th action", index)
        if spec.pattern:
            raise ActionError(f"error creating AttrProc. Action {action!r} does not support \"pattern\" field at "
                              f"the {index}-th action", index)
        if spec.from_context.startswith("auth."):
            raise ActionError(f"from_context {spec.from_context!r} is not supported at the {index}-th action: "
                              "authentication attributes are not carried past the receiver; use a request header "
                              "(\"metadata.<header>\") with the receiver's include_metadata", index)
    elif action in ("delete", "hash", "extract"):
        # extract needs both key and pattern, delete and hash either; the messages keep the upstream wording
        extract = action == "extract"
        named = '"extract"' if extract else repr(action)
        if (not spec.key or not spec.pattern) if extract else (not spec.key and not spec.pattern):
            fields = '"key" or "pattern"' if extract else '"pattern" or "key"'
            raise ActionError(f"error creating AttrProc due to missing required field {fields} for "
                              f"action {named} at the {index}-th action", index)
        if sources:
            raise ActionError(f"error creating AttrProc. Action {named} does not use value sources at the "
                              f"{index}-th action", index)
    elif action == "convert":
        if not spec.key:
            raise ActionError(f"error creating AttrProc. Action \"key\" field is required for action \"convert\" "
                              f"at the {index}-th action", index)
        if spec.converted_type not in CONVERTED_TYPES:
            raise ActionError(f"error creating AttrProc due to invalid converted_type {spec.converted_type!r} at "
                              f"the {index}-th action; expected int, double or string", index)
    if spec.pattern:
        try:
            regex = go_regex(spec.pattern)
        except RegexError as exc:
            raise ActionError(f"error creating AttrProc. Field \"pattern\" has invalid pattern: {exc.reason} at the "
                              f"{index}-th action", index) from None
        if action == "extract" and not regex.groupindex:
            raise ActionError(f"error creating AttrProc. Field \"pattern\" contains no named matcher groups at "
                              f"the {index}-th action", index)
    return spec


_BUILDERS: dict[str, Callable[[Action], Step]] = {
    "insert": _set_step, "update": _set_step, "upsert": _set_step, "delete": _delete_step,
    "hash": _hash_step, "extract": _extract_step, "convert": _convert_step,
}


def compile_actions(specs: Sequence[Action]) -> list[Step]:
    """Validate and compile; raises `ActionError` (with `.index`) on the first invalid action."""
    checked = [_check(spec, index) for index, spec in enumerate(specs)]
    return [_BUILDERS[spec.action](spec) for spec in checked]


def run_actions(steps: Sequence[Step], attrs: Any, ctx: Context) -> None:
    for step in steps:
        step(attrs, ctx)
