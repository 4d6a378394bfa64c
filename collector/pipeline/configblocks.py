"""Schemas of the unlabelled top-level config blocks (reference C.2, C.7), decoded like components."""

from __future__ import annotations

import ssl
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


_TLS_VERSIONS: Final = ("", "TLS10", "TLS11", "TLS12", "TLS13")
# Go's tls.ClientAuthType names -> what Python's ssl can do with them
_CLIENT_AUTH: Final = {"NoClientCert": "none", "VerifyClientCertIfGiven": "optional",
                       "RequireAndVerifyClientCert": "required"}


class Tls(msgspec.Struct, frozen=True, kw_only=True):
    """The admin server's TLS (`http { tls { ... } }`), applied by `collector/web/server.py`."""

    cert_file: str = ""
    key_file: str = ""
    cert_pem: str = ""
    key_pem: Secret = Secret("")
    client_ca_file: str = ""
    client_ca_pem: str = ""
    client_auth_type: str = "NoClientCert"
    min_version: str = ""
    max_version: str = ""
    cipher_suites: list[str] = msgspec.field(default_factory=list)
    curve_preferences: list[str] = msgspec.field(default_factory=list)

    def validate(self) -> None:
        if self.cert_file and self.cert_pem:
            raise ArgumentError("cannot specify both cert_file and cert_pem", "tls.cert_pem")
        if self.key_file and self.key_pem:
            raise ArgumentError("cannot specify both key_file and key_pem", "tls.key_pem")
        if not (self.cert_file or self.cert_pem) or not (self.key_file or self.key_pem):
            raise ArgumentError("the admin server's TLS needs a certificate and its key (cert_file or cert_pem, "
                                "key_file or key_pem)", "tls.cert_file")
        if self.client_auth_type not in _CLIENT_AUTH:
            raise ArgumentError(f"client_auth_type {self.client_auth_type!r} is not supported: use one of "
                                f"{', '.join(_CLIENT_AUTH)} (Python's TLS cannot request a client certificate "
                                "without verifying it)", "tls.client_auth_type")
        if self.client_auth_type != "NoClientCert" and not (self.client_ca_file or self.client_ca_pem):
            raise ArgumentError(f"client_auth_type {self.client_auth_type} needs client_ca_file or client_ca_pem",
                                "tls.client_auth_type")
        for name in ("min_version", "max_version"):
            if getattr(self, name) not in _TLS_VERSIONS:
                raise ArgumentError(f"unknown TLS version {getattr(self, name)!r}: use TLS10, TLS11, TLS12 or TLS13",
                                    f"tls.{name}")
        for name in ("cipher_suites", "curve_preferences"):
            if getattr(self, name):
                raise ArgumentError(f"{name} is not supported by this collector (OpenSSL's defaults apply)",
                                    f"tls.{name}")
        try:
            self.server_context()
        except (OSError, ssl.SSLError, ValueError) as err:
            raise ArgumentError(f"cannot load the TLS certificate or key: {getattr(err, 'strerror', None) or err}",
                                "tls.cert_file" if self.cert_file else "tls.cert_pem") from None

    def server_context(self) -> ssl.SSLContext:
        from collector.components.kit.http_client import TLS_VERSIONS, load_cert_chain

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        load_cert_chain(context, self.cert_file, self.cert_pem, self.key_file, str(self.key_pem))
        if self.min_version:
            context.minimum_version = TLS_VERSIONS[self.min_version]
        if self.max_version:
            context.maximum_version = TLS_VERSIONS[self.max_version]
        mode = _CLIENT_AUTH[self.client_auth_type]
        if mode != "none":
            context.verify_mode = ssl.CERT_REQUIRED if mode == "required" else ssl.CERT_OPTIONAL
            context.load_verify_locations(cafile=self.client_ca_file or None, cadata=self.client_ca_pem or None)
        return context


class BasicAuth(msgspec.Struct, frozen=True, kw_only=True):
    """Checked by `collector/web/security.py` on every admin request."""

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
