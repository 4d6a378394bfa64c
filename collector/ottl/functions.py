"""OTTL editors and converters.

Each function is declared with its parameters; the compiler binds the call's arguments (positional
or named) to them and hands the factory a dict of `Arg`s. Arguments that the Collector requires to
be literals (regex patterns, strategies, limits) are checked here, at compile time, so a bad
statement fails configuration validation instead of every item. Factories return closures
`fn(frame) -> value`.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Final, TypeVar

import orjson

from collector.ottl import ast
from collector.ottl.errors import OttlRuntimeError, OttlSyntaxError
from collector.ottl.paths import Accessor
from collector.ottl.textops import compile_regex, expander, glob_to_regex
from collector.ottl.values import (
    Time, format_float, from_any, map_from_python, map_to_python, string_like, to_json, type_name,
)
from collector.protocols.regex import Regex, RegexError

_MISSING: Final = object()


@dataclass(slots=True)
class Arg:
    """A compiled argument: always a getter; an accessor when it is a path; the constant value when
    it is a literal (or a list/map of literals); the converter name when it is a bare ENUM-like name."""

    node: ast.Value
    get: Callable[[Any], Any]
    accessor: Accessor | None = None
    const: Any = _MISSING
    name: str | None = None
    level: int | None = None  # the level of the data it reads (paths.CONST ... ITEM), when known
    pure: bool = True

    @property
    def is_const(self) -> bool:
        return self.const is not _MISSING

    def error(self, message: str) -> OttlSyntaxError:
        return OttlSyntaxError(message, self.node.pos + 1)


Factory = Callable[[dict[str, "Arg | None"]], Callable[[Any], Any]]


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    params: tuple[str, ...]
    required: int
    factory: Factory


EDITORS: dict[str, Function] = {}
CONVERTERS: dict[str, Function] = {}

_T = TypeVar("_T")


def _editor(name: str, params: str, required: int | None = None) -> Callable[[Factory], Factory]:
    return _declare(EDITORS, name, params, required)


def _converter(name: str, params: str, required: int | None = None) -> Callable[[Factory], Factory]:
    return _declare(CONVERTERS, name, params, required)


def _declare(table: dict[str, Function], name: str, params: str, required: int | None) -> Callable[[Factory], Factory]:
    names = tuple(p for p in params.split() if p)

    def register(factory: Factory) -> Factory:
        table[name] = Function(name, names, len(names) if required is None else required, factory)
        return factory

    return register


# --- argument helpers ------------------------------------------------------------------------
def _const(a: Arg | None, kind: type | tuple[type, ...], what: str, default: Any = _MISSING) -> Any:
    if a is None:
        if default is _MISSING:
            raise OttlSyntaxError(f"{what} is required", 1)
        return default
    if not a.is_const or not isinstance(a.const, kind) or (kind is int and isinstance(a.const, bool)):
        raise a.error(f"{what} must be a literal {getattr(kind, '__name__', kind)}")
    return a.const


def _string_list(a: Arg, what: str) -> list[str]:
    if not a.is_const or not isinstance(a.const, list) or not all(isinstance(x, str) for x in a.const):
        raise a.error(f"{what} must be a list of string literals")
    return list(a.const)


def _map_target(a: Arg) -> Callable[[Any], Any]:
    acc = a.accessor
    if acc is None or acc.kvs is None:
        raise a.error("target must be a path to a map")
    kvs_of = acc.kvs

    def kvs(f: Any) -> Any:
        kv = kvs_of(f)
        if kv is None:
            raise OttlRuntimeError(f"expected a map at {acc.text} but got {type_name(acc.get(f))}")
        return kv

    return kvs


def _settable(a: Arg) -> Accessor:
    if a.accessor is None or a.accessor.set is None:
        raise a.error("target must be a settable path")
    return a.accessor


def _string(v: Any, what: str) -> str:
    if type(v) is not str:
        raise OttlRuntimeError(f"{what}: expected string but got {type_name(v)}")
    return v


def _function_arg(a: Arg | None, fmt: Arg | None) -> Callable[[str], str] | None:
    if a is None:
        if fmt is not None:
            raise fmt.error("replacementFormat requires a function")
        return None
    if a.name is None or a.name not in CONVERTERS:
        raise a.error("function must name a converter, e.g. SHA256")
    conv = CONVERTERS[a.name]
    probe = Arg(a.node, lambda f: f)  # the converter reads its argument straight from `value`
    fn = conv.factory({conv.params[0]: probe, **{p: None for p in conv.params[1:]}})
    template = _const(fmt, str, "replacementFormat", None)
    if template is not None and template.count("%s") != 1:
        raise fmt.error("replacementFormat must contain exactly one %s")  # type: ignore[union-attr]

    def apply(s: str) -> str:
        out = fn(s)
        if type(out) is not str:
            raise OttlRuntimeError("replacement function must return a string")
        return template.replace("%s", out) if template is not None else out

    return apply


# --- editors ---------------------------------------------------------------------------------
@_editor("set", "target value")
def _set(a: dict[str, Arg | None]) -> Callable[[Any], Any]:
    target = _settable(a["target"])  # type: ignore[arg-type]
    setter = target.set
    value = a["value"].get  # type: ignore[union-attr]
    assert setter is not None

    def run(f: Any) -> None:
        v = value(f)
        if v is not None:
            setter(f, v)

    return run


@_editor("delete_key", "target key")
def _delete_key(a: dict[str, Arg | None]) -> Callable[[Any], Any]:
    kvs_of = _map_target(a["target"])  # type: ignore[arg-type]
    key = a["key"].get  # type: ignore[union-attr]

    def run(f: Any) -> None:
        k = _string(key(f), "delete_key")
        kvs = kvs_of(f)
        for i, kv in enumerate(kvs):
            if kv.key == k:
                del kvs[i]
                return

    return run


def _retain(kvs: Any, keep: Callable[[Any], bool]) -> None:
    for i in range(len(kvs) - 1, -1, -1):
        if not keep(kvs[i]):
            del kvs[i]


@_editor("delete_matching_keys", "target pattern")
def _delete_matching_keys(a: dict[str, Arg | None]) -> Callable[[Any], Any]:
    kvs_of = _map_target(a["target"])  # type: ignore[arg-type]
    rx = _regex(a["pattern"])
    return lambda f: _retain(kvs_of(f), lambda kv: not rx.test(kv.key))


@_editor("keep_matching_keys", "target pattern")
def _keep_matching_keys(a: dict[str, Arg | None]) -> Callable[[Any], Any]:
    kvs_of = _map_target(a["target"])  # type: ignore[arg-type]
    rx = _regex(a["pattern"])
    return lambda f: _retain(kvs_of(f), lambda kv: rx.test(kv.key))


@_editor("keep_keys", "target keys")
def _keep_keys(a: dict[str, Arg | None]) -> Callable[[Any], Any]:
    kvs_of = _map_target(a["target"])  # type: ignore[arg-type]
    keys = frozenset(_string_list(a["keys"], "keys"))  # type: ignore[arg-type]
    return lambda f: _retain(kvs_of(f), lambda kv: kv.key in keys)


@_editor("limit", "target limit priority_keys")
def _limit(a: dict[str, Arg | None]) -> Callable[[Any], Any]:
    kvs_of = _map_target(a["target"])  # type: ignore[arg-type]
    limit = _const(a["limit"], int, "limit")
    if limit < 0:
        raise a["limit"].error(f"invalid limit for limit function, {limit} cannot be negative")  # type: ignore[union-attr]
    priority = _string_list(a["priority_keys"], "priority_keys")  # type: ignore[arg-type]
    if len(priority) > limit:
        raise a["priority_keys"].error(  # type: ignore[union-attr]
            f"number of priority keys ({len(priority)}) cannot be greater than the limit ({limit})")
    wanted = frozenset(priority)

    def run(f: Any) -> None:
        kvs = kvs_of(f)
        if len(kvs) <= limit:
            return
        budget = limit - sum(1 for kv in kvs if kv.key in wanted)
        keep: set[int] = set()
        for i, kv in enumerate(kvs):
            if kv.key in wanted:
                keep.add(i)
            elif budget > 0:
                keep.add(i)
                budget -= 1
        for i in range(len(kvs) - 1, -1, -1):
            if i not in keep:
                del kvs[i]

    return run


@_editor("truncate_all", "target limit utf8_safe truncation_marker", required=2)
def _truncate_all(a: dict[str, Arg | None]) -> Callable[[Any], Any]:
    kvs_of = _map_target(a["target"])  # type: ignore[arg-type]
    limit = _const(a["limit"], int, "limit")
    if limit < 0:
        raise a["limit"].error(f"invalid limit for truncate_all function, {limit} cannot be negative")  # type: ignore[union-attr]
    safe = _const(a["utf8_safe"], bool, "utf8_safe", True)
    marker = _const(a["truncation_marker"], str, "truncation_marker", "")
    mark = marker.encode()
    if len(mark) > limit:
        raise a["truncation_marker"].error("truncation_marker is longer than the limit")  # type: ignore[union-attr]

    def run(f: Any) -> None:
        for kv in kvs_of(f):
            v = kv.value
            if v.WhichOneof("value") != "string_value":
                continue
            raw = v.string_value.encode()
            if len(raw) <= limit:
                continue
            cut = raw[: limit - len(mark)]
            text = cut.decode("utf-8", "ignore") if safe else cut.decode("utf-8", "replace")
            v.string_value = text + marker

    return run


def _compiled(a: Arg | None, compile: Callable[[str], _T], fails: type[Exception],
              describe: Callable[[str, Exception], str]) -> _T:
    """A literal pattern argument, compiled now: a pattern that does not compile fails the
    configuration at the argument's position."""
    pattern = _const(a, str, "pattern")
    try:
        return compile(pattern)
    except fails as exc:
        raise a.error(describe(pattern, exc)) from None  # type: ignore[union-attr]


