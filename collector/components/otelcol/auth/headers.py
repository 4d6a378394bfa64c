"""`otelcol.auth.headers`: headers an exporter adds to every request (client side only).

Alloy's `header { key, value | from_context, action }` blocks, applied in order:

* `value` (string or secret): a constant;
* `from_context`: the value of that client-metadata key of the batch being sent (the receiver's
  `include_metadata = true` carries request headers / gRPC metadata through the rings, and the
  batch processor's `metadata_keys` keeps the batch's values; keys compare lower-case). A batch
  without the key gets no header from this block; several values are joined with ",", as an
  HTTP header list;
* `action`: `upsert` (default), `insert` (only if the request does not have the header yet),
  `update` (only if it has it), `delete` (remove it; needs neither value nor from_context).

`from_attribute` (authentication attributes of the incoming request) is refused: this collector
does not carry authentication attributes beyond the receiver. The component has no server side,
so a receiver that names it is refused at validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, MutableMapping

import msgspec

from collector.components.kit.api import ArgumentError, Component, EvalContext, Placement
from collector.components.kit.auth import AuthHandler, Metadata, set_header
from collector.components.kit.registry import register
from collector.components.kit.types import DebugMetrics, Secret

ACTIONS: Final = ("insert", "update", "upsert", "delete")


class Header(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    value: Secret | None = None
    from_context: str | None = None
    from_attribute: str | None = None
    action: str = "upsert"


class Arguments(msgspec.Struct, frozen=True, kw_only=True):
    header: list[Header] = msgspec.field(default_factory=list)
    debug_metrics: DebugMetrics | None = None  # accepted like on every otelcol component; emits nothing

    def validate(self) -> None:
        if not self.header:
            raise ArgumentError("at least one header block is required", "header")
        for index, header in enumerate(self.header):
            where = f"header[{index}]"
            if not header.key.strip():
                raise ArgumentError("key must not be empty", f"{where}.key")
            if header.action not in ACTIONS:
                raise ArgumentError(f"unknown action {header.action}", f"{where}.action")
            if header.from_attribute is not None:
                raise ArgumentError("from_attribute is not supported: authentication attributes of the incoming "
                                    "request are not carried to exporters; use from_context with the receiver's "
                                    "include_metadata", f"{where}.from_attribute")
            if header.action == "delete":
                continue
            if header.value is None and header.from_context is None:
                raise ArgumentError("either value or from_context must be set", f"{where}.value")
            if header.value is not None and header.from_context is not None:
                raise ArgumentError("value and from_context cannot both be set", f"{where}.from_context")


class Exports(msgspec.Struct, frozen=True):
    handler: AuthHandler


@dataclass(frozen=True, slots=True)
class HeaderRule:
    key: str
    value: Secret | None
    from_context: str  # lower-case metadata key, "" for a constant
    action: str


@dataclass(frozen=True, eq=True, repr=False)
class HeadersAuthHandler(AuthHandler):
    component_id: str
    rules: tuple[HeaderRule, ...]

    @property
    def client(self) -> bool:
        return True

    def apply(self, headers: MutableMapping[str, str], metadata: Metadata = ()) -> None:
        for rule in self.rules:
            if rule.action == "delete":
                set_header(headers, rule.key, "", "delete")
                continue
            if rule.from_context:
                values = [value for key, value in metadata if key == rule.from_context]
                if not values:
                    continue
                value = ",".join(values)
            else:
                value = str(rule.value)
            set_header(headers, rule.key, value, rule.action)


@register("otelcol.auth.headers", arguments=Arguments, exports=Exports, placement=Placement.NOWHERE)
class HeadersAuth(Component[Arguments]):
    @classmethod
    def exports(cls, ctx: EvalContext, args: Arguments) -> Exports:
        rules = tuple(HeaderRule(h.key.strip(), h.value, (h.from_context or "").lower(), h.action) for h in args.header)
        return Exports(handler=HeadersAuthHandler(ctx.component_id, rules))
