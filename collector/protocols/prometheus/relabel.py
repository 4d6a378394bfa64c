"""Prometheus relabelling: the `rule` block shared by `discovery.relabel`, `prometheus.relabel` and
`write_relabel_config`, compiled once and applied to label sets (plain dicts).

Semantics follow Prometheus `model/relabel`: the regex is fully anchored (`^(?s:<regex>)$`), source
label values are joined with `separator` (a missing label contributes ""), replacements use Go's
`Regexp.Expand` syntax, setting a label to "" deletes it, and `hashmod` takes the last 8 bytes of the
MD5 digest as a big-endian integer. Regexes are RE2 in Alloy: constructs RE2 lacks (backreferences,
lookaround) are rejected so a configuration means the same thing here as there.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final, Iterable, Sequence

import msgspec

ACTIONS: Final = frozenset(
    {"replace", "keep", "drop", "keepequal", "dropequal", "hashmod", "labelmap", "labeldrop", "labelkeep",
     "lowercase", "uppercase"}
)
DEFAULT_SEPARATOR: Final = ";"
DEFAULT_REGEX: Final = "(.*)"
DEFAULT_REPLACEMENT: Final = "$1"

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# Prometheus' `relabelTarget`: a label name that may contain `$1` / `${name}` references.
_RELABEL_TARGET = re.compile(r"(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+")


class RuleError(ValueError):
    """A rule is invalid; `attribute` names the offending rule attribute."""

    def __init__(self, message: str, attribute: str | None = None) -> None:
        super().__init__(message)
        self.attribute = attribute


class Rule(msgspec.Struct, frozen=True, kw_only=True):
    """The Alloy `rule` block, with Alloy's defaults."""

    source_labels: list[str] | None = None
    separator: str = DEFAULT_SEPARATOR
    regex: str = DEFAULT_REGEX
    modulus: int = 0
    target_label: str = ""
    replacement: str = DEFAULT_REPLACEMENT
    action: str = "replace"

    def validate(self) -> None:
        """Prometheus' `relabel.Config.Validate`, with Alloy's messages."""
        action = self.action.lower()
        if action == "":
            raise RuleError("relabel action cannot be empty", "action")
        if action not in ACTIONS:
            raise RuleError(f'unrecognized action type "{self.action}"', "action")
        if self.modulus < 0:
            raise RuleError("modulus must not be negative", "modulus")
        if action == "hashmod" and self.modulus == 0:
            raise RuleError("relabel configuration for hashmod requires non-zero modulus", "modulus")
        needs_target = ("replace", "hashmod", "lowercase", "uppercase", "keepequal", "dropequal")
        if action in needs_target and self.target_label == "":
            raise RuleError(f"relabel configuration for {action} action requires 'target_label' value", "target_label")
        if action in ("replace", "lowercase", "uppercase", "keepequal", "dropequal") and not _RELABEL_TARGET.fullmatch(
            self.target_label
        ):
            raise RuleError(f'"{self.target_label}" is invalid \'target_label\' for {action} action', "target_label")
        if action in ("lowercase", "uppercase", "keepequal", "dropequal") and self.replacement != DEFAULT_REPLACEMENT:
            raise RuleError(f"'replacement' can not be set for {action} action", "replacement")
        if action == "labelmap" and not _RELABEL_TARGET.fullmatch(self.replacement):
            raise RuleError(f'"{self.replacement}" is invalid \'replacement\' for {action} action', "replacement")
        if action == "hashmod" and not _LABEL_NAME.fullmatch(self.target_label):
            raise RuleError(f'"{self.target_label}" is invalid \'target_label\' for {action} action', "target_label")
        if action in ("labeldrop", "labelkeep") and (
            self.source_labels is not None
            or self.target_label != ""
            or self.modulus != 0
            or self.separator != DEFAULT_SEPARATOR
            or self.replacement != DEFAULT_REPLACEMENT
        ):
            raise RuleError(f"{action} action requires only 'regex', and no other fields", "action")
        if action in ("keepequal", "dropequal") and (
            self.source_labels is None
            or self.modulus != 0
            or self.separator != DEFAULT_SEPARATOR
            or self.replacement != DEFAULT_REPLACEMENT
            or self.regex != DEFAULT_REGEX
        ):
            raise RuleError(f"{action} action requires only 'source_labels' and `target_label`, and no other fields",
                            "action")
        compile_regex(self.regex)


