"""Paths per OTTL context: how `name`, `attributes["k"]`, `resource.attributes["k"]` ... read and
write the decoded upb messages.

A context sees its own item plus upward levels: `resource`, `scope` (alias `instrumentation_scope`),
and for `datapoint` the `metric`, for `spanevent` the `span`. Each path compiles to an `Accessor`
whose `level` says which message it reads, so the compiler can evaluate resource- and scope-level
reads once per resource/scope instead of once per item.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Final, Sequence

from collector.ottl.errors import OttlRuntimeError, OttlSyntaxError
from collector.ottl.values import (
    Time,
    find,
    from_any,
    map_from_python,
    map_to_python,
    to_any,
    type_name,
)

CONST, RESOURCE, SCOPE, PARENT, ITEM = 0, 1, 2, 3, 4

Getter = Callable[[Any], Any]
Setter = Callable[[Any, Any], None]


class Frame:
    """The messages an item is evaluated against; reused across items (fields are reassigned)."""

    __slots__ = ("resource", "scope", "parent", "item", "slots")

    def __init__(self) -> None:
        self.resource: Any = None
        self.scope: Any = None
        self.parent: Any = None
        self.item: Any = None
        self.slots: list[Any] = []


@dataclass(slots=True)
class Accessor:
    get: Getter
    set: Setter | None
    level: int
    kvs: Callable[[Any], Any] | None = None  # repeated KeyValue, for editors that take a map
    text: str = ""


KeyGetters = Sequence[Getter]

# --- which message a level reads -------------------------------------------------------------
_LEVEL_MESSAGE: Final[dict[int, Callable[[Any], Any]]] = {
    RESOURCE: lambda f: f.resource,
    SCOPE: lambda f: f.scope,
    PARENT: lambda f: f.parent,
    ITEM: lambda f: f.item,
}

# context -> {prefix: (message kind, level)}; "" is the context's own kind for unprefixed paths
_CONTEXTS: Final[dict[str, dict[str, tuple[str, int]]]] = {
    "resource": {"resource": ("resource", RESOURCE)},
    "scope": {"resource": ("resource", RESOURCE), "scope": ("scope", SCOPE),
              "instrumentation_scope": ("scope", SCOPE)},
    "span": {"resource": ("resource", RESOURCE), "scope": ("scope", SCOPE),
             "instrumentation_scope": ("scope", SCOPE), "span": ("span", ITEM)},
    "spanevent": {"resource": ("resource", RESOURCE), "scope": ("scope", SCOPE),
                  "instrumentation_scope": ("scope", SCOPE), "span": ("span", PARENT),
                  "spanevent": ("spanevent", ITEM)},
    "metric": {"resource": ("resource", RESOURCE), "scope": ("scope", SCOPE),
               "instrumentation_scope": ("scope", SCOPE), "metric": ("metric", ITEM)},
    "datapoint": {"resource": ("resource", RESOURCE), "scope": ("scope", SCOPE),
                  "instrumentation_scope": ("scope", SCOPE), "metric": ("metric", PARENT),
                  "datapoint": ("datapoint", ITEM)},
    "log": {"resource": ("resource", RESOURCE), "scope": ("scope", SCOPE),
            "instrumentation_scope": ("scope", SCOPE), "log": ("log", ITEM)},
}
_OWN: Final = {"resource": ("resource", RESOURCE), "scope": ("scope", SCOPE), "span": ("span", ITEM),
               "spanevent": ("spanevent", ITEM), "metric": ("metric", ITEM),
               "datapoint": ("datapoint", ITEM), "log": ("log", ITEM)}

CONTEXT_NAMES: Final = tuple(_CONTEXTS)


# --- AnyValue navigation ---------------------------------------------------------------------
def _map_entry(v: Any, key: Any) -> Any:
    """The KeyValue `key` of an AnyValue map, or None when absent."""
    if type(key) is not str:
        raise OttlRuntimeError("map must be indexed by a string")
    return find(v.kvlist_value.values, key)


def _slice_item(v: Any, key: Any) -> Any:
    """The element `key` of an AnyValue array, as Go's `GetIndexableValue` checks it."""
    if type(key) is not int:
        raise OttlRuntimeError("slice must be indexed by an int")
    values = v.array_value.values
    if key < 0 or key >= len(values):
        raise OttlRuntimeError(f"index {key} out of bounds")
    return values[key]


