"""Schemas of the unlabelled top-level config blocks (reference C.2, C.7), decoded like components."""

from __future__ import annotations

from typing import Any, Final

import msgspec

from collector.components.kit.api import ArgumentError
from collector.config.values import Secret

LOG_LEVELS: Final = ("error", "warn", "info", "debug")
LOG_FORMATS: Final = ("logfmt", "json")


class Logging(msgspec.Struct, frozen=True, kw_only=True):
    level: str = "info"
    format: str = "logfmt"
    write_to: list[Any] = msgspec.field(default_factory=list)

    def validate(self) -> None:
        if self.level not in LOG_LEVELS:
            raise ArgumentError(f'unrecognized log level "{self.level}"', "level")
        if self.format not in LOG_FORMATS:
            raise ArgumentError(f'unrecognized log format "{self.format}"', "format")


class Tracing(msgspec.Struct, frozen=True, kw_only=True):
    sampling_fraction: float = 0.1
    write_to: list[Any] = msgspec.field(default_factory=list)

    def validate(self) -> None:
        if not 0 <= self.sampling_fraction <= 1:
            raise ArgumentError("sampling_fraction must be between 0 and 1", "sampling_fraction")


class Tls(msgspec.Struct, frozen=True, kw_only=True):
    cert_file: str = ""
    key_file: str = ""
    cert_pem: str = ""
    key_pem: Secret = Secret("")
    client_ca_file: str = ""
    client_auth_type: str = "NoClientCert"
    min_version: str = ""
    max_version: str = ""

    def validate(self) -> None:
        if self.cert_file and self.cert_pem:
            raise ArgumentError("cannot specify both cert_file and cert_pem", "tls.cert_pem")
        if self.key_file and self.key_pem:
            raise ArgumentError("cannot specify both key_file and key_pem", "tls.key_pem")


class BasicAuth(msgspec.Struct, frozen=True, kw_only=True):
    username: str
    password: Secret


class AuthFilter(msgspec.Struct, frozen=True, kw_only=True):
    paths: list[str] = msgspec.field(default_factory=list)
    authenticate_matching_paths: bool = False


class Auth(msgspec.Struct, frozen=True, kw_only=True):
    basic: BasicAuth | None = None
    filter: AuthFilter | None = None


class Http(msgspec.Struct, frozen=True, kw_only=True):
    tls: Tls | None = None
    auth: Auth | None = None

    def validate(self) -> None:
        if self.tls is not None:
            self.tls.validate()


class LiveDebugging(msgspec.Struct, frozen=True, kw_only=True):
    enabled: bool = False


CONFIG_BLOCKS: Final[dict[str, type[msgspec.Struct]]] = {
    "logging": Logging,
    "tracing": Tracing,
    "http": Http,
    "livedebugging": LiveDebugging,
}

# Alloy's module machinery and remote configuration: recognised, so the message can say what is
# missing instead of claiming an unknown component.
UNSUPPORTED_BLOCKS: Final = frozenset(
    {"remotecfg", "declare", "argument", "export", "foreach", "import.file", "import.string",
     "import.http", "import.git"}
)
