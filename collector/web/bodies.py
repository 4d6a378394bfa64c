"""Arguments and exports as Alloy's UI "bodies" (reference C.3): typed values, secrets redacted.

A body is a list of statements: `{"name", "type": "attr", "value": <typed value>}` or
`{"name", "type": "block", "label": "", "body": [...]}`. A typed value is `{"type", "value"}` with
`type` one of null, number (always a float), string, bool, array, object (a list of `{key, value}`
sorted by key), function, capsule. The UI renders these generically, so the shapes must match
Alloy's exactly for anything that reads Alloy's API to read ours.

Optional arguments equal to their default are omitted, as Alloy does: the page then shows what the
user wrote plus what differs from the documented defaults, not fifty lines of defaults.
"""

from __future__ import annotations

import typing
from typing import Any

import msgspec

from collector.components.kit.api import ConsumerRef, MetricsReceiverRef
from collector.config.redact import is_secret_header, redact_url
from collector.config.units import format_duration
from collector.config.values import Function, Secret
from collector.pipeline.schema import FieldKind, schema_of, strip_annotated, struct_defaults

SECRET_TEXT = "(secret)"


def typed(value: Any, *, alloy_type: str | None = None) -> dict[str, Any]:
    """One value with its Alloy type tag. `alloy_type` carries unit metadata (duration)."""
    if isinstance(value, Secret):  # before str: a Secret is a str
        return {"type": "capsule", "value": SECRET_TEXT}
    if value is None:
        return {"type": "null", "value": None}
    if isinstance(value, bool):
        return {"type": "bool", "value": value}
    if isinstance(value, (int, float)):
        if alloy_type == "duration":
            return {"type": "string", "value": format_duration(float(value))}
        return {"type": "number", "value": float(value)}
    if isinstance(value, str):  # a URL's password or ?token= is a secret even in a plain string
        return {"type": "string", "value": redact_url(value)}
    if isinstance(value, (ConsumerRef, MetricsReceiverRef)):
        return {"type": "capsule", "value": str(value)}
    if isinstance(value, Function):
        return {"type": "function", "value": f"function({value.name})"}
    if isinstance(value, msgspec.Struct):
        return {"type": "object", "value": sorted(
            ({"key": f.encode_name, "value": typed(getattr(value, f.name))} for f in msgspec.structs.fields(value)),
            key=lambda item: item["key"])}
    if isinstance(value, dict):  # a header map's Authorization (and alike) is a secret even as a string
        return {"type": "object", "value": [
            {"key": str(k), "value": {"type": "capsule", "value": SECRET_TEXT} if is_secret_header(str(k))
             else typed(value[k])} for k in sorted(value, key=str)]}
    if isinstance(value, (list, tuple)):
        return {"type": "array", "value": [typed(v, alloy_type=alloy_type) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"type": "array", "value": [typed(v) for v in sorted(value, key=str)]}
    return {"type": "capsule", "value": f'capsule("{value}")'}


def struct_body(struct: msgspec.Struct) -> list[dict[str, Any]]:
    """A component's `Arguments` (or a nested block) as a body; defaults left out."""
    schema = schema_of(type(struct))
    defaults = struct_defaults(type(struct))
    body: list[dict[str, Any]] = []
    for spec in schema.fields.values():
        value = getattr(struct, spec.attr)
        if not spec.required and spec.attr in defaults and _equal(value, defaults[spec.attr]):
            continue
        if spec.kind is FieldKind.ATTRIBUTE:
            body.append({"name": spec.name, "type": "attr", "value": typed(value, alloy_type=_alloy_type(spec.type))})
        elif spec.kind is FieldKind.BLOCK:
            if value is not None:
                body.append({"name": spec.name, "type": "block", "label": "", "body": struct_body(value)})
        else:
            body.extend({"name": spec.name, "type": "block", "label": "", "body": struct_body(item)} for item in value)
    return body


def exports_body(exports: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": name, "type": "attr", "value": typed(exports[name])} for name in sorted(exports)]


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:  # exotic values that cannot compare are simply shown
        return False


def _alloy_type(annotation: Any) -> str | None:
    """The `alloy_type` unit tag of an `Annotated[...]` field (also inside list[...] / X | None)."""
    candidates = [annotation, *typing.get_args(strip_annotated(annotation))]
    for tp in candidates:
        if typing.get_origin(tp) is typing.Annotated:
            for meta in typing.get_args(tp)[1:]:
                extra = getattr(meta, "extra", None) or {}
                if "alloy_type" in extra:
                    return str(extra["alloy_type"])
    return None