def index_any(v: Any, keys: Sequence[Any]) -> Any:
    """Follow `keys` inside an AnyValue; a missing map key is nil, other misuse is an error."""
    for key in keys:
        kind = v.WhichOneof("value")
        if kind == "kvlist_value":
            kv = _map_entry(v, key)
            if kv is None:
                return None
            v = kv.value
        elif kind == "array_value":
            v = _slice_item(v, key)
        else:
            raise OttlRuntimeError(f"type {type_name(from_any(v))} does not support indexing")
    return from_any(v)


def set_in_any(v: Any, keys: Sequence[Any], value: Any) -> None:
    """Walk/create the AnyValue at `keys` below `v` and store `value` there (Go's setIndexableValue)."""
    for key in keys:
        kind = v.WhichOneof("value")
        if kind == "kvlist_value":
            kv = _map_entry(v, key)
            if kv is None:
                kv = v.kvlist_value.values.add()
                kv.key = key
            v = kv.value
        elif kind == "array_value":
            v = _slice_item(v, key)
        elif kind is None:
            if type(key) is str:
                v.kvlist_value.SetInParent()
                kv = v.kvlist_value.values.add()
                kv.key = key
                v = kv.value
            elif type(key) is int:
                v.array_value.SetInParent()
                for _ in range(key):
                    v.array_value.values.add()
                v = v.array_value.values.add()
            else:
                raise OttlRuntimeError("keys must be strings or ints")
        else:
            raise OttlRuntimeError(f"type {type_name(from_any(v))} does not support indexing")
    to_any(v, value)


def _key_values(f: Any, key_getters: KeyGetters) -> list[Any]:
    return [g(f) for g in key_getters]


# --- field kinds -----------------------------------------------------------------------------
def _map_field(msg: Callable[[Any], Any], attr: str, level: int, keys: KeyGetters, text: str) -> Accessor:
    """A repeated KeyValue field (attributes): the whole map, or a value inside it."""
    if not keys:
        return _whole_map_field(msg, attr, level, text)
    first, rest = keys[0], keys[1:]
    literal = getattr(first, "ottl_const", None)
    if not rest and type(literal) is str:
        return _literal_key_field(msg, attr, level, literal, text)

    def string_key(f: Any) -> str:
        key = first(f)
        if type(key) is not str:
            raise OttlRuntimeError("attributes must be indexed by a string")
        return key

    def get(f: Any) -> Any:
        kv = find(getattr(msg(f), attr), string_key(f))
        return None if kv is None else index_any(kv.value, _key_values(f, rest))

    def set_(f: Any, value: Any) -> None:
        key = string_key(f)
        kvs = getattr(msg(f), attr)
        kv = find(kvs, key)
        if kv is None:
            kv = kvs.add()
            kv.key = key
        set_in_any(kv.value, _key_values(f, rest), value)

    def kvs(f: Any) -> Any:
        kv = find(getattr(msg(f), attr), first(f))
        return None if kv is None else _kvlist_at(kv.value, _key_values(f, rest))

    return Accessor(get, set_, level, kvs, text)


def _whole_map_field(msg: Callable[[Any], Any], attr: str, level: int, text: str) -> Accessor:
    def set_(f: Any, value: Any) -> None:
        if type(value) is dict:
            map_from_python(getattr(msg(f), attr), value)

    return Accessor(lambda f: map_to_python(getattr(msg(f), attr)), set_, level,
                    lambda f: getattr(msg(f), attr), text)