# --- RE2 -> Python regex ------------------------------------------------------------------------
_POSIX_CLASSES: Final = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ", "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9", "graph": "!-~", "lower": "a-z", "print": " -~", "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z", "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f",
}
_UNSUPPORTED: Final = (
    (re.compile(r"\(\?[=!]"), "lookahead"),
    (re.compile(r"\(\?<[=!]"), "lookbehind"),
    (re.compile(r"\(\?P=\w+\)"), "backreference"),
    (re.compile(r"\(\?>"), "atomic group"),
    (re.compile(r"(?:[*+?}])\+"), "possessive quantifier"),
)


def _translate_re2(pattern: str) -> str:
    """Rewrite the RE2 spellings Python lacks; raise on constructs RE2 does not have."""
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt.isdigit() and nxt != "0" and not in_class:
                raise RuleError(f"invalid regex {pattern!r}: backreferences are not supported (RE2)", "regex")
            if nxt == "z" and not in_class:
                out.append("\\Z")
            elif nxt == "Z":
                raise RuleError(f"invalid regex {pattern!r}: invalid escape sequence \\Z", "regex")
            elif nxt == "Q":
                end = pattern.find("\\E", i + 2)
                literal = pattern[i + 2:] if end < 0 else pattern[i + 2:end]
                out.append(re.escape(literal))
                i = n if end < 0 else end + 2
                continue
            else:
                out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            if c == "[" and pattern.startswith("[:", i):
                end = pattern.find(":]", i + 2)
                if end > 0:
                    name = pattern[i + 2:end]
                    negate = name.startswith("^")
                    cls = _POSIX_CLASSES.get(name.lstrip("^"))
                    if cls is None:
                        raise RuleError(f"invalid regex {pattern!r}: invalid character class range", "regex")
                    if negate:
                        raise RuleError(f"invalid regex {pattern!r}: negated POSIX classes are not supported", "regex")
                    out.append(cls)
                    i = end + 2
                    continue
            if c == "]":
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":  # a leading ] is literal
                out.append("\\]")
                i += 1
            continue
        if pattern.startswith("(?<", i) and i + 3 < n and pattern[i + 3] not in "=!":
            out.append("(?P<")  # Go 1.22+ accepts (?<name>...)
            i += 3
            continue
        out.append(c)
        i += 1
    return "".join(out)


_REGEX_CACHE: dict[str, re.Pattern[str]] = {}


def compile_regex(pattern: str) -> re.Pattern[str]:
    """Compile as Prometheus does: `^(?s:<pattern>)$`, matched with `fullmatch`."""
    compiled = _REGEX_CACHE.get(pattern)
    if compiled is not None:
        return compiled
    for check, what in _UNSUPPORTED:
        if check.search(pattern):
            raise RuleError(f"invalid regex {pattern!r}: {what} is not supported (RE2)", "regex")
    try:
        compiled = re.compile("(?s:" + _translate_re2(pattern) + ")")
    except re.error as err:
        raise RuleError(f"invalid regex {pattern!r}: {err}", "regex") from None
    _REGEX_CACHE[pattern] = compiled
    return compiled


# --- Go Regexp.Expand -----------------------------------------------------------------------------
_TEMPLATE_REF = re.compile(r"\$(?:\$|\{(\w+)\}|(\w+))")


