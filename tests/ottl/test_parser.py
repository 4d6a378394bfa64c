from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.ottl import ast
from collector.ottl.errors import OttlSyntaxError
from collector.ottl.parser import KEYWORDS, parse_condition, parse_statement
from collector.ottl.printer import print_statement


def test_tutorial_statement_tree() -> None:
    stmt = parse_statement('set(attributes["deployment.environment"], resource.attributes["deployment.environment"])')
    assert stmt == ast.Statement(ast.Call("set", (
        ast.Arg(ast.Path(("attributes",), (ast.Literal("deployment.environment"),))),
        ast.Arg(ast.Path(("resource", "attributes"), (ast.Literal("deployment.environment"),))),
    )))


def test_literals_and_precedence() -> None:
    stmt = parse_statement('set(x, 1 + 2 * -3) where not a == nil and (b > 1.5 or IsMatch(c, "\\\\d"))')
    value = stmt.editor.args[1].value
    assert value == ast.MathOp("+", ast.Literal(1), ast.MathOp("*", ast.Literal(2), ast.Literal(-3)))
    assert isinstance(stmt.where, ast.And)
    assert stmt.where.items[0] == ast.Not(ast.Comparison("==", ast.Path(("a",)), ast.Literal(None)))
    inner = stmt.where.items[1]
    assert isinstance(inner, ast.Or)
    assert inner.items[1] == ast.Call("IsMatch", (ast.Arg(ast.Path(("c",))), ast.Arg(ast.Literal("\\d"))))


def test_parenthesised_math_in_condition() -> None:
    cond = parse_condition("(a + 1) * 2 >= 4")
    assert cond == ast.Comparison(">=", ast.MathOp("*", ast.MathOp("+", ast.Path(("a",)), ast.Literal(1)),
                                                   ast.Literal(2)), ast.Literal(4))


def test_maps_lists_bytes_enums_named_args() -> None:
    stmt = parse_statement('flatten(body, depth = 2) where x == {"a": [1, 0x0aff, SPAN_KIND_SERVER]}')
    assert stmt.editor.args[1] == ast.Arg(ast.Literal(2), "depth")
    assert stmt.where == ast.Comparison("==", ast.Path(("x",)), ast.MapLit(
        (("a", ast.ListLit((ast.Literal(1), ast.Literal(b"\x0a\xff"), ast.Enum("SPAN_KIND_SERVER")))),)))


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("set(a,", 7, "expected a value"),
        ("set(a b)", 7, "expected ',' or ')'"),
        ("Set(a, 1)", 1, "expected an editor call"),
        ('set(a, "x)', 8, "unterminated string"),
        ("set(a, 1) where", 16, "expected a value"),
        ("set(a, 1) where a", 18, "expected a comparison operator"),
        ("set(a, 0xabc)", 8, "even"),
        ("set(a, 1) extra", 11, "expected end of statement"),
    ],
)
def test_syntax_error_columns(text: str, column: int, message: str) -> None:
    with pytest.raises(OttlSyntaxError) as info:
        parse_statement(text)
    assert info.value.column == column
    assert message in info.value.message
    assert str(info.value).startswith(f"1:{column}: ")


# --- property: print(parse(x)) reparses to the same tree -------------------------------------
_ident = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(lambda s: s not in KEYWORDS)
_strings = st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=0x2FF), max_size=8)
_scalars = st.one_of(
    _strings.map(ast.Literal),
    st.integers(-(2**40), 2**40).map(ast.Literal),
    st.floats(allow_nan=False, allow_infinity=False, width=64).map(ast.Literal),
    st.booleans().map(ast.Literal),
    st.just(ast.Literal(None)),
    st.binary(min_size=1, max_size=4).map(ast.Literal),
    st.sampled_from(["SPAN_KIND_SERVER", "STATUS_CODE_ERROR"]).map(ast.Enum),
)
_keys = st.lists(st.one_of(_strings.map(ast.Literal), st.integers(0, 9).map(ast.Literal)), max_size=2).map(tuple)
_paths = st.builds(ast.Path, st.lists(_ident, min_size=1, max_size=3).map(tuple), _keys)


def _values(children: st.SearchStrategy[ast.Value]) -> st.SearchStrategy[ast.Value]:
    converters = st.builds(
        ast.Call, st.from_regex(r"[A-Z][a-z]{1,5}", fullmatch=True),
        st.lists(st.builds(ast.Arg, children), max_size=3).map(tuple), _keys,
    )
    numeric = st.one_of(st.integers(0, 99).map(ast.Literal), _paths, converters)
    math = st.builds(ast.MathOp, st.sampled_from("+-*/"), numeric, numeric)
    return st.one_of(
        converters, math,
        st.lists(children, max_size=3).map(lambda xs: ast.ListLit(tuple(xs))),
        st.lists(st.tuples(_strings, children), max_size=2).map(lambda xs: ast.MapLit(tuple(xs))),
    )


_value = st.recursive(st.one_of(_scalars, _paths), _values, max_leaves=8)
_comparison = st.builds(ast.Comparison, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), _value, _value)
_bool = st.recursive(
    _comparison,
    lambda c: st.one_of(
        st.builds(ast.Not, c),
        st.lists(c, min_size=2, max_size=3).map(lambda xs: ast.And(tuple(xs))),
        st.lists(c, min_size=2, max_size=3).map(lambda xs: ast.Or(tuple(xs))),
    ),
    max_leaves=5,
)
_statements = st.builds(
    ast.Statement,
    st.builds(ast.Call, _ident, st.lists(st.builds(ast.Arg, _value, st.one_of(st.none(), _ident)), max_size=3)
              .map(lambda args: tuple(sorted(args, key=lambda a: a.name is not None)))),
    st.one_of(st.none(), _bool),
)


@settings(max_examples=300, deadline=None)
@given(_statements)
def test_print_then_parse_is_identity(stmt: ast.Statement) -> None:
    text = print_statement(stmt)
    assert parse_statement(text) == stmt, text
