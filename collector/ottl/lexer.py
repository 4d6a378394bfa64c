"""Tokenizer for OTTL statements and conditions.

Tokens: identifiers (`[A-Za-z_][A-Za-z0-9_]*`; the parser tells keywords, enums and function names
apart), strings ("..." with Go escapes), integers, floats, bytes (`0x` + hex digits), and the
punctuation `( ) [ ] { } , . : = == != < <= > >= + - * /`. Unary minus is left to the parser, so
`a-1` is a subtraction whatever the spacing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from collector.ottl.errors import OttlSyntaxError


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "ident", "string", "int", "float", "bytes", "op", "eof"
    text: str
    pos: int
    value: object = None


_TOKEN: Final = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<bytes>0x[0-9A-Fa-f]*)
  | (?P<float>(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+)
  | (?P<int>\d+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<string>")
  | (?P<op>==|!=|<=|>=|[()\[\]{},.:=<>+\-*/])
    """,
    re.VERBOSE,
)

_SIMPLE_ESCAPES: Final = {
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
    "\\": "\\", '"': '"', "'": "'",
}


def _read_string(text: str, start: int) -> tuple[str, int]:
    """Decode the string literal whose opening quote is at `start`; return (value, end offset)."""
    out: list[str] = []
    i = start + 1
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"':
            return "".join(out), i + 1
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= n:
            break
        e = text[i + 1]
        if e in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[e])
            i += 2
        elif e in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[e]
            digits = text[i + 2 : i + 2 + width]
            if len(digits) != width or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise OttlSyntaxError(f"invalid escape \\{e} in string", i + 1)
            out.append(chr(int(digits, 16)))
            i += 2 + width
        elif e in "01234567":
            digits = text[i + 1 : i + 4]
            if len(digits) != 3 or not all(d in "01234567" for d in digits):
                raise OttlSyntaxError("invalid octal escape in string", i + 1)
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise OttlSyntaxError(f"invalid escape \\{e} in string", i + 1)
    raise OttlSyntaxError("unterminated string", start + 1)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    n = len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if m is None:
            raise OttlSyntaxError(f"unexpected character {text[pos]!r}", pos + 1)
        kind = m.lastgroup
        assert kind is not None
        if kind == "ws":
            pos = m.end()
            continue
        if kind == "string":
            value, end = _read_string(text, pos)
            tokens.append(Token("string", text[pos:end], pos, value))
            pos = end
            continue
        lexeme = m.group()
        if kind == "bytes":
            digits = lexeme[2:]
            if not digits or len(digits) % 2:
                raise OttlSyntaxError("byte literal needs an even, non-zero number of hex digits", pos + 1)
            tokens.append(Token("bytes", lexeme, pos, bytes.fromhex(digits)))
        elif kind == "int":
            tokens.append(Token("int", lexeme, pos, int(lexeme)))
        elif kind == "float":
            tokens.append(Token("float", lexeme, pos, float(lexeme)))
        else:
            tokens.append(Token(kind, lexeme, pos))
        pos = m.end()
    tokens.append(Token("eof", "", n))
    return tokens
