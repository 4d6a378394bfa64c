"""HTTP client blocks shared by `prometheus.scrape` and `prometheus.remote_write` endpoints
(Alloy's `common/config` HTTPClientConfig: auth, TLS, proxy)."""

from __future__ import annotations

import urllib.parse
from typing import Mapping

import msgspec

from collector.components.kit.api import ArgumentError
from collector.components.kit.tls import CertificateFiles
from collector.components.kit.types import Secret


def _value_or_file(path: str, block: str, name: str, value_set: object, file_set: object) -> None:
    """A secret given inline (`name`) or read from `name_file`, never both."""
    if value_set and file_set:
        raise ArgumentError(f"at most one of {block} {name} & {name}_file must be configured", f"{path}.{name}")


class BasicAuth(msgspec.Struct, frozen=True, kw_only=True):
    username: str = ""
    username_file: str = ""
    password: Secret | None = None
    password_file: str = ""

    def validate(self, path: str) -> None:
        _value_or_file(path, "basic_auth", "password", self.password is not None, self.password_file)
        _value_or_file(path, "basic_auth", "username", self.username, self.username_file)


class Authorization(msgspec.Struct, frozen=True, kw_only=True):
    type: str = "Bearer"
    credentials: Secret | None = None
    credentials_file: str = ""

    def validate(self, path: str) -> None:
        _value_or_file(path, "authorization", "credentials", self.credentials is not None, self.credentials_file)
        if self.type.lower() == "basic":
            raise ArgumentError("authorization type cannot be set to \"basic\", use \"basic_auth\" instead",
                                f"{path}.type")


class TLSConfig(CertificateFiles, frozen=True, kw_only=True):
    server_name: str = ""
    insecure_skip_verify: bool = False
    min_version: str = ""

    def validate(self, path: str) -> None:
        if self.ca_pem and self.ca_file:
            raise ArgumentError("at most one of ca_pem and ca_file must be configured", f"{path}.ca_pem")
        if self.cert_pem and self.cert_file:
            raise ArgumentError("at most one of cert_pem and cert_file must be configured", f"{path}.cert_pem")
        if self.key_pem is not None and self.key_file:
            raise ArgumentError("at most one of key_pem and key_file must be configured", f"{path}.key_pem")
        has_cert = bool(self.cert_pem or self.cert_file)
        has_key = bool(self.key_pem or self.key_file)
        if has_cert != has_key:
            raise ArgumentError("exactly one of key or cert is specified; both must be specified or neither",
                                f"{path}.cert_file")
        if self.min_version not in ("", "TLS10", "TLS11", "TLS12", "TLS13"):
            raise ArgumentError(f"unknown TLS version: {self.min_version}", f"{path}.min_version")


class ProxyConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Alloy's proxy settings, carried by the client itself and by its `oauth2` block."""

    proxy_url: str = ""
    no_proxy: str = ""
    proxy_from_environment: bool = False
    proxy_connect_header: dict[str, list[Secret]] = msgspec.field(default_factory=dict)


def validate_proxy(path: str, config: ProxyConfig) -> None:
    """Prometheus's proxy rules, plus what aiohttp can do: HTTP(S) proxies, not SOCKS."""
    prefix = f"{path}." if path else ""
    if config.proxy_from_environment and config.proxy_url:
        raise ArgumentError("if proxy_from_environment is configured, proxy_url must not be configured",
                            prefix + "proxy_url")
    if config.proxy_from_environment and config.no_proxy:
        raise ArgumentError("if proxy_from_environment is configured, no_proxy must not be configured",
                            prefix + "no_proxy")
    if config.no_proxy and not config.proxy_url:
        raise ArgumentError("if no_proxy is configured, proxy_url must also be configured", prefix + "no_proxy")
    if config.proxy_connect_header and not (config.proxy_url or config.proxy_from_environment):
        raise ArgumentError("if proxy_connect_header is configured, proxy_url or proxy_from_environment must "
                            "also be configured", prefix + "proxy_connect_header")
    if config.proxy_url:
        try:
            parts = urllib.parse.urlsplit(config.proxy_url)
        except ValueError as err:
            raise ArgumentError(f"invalid proxy_url: {err}", prefix + "proxy_url") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ArgumentError(f"unsupported proxy_url scheme {parts.scheme!r}: only http:// and https:// proxies "
                                "are supported (no SOCKS)", prefix + "proxy_url")


def validate_tls_material(path: str, tls: TLSConfig | None) -> None:
    """Load the CA, certificate and key now, so a missing or broken file is a located
    configuration error instead of a component that fails every request."""
    import ssl

    from collector.components.kit.http_client import ssl_context

    if tls is None:
        return
    try:
        ssl_context(tls)
    except (OSError, ssl.SSLError, ValueError) as err:
        what = "ca_file" if tls.ca_file else "ca_pem" if tls.ca_pem else "cert_file" if tls.cert_file else "cert_pem"
        raise ArgumentError(f"cannot load the TLS material: {getattr(err, 'strerror', None) or err}",
                            f"{path}.{what}") from None