def _literal_key_field(msg: Callable[[Any], Any], attr: str, level: int, key: str, text: str) -> Accessor:
    """`attributes["k"]` with a literal key: the hot path of most statements. `get` and `set_` are
    `values.map_get`/`map_put` written inline: the extra call costs a third of a `set` statement."""

    def get(f: Any) -> Any:
        for kv in getattr(msg(f), attr):
            if kv.key == key:
                return from_any(kv.value)
        return None

    def set_(f: Any, value: Any) -> None:
        kvs = getattr(msg(f), attr)
        for kv in kvs:
            if kv.key == key:
                to_any(kv.value, value)
                return
        kv = kvs.add()
        kv.key = key
        to_any(kv.value, value)

    def kvs(f: Any) -> Any:
        found = find(getattr(msg(f), attr), key)
        return None if found is None else _kvlist_at(found.value, ())

    return Accessor(get, set_, level, kvs, text)


def _kvlist_at(v: Any, keys: Sequence[Any]) -> Any:
    """The repeated KeyValue of the map at `keys` below AnyValue `v`, or None where there is none:
    what editors that change a map in place (`delete_key`, `limit`, ...) work on."""
    for key in keys:
        kind = v.WhichOneof("value")
        if kind == "kvlist_value" and type(key) is str:
            found = find(v.kvlist_value.values, key)
            if found is None:
                return None
            v = found.value
        elif kind == "array_value" and type(key) is int and 0 <= key < len(v.array_value.values):
            v = v.array_value.values[key]
        else:
            return None
    return v.kvlist_value.values if v.WhichOneof("value") == "kvlist_value" else None


def _any_field(msg: Callable[[Any], Any], attr: str, level: int, keys: KeyGetters, text: str) -> Accessor:
    """A field holding an AnyValue (log body)."""

    def get(f: Any) -> Any:
        v = getattr(msg(f), attr)
        return index_any(v, _key_values(f, keys)) if keys else from_any(v)

    def set_(f: Any, value: Any) -> None:
        set_in_any(getattr(msg(f), attr), _key_values(f, keys), value)

    def kvs(f: Any) -> Any:
        v = getattr(msg(f), attr)
        for key in _key_values(f, keys):
            if v.WhichOneof("value") != "kvlist_value" or type(key) is not str:
                return None
            found = find(v.kvlist_value.values, key)
            if found is None:
                return None
            v = found.value
        return v.kvlist_value.values if v.WhichOneof("value") == "kvlist_value" else None

    return Accessor(get, set_, level, kvs, text)


def _scalar(msg: Callable[[Any], Any], attr: str, py_type: type, level: int, text: str) -> Accessor:
    def get(f: Any) -> Any:
        return getattr(msg(f), attr)

    def set_(f: Any, value: Any) -> None:
        if type(value) is py_type:
            setattr(msg(f), attr, value)

    return Accessor(get, set_, level, None, text)


def _time(msg: Callable[[Any], Any], attr: str, level: int, text: str) -> Accessor:
    def get(f: Any) -> Any:
        return Time(getattr(msg(f), attr))

    def set_(f: Any, value: Any) -> None:
        if type(value) is Time:
            setattr(msg(f), attr, value.ns)

    return Accessor(get, set_, level, None, text)


def _id(msg: Callable[[Any], Any], attr: str, size: int, as_string: bool, level: int, text: str) -> Accessor:
    if as_string:
        def get(f: Any) -> Any:
            return getattr(msg(f), attr).hex()

        def set_(f: Any, value: Any) -> None:
            if type(value) is str:
                try:
                    raw = bytes.fromhex(value)
                except ValueError as exc:
                    raise OttlRuntimeError(f"invalid hex id {value!r}") from exc
                if len(raw) != size:
                    raise OttlRuntimeError(f"id must be {size} bytes")
                setattr(msg(f), attr, raw)
    else:
        def get(f: Any) -> Any:
            return getattr(msg(f), attr)

        def set_(f: Any, value: Any) -> None:
            if type(value) is bytes and len(value) == size:
                setattr(msg(f), attr, value)

    return Accessor(get, set_, level, None, text)


