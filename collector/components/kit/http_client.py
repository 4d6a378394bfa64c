"""What a Prometheus `HTTPClientConfig` (scrape targets, remote-write endpoints) means on the wire:
the TLS context, the proxy to use for a URL, and the Authorization header, including OAuth 2.0
client-credentials tokens fetched from `token_url`, cached and refreshed before they expire.

The configuration structs and their validation live in `prometheus_client.py`; this module turns
a validated config into aiohttp request arguments, so both components apply every setting the same
way. `describe_error` names why a request failed (a TLS verification failure says so, with the
reason OpenSSL gave), for the log line and the `reason` label of the error counter.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import os
import ssl
import tempfile
import time
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any, Final, Mapping

import aiohttp
from multidict import CIMultiDict

if TYPE_CHECKING:
    from collector.components.kit.prometheus_client import HTTPClientConfig, OAuth2, ProxyConfig, TLSConfig

TLS_VERSIONS: Final = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
# Go's oauth2 package renews a token this long before it expires
TOKEN_EXPIRY_DELTA: Final = 10.0


class TokenError(Exception):
    """The OAuth 2.0 token endpoint did not give a token: the request is not sent (retried later)."""


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def ssl_context(tls: TLSConfig | None) -> ssl.SSLContext | None:
    """The client context for `tls_config`, or None (aiohttp's default: system roots, verified).
    Raises OSError/ssl.SSLError when the CA, certificate or key cannot be loaded."""
    if tls is None:
        return None
    cadata = tls.ca_pem or (_read(tls.ca_file) if tls.ca_file else None)
    context = ssl.create_default_context(cadata=cadata)
    context.minimum_version = TLS_VERSIONS.get(tls.min_version, ssl.TLSVersion.TLSv1_2)
    if tls.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if tls.cert_file or tls.cert_pem:
        load_cert_chain(context, tls.cert_file, tls.cert_pem, tls.key_file, str(tls.key_pem or ""))
    return context


def load_cert_chain(context: ssl.SSLContext, cert_file: str, cert_pem: str, key_file: str, key_pem: str) -> None:
    """`load_cert_chain` takes file names only: inline PEM goes through private temporary files
    that are removed at once (the key never stays on disk)."""
    if cert_file and key_file:
        context.load_cert_chain(cert_file, key_file)
        return
    cert = cert_pem or _read(cert_file)
    key = str(key_pem) if key_pem else _read(key_file)
    with tempfile.TemporaryDirectory(prefix="collector-tls-") as directory:
        cert_path, key_path = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
        for path, text in ((cert_path, cert), (key_path, key)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
        context.load_cert_chain(cert_path, key_path)


def _no_proxy_match(host: str, no_proxy: str) -> bool:
    """Go's `httpproxy` rules for `no_proxy`: IPs, CIDRs, domain names (suffix match), `*`."""
    host = host.strip("[]").lower()
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name = entry.split(":", 1)[0] if entry.count(":") == 1 else entry
        name = name.lstrip("*")
        if host == name.lstrip(".") or (name.startswith(".") and host.endswith(name)) or host.endswith("." + name):
            return True
    return False


def proxy_for(config: ProxyConfig, url: str) -> str | None:
    """The proxy a request to `url` goes through, or None."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if config.proxy_from_environment:
        proxies = urllib.request.getproxies_environment()
        if urllib.request.proxy_bypass_environment(host, proxies):  # type: ignore[attr-defined]
            return None
        return proxies.get(parts.scheme) or None
    if config.proxy_url and not (config.no_proxy and _no_proxy_match(host, config.no_proxy)):
        return config.proxy_url
    return None


def proxy_headers(config: ProxyConfig) -> CIMultiDict[str] | None:
    if not config.proxy_connect_header:
        return None
    headers: CIMultiDict[str] = CIMultiDict()
    for name, values in config.proxy_connect_header.items():
        for value in values:
            headers.add(name, str(value))
    return headers


def static_auth_headers(client: HTTPClientConfig) -> dict[str, str]:
    """The Authorization header of bearer/basic/authorization settings (files read now)."""
    bearer_token, basic_auth, authorization = client.bearer_token, client.basic_auth, client.authorization
    if bearer_token:
        return {"Authorization": f"Bearer {bearer_token}"}
    if client.bearer_token_file:
        return {"Authorization": f"Bearer {_read(client.bearer_token_file).strip()}"}
    if authorization is not None:
        credentials = authorization.credentials
        if credentials is None and authorization.credentials_file:
            credentials = _read(authorization.credentials_file).strip()  # type: ignore[assignment]
        return {"Authorization": f"{authorization.type} {credentials or ''}".rstrip()}
    if basic_auth is not None:
        username = _read(basic_auth.username_file).strip() if basic_auth.username_file else basic_auth.username
        password = _read(basic_auth.password_file).strip() if basic_auth.password_file else (basic_auth.password or "")
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    return {}


class OAuth2Token:
    """Client-credentials tokens from `token_url`, over the oauth2 block's own TLS and proxy
    settings. One fetch at a time; the token is reused until `TOKEN_EXPIRY_DELTA` before expiry."""

    def __init__(self, config: OAuth2) -> None:
        self.config = config
        self._ssl = ssl_context(config.tls_config)
        self._token: str | None = None
        self._type = "Bearer"
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.fetches = 0

    def _form(self) -> dict[str, str]:
        form = {"grant_type": "client_credentials"}
        if self.config.scopes:
            form["scope"] = " ".join(self.config.scopes)
        for name, value in self.config.endpoint_params.items():
            form[name] = value
        return form

    def _basic(self) -> str:
        secret = self.config.client_secret or ""
        if self.config.client_secret_file:
            secret = _read(self.config.client_secret_file).strip()
        quote = urllib.parse.quote_plus
        pair = f"{quote(self.config.client_id)}:{quote(str(secret))}"
        return "Basic " + base64.b64encode(pair.encode()).decode()

    async def header(self, session: aiohttp.ClientSession) -> str:
        async with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at - TOKEN_EXPIRY_DELTA:
                await self._fetch(session)
            return f"{self._type} {self._token}"

    async def _fetch(self, session: aiohttp.ClientSession) -> None:
        url = self.config.token_url
        try:
            async with session.post(url, data=self._form(), headers={"Authorization": self._basic()},
                                    ssl=self._ssl if self._ssl is not None else True,
                                    proxy=proxy_for(self.config, url),
                                    proxy_headers=proxy_headers(self.config)) as resp:
                body = await resp.read()
                if resp.status != 200:
                    raise TokenError(f"oauth2 token endpoint {url} answered HTTP {resp.status}: "
                                     f"{body[:200].decode('utf-8', 'replace').strip()}")
                doc = _json_object(body)
        except aiohttp.ClientError as err:
            raise TokenError(f"oauth2 token request to {url} failed: {describe_error(err)[1]}") from err
        token = doc.get("access_token")
        if not isinstance(token, str) or not token:
            raise TokenError(f"oauth2 token endpoint {url} answered without an access_token")
        self._token = token
        token_type = doc.get("token_type")
        self._type = "Bearer" if not isinstance(token_type, str) or token_type.lower() == "bearer" else token_type
        expires_in = doc.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, (int, float)) and expires_in > 0 else 3600.0
        self._expires_at = time.monotonic() + lifetime
        self.fetches += 1


def _json_object(body: bytes) -> Mapping[str, Any]:
    import orjson

    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise TokenError(f"oauth2 token endpoint answered something that is not JSON: {err}") from None
    if not isinstance(doc, dict):
        raise TokenError("oauth2 token endpoint answered JSON that is not an object")
    return doc


class ClientSettings:
    """Per-request aiohttp arguments for one `HTTPClientConfig` (built once, at start)."""

    def __init__(self, config: HTTPClientConfig) -> None:
        self.config = config
        self.ssl = ssl_context(config.tls_config)
        self.server_name = config.tls_config.server_name if config.tls_config is not None else ""
        self.static_headers = static_auth_headers(config)
        self.oauth2 = OAuth2Token(config.oauth2) if config.oauth2 is not None else None
        self.proxy_headers = proxy_headers(config)

    def request_kwargs(self, url: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"proxy": proxy_for(self.config, url), "proxy_headers": self.proxy_headers,
                                  "allow_redirects": self.config.follow_redirects}
        if self.ssl is not None:
            kwargs["ssl"] = self.ssl
        if self.server_name:
            kwargs["server_hostname"] = self.server_name
        return kwargs

    async def auth_headers(self, session: aiohttp.ClientSession) -> dict[str, str]:
        """The Authorization header for the next request (an OAuth 2.0 token may be fetched)."""
        if self.oauth2 is not None:
            return {"Authorization": await self.oauth2.header(session)}
        return self.static_headers


def describe_error(err: BaseException) -> tuple[str, str]:
    """(reason label, message) of a failed request: `tls` with OpenSSL's reason (e.g. "certificate
    verify failed: unable to get local issuer certificate"), `proxy`, `oauth2`, `timeout`, `connect`."""
    if isinstance(err, aiohttp.ClientConnectorCertificateError):
        cert_error = err.certificate_error
        reason = getattr(cert_error, "verify_message", None) or getattr(cert_error, "reason", None) or cert_error
        return "tls", f"TLS handshake with {err.host}:{err.port} failed: certificate verify failed: {reason}"
    if isinstance(err, aiohttp.ClientSSLError):
        inner = err.os_error if isinstance(err, aiohttp.ClientConnectorError) else err
        return "tls", f"TLS error: {getattr(inner, 'reason', None) or inner}"
    if isinstance(err, ssl.SSLError):
        return "tls", f"TLS error: {err.reason or err}"
    if isinstance(err, aiohttp.ClientProxyConnectionError):
        return "proxy", f"cannot connect to the proxy: {err}"
    if isinstance(err, aiohttp.ClientHttpProxyError):
        return "proxy", f"the proxy refused the request: HTTP {err.status} {err.message}"
    if isinstance(err, TokenError):
        return "oauth2", str(err)
    if isinstance(err, asyncio.TimeoutError):
        return "timeout", "request timed out"
    if isinstance(err, (aiohttp.ClientConnectorError, OSError)):
        return "connect", str(err) or type(err).__name__
    return "other", str(err) or type(err).__name__
