"""`discovery.relabel`: rewrite a list of targets with `rule` blocks.

A pure value component: `output` is computed from the arguments whenever they are evaluated, in
every process, so nothing runs at run time.
"""

from __future__ import annotations

import msgspec

from collector.components.kit.api import ArgumentError, Component, EvalContext, Placement
from collector.components.kit.registry import register
from collector.components.kit.types import Targets
from collector.protocols.prometheus.relabel import Rule, RuleError, compile_rules, relabel_targets


class Arguments(msgspec.Struct, frozen=True, kw_only=True):
    targets: Targets
    rule: list[Rule] = msgspec.field(default_factory=list)

    def validate(self) -> None:
        validate_rules(self.rule, "rule")


def validate_rules(rules: list[Rule], block: str) -> None:
    """Validate each `rule` block, pointing errors at `<block>.<attribute>`."""
    for rule in rules:
        try:
            rule.validate()
        except RuleError as err:
            raise ArgumentError(str(err), f"{block}.{err.attribute}" if err.attribute else block) from None


class Exports(msgspec.Struct, frozen=True):
    output: Targets
    rules: list[Rule]


@register("discovery.relabel", arguments=Arguments, exports=Exports, placement=Placement.NOWHERE)
class DiscoveryRelabel(Component[Arguments]):
    @classmethod
    def exports(cls, ctx: EvalContext, args: Arguments) -> Exports:
        return Exports(output=relabel_targets(compile_rules(args.rule), args.targets), rules=list(args.rule))
