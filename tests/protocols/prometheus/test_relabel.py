from __future__ import annotations

import hashlib

import pytest

from collector.protocols.prometheus.relabel import Rule, RuleError, apply, compile_regex, compile_rules, relabel_targets


def run(labels: dict[str, str], *rules: Rule) -> dict[str, str] | None:
    return apply(compile_rules(rules), labels)


BASE = {"__name__": "http_requests_total", "job": "api", "instance": "h1:9090", "path": "/a/b"}


def test_no_rules_pass_through() -> None:
    assert run(BASE) == BASE


def test_replace_constant_sets_label_without_source_labels() -> None:
    assert run(BASE, Rule(target_label="job", replacement="x"))["job"] == "x"  # type: ignore[index]


def test_replace_with_groups_and_named_groups() -> None:
    out = run(BASE, Rule(source_labels=["instance"], regex="(?P<host>[^:]+):(\\d+)", target_label="host_${2}",
                         replacement="$host-${2}"))
    assert out is not None and out["host_9090"] == "h1-9090"


def test_replace_no_match_changes_nothing() -> None:
    assert run(BASE, Rule(source_labels=["job"], regex="nomatch", target_label="x")) == BASE


def test_replace_is_anchored() -> None:
    assert run(BASE, Rule(source_labels=["job"], regex="ap", target_label="x", replacement="y")) == BASE
    assert run(BASE, Rule(source_labels=["job"], regex="ap.", target_label="x", replacement="y"))["x"] == "y"  # type: ignore[index]


def test_dot_matches_newline() -> None:
    out = run({"a": "line1\nline2"}, Rule(source_labels=["a"], regex="line1.line2", target_label="b", replacement="ok"))
    assert out == {"a": "line1\nline2", "b": "ok"}


def test_replace_empty_result_deletes_target() -> None:
    out = run(BASE, Rule(source_labels=["missing"], regex="(.*)", target_label="job"))
    assert out is not None and "job" not in out


def test_replace_invalid_expanded_target_does_nothing() -> None:
    out = run(BASE, Rule(source_labels=["path"], regex="(.*)", target_label="${1}", replacement="v"))
    assert out == BASE


def test_source_labels_joined_with_separator_missing_is_empty() -> None:
    out = run(BASE, Rule(source_labels=["job", "missing", "instance"], target_label="joined"))
    assert out is not None and out["joined"] == "api;;h1:9090"
    out = run(BASE, Rule(source_labels=["job", "instance"], separator="|", target_label="joined"))
    assert out is not None and out["joined"] == "api|h1:9090"


@pytest.mark.parametrize(("template", "expected"), [
    ("$1", "ab"), ("${1}", "ab"), ("$1x", ""), ("${1}x", "abx"), ("$$1", "$1"), ("$name", "cd"),
    ("${name}_z", "cd_z"), ("$9", ""), ("$missing", ""), ("a$", "a$"), ("${", "${"), ("$0", "ab-cd"),
])
def test_go_expansion_rules(template: str, expected: str) -> None:
    out = run({"v": "ab-cd"}, Rule(source_labels=["v"], regex="(\\w+)-(?P<name>\\w+)", target_label="out",
                                    replacement=template))
    assert (out or {}).get("out", "") == expected


def test_keep_and_drop() -> None:
    assert run(BASE, Rule(source_labels=["__name__"], regex="http_.*", action="keep")) == BASE
    assert run(BASE, Rule(source_labels=["__name__"], regex="up", action="keep")) is None
    assert run(BASE, Rule(source_labels=["__name__"], regex="http_.*", action="drop")) is None
    assert run(BASE, Rule(source_labels=["__name__"], regex="up", action="drop")) == BASE


def test_keep_with_alternation_from_example() -> None:
    rule = Rule(source_labels=["__name__"], regex="(up|scrape_.*|otelcol_.*)", action="keep")
    assert run({"__name__": "scrape_duration_seconds"}, rule) is not None
    assert run({"__name__": "go_goroutines"}, rule) is None
    assert run({"__name__": "xup"}, rule) is None


def test_keepequal_dropequal() -> None:
    labels = {"a": "1", "b": "1", "c": "2"}
    assert run(labels, Rule(source_labels=["a"], target_label="b", action="keepequal")) == labels
    assert run(labels, Rule(source_labels=["a"], target_label="c", action="keepequal")) is None
    assert run(labels, Rule(source_labels=["a"], target_label="b", action="dropequal")) is None
    assert run(labels, Rule(source_labels=["a"], target_label="c", action="dropequal")) == labels


def test_hashmod_uses_last_eight_md5_bytes() -> None:
    value = "h1:9090"
    expected = int.from_bytes(hashlib.md5(value.encode()).digest()[8:], "big") % 7
    out = run(BASE, Rule(source_labels=["instance"], target_label="shard", modulus=7, action="hashmod"))
    assert out is not None and out["shard"] == str(expected)


def test_labelmap_copies_matching_names() -> None:
    out = run({"__meta_k8s_label_app": "web", "__meta_k8s_label_tier": "fe", "x": "1"},
              Rule(regex="__meta_k8s_label_(.+)", action="labelmap"))
    assert out == {"__meta_k8s_label_app": "web", "__meta_k8s_label_tier": "fe", "x": "1", "app": "web", "tier": "fe"}