def expand(template: str, match: re.Match[str]) -> str:
    """Go `Regexp.ExpandString`: `$1`, `${1}`, `$name`, `${name}`, `$$`; unknown groups expand to ""."""
    if "$" not in template:
        return template
    groups = match.re.groupindex
    ngroups = match.re.groups

    def ref(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name is None:
            return "$"
        if name.isdigit() and name.isascii() and len(name) < 9:
            index = int(name)
            if index > ngroups:
                return ""
            return match.group(index) or ""
        named = groups.get(name)
        if named is None:
            return ""
        return match.group(named) or ""

    return _TEMPLATE_REF.sub(ref, template)


# --- compiled rules -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CompiledRule:
    action: str
    source_labels: tuple[str, ...]
    separator: str
    regex: re.Pattern[str]
    target_label: str
    replacement: str
    modulus: int
    # replace with a literal target and replacement and a regex that matches anything: a plain set
    constant_set: bool


def compile_rules(rules: Iterable[Rule]) -> tuple[CompiledRule, ...]:
    compiled = []
    for rule in rules:
        rule.validate()
        regex = compile_regex(rule.regex)
        action = rule.action.lower()
        constant = (
            action == "replace"
            and rule.regex == DEFAULT_REGEX
            and "$" not in rule.target_label
            and "$" not in rule.replacement
        )
        compiled.append(
            CompiledRule(action, tuple(rule.source_labels or ()), rule.separator, regex, rule.target_label,
                         rule.replacement, rule.modulus, constant)
        )
    return tuple(compiled)


def _hashmod(value: str, modulus: int) -> int:
    digest = hashlib.md5(value.encode()).digest()
    return int.from_bytes(digest[8:], "big") % modulus


def apply(rules: Sequence[CompiledRule], labels: dict[str, str]) -> dict[str, str] | None:
    """Apply `rules` in order to a copy of `labels`; None means the item is dropped."""
    lb = dict(labels)
    for rule in rules:
        action = rule.action
        if rule.constant_set:
            if rule.replacement:
                lb[rule.target_label] = rule.replacement
            else:
                lb.pop(rule.target_label, None)
            continue
        if action in ("labelmap", "labeldrop", "labelkeep"):
            regex = rule.regex
            if action == "labeldrop":
                lb = {k: v for k, v in lb.items() if not regex.fullmatch(k)}
            elif action == "labelkeep":
                lb = {k: v for k, v in lb.items() if regex.fullmatch(k)}
            else:
                for name, value in list(lb.items()):
                    m = regex.fullmatch(name)
                    if m is not None:
                        target = expand(rule.replacement, m)
                        if value:
                            lb[target] = value
                        else:
                            lb.pop(target, None)
            continue
        value = rule.separator.join([lb.get(name, "") for name in rule.source_labels])
        if action == "replace":
            m = rule.regex.fullmatch(value)
            if m is None:
                continue
            target = expand(rule.target_label, m)
            if not _LABEL_NAME.fullmatch(target):
                continue
            result = expand(rule.replacement, m)
            if result:
                lb[target] = result
            else:
                lb.pop(target, None)
        elif action == "keep":
            if rule.regex.fullmatch(value) is None:
                return None
        elif action == "drop":
            if rule.regex.fullmatch(value) is not None:
                return None
        elif action == "keepequal":
            if lb.get(rule.target_label, "") != value:
                return None
        elif action == "dropequal":
            if lb.get(rule.target_label, "") == value:
                return None
        elif action == "hashmod":
            lb[rule.target_label] = str(_hashmod(value, rule.modulus))
        elif action == "lowercase":
            _set(lb, rule.target_label, value.lower())
        elif action == "uppercase":
            _set(lb, rule.target_label, value.upper())
        else:  # pragma: no cover - validate() rejects unknown actions
            raise RuleError(f'unrecognized action type "{action}"', "action")
    return lb


def _set(lb: dict[str, str], name: str, value: str) -> None:
    if value:
        lb[name] = value
    else:
        lb.pop(name, None)


def relabel_targets(rules: Sequence[CompiledRule], targets: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    """`discovery.relabel`: relabel every target, leaving out the dropped ones."""
    out = []
    for target in targets:
        result = apply(rules, target)
        if result is not None:
            out.append(result)
    return out
