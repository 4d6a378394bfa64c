"""The standard library (A.6): nested namespaces of `Function`s and constants.

Functions take evaluated Alloy values and raise `FunctionError` on bad arguments; the evaluator
turns that into an error at the call site. Secrets are never accepted where a string is expected:
they must be unwrapped with `convert.nonsensitive` first, exactly as in Alloy.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import platform
import posixpath
import re
import socket
import sys
import urllib.parse
from typing import Any, Callable

import collector
from collector.config import gofmt, jsonpath
from collector.config.evaluator import FunctionError
from collector.config.values import Function, Secret, is_number, type_name


def _arity(name: str, args: tuple[Any, ...], count: int) -> None:
    if len(args) != count:
        plural = "" if count == 1 else "s"
        raise FunctionError(f"expected {count} argument{plural}, got {len(args)}")


def _string(value: Any, position: int) -> str:
    if isinstance(value, Secret):
        raise FunctionError(
            f"argument {position}: expected string, got secret (use convert.nonsensitive)"
        )
    if not isinstance(value, str):
        raise FunctionError(f"argument {position}: expected string, got {type_name(value)}")
    return str(value)


def _strings(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: check arity and that every argument is a (non-secret) string."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            _arity(fn.__name__, args, len(names))
            return fn(*(_string(a, i + 1) for i, a in enumerate(args)))

        call.__name__ = fn.__name__
        call.__doc__ = fn.__doc__
        return call

    return wrap


# -- sys / constants ----------------------------------------------------------------------------


@_strings("name")
def _env(name: str) -> str:
    return os.environ.get(name, "")


def _go_os() -> str:
    return {"win32": "windows", "cygwin": "windows"}.get(sys.platform, sys.platform.rstrip("0123456789"))


def _go_arch() -> str:
    machine = platform.machine().lower()
    return {
        "x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
        "i386": "386", "i686": "386", "x86": "386", "armv7l": "arm", "armv6l": "arm",
        "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64",
    }.get(machine, machine)


def _hostname() -> str:
    try:
        return socket.gethostname()
    except OSError:
        return ""


def _version() -> str:
    version = getattr(collector, "__version__", "") or "0.0.0"
    return version if version.startswith("v") else "v" + version


# -- generic ------------------------------------------------------------------------------------


def _is_empty(value: Any) -> bool:
    if value is None or value is False:
        return True
    if is_number(value):
        return value == 0
    if isinstance(value, (str, list, tuple, dict)):
        return len(value) == 0
    return False


def _coalesce(*args: Any) -> Any:
    for value in args:
        if not _is_empty(value):
            return value
    return args[-1] if args else None


def _concat(*args: Any) -> list[Any]:
    out: list[Any] = []
    for i, value in enumerate(args):
        if not isinstance(value, (list, tuple)):
            raise FunctionError(f"argument {i + 1}: expected array, got {type_name(value)}")
        out.extend(value)
    return out


# -- string -------------------------------------------------------------------------------------


def _format(*args: Any) -> str:
    if not args:
        raise FunctionError("expected at least 1 argument, got 0")
    spec = _string(args[0], 1)
    for i, value in enumerate(args[1:]):
        if isinstance(value, Secret):
            raise FunctionError(f"argument {i + 2}: secrets must be unwrapped with convert.nonsensitive")
    return gofmt.sprintf(spec, list(args[1:]))


def _join(*args: Any) -> str:
    _arity("join", args, 2)
    items, sep = args
    if not isinstance(items, (list, tuple)):
        raise FunctionError(f"argument 1: expected array, got {type_name(items)}")
    parts = []
    for i, item in enumerate(items):
        if not isinstance(item, str) or isinstance(item, Secret):
            raise FunctionError(f"argument 1: element {i}: expected string, got {type_name(item)}")
        parts.append(str(item))
    return _string(sep, 2).join(parts)


@_strings("s", "sep")
def _split(s: str, sep: str) -> list[str]:
    if sep == "":
        return list(s)  # Go splits into UTF-8 characters
    return s.split(sep)


@_strings("s", "old", "new")
def _replace(s: str, old: str, new: str) -> str:
    if old == "":
        # Go inserts `new` before every character and at the end.
        return new + new.join(s) + (new if s else "")
    return s.replace(old, new)


@_strings("s")
def _to_lower(s: str) -> str:
    return s.lower()


@_strings("s")
def _to_upper(s: str) -> str:
    return s.upper()


@_strings("s", "cutset")
def _trim(s: str, cutset: str) -> str:
    return s.strip(cutset) if cutset else s


@_strings("s", "prefix")
def _trim_prefix(s: str, prefix: str) -> str:
    return s[len(prefix):] if prefix and s.startswith(prefix) else s


@_strings("s", "suffix")
def _trim_suffix(s: str, suffix: str) -> str:
    return s[: -len(suffix)] if suffix and s.endswith(suffix) else s


@_strings("s")
def _trim_space(s: str) -> str:
    return s.strip(" \t\n\v\f\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
                   "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


# -- encoding -----------------------------------------------------------------------------------


@_strings("json")
def _from_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FunctionError(f"invalid JSON: {exc}") from exc


@_strings("yaml")
def _from_yaml(text: str) -> Any:
    """Alloy's `encoding.from_yaml`: YAML 1.2 (as Go's yaml.v3 reads it) through ruamel.yaml, loaded
    into plain values (maps, lists, strings, numbers, booleans, null)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return _plain_yaml(YAML(typ="safe", pure=True).load(text))
    except YAMLError as exc:
        raise FunctionError(f"invalid YAML: {' '.join(str(exc).split())}") from exc