def test_labeldrop_labelkeep() -> None:
    assert run(BASE, Rule(regex="instance|path", action="labeldrop")) == {"__name__": "http_requests_total", "job": "api"}
    assert run(BASE, Rule(regex="__name__|job", action="labelkeep")) == {"__name__": "http_requests_total", "job": "api"}


def test_lowercase_uppercase() -> None:
    out = run({"a": "MiXeD"}, Rule(source_labels=["a"], target_label="lo", action="lowercase"),
              Rule(source_labels=["a"], target_label="up", action="uppercase"))
    assert out == {"a": "MiXeD", "lo": "mixed", "up": "MIXED"}


def test_action_names_are_case_insensitive() -> None:
    assert run(BASE, Rule(source_labels=["job"], regex="api", action="Drop")) is None


@pytest.mark.parametrize(("rule", "message"), [
    (Rule(action="bogus"), 'unrecognized action type "bogus"'),
    (Rule(action="hashmod", target_label="x"), "relabel configuration for hashmod requires non-zero modulus"),
    (Rule(action="replace"), "relabel configuration for replace action requires 'target_label' value"),
    (Rule(action="lowercase", source_labels=["a"]), "relabel configuration for lowercase action requires 'target_label' value"),
    (Rule(action="keepequal", source_labels=["a"]), "relabel configuration for keepequal action requires 'target_label' value"),
    (Rule(action="labeldrop", regex="x", target_label="y"), "labeldrop action requires only 'regex', and no other fields"),
    (Rule(action="labelkeep", source_labels=["a"]), "labelkeep action requires only 'regex', and no other fields"),
    (Rule(action="dropequal", source_labels=["a"], target_label="b", regex="x"),
     "dropequal action requires only 'source_labels' and `target_label`, and no other fields"),
    (Rule(action="replace", target_label="1bad"), "\"1bad\" is invalid 'target_label' for replace action"),
    (Rule(action="uppercase", source_labels=["a"], target_label="b", replacement="x"),
     "'replacement' can not be set for uppercase action"),
])
def test_validation_messages(rule: Rule, message: str) -> None:
    with pytest.raises(RuleError) as err:
        rule.validate()
    assert str(err.value) == message


@pytest.mark.parametrize("regex", ["(?=x)", "(?!x)", "(?<=a)b", "(?<!a)b", "(a)\\1", "(?P<n>a)(?P=n)", "a++"])
def test_re2_incompatible_regex_rejected(regex: str) -> None:
    with pytest.raises(RuleError):
        compile_regex(regex)


def test_re2_spellings_translated() -> None:
    assert compile_regex("[[:digit:]]+").fullmatch("123")
    assert compile_regex("(?<name>a)b").fullmatch("ab")
    assert compile_regex("a\\z").fullmatch("a")
    assert compile_regex("\\Q.*\\E").fullmatch(".*")
    assert not compile_regex("\\Q.*\\E").fullmatch("ab")


def test_relabel_targets_drops_and_keeps_double_underscore_labels() -> None:
    targets = [{"__address__": "a:1", "job": "x"}, {"__address__": "b:2", "job": "y"}]
    rules = compile_rules([Rule(source_labels=["job"], regex="y", action="drop"),
                           Rule(target_label="instance", replacement="host")])
    assert relabel_targets(rules, targets) == [{"__address__": "a:1", "job": "x", "instance": "host"}]


def test_regex_errors_name_the_rule_attribute_and_quote_go() -> None:
    with pytest.raises(RuleError) as info:
        compile_rules([Rule(source_labels=["a"], regex="(a)\\1", target_label="b")])
    assert info.value.attribute == "regex"
    assert str(info.value) == ("invalid regex '(a)\\\\1': invalid escape sequence: `\\1` "
                               "(backreferences are not supported in RE2)")


def test_regex_semantics_are_go_not_python() -> None:
    # \d is ASCII in Go; Python's re also matches other scripts' digits
    assert run({"a": "٣"}, Rule(source_labels=["a"], regex="\\d", action="keep")) is None
    assert run({"a": "3"}, Rule(source_labels=["a"], regex="\\d", action="keep")) == {"a": "3"}
    # anchored as ^(?s:…)$: an alternation is whole-value on both sides
    assert run({"a": "ab"}, Rule(source_labels=["a"], regex="a|b", action="keep")) is None
    out = run({"a": "héllo-wörld"}, Rule(source_labels=["a"], regex="(?i)H(.*)-(?<w>.*)", target_label="b",
                                         replacement="${w}/$1"))
    assert out["b"] == "wörld/éllo"  # type: ignore[index]


def test_labelmap_prefix_shortcut_agrees_with_regex() -> None:
    labels = {"__meta_x_label_app": "a", "__meta_x_label_": "empty-name", "job": "j", "x__meta_x_label_b": "c"}
    assert run(labels, Rule(regex="__meta_x_label_(.+)", action="labelmap")) == {**labels, "app": "a"}