def _regex(a: Arg | None) -> Regex:
    """A literal Go/RE2 pattern (a pattern Go rejects fails the configuration)."""
    return _compiled(a, compile_regex, RegexError, lambda _pattern, exc: str(exc))


def _replacer(a: dict[str, Arg | None], rx: Regex) -> Callable[[Any, str], str]:
    """(frame, original) -> replaced, honouring Go `$n` templates and the optional function/format."""
    replacement = a["replacement"].get  # type: ignore[union-attr]
    fn = _function_arg(a.get("function"), a.get("replacementFormat"))

    def replace(f: Any, original: str) -> str:
        template = _string(replacement(f), "replacement")
        expand = expander(template, rx)
        if fn is None:
            return rx.sub(expand, original)
        return rx.sub(lambda m: fn(expand(m)), original)

    return replace


@_editor("replace_pattern", "target regex replacement function replacementFormat", required=3)
def _replace_pattern(a: dict[str, Arg | None]) -> Callable[[Any], Any]:
    target = _settable(a["target"])  # type: ignore[arg-type]
    rx = _regex(a["regex"])
    replace = _replacer(a, rx)
    get, set_ = target.get, target.set
    assert set_ is not None

    def run(f: Any) -> None:
        v = get(f)
        if type(v) is str:
            new = replace(f, v)
            if new != v:
                set_(f, new)

    return run


