"""Go `fmt.Sprintf` for `string.format` (A.6).

Supports the verbs Alloy users rely on (`%s %v %d %f %F %e %E %g %G %t %q %x %X %o %O %b %c %U
%%`), flags `+ - # 0 space`, width, precision (`*` included) and explicit argument indexes
`%[n]d`. Mistakes are rendered inline the way Go does (`%!d(string=hi)`, `%!d(MISSING)`,
`%!(EXTRA int=1)`) instead of failing, because that is what Alloy users see.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from collector.config.values import TypeTable, is_number, name_by_type


_GO_TYPES: TypeTable = (
    (type(None), "<nil>"),
    (bool, "bool"),
    (int, "int"),
    (float, "float64"),
    (str, "string"),
    ((list, tuple), "[]interface {}"),
    (dict, "map[string]interface {}"),
)


def _go_type(value: Any) -> str:
    """Go's `%T` of the value Alloy would hand to `fmt.Sprintf`."""
    return name_by_type(value, _GO_TYPES, type(value).__name__)


def _bad(verb: str, value: Any) -> str:
    if value is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({_go_type(value)}={format_value(value)})"


def _shortest(f: float, eprec: int, upper: bool = False) -> str:
    """Go's `%g`/`%v` with the shortest precision that round-trips."""
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if math.isnan(f):
        return "NaN"
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    sign = "-" if f < 0 else ""
    tup = Decimal(repr(abs(f))).normalize().as_tuple()
    digits = "".join(map(str, tup.digits))
    dp = len(digits) + int(tup.exponent)
    exp = dp - 1
    if exp < -4 or exp >= eprec:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        e = "E" if upper else "e"
        return f"{sign}{mant}{e}{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{digits}"
    if dp >= len(digits):
        return f"{sign}{digits}{'0' * (dp - len(digits))}"
    return f"{sign}{digits[:dp]}.{digits[dp:]}"


def format_value(value: Any) -> str:
    """Go's `%v` for Alloy values."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _shortest(value, 21)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{format_value(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def go_quote(text: str) -> str:
    """Go's `strconv.Quote`: printable characters kept, the rest escaped."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append("\\" + "abfnrtv"["\a\b\f\n\r\t\v".index(ch)])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


class _Spec:
    __slots__ = ("minus", "plus", "sharp", "zero", "space", "width", "prec")

    def __init__(self) -> None:
        self.minus = self.plus = self.sharp = self.zero = self.space = False
        self.width: int | None = None
        self.prec: int | None = None


def _pad(text: str, spec: _Spec, numeric: bool) -> str:
    if spec.width is None or len(text) >= spec.width:
        return text
    fill = spec.width - len(text)
    if spec.minus:
        return text + " " * fill
    if spec.zero and numeric:
        sign = text[0] if text[:1] in ("+", "-", " ") else ""
        body = text[len(sign):]
        prefix = ""
        if body[:2].lower() in ("0x", "0b", "0o"):
            prefix, body = body[:2], body[2:]
        return sign + prefix + "0" * fill + body
    return " " * fill + text


def _sign(negative: bool, spec: _Spec) -> str:
    if negative:
        return "-"
    if spec.plus:
        return "+"
    return " " if spec.space else ""


def _format_int(verb: str, value: int, spec: _Spec) -> str:
    neg = value < 0
    n = abs(value)
    if verb == "c":
        return chr(n) if n <= 0x10FFFF else "\ufffd"
    if verb == "q":
        return "'" + go_quote(chr(n))[1:-1].replace("'", "\\'").replace('\\"', '"') + "'"
    if verb == "U":
        text = f"U+{n:04X}"
        return text + (f" '{chr(n)}'" if spec.sharp else "")
    base = {"d": "d", "v": "d", "x": "x", "X": "X", "o": "o", "O": "o", "b": "b"}[verb]
    digits = format(n, base)
    if spec.prec is not None:
        digits = "" if spec.prec == 0 and n == 0 else digits.rjust(spec.prec, "0")
    prefix = ""
    if verb == "O":
        prefix = "0o"
    elif spec.sharp:
        prefix = {"x": "0x", "X": "0X", "o": "0", "b": "0b"}.get(verb, "")
        if verb == "o" and digits.startswith("0"):
            prefix = ""
    return _sign(neg, spec) + prefix + digits


def _format_float(verb: str, value: float, spec: _Spec) -> str:
    if math.isinf(value) or math.isnan(value):
        text = _shortest(value, 21)
        if spec.plus and text == "NaN":
            return "+NaN"
        if not spec.plus and text == "+Inf":
            return " Inf" if spec.space else "Inf"
        return text
    neg = value < 0 or (value == 0 and math.copysign(1.0, value) < 0)
    a = abs(value)
    lower = verb.lower()
    if lower in ("g", "v") and spec.prec is None:
        body = _shortest(a, 21 if verb == "v" else 6, upper=verb == "G")
    elif lower == "g":
        body = format(a, f"{'#' if spec.sharp else ''}.{spec.prec}{verb}")
    else:
        prec = 6 if spec.prec is None else spec.prec
        body = format(a, f"{'#' if spec.sharp else ''}.{prec}{'f' if verb == 'F' else verb}")
    return _sign(neg, spec) + body


