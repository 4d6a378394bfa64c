from __future__ import annotations

import platform
import socket
from typing import Any

import pytest

import collector
from collector.config.evaluator import EvalError, Evaluator
from collector.config.parser import parse_expression
from collector.config.values import Secret


def ev(text: str, scope: dict[str, Any] | None = None) -> Any:
    expr, diags = parse_expression(text.encode())
    assert diags == []
    return Evaluator(scope or {}).evaluate(expr)


def test_sys_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOY_TEST_VAR", "v1")
    monkeypatch.delenv("ALLOY_TEST_UNSET", raising=False)
    assert ev('sys.env("ALLOY_TEST_VAR")') == "v1"
    assert ev('sys.env("ALLOY_TEST_UNSET")') == ""
    assert ev('env("ALLOY_TEST_VAR")') == "v1"


def test_constants() -> None:
    assert ev("constants.hostname") == socket.gethostname()
    assert ev("constants.version") == "v" + collector.__version__
    assert ev("constants.os") == "linux"
    expected_arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    assert ev("constants.arch") == expected_arch


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('coalesce("", 0, false, null, [], {}, "x", "y")', "x"),
        ('coalesce("", 0)', 0),
        ("coalesce()", None),
        ("coalesce([1])", [1]),
        ('array.concat([1], ["a", true], [])', [1, "a", True]),
        ("concat()", []),
        ('string.format("%s=%d %5.2f|%-4s|%04d|%x|%X|%o|%b|%t|%q|%%", "a", 3, 3.14159, "ab", 42, 255, 255, 8, 5, true, "q\\"")',
         '''a=3  3.14|ab  |0042|ff|FF|10|101|true|"q\\""|%'''),
        ('string.format("%[2]s-%[1]s", "a", "b")', "b-a"),
        ('string.format("%e %g %g %v", 1234.5678, 0.00001, 100000.0, 1.5)', "1.234568e+03 1e-05 100000 1.5"),
        ('string.format("%+d % d %8.3s|", 5, 5, "abcdef")', "+5  5      abc|"),
        ('string.format("%d")', "%!d(MISSING)"),
        ('string.format("%d", "x")', "%!d(string=x)"),
        ('string.format("x", 1)', "x%!(EXTRA int=1)"),
        ('format("%v %v %v", [1, "a"], {b = 2}, null)', "[1 a] map[b:2] <nil>"),
        ('string.join(["a", "b"], ",")', "a,b"),
        ('string.join([], ",")', ""),
        ('string.split("a,b,,c", ",")', ["a", "b", "", "c"]),
        ('string.split("", ",")', [""]),
        ('string.replace("aaa", "a", "b")', "bbb"),
        ('string.to_lower("AbC")', "abc"),
        ('string.to_upper("AbC")', "ABC"),
        ('string.trim("xxhixx", "x")', "hi"),
        ('string.trim_prefix("prefix-x", "prefix-")', "x"),
        ('string.trim_prefix("x", "y")', "x"),
        ('string.trim_suffix("x.txt", ".txt")', "x"),
        ('string.trim_space("  \\t hi \\n")', "hi"),
        ('encoding.from_json("{\\"a\\": [1, 2.5, true, null, \\"s\\"]}")', {"a": [1, 2.5, True, None, "s"]}),
        ('json_decode("[]")', []),
        ('encoding.to_json({b = 1, a = "<&>", c = [1.0, null]})', '{"a":"\\u003c\\u0026\\u003e","b":1,"c":[1,null]}'),
        ('encoding.to_base64("hello")', "aGVsbG8="),
        ('encoding.from_base64("aGVsbG8=")', "hello"),
        ('encoding.to_URLbase64("??>")', "Pz8-"),
        ('encoding.from_URLbase64("Pz8-")', "??>"),
        ('encoding.url_encode("a b&c=d/é")', "a+b%26c%3Dd%2F%C3%A9"),
        ('encoding.url_decode("a+b%26c")', "a b&c"),
        ('file.path_join("a", "b", "../c")', "a/c"),
        ('file.path_join("/etc", "", "x")', "/etc/x"),
        ("file.path_join()", ""),
        ('json_path("{\\"a\\": {\\"b\\": [1, 2]}}", "$.a.b[1]")', [2]),
        ('json_path("{\\"a\\": {\\"b\\": [1, 2]}}", "$.a.b[*]")', [1, 2]),
        ('json_path("{\\"a\\": {\\"b\\": 1}, \\"c\\": {\\"b\\": 2}}", "$..b")', [1, 2]),
        ('json_path("{\\"a.b\\": 1}", "$[\'a.b\']")', [1]),
        ('json_path("{\\"a\\": 1}", "$.missing")', []),
        ('json_path("[1]", "$")', [[1]]),
    ],
)
def test_functions(text: str, value: Any) -> None:
    assert ev(text) == value


def test_nonsensitive_unwraps_secret() -> None:
    scope = {"s": Secret("pw")}
    got = ev("convert.nonsensitive(s)", scope)
    assert got == "pw" and not isinstance(got, Secret)
    assert ev("nonsensitive(s)", scope) == "pw"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('string.to_upper("a", "b")', "string.to_upper: expected 1 argument, got 2"),
        ("string.join([1], \",\")", "string.join: argument 1: element 0: expected string, got number"),
        ('string.join("a", ",")', "string.join: argument 1: expected array, got string"),
        ('string.to_lower(s)', "string.to_lower: argument 1: expected string, got secret (use convert.nonsensitive)"),
        ('string.format("%s", s)', "string.format: argument 2: secrets must be unwrapped with convert.nonsensitive"),
        ('array.concat([1], 2)', "array.concat: argument 2: expected array, got number"),
        ('encoding.to_json([1])', "encoding.to_json: argument 1: expected object, got array"),
        ('encoding.from_json("{")', "encoding.from_json: invalid JSON"),
        ('encoding.from_base64("!!")', "encoding.from_base64: illegal base64 data"),
        ('encoding.url_decode("%zz")', 'encoding.url_decode: invalid URL escape "%zz"'),
        ("convert.nonsensitive(1)", "convert.nonsensitive: argument 1: expected secret, got number"),
        ('json_path("{}", "$$")', "json_path: invalid JSONPath"),
    ],
)
def test_argument_errors(text: str, message: str) -> None:
    expr, _ = parse_expression(text.encode())
    with pytest.raises(EvalError) as info:
        Evaluator({"s": Secret("x")}).evaluate(expr)
    assert info.value.message.startswith(message)
    assert (info.value.span.start, info.value.span.end) == (0, len(text))
