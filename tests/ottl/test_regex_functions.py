"""OTTL's regex functions use Go's regexp (RE2): what Go rejects fails compilation at the pattern's
column; matching and replacement follow Go, not Python's `re`."""

from __future__ import annotations

import pytest

from collector.ottl.runner import GroupCompileError, compile_group
from tests.ottl.helpers import run_log


@pytest.mark.parametrize(("statement", "literal", "reason"), [
    ('set(attributes["m"], true) where IsMatch(attributes["a"], "(a)\\\\1")', '"(a)',
     "invalid escape sequence: `\\1` (backreferences are not supported in RE2)"),
    ('replace_pattern(attributes["a"], "(?<=x)y", "z")', '"(?<=',
     "invalid perl operator: `(?<=` (lookbehind is not supported in RE2)"),
    ('replace_all_patterns(attributes, "value", "a++", "z")', '"a++',
     "bad repetition operator: `++` (possessive quantifiers are not supported in RE2)"),
    ('delete_matching_keys(attributes, "(?!x)")', '"(?!', "invalid perl operator: `(?!`"),
    ('keep_matching_keys(attributes, "\\\\Z")', '"\\', "invalid escape sequence: `\\Z`"),
])
def test_patterns_go_rejects_are_compile_errors_at_the_pattern(statement: str, literal: str, reason: str) -> None:
    with pytest.raises(GroupCompileError) as info:
        compile_group("log", [statement])
    assert info.value.error.column == statement.index(literal) + 1, str(info.value)
    assert reason in str(info.value)


def test_conditions_reject_backreferences_too() -> None:
    with pytest.raises(GroupCompileError) as info:
        compile_group("log", ['set(attributes["x"], 1)'], ['IsMatch(body, "(x)\\\\1")'])
    assert info.value.kind == "condition"
    assert "backreferences are not supported" in str(info.value)


def test_is_match_digits_and_end_of_text_as_in_go() -> None:
    attrs, errors, _ = run_log([
        'set(attributes["arabic_digit"], true) where IsMatch(attributes["n"], "^\\\\d$")',
        'set(attributes["ascii_digit"], true) where IsMatch(attributes["d"], "^\\\\d$")',
        'set(attributes["dollar"], true) where IsMatch(attributes["nl"], "x$")',
        'set(attributes["named"], true) where IsMatch(attributes["d"], "(?<d>7)")',
    ], {"n": "٣", "d": "7", "nl": "x\n"})
    assert not errors
    assert attrs.get("arabic_digit") is None and attrs["ascii_digit"] is True
    assert attrs.get("dollar") is None and attrs["named"] is True


def test_replace_pattern_go_expansion_and_empty_matches() -> None:
    attrs, errors, _ = run_log([
        'replace_pattern(attributes["path"], "/users/(?P<id>[0-9]+)", "/users/{$id}")',
        'replace_pattern(attributes["x"], "x*", "-")',
        'replace_pattern(attributes["u"], "é(.)", "<$1>")',
    ], {"path": "/users/42/orders", "x": "abxd", "u": "xéyéz"})
    assert not errors
    assert attrs == {"path": "/users/{42}/orders", "x": "-a-b-d-", "u": "x<y><z>"}


def test_replace_all_patterns_keys_and_values() -> None:
    attrs, errors, _ = run_log([
        'replace_all_patterns(attributes, "value", "^(?i)get$", "GET")',
        'replace_all_patterns(attributes, "key", "^http\\\\.", "h.")',
    ], {"http.method": "get", "http.route": "/get"})
    assert not errors
    assert attrs == {"h.method": "GET", "h.route": "/get"}
