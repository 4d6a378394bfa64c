"""Scanner: Alloy source bytes -> tokens (A.2).

Works on bytes so that every offset is a byte offset. Newlines are significant only after a token
that can end a statement (identifier, literal, `)`, `]`, `}`); there a TERMINATOR token is emitted,
like Go's automatic semicolons. Lexical errors are collected as diagnostics and scanning goes on,
returning a best-effort token, so the parser can report several problems in one run.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from collector.config.diag import Diagnostic, Span


class Tok(enum.Enum):
    ILLEGAL = "ILLEGAL"
    EOF = "EOF"
    COMMENT = "COMMENT"
    IDENT = "IDENT"
    NUMBER = "NUMBER"
    FLOAT = "FLOAT"
    STRING = "STRING"
    BOOL = "BOOL"
    NULL = "NULL"
    TERMINATOR = "TERMINATOR"
    OR = "||"
    AND = "&&"
    NOT = "!"
    ASSIGN = "="
    EQ = "=="
    NEQ = "!="
    LT = "<"
    LTE = "<="
    GT = ">"
    GTE = ">="
    ADD = "+"
    SUB = "-"
    MUL = "*"
    DIV = "/"
    MOD = "%"
    POW = "^"
    LCURLY = "{"
    RCURLY = "}"
    LPAREN = "("
    RPAREN = ")"
    LBRACK = "["
    RBRACK = "]"
    COMMA = ","
    DOT = "."

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Token:
    kind: Tok
    start: int
    end: int
    lit: str  # source text for literals, identifiers, comments; "\n" for TERMINATOR


_ENDS_STATEMENT = frozenset(
    {Tok.IDENT, Tok.NUMBER, Tok.FLOAT, Tok.STRING, Tok.BOOL, Tok.NULL, Tok.RPAREN, Tok.RBRACK,
     Tok.RCURLY, Tok.ILLEGAL}
)
_KEYWORDS = {"true": Tok.BOOL, "false": Tok.BOOL, "null": Tok.NULL}
_TWO_CHAR = {b"||": Tok.OR, b"&&": Tok.AND, b"!=": Tok.NEQ, b"==": Tok.EQ, b"<=": Tok.LTE,
             b">=": Tok.GTE}
_ONE_CHAR = {
    ord("!"): Tok.NOT, ord("="): Tok.ASSIGN, ord("<"): Tok.LT, ord(">"): Tok.GT, ord("+"): Tok.ADD,
    ord("-"): Tok.SUB, ord("*"): Tok.MUL, ord("/"): Tok.DIV, ord("%"): Tok.MOD, ord("^"): Tok.POW,
    ord("{"): Tok.LCURLY, ord("}"): Tok.RCURLY, ord("("): Tok.LPAREN, ord(")"): Tok.RPAREN,
    ord("["): Tok.LBRACK, ord("]"): Tok.RBRACK, ord(","): Tok.COMMA, ord("."): Tok.DOT,
}
_ASCII_IDENT = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
_IDENT_REST = re.compile(rb"[A-Za-z0-9_]*")
_DIGITS = re.compile(rb"[0-9]*")
_BOM = b"\xef\xbb\xbf"
_SIMPLE_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34}


def _utf8_len(lead: int) -> int:
    if lead >= 0xF0:
        return 4
    if lead >= 0xE0:
        return 3
    return 2


def _is_letter(ch: str) -> bool:
    return ch == "_" or ch.isalpha()


def is_valid_identifier(text: str) -> bool:
    """True if `text` scans as exactly one identifier (used for block labels)."""
    if not text or not _is_letter(text[0]):
        return False
    return all(_is_letter(c) or c.isdecimal() for c in text[1:])


# Errors kept per file: a binary file fed as configuration has an error every few bytes, and a
# million of them (each printed with its source line) helps nobody. The parser stops at this many
# (scanner and parser errors together), as Alloy stops after its first few.
MAX_ERRORS = 10


class Scanner:
    """Produces tokens one at a time; comments are returned as COMMENT tokens."""

    def __init__(self, source: bytes, filename: str) -> None:
        self.src = source
        self.file = filename
        self.diagnostics: list[Diagnostic] = []
        self.pos = len(_BOM) if source.startswith(_BOM) else 0
        self._insert_term = False
        self._encoding_errors: set[int] = set()
        self._check_encoding()

    def _error(self, offset: int, message: str, end: int | None = None) -> None:
        if len(self.diagnostics) > MAX_ERRORS:
            return  # the parser reports "too many errors" and stops
        self.diagnostics.append(
            Diagnostic.error(Span(self.file, offset, offset if end is None else end), message)
        )

    def _check_encoding(self) -> None:
        """Report NUL bytes, invalid UTF-8 and misplaced BOMs anywhere in the file (A.1)."""
        src = self.src
        found: list[tuple[int, str]] = []
        i = src.find(b"\x00")
        while i != -1 and len(found) <= MAX_ERRORS:
            found.append((i, "illegal character NUL"))
            i = src.find(b"\x00", i + 1)
        i = src.find(_BOM, 1)
        while i != -1 and len(found) <= 2 * MAX_ERRORS:
            found.append((i, "illegal byte order mark"))
            i = src.find(_BOM, i + 1)
        # Each failed decode costs the rest of the file, so only the first few bad bytes are
        # located (more would not be reported anyway); `_rune` copes with the others.
        start = 0
        while start < len(src) and len(self._encoding_errors) <= MAX_ERRORS:
            try:
                src[start:].decode("utf-8")
                break
            except UnicodeDecodeError as exc:
                bad = start + exc.start
                found.append((bad, "illegal UTF-8 encoding"))
                self._encoding_errors.add(bad)
                start = bad + 1
        for offset, message in sorted(found)[:MAX_ERRORS + 1]:
            self._error(offset, message)

    # -- main entry -----------------------------------------------------------------------

    def scan(self) -> Token:
        src, n = self.src, len(self.src)
        while True:
            i = self.pos
            while i < n and (src[i] in b" \t\r" or (src[i] == 10 and not self._insert_term)):
                i += 1
            self.pos = i
            if i >= n:
                if self._insert_term:
                    self._insert_term = False
                    return Token(Tok.TERMINATOR, n, n, "\n")
                return Token(Tok.EOF, n, n, "")
            c = src[i]
            if c == 10:
                self._insert_term = False
                self.pos = i + 1
                return Token(Tok.TERMINATOR, i, i + 1, "\n")
            if c == ord("/") and i + 1 < n and src[i + 1] in b"/*":
                if self._insert_term and self._comment_reaches_line_end(i):
                    self._insert_term = False
                    return Token(Tok.TERMINATOR, i, i, "\n")
                tok = self._scan_comment(i)
                self._insert_term = False
                return tok
            tok = self._scan_token(i)
            if tok.kind is not Tok.ILLEGAL or tok.lit.startswith("'"):
                # A stray illegal character keeps the previous terminator state (like Go).
                self._insert_term = tok.kind in _ENDS_STATEMENT
            return tok

    def tokens(self) -> list[Token]:
        """All tokens up to and including EOF (handy for tests and the formatter)."""
        out = []
        while True:
            tok = self.scan()
            out.append(tok)
            if tok.kind is Tok.EOF:
                return out

    # -- token kinds ------------------------------------------------------------------------

    def _scan_token(self, i: int) -> Token:
        src, n = self.src, len(self.src)
        c = src[i]
        if c < 0x80:
            if c == ord("_") or (ord("a") <= (c | 0x20) <= ord("z")):
                return self._scan_ident(i)
            if ord("0") <= c <= ord("9") or (c == ord(".") and i + 1 < n and ord("0") <= src[i + 1] <= ord("9")):
                return self._scan_number(i)
            if c == ord('"'):
                return self._scan_string(i, Tok.STRING, ord('"'), escapes=True, multiline=False)
            if c == ord("`"):
                return self._scan_string(i, Tok.STRING, ord("`"), escapes=False, multiline=True)
            if c == ord("'"):
                self._error(i, "illegal single-quoted string; use double quotes")
                return self._scan_string(i, Tok.ILLEGAL, ord("'"), escapes=True, multiline=False)
            pair = src[i:i + 2]
            if pair in _TWO_CHAR:
                self.pos = i + 2
                return Token(_TWO_CHAR[pair], i, i + 2, "")
            if c == ord("|") or c == ord("&"):
                ch = chr(c)
                self._error(i + 1, f"missing second {ch} in {ch}{ch}")
                self.pos = i + 1
                return Token(Tok.OR if ch == "|" else Tok.AND, i, i + 1, "")
            kind = _ONE_CHAR.get(c)
            if kind is not None:
                self.pos = i + 1
                return Token(kind, i, i + 1, "")
            if c != 0:
                self._error(i, f"illegal character U+{c:04X} {chr(c)!r}")
            self.pos = i + 1
            return Token(Tok.ILLEGAL, i, i + 1, chr(c))
        rune, width = self._rune(i)
        if rune is not None and _is_letter(rune):
            return self._scan_ident(i)
        if rune is not None and rune != "\ufeff":
            self._error(i, f"illegal character U+{ord(rune):04X} {rune!r}")
        self.pos = i + width
        return Token(Tok.ILLEGAL, i, i + width, rune or "\ufffd")

    def _rune(self, i: int) -> tuple[str | None, int]:
        """Decode the UTF-8 character at `i`; (None, 1) for an invalid byte."""
        if i in self._encoding_errors:
            return None, 1
        width = _utf8_len(self.src[i])
        try:
            return self.src[i:i + width].decode("utf-8"), width
        except UnicodeDecodeError:
            return None, 1

    def _scan_ident(self, i: int) -> Token:
        src, n = self.src, len(self.src)
        m = _ASCII_IDENT.match(src, i)
        j = m.end() if m else i
        while j < n and src[j] >= 0x80:
            ch, width = self._rune(j)
            if ch is None or not (_is_letter(ch) or ch.isdecimal()):
                break
            j += width
            j = _IDENT_REST.match(src, j).end()  # type: ignore[union-attr]
        lit = src[i:j].decode("utf-8")
        self.pos = j
        return Token(_KEYWORDS.get(lit, Tok.IDENT), i, j, lit)

    def _scan_number(self, i: int) -> Token:
        src, n = self.src, len(self.src)
        kind = Tok.NUMBER
        j = _DIGITS.match(src, i).end()  # type: ignore[union-attr]
        if j < n and src[j] == ord("."):
            kind = Tok.FLOAT
            j = _DIGITS.match(src, j + 1).end()  # type: ignore[union-attr]
        if j < n and src[j] in b"eE":
            kind = Tok.FLOAT
            j += 1
            if j < n and src[j] in b"+-":
                j += 1
            k = _DIGITS.match(src, j).end()  # type: ignore[union-attr]
            if k == j:
                self._error(i, "exponent has no digits")
            j = k
        self.pos = j
        return Token(kind, i, j, src[i:j].decode("ascii"))

    def _scan_string(self, i: int, kind: Tok, quote: int, *, escapes: bool, multiline: bool) -> Token:
        src, n = self.src, len(self.src)
        j = i + 1
        while True:
            if j >= n or (not multiline and src[j] == 10):
                self._error(i, "string literal not terminated")
                break
            c = src[j]
            j += 1
            if c == quote:
                break
            if escapes and c == ord("\\"):
                j = self._scan_escape(j)
        self.pos = j
        return Token(kind, i, j, src[i:j].decode("utf-8", "replace"))

    def _scan_escape(self, j: int) -> int:
        """Validate the escape whose first character is at `j`; return the offset after it.

        On error, stop at the offending character without consuming it (like Go).
        """
        src, n = self.src, len(self.src)
        if j >= n:
            self._error(j, "escape sequence not terminated")
            return j
        c = chr(src[j])
        if c in _SIMPLE_ESCAPES:
            return j + 1
        if "0" <= c <= "7":
            digits, base, limit, k = 3, 8, 255, j
        elif c == "x":
            digits, base, limit, k = 2, 16, 255, j + 1
        elif c == "u":
            digits, base, limit, k = 4, 16, 0x10FFFF, j + 1
        elif c == "U":
            digits, base, limit, k = 8, 16, 0x10FFFF, j + 1
        else:
            self._error(j, "unknown escape sequence")
            return j
        value = 0
        for _ in range(digits):
            if k >= n:
                self._error(j, "escape sequence not terminated")
                return k
            d = _digit_val(src[k])
            if d >= base:
                if src[k] == 10:
                    self._error(j, "escape sequence not terminated")
                else:
                    ch, _w = self._rune(k) if src[k] >= 0x80 else (chr(src[k]), 1)
                    shown = f"U+{ord(ch):04X} {ch!r}" if ch is not None else "U+FFFD"
                    self._error(j, f"illegal character {shown} in escape sequence")
                return k
            value = value * base + d
            k += 1
        if value > limit or 0xD800 <= value < 0xE000:
            self._error(j, "escape sequence is invalid Unicode code point")
        return k

    def _scan_comment(self, i: int) -> Token:
        src = self.src
        if src[i + 1] == ord("/"):
            j = src.find(b"\n", i)
            j = len(src) if j == -1 else j
            text = src[i:j]
            if text.endswith(b"\r"):
                text = text[:-1]
        else:
            k = src.find(b"*/", i + 2)
            if k == -1:
                self._error(i, "block comment not terminated")
                j = len(src)
            else:
                j = k + 2
            text = src[i:j]
        self.pos = j
        return Token(Tok.COMMENT, i, i + len(text), text.decode("utf-8", "replace"))

    def _comment_reaches_line_end(self, i: int) -> bool:
        """True if the comment(s) starting at `i` run to the end of the line (or file)."""
        src, n = self.src, len(self.src)
        while True:
            if src.startswith(b"//", i):
                return True
            if not src.startswith(b"/*", i):
                return i >= n or src[i] == 10
            k = src.find(b"*/", i + 2)
            if k == -1 or b"\n" in src[i:k]:
                return True
            i = k + 2
            while i < n and src[i] in b" \t\r":
                i += 1
            if i >= n or src[i] == 10:
                return True


def _digit_val(c: int) -> int:
    if 48 <= c <= 57:
        return c - 48
    low = c | 0x20
    if 97 <= low <= 102:
        return low - 97 + 10
    return 16


# -- literal decoding ------------------------------------------------------------------------


def unquote(lit: str) -> str:
    """Decode a string literal's source text (quotes included), Go `strconv.Unquote` style.

    Assumes the scanner already reported malformed escapes; decodes as much as it can.
    """
    if lit.startswith("`"):
        return lit[1:-1] if len(lit) >= 2 and lit.endswith("`") else lit[1:]
    body = lit[1:-1] if len(lit) >= 2 and lit[-1] == lit[0] else lit[1:]
    if "\\" not in body:
        return body
    out = bytearray()
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c != "\\":
            j = body.find("\\", i)
            j = n if j == -1 else j
            out += body[i:j].encode("utf-8", "replace")
            i = j
            continue
        i += 1
        if i >= n:
            break
        e = body[i]
        if e in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[e])
            i += 1
        elif "0" <= e <= "7":
            digits = body[i:i + 3]
            if len(digits) == 3 and all("0" <= c <= "7" for c in digits):
                out.append(int(digits, 8) & 0xFF)
            i += 3
        elif e in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[e]
            digits = body[i + 1:i + 1 + width]
            i += 1 + width
            if len(digits) != width or not all(c in _HEX_DIGITS for c in digits):
                continue  # reported by the scanner; int() would take "-1" or "_1" (found by fuzzing)
            value = int(digits, 16)
            if e == "x":
                out.append(value)
            elif value <= 0x10FFFF and not 0xD800 <= value < 0xE000:
                out += chr(value).encode("utf-8")
        else:
            out += ("\\" + e).encode("utf-8")
            i += 1
    return out.decode("utf-8", "replace")


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_UINT64_MAX = (1 << 64) - 1


def decode_number(lit: str) -> int | float:
    """Go `ParseInt(lit, 0, 64)`, falling back to uint64 and then float64 (A.2)."""
    try:
        value = int(lit, 8) if len(lit) > 1 and lit[0] == "0" else int(lit, 10)
    except ValueError:
        return float(lit)
    if value <= _UINT64_MAX:
        return value
    return float(lit)


def decode_float(lit: str) -> float:
    try:
        return float(lit)
    except ValueError:  # malformed exponent, already reported by the scanner
        return float(lit.rstrip("eE+-") or "0")