@_editor("replace_all_patterns", "target mode regex replacement function replacementFormat", required=4)
def _replace_all_patterns(a: dict[str, Arg | None]) -> Callable[[Any], Any]:
    kvs_of = _map_target(a["target"])  # type: ignore[arg-type]
    mode = _const(a["mode"], str, "mode")
    if mode not in ("key", "value"):
        raise a["mode"].error(f"invalid mode {mode!r}, must be 'key' or 'value'")  # type: ignore[union-attr]
    rx = _regex(a["regex"])
    replace = _replacer(a, rx)

    def run(f: Any) -> None:
        kvs = kvs_of(f)
        if mode == "value":
            for kv in kvs:
                if kv.value.WhichOneof("value") == "string_value" and rx.test(kv.value.string_value):
                    kv.value.string_value = replace(f, kv.value.string_value)
            return
        for kv in list(kvs):
            if rx.test(kv.key):
                kv.key = replace(f, kv.key)

    return run


def _glob(a: Arg | None) -> Any:
    return _compiled(a, glob_to_regex, OttlRuntimeError,
                     lambda pattern, exc: f"invalid glob pattern {pattern!r}: {exc}")


def _whole_replacer(a: dict[str, Arg | None]) -> Callable[[Any], str]:
    replacement = a["replacement"].get  # type: ignore[union-attr]
    fn = _function_arg(a.get("function"), a.get("replacementFormat"))

    def value(f: Any) -> str:
        r = _string(replacement(f), "replacement")
        return fn(r) if fn is not None else r

    return value


