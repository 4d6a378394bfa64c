"""OTTL nesting is capped with a syntax error at a column (found by fuzzing: a statement nested a
few hundred levels deep ended in a RecursionError while the configuration loaded)."""

from __future__ import annotations

import pytest

from collector.ottl.errors import OttlSyntaxError
from collector.ottl.parser import MAX_NESTING, parse_condition, parse_statement
from collector.ottl.runner import GroupCompileError, compile_group


@pytest.mark.parametrize("text", [
    'set(attributes["a"], ' + "[" * 1000 + "]" * 1000 + ")",
    'set(attributes["a"], ' + "(" * 1000 + "1" + ")" * 1000 + ")",
    'set(attributes["a"], ' + "-" * 1000 + "1)",
    'set(attributes["a"], ' + '{"k": ' * 1000 + "1" + "}" * 1000 + ")",
    'set(attributes["a"], ' + "Concat(" * 1000 + ")" * 1001,
])
def test_deep_statements_are_syntax_errors(text: str) -> None:
    with pytest.raises(OttlSyntaxError, match="nested too deeply"):
        parse_statement(text)
    with pytest.raises(GroupCompileError):
        compile_group("span", [text])


def test_deep_conditions_are_syntax_errors() -> None:
    with pytest.raises(OttlSyntaxError, match="nested too deeply"):
        parse_condition("not " * 1000 + "true")
    with pytest.raises(OttlSyntaxError, match="nested too deeply"):
        parse_condition("(" * 1000 + "true" + ")" * 1000)


def test_nesting_within_the_cap_parses() -> None:
    depth = MAX_NESTING // 3
    parse_statement('set(attributes["a"], ' + "[" * depth + "]" * depth + ")")


def test_a_glob_python_cannot_compile_is_a_pattern_error() -> None:
    # found by fuzzing: an empty class `[]` became an unterminated regex class and re.error escaped
    with pytest.raises(GroupCompileError, match="invalid glob pattern"):
        compile_group("span", ['replace_all_matches(attributes, "a[]b", "x")'])
