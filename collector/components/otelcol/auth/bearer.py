"""`otelcol.auth.bearer`: a bearer token, sent by exporters (client) and required by receivers (server).

Alloy's arguments: `token` (secret, required), `scheme` (default "Bearer"), `header` (default
"Authorization"). The client sends `<header>: <scheme> <token>` (just the token when `scheme` is
empty), as an HTTP header or gRPC metadata. The server side accepts a request only if that header
carries exactly the same text; the comparison runs in constant time (`hmac.compare_digest`) so the
answer's timing says nothing about how much of a guess was right.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Final, Mapping, MutableMapping

import msgspec

from collector.components.kit.api import ArgumentError, Component, EvalContext, Placement
from collector.components.kit.auth import AUTHENTICATED, AuthHandler, AuthOutcome, Metadata, set_header
from collector.components.kit.registry import register
from collector.components.kit.types import DebugMetrics, Secret

_TOKEN_CHARS: Final = frozenset("\r\n\0")


class Arguments(msgspec.Struct, frozen=True, kw_only=True):
    token: Secret
    scheme: str = "Bearer"
    header: str = "Authorization"
    debug_metrics: DebugMetrics | None = None  # accepted like on every otelcol component; emits nothing

    def validate(self) -> None:
        if not self.token:
            raise ArgumentError("token must not be empty", "token")
        if _TOKEN_CHARS & set(self.token):
            raise ArgumentError("token must not contain line breaks or NUL", "token")
        if not self.header or not self.header.isascii() or any(c in self.header for c in " :\t\r\n"):
            raise ArgumentError(f"invalid header name {self.header!r}", "header")
        if any(c.isspace() for c in self.scheme):
            raise ArgumentError("scheme must not contain spaces", "scheme")


class Exports(msgspec.Struct, frozen=True):
    handler: AuthHandler


@dataclass(frozen=True, eq=True, repr=False)
class BearerAuthHandler(AuthHandler):
    component_id: str
    header: str
    value: Secret  # "<scheme> <token>", what the header must carry
    challenge: str | None = None  # WWW-Authenticate of a 401 (RFC 6750), when the header is Authorization

    @property
    def server(self) -> bool:
        return True

    @property
    def client(self) -> bool:
        return True

    async def authenticate(self, headers: Mapping[str, str]) -> AuthOutcome:
        got = headers.get(self.header.lower())
        if not got:
            return AuthOutcome(False, "missing credentials", self.challenge)
        if not hmac.compare_digest(got.strip().encode("utf-8", "surrogateescape"), self.value.encode("utf-8")):
            return AuthOutcome(False, "invalid credentials", self.challenge)
        return AUTHENTICATED

    def apply(self, headers: MutableMapping[str, str], metadata: Metadata = ()) -> None:
        set_header(headers, self.header, self.value)


@register("otelcol.auth.bearer", arguments=Arguments, exports=Exports, placement=Placement.NOWHERE)
class BearerAuth(Component[Arguments]):
    @classmethod
    def exports(cls, ctx: EvalContext, args: Arguments) -> Exports:
        value = f"{args.scheme} {args.token}" if args.scheme else str(args.token)
        challenge = f'{args.scheme} realm="otelcol"' if args.scheme and args.header.lower() == "authorization" else None
        return Exports(handler=BearerAuthHandler(ctx.component_id, args.header, Secret(value), challenge))