def _format_one(verb: str, value: Any, spec: _Spec) -> str:
    if verb == "v":
        if is_number(value):
            text = _format_int("v", value, spec) if isinstance(value, int) else _format_float("v", value, spec)
            return _pad(text, spec, True)
        return _pad(format_value(value), spec, False)
    if isinstance(value, bool):
        if verb != "t":
            return _bad(verb, value)
        return _pad("true" if value else "false", spec, False)
    if isinstance(value, int):
        if verb not in "dxXoObcqU":
            return _bad(verb, value)
        return _pad(_format_int(verb, value, spec), spec, verb not in "cqU")
    if isinstance(value, float):
        if verb not in "eEfFgG":
            return _bad(verb, value)
        return _pad(_format_float(verb, value, spec), spec, True)
    if isinstance(value, str):
        if verb == "s":
            text = value if spec.prec is None else value[: spec.prec]
            return _pad(text, spec, False)
        if verb == "q":
            text = value if spec.prec is None else value[: spec.prec]
            if spec.sharp and "`" not in text and text.isprintable():
                return _pad(f"`{text}`", spec, False)
            return _pad(go_quote(text), spec, False)
        if verb in "xX":
            data = value.encode("utf-8")
            if spec.prec is not None:
                data = data[: spec.prec]
            text = data.hex() if verb == "x" else data.hex().upper()
            if spec.sharp:
                text = ("0x" if verb == "x" else "0X") + text
            return _pad(text, spec, False)
        return _bad(verb, value)
    if verb == "s" and isinstance(value, (list, tuple, dict)):
        return _pad(format_value(value), spec, False)
    return _bad(verb, value)


_MAX_WIDTH = 1_000_000  # Go's fmt refuses widths and precisions beyond this (tooLarge)


def _too_large(value: int) -> bool:
    return value > _MAX_WIDTH or value < -_MAX_WIDTH


def sprintf(fmt: str, args: list[Any]) -> str:
    out: list[str] = []
    argi = 0
    reordered = False
    i, n = 0, len(fmt)
    while i < n:
        j = fmt.find("%", i)
        if j == -1:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        if i >= n:
            out.append("%!(NOVERB)")
            break
        spec = _Spec()
        while i < n and fmt[i] in "+-# 0":
            c = fmt[i]
            spec.plus |= c == "+"
            spec.minus |= c == "-"
            spec.sharp |= c == "#"
            spec.zero |= c == "0"
            spec.space |= c == " "
            i += 1
        bad_index = False

        def at(c: str) -> bool:
            return i < n and fmt[i] == c

        def explicit_index() -> None:
            """`[n]` at i, if present: the next argument is the n-th (1-based); a bad one is kept
            as BADINDEX for the verb."""
            nonlocal argi, i, bad_index, reordered
            if not at("["):
                return
            reordered = True
            close = fmt.find("]", i)
            if close == -1 or not fmt[i + 1:close].isdigit():
                i, bad_index = (close + 1 if close != -1 else n), True
                return
            k = int(fmt[i + 1:close]) - 1
            i = close + 1
            if k < 0 or k > len(args):
                bad_index = True
            else:
                argi = k

        def star_arg(bad: str) -> int | None:
            """`*` at i: the next argument is the number; anything but an int renders `bad`."""
            nonlocal argi, i
            i += 1
            value = args[argi] if argi < len(args) else None
            argi += 1
            if isinstance(value, int) and not isinstance(value, bool) and not _too_large(value):
                return value
            out.append(bad)
            return None

        def digits() -> int | None:
            """Go's parsenum: a number past 1e6 is "crazy long" and swallows the rest of the
            format, so `%2000000000d` prints %!(NOVERB) instead of allocating gigabytes."""
            nonlocal i
            num, found = 0, False
            while i < n and "0" <= fmt[i] <= "9":
                if _too_large(num):
                    i = n
                    return None
                num = num * 10 + ord(fmt[i]) - 48
                found = True
                i += 1
            return num if found else None

        explicit_index()
        if at("*"):
            spec.width = star_arg("%!(BADWIDTH)")
            if spec.width is not None and spec.width < 0:
                spec.minus, spec.width = True, -spec.width
        else:
            spec.width = digits()
        if at("."):
            i += 1
            explicit_index()
            if at("*"):
                prec = star_arg("%!(BADPREC)")
                spec.prec = None if prec is None else max(prec, 0)
            else:
                spec.prec = digits() or 0
        explicit_index()
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if spec.minus:
            spec.zero = False
        if verb == "%":
            out.append("%")
            continue
        if bad_index:
            out.append(f"%!{verb}(BADINDEX)")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        out.append(_format_one(verb, args[argi], spec))
        argi += 1
    if not reordered and argi < len(args):
        extra = ", ".join(
            "<nil>" if a is None else f"{_go_type(a)}={format_value(a)}" for a in args[argi:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)
