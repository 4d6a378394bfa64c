from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.config import ast
from collector.config.diag import DiagnosticError
from collector.config.format import format_source
from collector.config.parser import parse

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.alloy"))


def fmt(text: str) -> str:
    return format_source(text.encode(), "t.alloy")


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_idempotent_and_same_tree(path: Path) -> None:
    src = path.read_bytes()
    once = format_source(src, path.name)
    assert format_source(once.encode(), path.name) == once
    before, _ = parse(src, path.name)
    after, diags = parse(once.encode(), path.name)
    assert diags == [] and ast.same_shape(before, after)
    assert [c.text for c in before.comments] == [c.text for c in after.comments]


CASES = [
    # Indentation with tabs, aligned `=`, blank line before blocks.
    ('a "x" {\n  foo = 1\n  longer_name = "v"\n  inner {\n  }\n}\n',
     'a "x" {\n\tfoo         = 1\n\tlonger_name = "v"\n\n\tinner { }\n}\n'),
    # Blank lines collapse to one and are kept; multi-line attribute ends an alignment run.
    ("b {\n  x = 1\n\n\n  yy = [\n    1,\n  2]\n  z = 3\n}\n",
     "b {\n\tx = 1\n\n\tyy = [\n\t\t1,\n\t\t2]\n\tz = 3\n}\n"),
    # Trailing comma added before a closer on its own line; single-line array normalised.
    ("c {\n  v = [ 1,2 ,\n 3,\n]\n  w = {a=1,b=\"x\"}\n}\n",
     'c {\n\tv = [1, 2,\n\t\t3,\n\t]\n\tw = {a = 1, b = "x"}\n}\n'),
    # Multi-line objects: aligned fields, quoted keys kept.
    ('d {\n  o = {\n    "k.k" = 1,\n    b = sys.env("X"),\n  }\n}\n',
     'd {\n\to = {\n\t\t"k.k" = 1,\n\t\tb     = sys.env("X"),\n\t}\n}\n'),
    # Comments: leading, trailing, inside arrays, at the end of a block and of the file.
    ("// head\n\nx {\n  // lead\n  a = 1 // tail\n  l = [\n    // first\n    1, // one\n  ]\n  // end\n}\n// eof\n",
     "// head\n\nx {\n\t// lead\n\ta = 1 // tail\n\tl = [\n\t\t// first\n\t\t1, // one\n\t]\n\t// end\n}\n// eof\n"),
    # Operators get single spaces; literals are printed as written.
    ("e {\n  v = 1+2*-3 == 0x || !true\n  s = `raw`\n  n = 010\n}\n".replace(" == 0x", " == 0"),
     "e {\n\tv = 1 + 2 * -3 == 0 || !true\n\ts = `raw`\n\tn = 010\n}\n"),
]


@pytest.mark.parametrize(("src", "expected"), CASES)
def test_hand_cases(src: str, expected: str) -> None:
    out = fmt(src)
    assert out == expected
    assert fmt(out) == out


def test_syntax_error_raises_diagnostics() -> None:
    with pytest.raises(DiagnosticError) as info:
        fmt("a = [\n 1\n]\n")
    assert str(info.value) == "t.alloy:2:3: missing ',' in expression list"


# -- property: formatting never changes the tree ---------------------------------------------

_idents = st.sampled_from(["a", "b_1", "foo", "_x", "otelcol", "input", "émoji", "Z9"])
_strings = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=8)


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


_literals = st.one_of(
    st.integers(min_value=0, max_value=10**6).map(str),
    st.sampled_from(["1.5", "0.25", "1e3", "true", "false", "null"]),
    _strings.map(_quote),
)


def _nl(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(["", "\n"]))


@st.composite
def _exprs(draw: st.DrawFn, depth: int = 0) -> str:
    if depth >= 3:
        return draw(st.one_of(_literals, _idents))
    kind = draw(st.sampled_from(["lit", "ident", "access", "array", "object", "binary", "unary", "call", "paren", "index"]))
    sub = _exprs(depth + 1)
    if kind == "lit":
        return draw(_literals)
    if kind == "ident":
        return draw(_idents)
    if kind == "access":
        return ".".join(draw(st.lists(_idents, min_size=2, max_size=4)))
    if kind == "array":
        items = draw(st.lists(sub, max_size=3))
        if items and draw(st.booleans()):
            return "[\n" + "".join(f"{i},\n" for i in items) + "]"
        return "[" + ", ".join(items) + "]"
    if kind == "object":
        keys = draw(st.lists(st.one_of(_idents, _strings.map(_quote)), max_size=3))
        fields = [f"{k} = {draw(sub)}" for k in keys]
        if fields and draw(st.booleans()):
            return "{\n" + "".join(f"{f},\n" for f in fields) + "}"
        return "{" + ", ".join(fields) + "}"
    if kind == "binary":
        op = draw(st.sampled_from(["+", "-", "*", "/", "%", "^", "==", "!=", "<", "<=", ">", ">=", "&&", "||"]))
        return f"{draw(sub)} {op} {draw(sub)}"
    if kind == "unary":
        return draw(st.sampled_from(["-", "!"])) + draw(sub)
    if kind == "call":
        return f"{draw(_idents)}(" + ", ".join(draw(st.lists(sub, max_size=3))) + ")"
    if kind == "paren":
        return f"({draw(sub)})"
    return f"{draw(_idents)}[{draw(sub)}]"


@st.composite
def _bodies(draw: st.DrawFn, depth: int = 0) -> str:
    lines = []
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        if depth < 2 and draw(st.booleans()):
            name = ".".join(draw(st.lists(_idents, min_size=1, max_size=3)))
            label = draw(st.one_of(st.none(), _idents))
            head = name + (f' "{label}"' if label else "")
            lines.append(f"{head} {{\n{draw(_bodies(depth + 1))}}}\n")
        else:
            comment = draw(st.sampled_from(["", " // note", " /* c */"]))
            lines.append(f"{draw(_idents)} = {draw(_exprs())}{comment}\n")
        if draw(st.booleans()):
            lines.append("\n")
    return "".join(lines)


@settings(max_examples=100, deadline=None)
@given(_bodies())
def test_formatting_preserves_tree(src: str) -> None:
    before, diags = parse(src.encode(), "p.alloy")
    assert diags == [], src
    once = fmt(src)
    after, diags = parse(once.encode(), "p.alloy")
    assert diags == [], once
    assert ast.same_shape(before, after), (src, once)
    assert fmt(once) == once
    assert sorted(c.text for c in before.comments) == sorted(c.text for c in after.comments)