def _metric_data(f_msg: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def data(f: Any) -> Any:
        m = f_msg(f)
        kind = m.WhichOneof("data")
        return None if kind is None else getattr(m, kind)

    return data


_METRIC_TYPES: Final = {None: 0, "gauge": 1, "sum": 2, "histogram": 3, "exponential_histogram": 4, "summary": 5}


def _metric_field(msg: Callable[[Any], Any], name: str, level: int, text: str) -> Accessor | None:
    if name in ("name", "description", "unit"):
        return _scalar(msg, name, str, level, text)
    if name == "type":
        def get_type(f: Any) -> Any:
            return _METRIC_TYPES[msg(f).WhichOneof("data")]

        return Accessor(get_type, None, level, None, text)
    data = _metric_data(msg)
    if name == "aggregation_temporality":
        def get_temp(f: Any) -> Any:
            d = data(f)
            return getattr(d, "aggregation_temporality", 0) if d is not None else 0

        def set_temp(f: Any, value: Any) -> None:
            d = data(f)
            if type(value) is int and d is not None and hasattr(d, "aggregation_temporality"):
                d.aggregation_temporality = value

        return Accessor(get_temp, set_temp, level, None, text)
    if name == "is_monotonic":
        def get_mono(f: Any) -> Any:
            d = data(f)
            return bool(getattr(d, "is_monotonic", False)) if d is not None else False

        def set_mono(f: Any, value: Any) -> None:
            d = data(f)
            if type(value) is bool and d is not None and hasattr(d, "is_monotonic"):
                d.is_monotonic = value

        return Accessor(get_mono, set_mono, level, None, text)
    return None



def _datapoint_field(msg: Callable[[Any], Any], name: str, level: int, text: str) -> Accessor | None:
    if name in ("value_double", "value_int"):
        oneof = "as_double" if name == "value_double" else "as_int"
        py: type = float if name == "value_double" else int

        def get_v(f: Any) -> Any:
            dp = msg(f)
            if "as_double" not in type(dp).DESCRIPTOR.fields_by_name:
                return None
            return getattr(dp, oneof)

        def set_v(f: Any, value: Any) -> None:
            dp = msg(f)
            if type(value) is py and "as_double" in type(dp).DESCRIPTOR.fields_by_name:
                setattr(dp, oneof, value)

        return Accessor(get_v, set_v, level, None, text)
    simple: dict[str, type] = {"count": int, "sum": float, "flags": int, "scale": int, "zero_count": int,
                               "min": float, "max": float}
    if name in simple:
        py = simple[name]

        def get_s(f: Any) -> Any:
            dp = msg(f)
            return getattr(dp, name) if name in type(dp).DESCRIPTOR.fields_by_name else None

        def set_s(f: Any, value: Any) -> None:
            dp = msg(f)
            if type(value) is py and name in type(dp).DESCRIPTOR.fields_by_name:
                setattr(dp, name, value)

        return Accessor(get_s, set_s, level, None, text)
    if name in ("bucket_counts", "explicit_bounds"):
        def get_l(f: Any) -> Any:
            dp = msg(f)
            return list(getattr(dp, name)) if name in type(dp).DESCRIPTOR.fields_by_name else None

        def set_l(f: Any, value: Any) -> None:
            dp = msg(f)
            if type(value) is list and name in type(dp).DESCRIPTOR.fields_by_name:
                field = getattr(dp, name)
                del field[:]
                field.extend(value)

        return Accessor(get_l, set_l, level, None, text)
    return None


_COMMON_TIMES: Final = {"start_time": "start_time_unix_nano", "end_time": "end_time_unix_nano",
                        "time": "time_unix_nano", "observed_time": "observed_time_unix_nano"}


def resolve(context: str, fields: Sequence[str], keys: KeyGetters, text: str, pos: int) -> Accessor:
    """Turn a parsed path into an accessor for `context`, or raise OttlSyntaxError at `pos`."""
    prefixes = _CONTEXTS[context]
    if fields[0] in prefixes and len(fields) > 1:
        kind, level = prefixes[fields[0]]
        rest = list(fields[1:])
    else:
        kind, level = _OWN[context]
        rest = list(fields)
    msg = _LEVEL_MESSAGE[level]
    acc = _field(kind, msg, rest, keys, level, text)
    if acc is None:
        raise OttlSyntaxError(f"invalid path {text!r} for context {context!r}", pos + 1)
    if keys and acc.kvs is None and not _indexable(kind, rest):
        raise OttlSyntaxError(f"path {text!r} does not support indexing", pos + 1)
    return acc


def _indexable(kind: str, rest: Sequence[str]) -> bool:
    return rest == ["attributes"] or (kind == "log" and rest == ["body"])


def _field(kind: str, msg: Callable[[Any], Any], rest: list[str], keys: KeyGetters, level: int,
           text: str) -> Accessor | None:
    name = rest[0]
    sub = rest[1:]
    if name == "attributes" and not sub:
        return _map_field(msg, "attributes", level, keys, text)
    if keys and not (kind == "log" and name == "body" and not sub):
        return None
    if name == "dropped_attributes_count" and not sub:
        return _scalar(msg, name, int, level, text)
    if kind == "resource":
        return None
    if kind == "scope":
        return _scalar(msg, name, str, level, text) if name in ("name", "version") and not sub else None
    if kind in ("span", "spanevent", "datapoint", "log") and name in _COMMON_TIMES and not sub:
        target = _COMMON_TIMES[name]
        return _time(msg, target, level, text) if _owns(kind, target) else None
    if name.endswith("_unix_nano") and not sub and _owns(kind, name):
        return _scalar(msg, name, int, level, text)
    if kind == "span":
        if name in ("trace_id", "span_id", "parent_span_id"):
            size = 16 if name == "trace_id" else 8
            if not sub:
                return _id(msg, name, size, False, level, text)
            return _id(msg, name, size, True, level, text) if sub == ["string"] else None
        if sub:
            if name == "status" and len(sub) == 1 and sub[0] in ("code", "message"):
                field = sub[0]
                py = int if field == "code" else str

                def get_status(f: Any) -> Any:
                    return getattr(msg(f).status, field)

                def set_status(f: Any, value: Any) -> None:
                    if type(value) is py:
                        setattr(msg(f).status, field, value)

                return Accessor(get_status, set_status, level, None, text)
            return None
        if name in ("name", "trace_state"):
            return _scalar(msg, name, str, level, text)
        if name in ("kind", "flags", "dropped_events_count", "dropped_links_count"):
            return _scalar(msg, name, int, level, text)
        return None
    if kind == "spanevent":
        if name == "name" and not sub:
            return _scalar(msg, name, str, level, text)
        return None
    if kind == "metric":
        return _metric_field(msg, name, level, text) if not sub else None
    if kind == "datapoint":
        return _datapoint_field(msg, name, level, text) if not sub else None
    if kind == "log":
        if name in ("trace_id", "span_id"):
            size = 16 if name == "trace_id" else 8
            if not sub:
                return _id(msg, name, size, False, level, text)
            return _id(msg, name, size, True, level, text) if sub == ["string"] else None
        if sub:
            return None
        if name == "body":
            return _any_field(msg, "body", level, keys, text)
        if name in ("severity_text", "event_name"):
            return _scalar(msg, name, str, level, text)
        if name in ("severity_number", "flags"):
            return _scalar(msg, name, int, level, text)
    return None


_TIME_OWNERS: Final = {
    "span": {"start_time_unix_nano", "end_time_unix_nano"},
    "spanevent": {"time_unix_nano"},
    "datapoint": {"start_time_unix_nano", "time_unix_nano"},
    "log": {"time_unix_nano", "observed_time_unix_nano"},
}


def _owns(kind: str, field: str) -> bool:
    return field in _TIME_OWNERS.get(kind, ())
