"""`otelcol.auth.basic`: HTTP Basic authentication, for receivers (server) and exporters (client).

Alloy's arguments:

* `client_auth { username, password, username_file, password_file }`: what exporters send,
  `Authorization: Basic base64(user:password)`. A `*_file` wins over the inline value and is read
  again when it changes (checked at most once a second, `files.WatchedFile`).
* `htpasswd { file, inline }`: the users a receiver accepts, in Apache's htpasswd format (bcrypt
  `$2y$`, `{SHA}`, `$apr1$` MD5, crypt, and plain text, as `htpasswd` writes them; verified by
  libpass's `HtpasswdFile`, bcrypt through the `bcrypt` package). Both may be set: the file's
  entries are read first and inline entries for the same user replace them. The file is read again
  when it changes.
* deprecated top-level `username` / `password`: the client credentials when `client_auth` is absent
  (with `client_auth` present they are ignored, as in Alloy).

Cost of a check: bcrypt is slow on purpose (tens of ms at cost 10), so a verified
`Authorization` value is remembered, keyed by an HMAC under a per-process random key (the
credentials themselves are never kept), and later requests with it cost one HMAC. Only a miss runs
the hash check, in a worker thread (bcrypt releases the GIL) so that guessing clients cannot stall
the receiver's event loop. The memory is bounded and cleared when the htpasswd content changes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import os
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Mapping, MutableMapping

import msgspec

from collector.components.kit.api import ArgumentError, Component, EvalContext, Placement
from collector.components.kit.auth import AUTHENTICATED, AuthHandler, AuthOutcome, Metadata
from collector.components.kit.registry import register
from collector.components.kit.types import DebugMetrics, Secret
from collector.components.otelcol.auth.files import WatchedFile

if TYPE_CHECKING:
    from passlib.apache import HtpasswdFile

CHALLENGE: Final = 'Basic realm="otelcol", charset="UTF-8"'
VERIFIED_CAPACITY: Final = 4096  # remembered Authorization values (HMACs, 32 bytes each)


class ClientAuth(msgspec.Struct, frozen=True, kw_only=True):
    username: str = ""
    password: Secret = Secret("")
    username_file: str = ""
    password_file: str = ""


class Htpasswd(msgspec.Struct, frozen=True, kw_only=True):
    file: str = ""
    inline: Secret = Secret("")


class Arguments(msgspec.Struct, frozen=True, kw_only=True):
    username: str = ""  # deprecated: use client_auth
    password: Secret = Secret("")  # deprecated: use client_auth
    client_auth: ClientAuth | None = None
    htpasswd: Htpasswd | None = None
    debug_metrics: DebugMetrics | None = None  # accepted like on every otelcol component; emits nothing

    def validate(self) -> None:
        if self.client_auth is None and self.htpasswd is None and not self.username:
            raise ArgumentError("configure client_auth (for exporters) or htpasswd (for receivers)", "client_auth")
        if self.client_auth is not None:
            client = self.client_auth
            if not (client.username or client.username_file):
                raise ArgumentError("client_auth needs username or username_file", "client_auth.username")
            for name in ("username_file", "password_file"):
                _readable(getattr(client, name), f"client_auth.{name}")
        elif self.password and not self.username:
            raise ArgumentError("password needs username", "username")
        if self.htpasswd is not None:
            if not (self.htpasswd.file or self.htpasswd.inline):
                raise ArgumentError("htpasswd needs file or inline", "htpasswd.file")
            _readable(self.htpasswd.file, "htpasswd.file")
            for number, line in enumerate(str(self.htpasswd.inline).splitlines(), 1):
                text = line.strip()
                if text and not text.startswith("#") and ":" not in text:
                    raise ArgumentError(f"htpasswd inline line {number} is not user:hash", "htpasswd.inline")


def merge_htpasswd(*texts: str) -> str:
    """One htpasswd text from several, a later text's entry for a user replacing an earlier one's
    (libpass would keep the first and warn)."""
    entries: dict[str, str] = {}
    for text in texts:
        for line in text.splitlines():
            entry = line.strip()
            if entry and not entry.startswith("#") and ":" in entry:
                entries[entry.partition(":")[0]] = entry
    return "\n".join(entries.values()) + "\n"


def _readable(path: str, attribute: str) -> None:
    """A credentials file must exist when the configuration is loaded (it is read again later, when
    it changes): a typo should fail the load at the attribute, not every request."""
    if path and not os.access(path, os.R_OK):
        reason = "does not exist" if not os.path.exists(path) else "is not readable"
        raise ArgumentError(f"{path} {reason}", attribute)


class Exports(msgspec.Struct, frozen=True):
    handler: AuthHandler


class _HtpasswdTable:
    """The users a receiver accepts, read lazily (libpass loads only where a receiver checks) and
    again when the file changed; remembers verified credentials per content generation."""

    def __init__(self, file: str, inline: str) -> None:
        self.file = WatchedFile(file) if file else None
        self.inline = inline
        self._lock = threading.Lock()
        self._loaded_generation = -1
        self._table: HtpasswdFile | None = None
        self._key = secrets.token_bytes(32)
        self._verified: OrderedDict[bytes, None] = OrderedDict()

    def table(self) -> HtpasswdFile:
        from passlib.apache import HtpasswdFile

        generation = self._file_generation() if self.file is not None else 0
        with self._lock:
            if self._table is None or generation != self._loaded_generation:
                text = self.file.read() if self.file is not None else ""
                self._table = HtpasswdFile.from_string(merge_htpasswd(text, self.inline))
                self._loaded_generation = generation
                self._verified.clear()
            return self._table

    def _file_generation(self) -> int:
        assert self.file is not None
        self.file.read()  # refreshes `generation` when the file changed
        return self.file.generation

    def fingerprint(self, authorization: str) -> bytes:
        return hmac.new(self._key, authorization.encode("utf-8", "surrogateescape"), hashlib.sha256).digest()

    def remembered(self, fingerprint: bytes) -> bool:
        with self._lock:
            if fingerprint in self._verified:
                self._verified.move_to_end(fingerprint)
                return True
            return False

    def remember(self, fingerprint: bytes) -> None:
        with self._lock:
            self._verified[fingerprint] = None
            while len(self._verified) > VERIFIED_CAPACITY:
                self._verified.popitem(last=False)

    def check(self, user: str, password: str) -> bool:
        """An unknown user costs one bcrypt verification too, so the answer's timing does not tell
        a prober which user names exist."""
        table = self.table()
        if table.get_hash(user) is None:
            _spend_like_a_password_check(password)
            return False
        return bool(table.check_password(user, password))


_DECOY_HASH: str | None = None


def _spend_like_a_password_check(password: str) -> None:
    global _DECOY_HASH
    from passlib.hash import bcrypt

    if _DECOY_HASH is None:
        _DECOY_HASH = bcrypt.hash(secrets.token_hex(16))
    bcrypt.verify(password[:72] or "-", _DECOY_HASH)


class _ClientCredentials:
    """The `Authorization` value an exporter sends; files read again when they change."""

    def __init__(self, username: str, password: str, username_file: str, password_file: str) -> None:
        self.username = username
        self.password = password
        self.username_file = WatchedFile(username_file) if username_file else None
        self.password_file = WatchedFile(password_file) if password_file else None
        self._value = _basic(username, password) if not (username_file or password_file) else ""
        self._from: tuple[str, str] | None = None

    def header_value(self) -> str:
        if self.username_file is None and self.password_file is None:
            return self._value
        user = self.username_file.read() if self.username_file is not None else self.username
        password = self.password_file.read() if self.password_file is not None else self.password
        if (user, password) != self._from:
            self._from = (user, password)
            self._value = _basic(user, password)
        return self._value


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


@dataclass(frozen=True, eq=True, repr=False)
class BasicAuthHandler(AuthHandler):
    component_id: str
    client_auth: ClientAuth | None
    htpasswd: Htpasswd | None
    _credentials: _ClientCredentials | None = field(default=None, compare=False)
    _table: _HtpasswdTable | None = field(default=None, compare=False)

    @property
    def server(self) -> bool:
        return self.htpasswd is not None

    @property
    def client(self) -> bool:
        return self.client_auth is not None

    async def authenticate(self, headers: Mapping[str, str]) -> AuthOutcome:
        table = self._table
        if table is None:
            return await super().authenticate(headers)
        value = headers.get("authorization", "")
        if not value:
            return AuthOutcome(False, "missing credentials", CHALLENGE)
        scheme, _, encoded = value.strip().partition(" ")
        if scheme.lower() != "basic":
            return AuthOutcome(False, "wrong authorization scheme", CHALLENGE)
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user, sep, password = "", "", ""
        if not sep:
            return AuthOutcome(False, "malformed credentials", CHALLENGE)
        try:
            table.table()  # at most once a second, looks whether the file changed (then forgets)
        except OSError:
            return AuthOutcome(False, "htpasswd file unreadable", CHALLENGE)
        fingerprint = table.fingerprint(value)
        if table.remembered(fingerprint):
            return AUTHENTICATED
        try:
            ok = await asyncio.to_thread(table.check, user, password)
        except OSError:
            return AuthOutcome(False, "htpasswd file unreadable", CHALLENGE)
        except ValueError:  # a password bcrypt cannot take (> 72 bytes), or an entry that is no hash
            return AuthOutcome(False, "invalid credentials", CHALLENGE)
        if not ok:
            return AuthOutcome(False, "invalid credentials", CHALLENGE)
        table.remember(fingerprint)
        return AUTHENTICATED

    def apply(self, headers: MutableMapping[str, str], metadata: Metadata = ()) -> None:
        if self._credentials is None:
            return super().apply(headers, metadata)
        for name in [name for name in headers if name.lower() == "authorization"]:
            del headers[name]
        headers["Authorization"] = self._credentials.header_value()


@register("otelcol.auth.basic", arguments=Arguments, exports=Exports, placement=Placement.NOWHERE)
class BasicAuth(Component[Arguments]):
    @classmethod
    def exports(cls, ctx: EvalContext, args: Arguments) -> Exports:
        client = args.client_auth
        if client is None and args.username:
            client = ClientAuth(username=args.username, password=args.password)
        credentials = None
        if client is not None:
            credentials = _ClientCredentials(client.username, str(client.password), client.username_file,
                                             client.password_file)
        table = _HtpasswdTable(args.htpasswd.file, str(args.htpasswd.inline)) if args.htpasswd is not None else None
        return Exports(handler=BasicAuthHandler(ctx.component_id, client, args.htpasswd, credentials, table))
