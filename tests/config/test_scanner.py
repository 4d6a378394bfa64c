from __future__ import annotations

import pytest

from collector.config.scanner import Scanner, Tok, decode_number, unquote


def kinds(src: str) -> list[Tok]:
    return [t.kind for t in Scanner(src.encode(), "t").tokens()]


def lits(src: str) -> list[tuple[Tok, str]]:
    return [(t.kind, t.lit) for t in Scanner(src.encode(), "t").tokens() if t.kind is not Tok.EOF]


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("||", Tok.OR), ("&&", Tok.AND), ("!", Tok.NOT), ("=", Tok.ASSIGN), ("==", Tok.EQ),
        ("!=", Tok.NEQ), ("<", Tok.LT), ("<=", Tok.LTE), (">", Tok.GT), (">=", Tok.GTE),
        ("+", Tok.ADD), ("-", Tok.SUB), ("*", Tok.MUL), ("/", Tok.DIV), ("%", Tok.MOD),
        ("^", Tok.POW), ("{", Tok.LCURLY), ("}", Tok.RCURLY), ("(", Tok.LPAREN), (")", Tok.RPAREN),
        ("[", Tok.LBRACK), ("]", Tok.RBRACK), (",", Tok.COMMA), (".", Tok.DOT),
        ("foo", Tok.IDENT), ("_x9", Tok.IDENT), ("héllo", Tok.IDENT), ("日本", Tok.IDENT),
        ("true", Tok.BOOL), ("false", Tok.BOOL), ("null", Tok.NULL),
        ("12", Tok.NUMBER), ("1.5", Tok.FLOAT), ("1.", Tok.FLOAT), (".5", Tok.FLOAT),
        ("1e3", Tok.FLOAT), ("1E-3", Tok.FLOAT), ('"s"', Tok.STRING), ("`raw`", Tok.STRING),
        ("// c", Tok.COMMENT), ("/* c */", Tok.COMMENT),
    ],
)
def test_token_kinds(src: str, expected: Tok) -> None:
    assert Scanner(src.encode(), "t").scan().kind is expected


def test_identifier_stops_at_dash_and_dot() -> None:
    assert lits("a-b.c") == [(Tok.IDENT, "a"), (Tok.SUB, ""), (Tok.IDENT, "b"), (Tok.DOT, ""),
                             (Tok.IDENT, "c"), (Tok.TERMINATOR, "\n")]


def test_hex_is_not_a_literal() -> None:
    assert lits("0x10")[:2] == [(Tok.NUMBER, "0"), (Tok.IDENT, "x10")]


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("a\n", [Tok.IDENT, Tok.TERMINATOR, Tok.EOF]),
        ("1\n", [Tok.NUMBER, Tok.TERMINATOR, Tok.EOF]),
        ('"s"\n', [Tok.STRING, Tok.TERMINATOR, Tok.EOF]),
        ("true\n", [Tok.BOOL, Tok.TERMINATOR, Tok.EOF]),
        ("null\n", [Tok.NULL, Tok.TERMINATOR, Tok.EOF]),
        (")\n", [Tok.RPAREN, Tok.TERMINATOR, Tok.EOF]),
        ("]\n", [Tok.RBRACK, Tok.TERMINATOR, Tok.EOF]),
        ("}\n", [Tok.RCURLY, Tok.TERMINATOR, Tok.EOF]),
        ("a", [Tok.IDENT, Tok.TERMINATOR, Tok.EOF]),  # EOF also terminates
        ("+\n", [Tok.ADD, Tok.EOF]),  # operator at end of line continues
        ("[\n", [Tok.LBRACK, Tok.EOF]),
        ("{\n", [Tok.LCURLY, Tok.EOF]),
        (",\n", [Tok.COMMA, Tok.EOF]),
        ("=\n", [Tok.ASSIGN, Tok.EOF]),
        ("a\n\n\nb", [Tok.IDENT, Tok.TERMINATOR, Tok.IDENT, Tok.TERMINATOR, Tok.EOF]),
        ("a // c\nb", [Tok.IDENT, Tok.TERMINATOR, Tok.COMMENT, Tok.IDENT, Tok.TERMINATOR, Tok.EOF]),
        ("a /* c */\nb", [Tok.IDENT, Tok.TERMINATOR, Tok.COMMENT, Tok.IDENT, Tok.TERMINATOR, Tok.EOF]),
        ("a /* c */ b", [Tok.IDENT, Tok.COMMENT, Tok.IDENT, Tok.TERMINATOR, Tok.EOF]),
        ("a /* x\ny */ b", [Tok.IDENT, Tok.TERMINATOR, Tok.COMMENT, Tok.IDENT, Tok.TERMINATOR, Tok.EOF]),
        ("a\r\nb", [Tok.IDENT, Tok.TERMINATOR, Tok.IDENT, Tok.TERMINATOR, Tok.EOF]),
    ],
)
def test_terminator_insertion(src: str, expected: list[Tok]) -> None:
    assert kinds(src) == expected


