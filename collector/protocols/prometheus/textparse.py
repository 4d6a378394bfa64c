"""Prometheus text exposition format 0.0.4 parser (what `/metrics` endpoints serve).

    exposition = { line "\\n" } ;
    line       = "" | "#" comment | "# HELP " name " " escaped-text | "# TYPE " name " " type
               | name [ "{" [ label { "," label } [ "," ] ] "}" ] value [ timestamp ] ;
    label      = label-name "=" '"' escaped-value '"' ;     (escapes: \\\\  \\"  \\n)
    value      = Go ParseFloat syntax, including NaN, +Inf, -Inf ;
    timestamp  = integer milliseconds since the epoch ;
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_TYPES = frozenset({"counter", "gauge", "histogram", "summary", "untyped"})


class ParseError(ValueError):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(slots=True)
class Exposition:
    """Parsed samples, in order: (metric name, labels in exposition order, value, timestamp ms or None)."""

    samples: list[tuple[str, tuple[tuple[str, str], ...], float, int | None]] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)
    help: dict[str, str] = field(default_factory=dict)


def _unescape(text: str, allow_quote: bool) -> str:
    if "\\" not in text:
        return text
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "n":
                out.append("\n")
            elif nxt == "\\":
                out.append("\\")
            elif nxt == '"' and allow_quote:
                out.append('"')
            else:
                out.append(c + nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def parse_float(text: str) -> float:
    lowered = text.lower()
    if lowered in ("nan",):
        return math.nan
    if lowered in ("+inf", "inf"):
        return math.inf
    if lowered == "-inf":
        return -math.inf
    if "_" in text or lowered.startswith(("0x", "+0x", "-0x")):
        raise ValueError(text)
    return float(text)


def _parse_labels(line: str, start: int, lineno: int) -> tuple[tuple[tuple[str, str], ...], int]:
    """Parse `{a="b",...}` starting after `{`; returns labels and the index after `}`."""
    labels: list[tuple[str, str]] = []
    i, n = start, len(line)
    while True:
        while i < n and line[i] in " \t":
            i += 1
        if i < n and line[i] == "}":
            return tuple(labels), i + 1
        m = _LABEL_NAME.match(line, i)
        if m is None:
            raise ParseError("invalid label name", lineno)
        name = m.group()
        i = m.end()
        while i < n and line[i] in " \t":
            i += 1
        if i >= n or line[i] != "=":
            raise ParseError(f"expected '=' after label name {name!r}", lineno)
        i += 1
        while i < n and line[i] in " \t":
            i += 1
        if i >= n or line[i] != '"':
            raise ParseError(f"expected '\"' to start the value of label {name!r}", lineno)
        i += 1
        j = i
        while j < n and line[j] != '"':
            j += 2 if line[j] == "\\" else 1
        if j >= n:
            raise ParseError(f"unterminated value of label {name!r}", lineno)
        if any(existing == name for existing, _ in labels):
            raise ParseError(f"duplicate label {name!r}", lineno)
        labels.append((name, _unescape(line[i:j], True)))
        i = j + 1
        while i < n and line[i] in " \t":
            i += 1
        if i < n and line[i] == ",":
            i += 1
            continue
        if i < n and line[i] == "}":
            return tuple(labels), i + 1
        raise ParseError("expected ',' or '}' in label set", lineno)


def parse(text: str) -> Exposition:
    out = Exposition()
    append = out.samples.append
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.strip(" \t\r")
        if not line:
            continue
        if line[0] == "#":
            parts = line[1:].lstrip(" \t").split(None, 2)
            if len(parts) >= 2 and parts[0] in ("HELP", "TYPE"):
                name = parts[1]
                rest = parts[2] if len(parts) > 2 else ""
                if parts[0] == "TYPE":
                    kind = rest.strip()
                    if kind not in _TYPES:
                        raise ParseError(f"invalid metric type {kind!r}", lineno)
                    out.types[name] = kind
                else:
                    out.help[name] = _unescape(rest, False)
            continue
        m = _NAME.match(line)
        if m is None:
            raise ParseError("invalid metric name", lineno)
        name = m.group()
        i = m.end()
        labels: tuple[tuple[str, str], ...] = ()
        if i < len(line) and line[i] == "{":
            labels, i = _parse_labels(line, i + 1, lineno)
        elif i < len(line) and line[i] not in " \t":
            raise ParseError("invalid metric name", lineno)
        fields = line[i:].split()
        if not 1 <= len(fields) <= 2:
            raise ParseError("expected a value and an optional timestamp", lineno)
        try:
            value = parse_float(fields[0])
        except ValueError:
            raise ParseError(f"invalid value {fields[0]!r}", lineno) from None
        ts = None
        if len(fields) == 2:
            try:
                ts = int(fields[1])
            except ValueError:
                raise ParseError(f"invalid timestamp {fields[1]!r}", lineno) from None
        append((name, labels, value, ts))
    return out
