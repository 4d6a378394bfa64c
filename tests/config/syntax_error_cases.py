r"""Broken configurations and the first diagnostic each must produce (`line:col: message`).

Kept as data so the project's broken-config corpus can reuse it. Encode a case with
`config.encode("utf-8", "surrogateescape")`: `\udcXX` stands for the invalid byte 0xXX.
"""

from __future__ import annotations

SYNTAX_ERRORS: list[tuple[str, str]] = [
    ('rule { a = 1  b = 2 }\n', "1:15: expected TERMINATOR, got IDENT"),
    ('a = [\n  1\n]\n', "2:4: missing ',' in expression list"),
    ('a = {\n  b = 1\n}\n', "2:8: missing ',' in field list"),
    ("/* open\n", "1:1: block comment not terminated"),
    ('a = "abc\n', "1:5: string literal not terminated"),
    ("a = 'x'\n", "1:5: illegal single-quoted string; use double quotes"),
    ('a = "\\q"\n', "1:7: unknown escape sequence"),
    ("a = 1e+\n", "1:5: exponent has no digits"),
    ("a.b = 1\n", '1:1: attribute names may only consist of a single identifier with no "."'),
    ('a "x" = 1\n', "1:3: attribute names may not have labels"),
    ("b `x` {\n}\n", '1:3: expected block label to be a double quoted string, but got "`x`"'),
    ('b "my-app" {\n}\n', '1:3: expected block label to be a valid identifier, but got "my-app"'),
    ("x = foo { }\n", "1:5: cannot use a block as an expression"),
    ("b {\n  . = 1\n}\n", "2:3: expected identifier, got ."),
    ("b {\n  a = }\n", "2:7: expected expression, got }"),
    ("a = [1,\n", "2:1: expected ], got EOF"),
    ("a = 1\n  + 2\n", "2:3: expected identifier, got +"),
    ("a = 1 | 2\n", "1:8: missing second | in ||"),
    ("a = 1 # 2\n", "1:7: illegal character U+0023 '#'"),
    ('a = "\\400"\n', "1:7: escape sequence is invalid Unicode code point"),
    ('a = "\\ud800"\n', "1:7: escape sequence is invalid Unicode code point"),
    ('a = "\\xZZ"\n', "1:7: illegal character U+005A 'Z' in escape sequence"),
    ("b \"x\" y {\n}\n", "1:7: expected block body, got IDENT"),
    ("b {\n  a\n}\n", "2:4: expected block label, got TERMINATOR"),
    ("b {\n  a 1\n}\n", "2:5: expected block label, got NUMBER"),
    ('b "x" {\n  a = 1\n', "3:1: expected }, got EOF"),
    ("a = {1 = 2}\n", "1:6: expected field name (string or identifier), got NUMBER"),
    ("a = f(1 2)\n", "1:9: missing ',' in expression list"),
    ("a = x[1\n", "1:8: expected ], got TERMINATOR"),
    ("a = 1\x00\n", "1:6: illegal character NUL"),
    ("a = \"\udcff\"\n", "1:6: illegal UTF-8 encoding"),
    ("a = 1\n\ufeffb = 2\n", "2:1: illegal byte order mark"),
]
