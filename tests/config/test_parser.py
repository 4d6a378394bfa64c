from __future__ import annotations

import pytest

from collector.config import ast
from collector.config.diag import Sources
from collector.config.parser import parse, parse_expression
from tests.config.syntax_error_cases import SYNTAX_ERRORS


def _first_error(config: str) -> str:
    src = config.encode("utf-8", "surrogateescape")
    _, diags = parse(src, "t.alloy")
    assert diags, f"no error for {config!r}"
    sources = Sources({"t.alloy": src})
    line, col = sources.line_col("t.alloy", diags[0].span.start)
    return f"{line}:{col}: {diags[0].message}"


@pytest.mark.parametrize(("config", "expected"), SYNTAX_ERRORS, ids=[c[1] for c in SYNTAX_ERRORS])
def test_syntax_error_position_and_message(config: str, expected: str) -> None:
    assert _first_error(config) == expected


def test_several_errors_reported_in_one_run() -> None:
    src = b'a.b = 1\nc "x" = 2\nd "my-app" {\n}\ne = [\n  1\n]\n'
    _, diags = parse(src, "t.alloy")
    lines = [Sources({"t.alloy": src}).line_col("t.alloy", d.span.start)[0] for d in diags]
    assert [d.message for d in diags] == [
        'attribute names may only consist of a single identifier with no "."',
        "attribute names may not have labels",
        'expected block label to be a valid identifier, but got "my-app"',
        "missing ',' in expression list",
    ]
    assert lines == [1, 2, 3, 6]


def test_at_most_one_parser_error_per_line() -> None:
    _, diags = parse(b"a = [1 2 3 4]\nb = {x y z}\n", "t.alloy")
    lines = [Sources({"t.alloy": b"a = [1 2 3 4]\nb = {x y z}\n"}).line_col("t.alloy", d.span.start)[0] for d in diags]
    assert len(lines) == len(set(lines)) == 2


def test_parses_blocks_labels_and_attributes() -> None:
    tree, diags = parse(b'prometheus.scrape "x" {\n  targets = []\n  rule {\n    a = 1\n  }\n}\n', "m.alloy")
    assert diags == []
    (block,) = tree.body
    assert isinstance(block, ast.Block)
    assert block.name == ("prometheus", "scrape") and block.label == "x" and block.id == "prometheus.scrape.x"
    assert block.label_span is not None and (block.label_span.start, block.label_span.end) == (18, 21)
    attr, rule = block.body
    assert isinstance(attr, ast.Attribute) and attr.name == "targets"
    assert isinstance(attr.value, ast.ArrayExpr) and attr.value.elements == ()
    assert isinstance(rule, ast.Block) and rule.label is None and rule.name == ("rule",)
    assert (block.span.start, block.span.end) == (0, 63)  # through the closing brace


def test_one_line_block_is_fine() -> None:
    tree, diags = parse(b"rule { a = 1 }", "m")
    assert diags == [] and isinstance(tree.body[0], ast.Block)


def _expr(text: str) -> ast.Expr:
    e, diags = parse_expression(text.encode())
    assert diags == []
    return ast.strip_spans(e)


def _lit(v: object) -> ast.Literal:
    return ast.strip_spans(ast.Literal(v, ast.NO_SPAN))  # type: ignore[arg-type,no-any-return]


def test_precedence_and_associativity() -> None:
    e = _expr("1 + 2 * 3 ^ 2 ^ 2 == 4 || !true && -x < 1")
    assert isinstance(e, ast.Binary) and e.op == "||"
    left = e.left
    assert isinstance(left, ast.Binary) and left.op == "=="
    add = left.left
    assert isinstance(add, ast.Binary) and add.op == "+"
    mul = add.right
    assert isinstance(mul, ast.Binary) and mul.op == "*"
    pow_ = mul.right
    assert isinstance(pow_, ast.Binary) and pow_.op == "^"
    assert isinstance(pow_.right, ast.Binary) and pow_.right.op == "^"  # right-associative
    right = e.right
    assert isinstance(right, ast.Binary) and right.op == "&&"
    assert isinstance(right.left, ast.Unary) and right.left.op == "!"
    assert isinstance(right.right, ast.Binary) and right.right.op == "<"


def test_left_associative_subtraction() -> None:
    e = _expr("5 - 2 - 1")
    assert isinstance(e, ast.Binary) and isinstance(e.left, ast.Binary) and e.right == _lit(1)


def test_postfix_chain() -> None:
    e = _expr('a.b[0](1, "x").c')
    assert isinstance(e, ast.Access) and e.name == "c"
    call = e.value
    assert isinstance(call, ast.Call) and call.args == (_lit(1), _lit("x"))
    index = call.func
    assert isinstance(index, ast.Index) and index.index == _lit(0)
    assert ast.same_shape(index.value, ast.Access(ast.Identifier("a", ast.NO_SPAN), "b", ast.NO_SPAN, ast.NO_SPAN))


def test_object_keys_identifier_or_string_and_trailing_commas() -> None:
    e = _expr('{ "app.kubernetes.io/name" = "x", ns = "y", }')
    assert isinstance(e, ast.ObjectExpr)
    assert [f.key for f in e.fields] == ["app.kubernetes.io/name", "ns"]
    assert _expr("[1, 2,]") == ast.ArrayExpr((_lit(1), _lit(2)), ast.NO_SPAN)


def test_operator_at_end_of_line_continues_expression() -> None:
    tree, diags = parse(b"a = 1 +\n  2\n", "m")
    assert diags == []
    assert isinstance(tree.body[0], ast.Attribute) and isinstance(tree.body[0].value, ast.Binary)


def test_multiline_array_with_trailing_comma() -> None:
    tree, diags = parse(b"a = [\n  1,\n  2,\n]\nb = {\n  c = 1,\n}\n", "m")
    assert diags == [] and len(tree.body) == 2


def test_comments_kept_on_file() -> None:
    tree, diags = parse(b"// head\na = 1 // tail\n/* block */\n", "m")
    assert diags == []
    assert [c.text for c in tree.comments] == ["// head", "// tail", "/* block */"]
    assert len(tree.body) == 1


def test_literal_values_decoded() -> None:
    assert _expr("010") == _lit(8)
    assert _expr("true") == _lit(True)
    assert _expr("null") == _lit(None)
    assert _expr('"a\\tb"') == _lit("a\tb")


def test_same_shape_ignores_spans_but_not_types() -> None:
    a, _ = parse(b"a = 1\n", "x")
    b, _ = parse(b"a   =   1\n\n", "y")
    c, _ = parse(b"a = 1.0\n", "x")
    d, _ = parse(b"a = true\n", "x")
    assert ast.same_shape(a, b)
    assert not ast.same_shape(a, c)
    assert not ast.same_shape(a, d)


def test_never_raises_on_garbage() -> None:
    for src in [b"", b"}", b"{{{{", b"a = ", b"\x00\xff", b"a = [", b'b "x" {', b"(((", b"a = 1 +"]:
        tree, _ = parse(src, "g")
        assert isinstance(tree, ast.File)