class OAuth2(ProxyConfig, frozen=True, kw_only=True):
    client_id: str = ""
    client_secret: Secret | None = None
    client_secret_file: str = ""
    scopes: list[str] = msgspec.field(default_factory=list)
    token_url: str = ""
    endpoint_params: dict[str, str] = msgspec.field(default_factory=dict)
    tls_config: TLSConfig | None = None

    def validate(self, path: str) -> None:
        _value_or_file(path, "oauth2", "client_secret", self.client_secret is not None, self.client_secret_file)
        if not self.token_url.startswith(("http://", "https://")):
            raise ArgumentError("oauth2 token_url must be an http:// or https:// URL", f"{path}.token_url")
        validate_proxy(path, self)
        if self.tls_config is not None:
            self.tls_config.validate(f"{path}.tls_config")
            validate_tls_material(f"{path}.tls_config", self.tls_config)


class HTTPClientConfig(ProxyConfig, frozen=True, kw_only=True):
    """The HTTPClientConfig fields a scrape `Arguments` or a remote_write `endpoint` block carries
    inline, as Alloy squashes the struct into both; each subclass keeps its own defaults where
    Alloy's differ (`enable_http2`)."""

    bearer_token: Secret | None = None
    bearer_token_file: str = ""
    follow_redirects: bool = True
    enable_http2: bool = True
    basic_auth: BasicAuth | None = None
    authorization: Authorization | None = None
    oauth2: OAuth2 | None = None
    tls_config: TLSConfig | None = None


def validate_client(path: str, client: HTTPClientConfig) -> None:
    """Proxy settings and at most one authentication mechanism, then each block's own rules."""
    prefix = f"{path}." if path else ""
    validate_proxy(path, client)
    basic_auth, authorization = client.basic_auth, client.authorization
    oauth2, tls_config = client.oauth2, client.tls_config
    used = [
        name for name, present in (
            ("bearer_token", client.bearer_token is not None),
            ("bearer_token_file", bool(client.bearer_token_file)),
            ("basic_auth", basic_auth is not None),
            ("authorization", authorization is not None),
            ("oauth2", oauth2 is not None),
        ) if present
    ]
    if len(used) > 1:
        raise ArgumentError(f"at most one of {', '.join(used)} must be configured", prefix + used[1])
    if basic_auth is not None:
        basic_auth.validate(prefix + "basic_auth")
    if authorization is not None:
        authorization.validate(prefix + "authorization")
    if oauth2 is not None:
        oauth2.validate(prefix + "oauth2")
    if tls_config is not None:
        tls_config.validate(prefix + "tls_config")
        validate_tls_material(prefix + "tls_config", tls_config)


_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def validate_headers(path: str, headers: Mapping[str, object]) -> None:
    """Header names must be HTTP tokens and values must not hold CR, LF or NUL: the HTTP client
    refuses such a header on every request, which would stop sending for good."""
    for name, value in headers.items():
        if not name or not set(name) <= _TOKEN_CHARS:
            raise ArgumentError(f"invalid header name {name!r}", path)
        if any(c in str(value) for c in "\r\n\0"):
            raise ArgumentError(f"header {name!r}: the value must not contain CR, LF or NUL characters", path)


def validate_url_auth(path: str, url: str, client: HTTPClientConfig,
                      headers: Mapping[str, object] | None = None) -> None:
    """Credentials in the URL (`http://user:pass@host`) are one more authentication mechanism:
    the HTTP client cannot send them together with another one (or an Authorization header)."""
    try:
        userinfo = urllib.parse.urlsplit(url).username is not None
    except ValueError as err:
        raise ArgumentError(f"invalid url {url!r}: {err}", path) from None
    if not userinfo:
        return
    others = [name for name, present in (
        ("basic_auth", client.basic_auth is not None),
        ("authorization", client.authorization is not None),
        ("bearer_token", client.bearer_token is not None),
        ("bearer_token_file", bool(client.bearer_token_file)),
        ("oauth2", client.oauth2 is not None),
        ("an Authorization header", any(str(h).lower() == "authorization" for h in headers or {})),
    ) if present]
    if others:
        raise ArgumentError(f"the url carries credentials (user:password@), which cannot be combined with "
                            f"{others[0]}; use one of them", path)


def auth_headers(client: HTTPClientConfig) -> dict[str, str]:
    """Static Authorization header for the configured mechanism (files are read now); an
    `oauth2` token is per request: see `http_client.ClientSettings.auth_headers`."""
    from collector.components.kit.http_client import static_auth_headers

    return static_auth_headers(client)
