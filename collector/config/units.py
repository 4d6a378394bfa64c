"""Durations and byte sizes written as strings in configurations (A.5).

Durations follow Go's `time.ParseDuration` / `Duration.String`; byte sizes follow the otelcol
`configopaque`-style suffixes, with decimal-looking suffixes (`KB`, `MB`) treated as base 2.
"""

from __future__ import annotations

import re

_NANOS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 10**9,
          "m": 60 * 10**9, "h": 3600 * 10**9}
_COMPONENT = re.compile(r"(\d*)(?:\.(\d*))?([^\d.]*)")
_MAX_NANOS = (1 << 63) - 1


def parse_duration(text: str) -> float:
    """Go `time.ParseDuration`, returning seconds. Raises ValueError with Go's wording."""
    original = text
    quoted = f'"{original}"'
    sign = 1
    if text[:1] in ("+", "-"):
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if text == "0":
        return 0.0
    if not text:
        raise ValueError(f"time: invalid duration {quoted}")
    total = 0  # nanoseconds, exact for integral parts
    frac_total = 0.0
    pos = 0
    while pos < len(text):
        m = _COMPONENT.match(text, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"time: invalid duration {quoted}")
        whole, frac, unit = m.group(1), m.group(2), m.group(3)
        if not whole and not frac:
            raise ValueError(f"time: invalid duration {quoted}")
        if not unit:
            raise ValueError(f"time: missing unit in duration {quoted}")
        if unit not in _NANOS:
            raise ValueError(f'time: unknown unit "{unit}" in duration {quoted}')
        scale = _NANOS[unit]
        total += int(whole or "0") * scale
        if frac:
            frac_total += int(frac) * scale / (10 ** len(frac))
        if total > _MAX_NANOS:
            raise ValueError(f"time: invalid duration {quoted}")
        pos = m.end()
    nanos = total + int(frac_total)
    return sign * nanos / 1e9


def _fmt_frac(value: int, digits: int) -> str:
    """`value` scaled by 10**-digits with trailing zeros removed (Go's fmtFrac)."""
    whole, frac = divmod(value, 10**digits)
    text = str(whole)
    if frac:
        text += "." + str(frac).rjust(digits, "0").rstrip("0")
    return text


def format_duration(seconds: float) -> str:
    """Go `Duration.String`: `1h2m3.5s`, `200ms`, `1.5µs`, `0s`."""
    nanos = round(seconds * 1e9)
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    n = abs(nanos)
    if n < 1_000:
        return f"{sign}{n}ns"
    if n < 1_000_000:
        return f"{sign}{_fmt_frac(n, 3)}µs"
    if n < 1_000_000_000:
        return f"{sign}{_fmt_frac(n, 6)}ms"
    hours, rest = divmod(n, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    text = _fmt_frac(rest, 9) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text


_BYTE_UNITS = {
    "": 1, "b": 1,
    "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
    "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
    "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
    "t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40,
}
_BYTESIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*")


def parse_bytesize(text: str | int | float) -> int:
    """`"4MiB"` -> 4194304. Plain numbers are bytes; `KB`/`MB`/`GB` are base 2 as in Alloy."""
    if isinstance(text, bool):
        raise ValueError(f"invalid byte size {text!r}")
    if isinstance(text, (int, float)):
        if text < 0:
            raise ValueError(f"invalid byte size {text!r}: must not be negative")
        return _in_range(int(text), repr(text))
    m = _BYTESIZE.fullmatch(text)
    if m is None:
        raise ValueError(f'invalid byte size "{text}"')
    unit = m.group(2).lower()
    if unit not in _BYTE_UNITS:
        raise ValueError(f'invalid byte size "{text}": unknown unit "{m.group(2)}"')
    return _in_range(int(float(m.group(1)) * _BYTE_UNITS[unit]), f'"{text}"')


def _in_range(size: int, shown: str) -> int:
    """Sizes are int64 in Go (where larger ones fail to parse); a bigger one accepted here would
    disable every limit it sets (a body limit of 10^30 bytes admits any zip bomb)."""
    if size > _MAX_NANOS:
        raise ValueError(f"invalid byte size {shown}: out of range (at most {_MAX_NANOS} bytes, 8EiB)")
    return size