def _plain_yaml(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain_yaml(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_yaml(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)  # timestamps and other tagged scalars: their text, as Alloy gives them


def _to_json_value(value: Any, path: str) -> Any:
    if isinstance(value, Secret):
        raise FunctionError(f"{path}: secrets must be unwrapped with convert.nonsensitive")
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise FunctionError(f"{path}: unsupported value {value}")
        return int(value) if value.is_integer() and abs(value) < 1e21 else value
    if isinstance(value, (list, tuple)):
        return [_to_json_value(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {str(k): _to_json_value(v, f"{path}.{k}") for k, v in value.items()}
    raise FunctionError(f"{path}: cannot encode value of type {type_name(value)} as JSON")


def _to_json(*args: Any) -> str:
    _arity("to_json", args, 1)
    (value,) = args
    if not isinstance(value, dict):
        raise FunctionError(f"argument 1: expected object, got {type_name(value)}")
    text = json.dumps(_to_json_value(value, "value"), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)
    # Go's json.Marshal escapes HTML-sensitive characters.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _base64_text(s: str, decode: Callable[[str], bytes]) -> str:
    """Decoded base64 as text, the way Alloy returns it: invalid UTF-8 becomes U+FFFD and any
    decoding failure is the same `illegal base64 data` error, whichever alphabet."""
    try:
        return decode(s).decode("utf-8", "replace")
    except (binascii.Error, ValueError) as exc:
        raise FunctionError(f"illegal base64 data: {exc}") from exc


@_strings("s")
def _from_base64(s: str) -> str:
    return _base64_text(s, lambda text: base64.b64decode(text, validate=True))


@_strings("s")
def _to_base64(s: str) -> str:
    return base64.b64encode(s.encode("utf-8")).decode("ascii")


@_strings("s")
def _from_url_base64(s: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", s) or len(s) % 4:
        raise FunctionError("illegal base64 data")
    return _base64_text(s, base64.urlsafe_b64decode)


@_strings("s")
def _to_url_base64(s: str) -> str:
    return base64.urlsafe_b64encode(s.encode("utf-8")).decode("ascii")


@_strings("s")
def _url_encode(s: str) -> str:
    return urllib.parse.quote_plus(s, safe="")


_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


@_strings("s")
def _url_decode(s: str) -> str:
    bad = _BAD_PERCENT.search(s)
    if bad:
        raise FunctionError(f'invalid URL escape "{s[bad.start():bad.start() + 3]}"')
    return urllib.parse.unquote_plus(s)


# -- convert / file / json_path -----------------------------------------------------------------


def _nonsensitive(*args: Any) -> str:
    _arity("nonsensitive", args, 1)
    (value,) = args
    if isinstance(value, Secret):
        return str.__str__(value)
    if isinstance(value, str):
        return value
    raise FunctionError(f"argument 1: expected secret, got {type_name(value)}")


def _path_join(*args: Any) -> str:
    parts = [_string(a, i + 1) for i, a in enumerate(args)]
    parts = [p for p in parts if p]
    if not parts:
        return ""
    joined = posixpath.normpath("/".join(parts))
    return "/" + joined.lstrip("/") if joined.startswith("//") else joined


@_strings("json", "path")
def _json_path(text: str, path: str) -> list[Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FunctionError(f"invalid JSON: {exc}") from exc
    return jsonpath.query(document, path)


def _fn(name: str, call: Callable[..., Any]) -> Function:
    return Function(name, call)


def _build() -> dict[str, Any]:
    env = _fn("sys.env", _env)
    fmt = _fn("string.format", _format)
    join = _fn("string.join", _join)
    split = _fn("string.split", _split)
    replace = _fn("string.replace", _replace)
    to_lower = _fn("string.to_lower", _to_lower)
    to_upper = _fn("string.to_upper", _to_upper)
    trim = _fn("string.trim", _trim)
    trim_prefix = _fn("string.trim_prefix", _trim_prefix)
    trim_suffix = _fn("string.trim_suffix", _trim_suffix)
    trim_space = _fn("string.trim_space", _trim_space)
    from_json = _fn("encoding.from_json", _from_json)
    concat = _fn("array.concat", _concat)
    nonsensitive = _fn("convert.nonsensitive", _nonsensitive)
    return {
        "sys": {"env": env},
        "constants": {
            "hostname": _hostname(),
            "os": _go_os(),
            "arch": _go_arch(),
            "version": _version(),
        },
        "coalesce": _fn("coalesce", _coalesce),
        "array": {"concat": concat},
        "string": {
            "format": fmt, "join": join, "split": split, "replace": replace,
            "to_lower": to_lower, "to_upper": to_upper, "trim": trim,
            "trim_prefix": trim_prefix, "trim_suffix": trim_suffix, "trim_space": trim_space,
        },
        "encoding": {
            "from_json": from_json,
            "from_yaml": _fn("encoding.from_yaml", _from_yaml),
            "to_json": _fn("encoding.to_json", _to_json),
            "from_base64": _fn("encoding.from_base64", _from_base64),
            "to_base64": _fn("encoding.to_base64", _to_base64),
            "from_URLbase64": _fn("encoding.from_URLbase64", _from_url_base64),
            "to_URLbase64": _fn("encoding.to_URLbase64", _to_url_base64),
            "url_encode": _fn("encoding.url_encode", _url_encode),
            "url_decode": _fn("encoding.url_decode", _url_decode),
        },
        "convert": {"nonsensitive": nonsensitive},
        "file": {"path_join": _fn("file.path_join", _path_join)},
        "json_path": _fn("json_path", _json_path),
        # Deprecated top-level aliases (see DEPRECATED).
        "env": env,
        "concat": concat,
        "format": fmt,
        "join": join,
        "split": split,
        "replace": replace,
        "to_lower": to_lower,
        "to_upper": to_upper,
        "trim": trim,
        "trim_prefix": trim_prefix,
        "trim_suffix": trim_suffix,
        "trim_space": trim_space,
        "json_decode": from_json,
        "nonsensitive": nonsensitive,
    }


STDLIB: dict[str, Any] = _build()

#: Deprecated top-level names and what to use instead; using one logs a warning.
DEPRECATED: dict[str, str] = {
    "env": "sys.env",
    "concat": "array.concat",
    "format": "string.format",
    "join": "string.join",
    "split": "string.split",
    "replace": "string.replace",
    "to_lower": "string.to_lower",
    "to_upper": "string.to_upper",
    "trim": "string.trim",
    "trim_prefix": "string.trim_prefix",
    "trim_suffix": "string.trim_suffix",
    "trim_space": "string.trim_space",
    "json_decode": "encoding.from_json",
    "nonsensitive": "convert.nonsensitive",
}