@_editor("replace_match", "target pattern replacement function replacementFormat", required=3)
def _replace_match(a: dict[str, Arg | None]) -> Callable[[Any], Any]:
    target = _settable(a["target"])  # type: ignore[arg-type]
    glob = _glob(a["pattern"])
    replacement = _whole_replacer(a)
    get, set_ = target.get, target.set
    assert set_ is not None

    def run(f: Any) -> None:
        v = get(f)
        if type(v) is str and glob.match(v):
            set_(f, replacement(f))

    return run


@_editor("replace_all_matches", "target pattern replacement function replacementFormat", required=3)
def _replace_all_matches(a: dict[str, Arg | None]) -> Callable[[Any], Any]:
    kvs_of = _map_target(a["target"])  # type: ignore[arg-type]
    glob = _glob(a["pattern"])
    replacement = _whole_replacer(a)

    def run(f: Any) -> None:
        for kv in kvs_of(f):
            if kv.value.WhichOneof("value") == "string_value" and glob.match(kv.value.string_value):
                kv.value.string_value = replacement(f)

    return run


@_editor("merge_maps", "target source strategy")
def _merge_maps(a: dict[str, Arg | None]) -> Callable[[Any], Any]:
    kvs_of = _map_target(a["target"])  # type: ignore[arg-type]
    source = a["source"].get  # type: ignore[union-attr]
    strategy = _const(a["strategy"], str, "strategy")
    if strategy not in ("insert", "update", "upsert"):
        raise a["strategy"].error(f"invalid value for strategy, {strategy!r}, must be 'insert', 'update' or 'upsert'")  # type: ignore[union-attr]

    def run(f: Any) -> None:
        src = source(f)
        if type(src) is not dict:
            raise OttlRuntimeError(f"merge_maps: expected a map source but got {type_name(src)}")
        kvs = kvs_of(f)
        current = {kv.key: kv for kv in kvs}
        for k, v in src.items():
            kv = current.get(k)
            if kv is None:
                if strategy != "update":
                    kv = kvs.add()
                    kv.key = k
                    _store(kv, v)
            elif strategy != "insert":
                _store(kv, v)

    return run


def _store(kv: Any, v: Any) -> None:
    from collector.ottl.values import to_any

    to_any(kv.value, v)


@_editor("flatten", "target prefix depth resolveConflicts", required=1)
def _flatten(a: dict[str, Arg | None]) -> Callable[[Any], Any]:
    kvs_of = _map_target(a["target"])  # type: ignore[arg-type]
    prefix = _const(a["prefix"], str, "prefix", "")
    depth = _const(a["depth"], int, "depth", math.inf)
    if depth < 0:
        raise a["depth"].error("invalid depth for flatten function, cannot be negative")  # type: ignore[union-attr]
    resolve = _const(a["resolveConflicts"], bool, "resolveConflicts", False)

    def run(f: Any) -> None:
        kvs = kvs_of(f)
        out: dict[str, Any] = {}
        _flatten_into(out, map_to_python(kvs), prefix, 0, depth, resolve)
        map_from_python(kvs, out)

    return run


def _flatten_into(out: dict[str, Any], m: dict[str, Any], prefix: str, level: int, depth: float,
                  resolve: bool) -> None:
    for k, v in m.items():
        key = f"{prefix}.{k}" if prefix else k
        if type(v) is dict and level < depth:
            _flatten_into(out, v, key, level + 1, depth, resolve)
        elif type(v) is list and level < depth:
            _flatten_into(out, {str(i): x for i, x in enumerate(v)}, key, level + 1, depth, resolve)
        else:
            _put_flat(out, key, v, resolve)


