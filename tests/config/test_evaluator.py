from __future__ import annotations

from typing import Any

import pytest

from collector.config.evaluator import EvalError, Evaluator, references
from collector.config.parser import parse_expression
from collector.config.values import Function, Secret


def ev(text: str, scope: dict[str, Any] | None = None) -> Any:
    expr, diags = parse_expression(text.encode())
    assert diags == []
    return Evaluator(scope or {}).evaluate(expr)


def err(text: str, scope: dict[str, Any] | None = None) -> tuple[str, str]:
    expr, diags = parse_expression(text.encode())
    assert diags == []
    with pytest.raises(EvalError) as info:
        Evaluator(scope or {}).evaluate(expr)
    return info.value.message, text[info.value.span.start:info.value.span.end]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1 + 2", 3), ("5 - 7", -2), ("3 * 4", 12), ("7 / 2", 3), ("-7 / 2", -3), ("7.0 / 2", 3.5),
        ("7 % 3", 1), ("-7 % 3", -1), ("7.5 % 2", 1.5), ("2 ^ 10", 1024), ("2 ^ 3 ^ 2", 512),
        ("2 ^ -1", 0.5), ("2.0 ^ 2", 4.0), ("-3", -3), ("--3", 3), ("!true", False),
        ('"a" + "b"', "ab"), ("1 == 1.0", True), ("1 == true", False), ('"1" == 1', False),
        ("[1, {a = [2]}] == [1, {a = [2]}]", True), ("{a = 1} == {a = 2}", False),
        ("[1] != [1, 2]", True), ("null == null", True),
        ("1 < 2", True), ("2 <= 2", True), ("3 > 4", False), ("4 >= 4.5", False),
        ('"a" < "b"', True), ('"b" < "a"', False), ('"Z" < "a"', True),
        ("true && false", False), ("true || false", True), ("(1 + 2) * 3", 9),
        ("[1, 2][1]", 2), ("[1, 2][1.0]", 2), ('{a = 1}["a"]', 1), ('{a = 1}["missing"]', None),
        ("{a = {b = 3}}.a.b", 3),
    ],
)
def test_operators(text: str, value: Any) -> None:
    got = ev(text)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    ("text", "message", "where"),
    [
        ("x", 'identifier "x" does not exist', "x"),
        ("{a = 1}.key", 'field "key" does not exist', "key"),
        ('"s".key', 'cannot access field "key" on value of type string', "key"),
        ("[1, 2][5]", "index 5 is out of range of array with length 2", "5"),
        ("[1, 2][-1]", "index -1 is out of range of array with length 2", "-1"),
        ('[1]["a"]', "expected number, got string", '"a"'),
        ("{a = 1}[0]", "expected string, got number", "0"),
        ('"s"[0]', "expected object or array, got string", '"s"'),
        ("1 / 0", "divide by zero error", "1 / 0"),
        ("1 % 0", "divide by zero error", "1 % 0"),
        ("1.5 / 0.0", "divide by zero error", "1.5 / 0.0"),
        ('"a" + 1', "should be string, got number", "1"),
        ('1 + "a"', "should be number, got string", '"a"'),
        ("true + 1", "should be one of [number string], got bool", "true"),
        ("[1] * 2", "should be number, got array", "[1]"),
        ('1 < "a"', "should be number, got string", '"a"'),
        ("[1] < [2]", "should be one of [number string], got array", "[1]"),
        ("1 && true", "should be bool, got number", "1"),
        ("true || 1", "should be bool, got number", "1"),
        ('!"x"', "should be bool, got string", '"x"'),
        ('-"x"', "should be number, got string", '"x"'),
        ('"f"(1)', "expected function, got string", '"f"'),
    ],
)
def test_errors(text: str, message: str, where: str) -> None:
    assert err(text) == (message, where)


def test_no_short_circuit() -> None:
    # The right side is evaluated (and fails) even though the left decides the result.
    assert err("false && missing")[0] == 'identifier "missing" does not exist'
    assert err("true || 1")[0] == "should be bool, got number"


def test_secret_concatenation_stays_secret() -> None:
    scope = {"s": Secret("pw")}
    for text in ('s + "x"', '"x" + s'):
        got = ev(text, scope)
        assert isinstance(got, Secret) and str.__str__(got) in ("pwx", "xpw")
    assert err("s < \"a\"", scope)[0] == "should be one of [number string], got secret"


def test_component_exports_by_nested_field_access() -> None:
    capsule = object()
    scope = {"otelcol": {"processor": {"batch": {"default": {"input": capsule}}}}}
    assert ev("otelcol.processor.batch.default.input", scope) is capsule
    assert ev("[otelcol.processor.batch.default.input]", scope) == [capsule]
    assert err("otelcol.processor.batch.default.output", scope) == ('field "output" does not exist', "output")
    assert err("otelcol.processor.batch.default.input.x", scope)[0] == (
        'cannot access field "x" on value of type capsule')


def test_scope_shadows_stdlib_and_calls_functions() -> None:
    assert ev('string.to_upper("a")') == "A"
    scope = {"f": Function("f", lambda a, b: a * b), "string": {"to_upper": 1}}
    assert ev("f(3, 4)", scope) == 12
    assert ev("string.to_upper", scope) == 1


def test_function_errors_become_eval_errors_at_call() -> None:
    message, where = err('string.to_upper(1)')
    assert message == "string.to_upper: argument 1: expected string, got number"
    assert where == "string.to_upper(1)"


def test_deprecated_alias_warns() -> None:
    expr, _ = parse_expression(b'env("HOME")')
    e = Evaluator({})
    e.evaluate(expr)
    assert [w.message for w in e.warnings] == ["env is deprecated; use sys.env instead"]


def test_references_collects_maximal_chains() -> None:
    text = 'f(a.b.c[0].d, x, sys.env("X").y, [m.n], {k = p.q.r}, (z).w, -u.v)'
    expr, _ = parse_expression(text.encode())
    got = [(chain, text[span.start:span.end]) for chain, span in references(expr)]
    assert got == [
        (("f",), "f"),
        (("a", "b", "c"), "a.b.c"),
        (("x",), "x"),
        (("sys", "env"), "sys.env"),
        (("m", "n"), "m.n"),
        (("p", "q", "r"), "p.q.r"),
        (("z",), "z"),
        (("u", "v"), "u.v"),
    ]
