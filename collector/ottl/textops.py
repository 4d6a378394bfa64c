"""Go-compatible text helpers: regexes (RE2, through `collector.protocols.regex`), regexp replacement
templates (`$1`, `${name}`, `$$`) and filepath.Match globs, translated to Python `re`."""

from __future__ import annotations

import re
from typing import Callable

from collector.ottl.errors import OttlRuntimeError
from collector.protocols.regex import Match, Regex, compile as compile_re2

_TEMPLATE = re.compile(r"\$(?:\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")


def expander(template: str, pattern: Regex) -> Callable[[Match], str]:
    """A function giving Go's Regexp.Expand(template, match): unknown groups expand to ''."""
    parts: list[str | int] = []
    last = 0
    for m in _TEMPLATE.finditer(template):
        parts.append(template[last : m.start()])
        name = m.group(1) or m.group(2)
        if name is None:
            parts.append("$")
        elif name.isdigit():
            index = int(name)
            parts.append(index if index <= pattern.groups else "")
        else:
            index = pattern.groupindex.get(name, -1)
            parts.append(index if index >= 0 else "")
        last = m.end()
    parts.append(template[last:])
    parts = [p for p in parts if p != ""]
    if all(isinstance(p, str) for p in parts):
        literal = "".join(parts)  # type: ignore[arg-type]
        return lambda _m: literal

    def expand(m: Match) -> str:
        return "".join(p if isinstance(p, str) else (m.group(p) or "") for p in parts)

    return expand


def compile_regex(pattern: str) -> Regex:
    """Go's `regexp.Compile`, as the Collector's OTTL functions use it: RE2 syntax, unanchored.
    Raises `RegexError` (a ValueError) for what Go would reject, backreferences and lookaround."""
    return compile_re2(pattern)


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """filepath.Match: `*` and `?` never match '/', `[...]` classes (`^` negates), `\\` escapes."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\":
            i += 1
            if i >= n:
                raise OttlRuntimeError("syntax error in pattern")
            out.append(re.escape(pattern[i]))
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j < 0:
                raise OttlRuntimeError("syntax error in pattern")
            body = pattern[i + 1 : j]
            negate = body.startswith("^")
            if negate:
                body = body[1:]
            body = body.replace("\\", "\\\\")
            out.append(f"[{'^' if negate else ''}{body}]")
            i = j
        else:
            out.append(re.escape(c))
        i += 1
    try:
        return re.compile("".join(out) + r"\Z", re.DOTALL)
    except re.error:  # e.g. an empty class `[]` (found by fuzzing): Go's ErrBadPattern
        raise OttlRuntimeError("syntax error in pattern") from None
