"""Prometheus relabelling: the `rule` block shared by `discovery.relabel`, `prometheus.relabel` and
`write_relabel_config`, compiled once and applied to label sets (plain dicts).

Semantics follow Prometheus `model/relabel`: the regex is fully anchored (`^(?s:<regex>)$`), source
label values are joined with `separator` (a missing label contributes ""), replacements use Go's
`Regexp.Expand` syntax, setting a label to "" deletes it, and `hashmod` takes the last 8 bytes of the
MD5 digest as a big-endian integer. Regexes are RE2 in Alloy, and here too (`collector.protocols.regex`):
constructs RE2 lacks (backreferences, lookaround) are configuration errors, `\\d`/`\\w` are ASCII, and
matching takes time linear in the value, so a configuration means the same thing here as there.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final, Iterable, Sequence

import msgspec

from collector.protocols.regex import Match, Regex, RegexError, compile as compile_re2

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


def compile_regex(pattern: str) -> Regex:
    """Compile as Prometheus does, `^(?s:<pattern>)$`, with RE2 (Go's syntax and semantics)."""
    try:
        return compile_re2(pattern, anchored=True)
    except RegexError as err:
        raise RuleError(str(err), "regex") from None


# --- Go Regexp.Expand -----------------------------------------------------------------------------
_TEMPLATE_REF = re.compile(r"\$(?:\$|\{(\w+)\}|(\w+))")


def expand(template: str, match: Match) -> str:
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
    regex: Regex
    target_label: str
    replacement: str
    modulus: int
    # replace with a literal target and replacement and a regex that matches anything: a plain set
    constant_set: bool


def compile_rules(rules: Iterable[Rule]) -> tuple[CompiledRule, ...]:
    compiled = []
    for rule in rules:
        rule.validate()
        compiled_regex = compile_regex(rule.regex)
        action = rule.action.lower()
        constant = (
            action == "replace"
            and rule.regex == DEFAULT_REGEX
            and "$" not in rule.target_label
            and "$" not in rule.replacement
        )
        compiled.append(
            CompiledRule(action, tuple(rule.source_labels or ()), rule.separator, compiled_regex, rule.target_label,
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
            rx = rule.regex
            if action == "labeldrop":
                lb = {k: v for k, v in lb.items() if not rx.test(k)}
            elif action == "labelkeep":
                lb = {k: v for k, v in lb.items() if rx.test(k)}
            else:
                for name, value in list(lb.items()):
                    m = rx.search(name)
                    if m is not None:
                        target = expand(rule.replacement, m)
                        if value:
                            lb[target] = value
                        else:
                            lb.pop(target, None)
            continue
        value = rule.separator.join([lb.get(name, "") for name in rule.source_labels])
        if action == "replace":
            m = rule.regex.search(value)
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
            if not rule.regex.test(value):
                return None
        elif action == "drop":
            if rule.regex.test(value):
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
