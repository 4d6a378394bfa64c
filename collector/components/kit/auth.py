"""The `handler` export of the `otelcol.auth.*` components (Alloy's `capsule(otelcol.Handler)`).

An authenticator is a value, like `otelcol.storage.file`'s handler: every process evaluates the
configuration and so holds the same handler, built from the component's arguments, and uses it
where it runs. The receiver processes call the server side (`authenticate`) on every request, before
the body is read; the workers' exporters call the client side (`apply`) on every request they send.
Nothing of an authenticator runs in a process of its own, so there is no connection between them
to lose.

Each component supports one side or both (`server` / `client`); a receiver or exporter that names a
handler of the wrong side is refused at validation, naming its `auth` attribute.

Secrets stay inside the handler: its `str()` and `repr()` are the reference text
(`otelcol.auth.basic.creds.handler`), which is what the UI and API show, and an `AuthOutcome` never
carries the credentials it judged, so nothing downstream can log them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping, MutableMapping, Sequence

Metadata = Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class AuthOutcome:
    """A server-side verdict. `reason` is short and credential-free: it labels the refused-requests
    counter and the log line. `challenge` is the `WWW-Authenticate` value of an HTTP 401."""

    ok: bool
    reason: str = ""
    challenge: str | None = None


AUTHENTICATED = AuthOutcome(True)


class AuthHandler:
    """Base of every authenticator handler. Subclasses are frozen dataclasses (so two evaluations of
    the same arguments compare equal and a reload keeps the components that reference them) and
    override the side(s) they support."""

    component_id: str

    @property
    def server(self) -> bool:
        """Whether it can judge incoming requests (a receiver's `auth`)."""
        return False

    @property
    def client(self) -> bool:
        """Whether it can add credentials to outgoing requests (an exporter's `client { auth }`)."""
        return False

    def __str__(self) -> str:
        return f"{self.component_id}.handler"

    def __repr__(self) -> str:  # never the dataclass repr: it would print the secrets
        return f"AuthHandler({self})"

    async def authenticate(self, headers: Mapping[str, str]) -> AuthOutcome:
        """Judge one incoming request by its headers (HTTP) or metadata (gRPC); keys lower-case."""
        raise NotImplementedError(f"{self} does not authenticate incoming requests")

    def apply(self, headers: MutableMapping[str, str], metadata: Metadata = ()) -> None:
        """Add this authenticator's headers to an outgoing request. `metadata` is the client
        metadata of the batch being sent (`include_metadata` on the receiver, carried through the
        rings and the batch processor's `metadata_keys`)."""
        raise NotImplementedError(f"{self} does not authenticate outgoing requests")


def check_server_handler(handler: object, attribute: str) -> AuthHandler | None:
    """The receiver's `auth` value, refused (ArgumentError at `attribute`) if it cannot authenticate
    incoming requests."""
    return _check_side(handler, attribute, "server", "incoming requests: configure a server side "
                       "(otelcol.auth.basic's htpasswd block, otelcol.auth.bearer's token)")


def check_client_handler(handler: object, attribute: str) -> AuthHandler | None:
    """An exporter's `client { auth = ... }` value, refused if it cannot authenticate outgoing requests."""
    return _check_side(handler, attribute, "client", "outgoing requests: configure a client side "
                       "(otelcol.auth.basic's client_auth block)")


def _check_side(handler: object, attribute: str, side: Literal["server", "client"], lacking: str) -> AuthHandler | None:
    from collector.components.kit.api import ArgumentError

    if handler is None:
        return None
    if not isinstance(handler, AuthHandler):
        raise ArgumentError(f"auth must be an otelcol.auth.* handler, got {handler!r}", attribute)
    if not getattr(handler, side):
        raise ArgumentError(f"{handler} cannot authenticate {lacking}", attribute)
    return handler


def set_header(headers: MutableMapping[str, str], key: str, value: str, action: str = "upsert") -> None:
    """Set or delete `key` case-insensitively, as `otelcol.auth.headers` actions do (insert: only if
    absent; update: only if present; upsert: always; delete: remove)."""
    existing = [name for name in headers if name.lower() == key.lower()]
    if action == "delete":
        for name in existing:
            del headers[name]
        return
    if existing and action == "insert":
        return
    if not existing and action == "update":
        return
    for name in existing:
        del headers[name]
    headers[key] = value