def test_terminator_positions() -> None:
    toks = Scanner(b"a // c\n", "t").tokens()
    assert (toks[1].kind, toks[1].start) == (Tok.TERMINATOR, 2)  # at the comment
    toks = Scanner(b"a\n", "t").tokens()
    assert (toks[1].start, toks[1].end) == (1, 2)


@pytest.mark.parametrize(
    ("lit", "value"),
    [
        (r'"plain"', "plain"),
        (r'"a\\b"', "a\\b"), (r'"q\"q"', 'q"q'), (r'"\a\b\f\n\r\t\v"', "\a\b\f\n\r\t\v"),
        (r'"\101"', "A"), (r'"\x41"', "A"), (r'"\u00e9"', "é"), (r'"\U0001F600"', "\U0001F600"),
        ("`a\\n\"b`", 'a\\n"b'), ("`line1\r\nline2`", "line1\r\nline2"),
    ],
)
def test_unquote(lit: str, value: str) -> None:
    assert unquote(lit) == value


def test_escapes_scan_without_errors() -> None:
    s = Scanner(rb'"\a\b\f\n\r\t\v\\\" \101 \x41 \u00e9 \U0001F600"', "t")
    tok = s.scan()
    assert tok.kind is Tok.STRING and s.diagnostics == []


def test_raw_string_spans_lines() -> None:
    s = Scanner(b"`a\nb`", "t")
    tok = s.scan()
    assert tok.kind is Tok.STRING and tok.lit == "`a\nb`" and s.diagnostics == []


@pytest.mark.parametrize(
    ("lit", "value"),
    [
        ("0", 0), ("10", 10), ("010", 8), ("0777", 511), ("08", 8.0),
        ("9223372036854775807", 9223372036854775807),
        ("18446744073709551615", 18446744073709551615),  # uint64 fallback
        ("18446744073709551616", 1.8446744073709552e19),  # float fallback
    ],
)
def test_decode_number(lit: str, value: int | float) -> None:
    got = decode_number(lit)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    ("src", "message", "offset"),
    [
        ("1e", "exponent has no digits", 0),
        ("x = 1.5e+", "exponent has no digits", 4),
        ("/* x", "block comment not terminated", 0),
        ('"abc\n"', "string literal not terminated", 0),
        ("`abc", "string literal not terminated", 0),
        ("'a'", "illegal single-quoted string; use double quotes", 0),
        (r'"\q"', "unknown escape sequence", 2),
        (r'"\'"', "unknown escape sequence", 2),
        (r'"\xG0"', "illegal character U+0047 'G' in escape sequence", 2),
        ("&", "missing second & in &&", 1),
        ("@", "illegal character U+0040 '@'", 0),
    ],
)
def test_lexical_errors(src: str, message: str, offset: int) -> None:
    s = Scanner(src.encode(), "t")
    s.tokens()
    assert [(d.message, d.span.start) for d in s.diagnostics][:1] == [(message, offset)]


def test_leading_bom_skipped_later_bom_and_nul_rejected() -> None:
    s = Scanner(b"\xef\xbb\xbfa", "t")
    assert s.scan().lit == "a" and s.diagnostics == []
    s = Scanner(b"a\x00\xef\xbb\xbf\xff", "t")
    s.tokens()
    assert [d.message for d in s.diagnostics] == [
        "illegal character NUL", "illegal byte order mark", "illegal UTF-8 encoding",
    ]
