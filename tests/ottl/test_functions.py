"""Golden behaviour of editors and converters, including nil and type mismatches per error mode."""

from __future__ import annotations

import pytest

from collector.ottl.errors import OttlSyntaxError
from collector.ottl.runner import GroupCompileError, PropagateError, compile_group
from tests.ottl.helpers import run_log

BASE = {"a": "hello", "n": 3, "f": 1.5, "m": {"x": {"y": "deep"}}, "pw_secret": "p", "http.url": "/user/1/list/2"}


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ('set(attributes["b"], attributes["a"])', {**BASE, "b": "hello"}),
        ('set(attributes["b"], attributes["missing"])', BASE),  # nil value: no-op
        ('set(attributes["m"]["x"]["z"], 1)', {**BASE, "m": {"x": {"y": "deep", "z": 1}}}),
        ('set(attributes["new"]["k"], true)', {**BASE, "new": {"k": True}}),
        ('delete_key(attributes, "a")', {k: v for k, v in BASE.items() if k != "a"}),
        ('delete_matching_keys(attributes, "^pw_")', {k: v for k, v in BASE.items() if k != "pw_secret"}),
        ('keep_keys(attributes, ["a", "n"])', {"a": "hello", "n": 3}),
        ('keep_matching_keys(attributes, "^[af]$")', {"a": "hello", "f": 1.5}),
        ('limit(attributes, 2, ["n"])', {"a": "hello", "n": 3}),
        ('truncate_all(attributes, 2)', {**BASE, "a": "he", "pw_secret": "p", "http.url": "/u"}),
        ('replace_pattern(attributes["a"], "l+(o)", "L$1")', {**BASE, "a": "heLo"}),
        ('replace_pattern(attributes["n"], "3", "4")', BASE),  # not a string: untouched
        ('replace_all_patterns(attributes, "key", "^pw_", "pwd.")', {**{k: v for k, v in BASE.items() if k != "pw_secret"}, "pwd.secret": "p"}),
        ('replace_all_patterns(attributes, "value", "^h", "H")', {**BASE, "a": "Hello"}),
        ('replace_match(attributes["http.url"], "/user/*/list/*", "/user/{id}/list/{id}")', {**BASE, "http.url": "/user/{id}/list/{id}"}),
        ('replace_all_matches(attributes, "/user/*", "x")', BASE),  # '*' does not cross '/'
        ('merge_maps(attributes, {"a": "z", "q": 1}, "insert")', {**BASE, "q": 1}),
        ('merge_maps(attributes, {"a": "z", "q": 1}, "update")', {**BASE, "a": "z"}),
        ('merge_maps(attributes, {"a": "z", "q": 1}, "upsert")', {**BASE, "a": "z", "q": 1}),
        ('flatten(attributes["m"])', {**BASE, "m": {"x.y": "deep"}}),
        ('flatten(attributes["m"], "p", depth = 0)', {**BASE, "m": {"p.x": {"y": "deep"}}}),
    ],
)
def test_editors(statement: str, expected: dict[str, object]) -> None:
    attrs, errors, _ = run_log([statement], dict(BASE))
    assert errors == []
    assert attrs == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('Concat([attributes["a"], attributes["n"], attributes["none"]], "-")', "hello-3-<nil>"),
        ('IsMatch(attributes["n"], "^3$")', True),
        ('IsMatch(attributes["none"], ".*")', False),
        ('Int(attributes["f"])', 1),
        ('Int("12")', 12),
        ('Double(attributes["n"])', 3.0),
        ('String(attributes["m"])', '{"x":{"y":"deep"}}'),
        ('IsString(attributes["a"])', True),
        ('IsInt(attributes["a"])', False),
        ('ParseJSON("{\\"k\\": [1, true]}")', {"k": [1.0, True]}),
        ('SHA256("a")', "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"),
        ('ToUpperCase(attributes["a"])', "HELLO"),
        ('ToLowerCase("AbC")', "abc"),
        ('Substring(attributes["a"], 1, 3)', "ell"),
        ('Split("a,b", ",")', ["a", "b"]),
        ('Len(attributes["a"])', 5),
        ('UnixNano(Now()) > 0', None),
        ('attributes["n"] * 2 + 1', 7),
        ('Split("a,b", ",")[1]', "b"),
    ],
)
def test_converters(value: str, expected: object) -> None:
    if expected is None:  # a boolean expression: use it as a where clause
        attrs, errors, _ = run_log([f'set(attributes["out"], true) where {value}'], dict(BASE))
        assert attrs["out"] is True
    else:
        attrs, errors, _ = run_log([f'set(attributes["out"], {value})'], dict(BASE))
        assert attrs["out"] == expected
    assert errors == []


def test_int_of_unparsable_string_is_nil_so_set_does_nothing() -> None:
    attrs, errors, _ = run_log(['set(attributes["out"], Int("x"))'], dict(BASE))
    assert "out" not in attrs and errors == []


@pytest.mark.parametrize("mode", ["ignore", "silent", "propagate"])
def test_type_mismatch_per_error_mode(mode: str) -> None:
    statements = ['set(attributes["u"], ToUpperCase(attributes["n"]))', 'set(attributes["after"], 1)']
    if mode == "propagate":
        with pytest.raises(PropagateError):
            run_log(statements, dict(BASE), error_mode=mode)
        return
    attrs, errors, _ = run_log(statements, dict(BASE), error_mode=mode)
    assert "u" not in attrs and attrs["after"] == 1  # the next statement still ran
    assert len(errors) == (1 if mode == "ignore" else 0)
    if errors:
        assert "expected string but got int64" in errors[0]


def test_division_by_zero_and_mixed_math_are_errors() -> None:
    _, errors, _ = run_log(['set(attributes["x"], attributes["n"] / 0)', 'set(attributes["y"], attributes["n"] + 1.0)'],
                           dict(BASE))
    assert len(errors) == 2 and "divide by 0" in errors[0]


def test_comparison_rules() -> None:
    attrs, _, _ = run_log([
        'set(attributes["r1"], true) where attributes["n"] == 3.0',
        'set(attributes["r2"], true) where attributes["a"] != 3',
        'set(attributes["r3"], true) where attributes["a"] < 3',
        'set(attributes["r4"], true) where attributes["none"] == nil',
        'set(attributes["r5"], true) where "abc" < "abd"',
    ], dict(BASE))
    assert [attrs.get(f"r{i}") for i in range(1, 6)] == [True, True, None, True, True]


@pytest.mark.parametrize(
    ("statement", "column", "message"),
    [
        ('set(attributes["a"], Nope(1))', 22, "undefined converter"),
        ('nope(attributes["a"])', 1, "undefined editor"),
        ('set(attribute["a"], 1)', 5, "invalid path"),
        ('replace_pattern(attributes["a"], "(", "x")', 34, "invalid regex"),
        ('limit(attributes, -1, [])', 19, "cannot be negative"),
        ('merge_maps(attributes, attributes, "merge")', 36, "strategy"),
        ('set(attributes["a"])', 1, "missing argument"),
        ('set(attributes["a"], 1) where UNKNOWN_ENUM == 1', 31, "unknown enum"),
    ],
)
def test_compile_errors(statement: str, column: int, message: str) -> None:
    with pytest.raises(GroupCompileError) as info:
        compile_group("log", ["set(attributes[\"ok\"], 1)", statement])
    assert info.value.index == 1
    assert isinstance(info.value.error, OttlSyntaxError)
    assert info.value.error.column == column, str(info.value)
    assert message in str(info.value)
    assert str(info.value).startswith(f"statement 1: 1:{column}: ")