def _put_flat(out: dict[str, Any], key: str, v: Any, resolve: bool) -> None:
    if resolve and key in out:
        n = 0
        while f"{key}.{n}" in out:
            n += 1
        key = f"{key}.{n}"
    out[key] = v


# --- converters ------------------------------------------------------------------------------
def _unary(name: str) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Declare a one-argument converter from a plain function of the value."""

    def wrap(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def factory(a: dict[str, Arg | None]) -> Callable[[Any], Any]:
            get = a["value"].get  # type: ignore[union-attr]
            return lambda f: fn(get(f))

        _converter(name, "value")(factory)
        return fn

    return wrap


def _parse_text(v: str, parse: Callable[[str], Any]) -> Any:
    """A number from a string as Go's strconv reads it: no surrounding space, no `_` separators;
    nil when it does not parse."""
    if v and v.strip() == v and "_" not in v:
        try:
            return parse(v)
        except ValueError:
            return None
    return None


@_unary("Int")
def _int(v: Any) -> Any:
    t = type(v)
    if t is int:
        return v
    if t is bool:
        return int(v)
    if t is float:
        return int(v) if math.isfinite(v) else None
    return _parse_text(v, int) if t is str else None


@_unary("Double")
def _double(v: Any) -> Any:
    t = type(v)
    if t is float:
        return v
    if t is int or t is bool:
        return float(v)
    return _parse_text(v, float) if t is str else None


@_unary("String")
def _string_conv(v: Any) -> Any:
    if v is None:
        return None
    if type(v) is Time:
        return str(v.ns)
    return string_like(v)


@_unary("Bool")
def _bool(v: Any) -> Any:
    t = type(v)
    if t is bool:
        return v
    if t is int or t is float:
        return v != 0
    if t is str:
        if v in ("1", "t", "T", "true", "TRUE", "True"):
            return True
        if v in ("0", "f", "F", "false", "FALSE", "False"):
            return False
    return None


_unary("IsString")(lambda v: type(v) is str)
_unary("IsInt")(lambda v: type(v) is int)
_unary("IsDouble")(lambda v: type(v) is float)
_unary("IsBool")(lambda v: type(v) is bool)
_unary("IsMap")(lambda v: type(v) is dict)
_unary("IsList")(lambda v: type(v) is list)


def _hash(algorithm: str) -> Callable[[Any], Any]:
    def digest(v: Any) -> Any:
        return hashlib.new(algorithm, _string(v, algorithm.upper()).encode()).hexdigest()

    return digest


_unary("SHA256")(_hash("sha256"))
_unary("SHA1")(_hash("sha1"))
_unary("MD5")(_hash("md5"))
_unary("ToLowerCase")(lambda v: _string(v, "ToLowerCase").lower())
_unary("ToUpperCase")(lambda v: _string(v, "ToUpperCase").upper())


@_unary("Len")
def _len(v: Any) -> Any:
    t = type(v)
    if t is str:
        return len(v.encode())
    if t is list or t is dict or t is bytes:
        return len(v)
    raise OttlRuntimeError(f"Len: unsupported type {type_name(v)}")


def _json_numbers_to_float(v: Any) -> Any:
    t = type(v)
    if t is int:
        return float(v)
    if t is dict:
        return {k: _json_numbers_to_float(x) for k, x in v.items()}
    if t is list:
        return [_json_numbers_to_float(x) for x in v]
    return v


@_unary("ParseJSON")
def _parse_json(v: Any) -> Any:
    text = _string(v, "ParseJSON")
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise OttlRuntimeError(f"ParseJSON: {exc}") from exc
    if type(parsed) not in (dict, list):
        raise OttlRuntimeError("ParseJSON: only JSON objects and arrays are supported")
    return _json_numbers_to_float(parsed)


@_unary("UnixNano")
def _unix_nano(v: Any) -> Any:
    if type(v) is not Time:
        raise OttlRuntimeError(f"UnixNano: expected time.Time but got {type_name(v)}")
    return v.ns


@_unary("UnixSeconds")
def _unix_seconds(v: Any) -> Any:
    if type(v) is not Time:
        raise OttlRuntimeError(f"UnixSeconds: expected time.Time but got {type_name(v)}")
    return v.ns // 1_000_000_000


@_converter("Now", "")
def _now(a: dict[str, Arg | None]) -> Callable[[Any], Any]:
    return lambda f: Time(time.time_ns())


@_converter("Concat", "values delimiter")
def _concat(a: dict[str, Arg | None]) -> Callable[[Any], Any]:
    values = a["values"].get  # type: ignore[union-attr]
    delimiter = a["delimiter"].get  # type: ignore[union-attr]

    def run(f: Any) -> str:
        items = values(f)
        if type(items) is not list:
            raise OttlRuntimeError(f"Concat: expected a list but got {type_name(items)}")
        sep = _string(delimiter(f), "Concat delimiter")
        return sep.join("<nil>" if x is None else string_like(x) for x in items)  # type: ignore[misc]

    return run


@_converter("IsMatch", "target pattern")
def _is_match(a: dict[str, Arg | None]) -> Callable[[Any], Any]:
    target = a["target"].get  # type: ignore[union-attr]
    rx = _regex(a["pattern"])

    def run(f: Any) -> bool:
        v = target(f)
        if v is None:
            return False
        if type(v) is bytes:
            import base64

            text = base64.b64encode(v).decode()
        else:
            text = string_like(v)  # type: ignore[assignment]
        return rx.test(text)

    return run


@_converter("Substring", "target start length")
def _substring(a: dict[str, Arg | None]) -> Callable[[Any], Any]:
    target, start, length = a["target"].get, a["start"].get, a["length"].get  # type: ignore[union-attr]

    def run(f: Any) -> str:
        raw = _string(target(f), "Substring").encode()
        s, n = start(f), length(f)
        if type(s) is not int or type(n) is not int:
            raise OttlRuntimeError("Substring: start and length must be int64")
        if s < 0 or n <= 0 or s + n > len(raw):
            raise OttlRuntimeError(f"Substring: invalid range start={s} length={n} for a string of {len(raw)} bytes")
        return raw[s : s + n].decode("utf-8", "replace")

    return run


@_converter("Split", "target delimiter")
def _split(a: dict[str, Arg | None]) -> Callable[[Any], Any]:
    target, delimiter = a["target"].get, a["delimiter"].get  # type: ignore[union-attr]

    def run(f: Any) -> list[str]:
        s = _string(target(f), "Split")
        d = _string(delimiter(f), "Split delimiter")
        return list(s) if d == "" else s.split(d)

    return run


@_converter("Trim", "target replacement", required=1)
def _trim(a: dict[str, Arg | None]) -> Callable[[Any], Any]:
    target = a["target"].get  # type: ignore[union-attr]
    chars = a["replacement"].get if a["replacement"] is not None else (lambda f: " ")

    def run(f: Any) -> str:
        return _string(target(f), "Trim").strip(_string(chars(f), "Trim"))

    return run


@_converter("HasPrefix", "value prefix")
def _has_prefix(a: dict[str, Arg | None]) -> Callable[[Any], Any]:
    value, prefix = a["value"].get, a["prefix"].get  # type: ignore[union-attr]
    return lambda f: _string(value(f), "HasPrefix").startswith(_string(prefix(f), "HasPrefix"))


@_converter("HasSuffix", "value suffix")
def _has_suffix(a: dict[str, Arg | None]) -> Callable[[Any], Any]:
    value, suffix = a["value"].get, a["suffix"].get  # type: ignore[union-attr]
    return lambda f: _string(value(f), "HasSuffix").endswith(_string(suffix(f), "HasSuffix"))


@_converter("Coalesce", "values")
def _coalesce(a: dict[str, Arg | None]) -> Callable[[Any], Any]:
    values = a["values"].get  # type: ignore[union-attr]

    def run(f: Any) -> Any:
        items = values(f)
        if type(items) is not list:
            raise OttlRuntimeError("Coalesce: expected a list")
        return next((x for x in items if x is not None), None)

    return run


__all__ = ["Arg", "CONVERTERS", "EDITORS", "Function", "format_float", "from_any", "to_json"]
