"""What the admin server checks before any handler runs, as one aiohttp middleware.

1. **Host** (DNS rebinding): a page on `evil.example` whose name is re-pointed at 127.0.0.1 reaches
   this server with `Host: evil.example`. Accepted: IP literals, `localhost` and `*.localhost`, the
   listen host, this machine's host name and FQDN, and the names in `COLLECTOR_ALLOWED_HOSTS`
   (comma-separated; `*` turns the check off, e.g. behind a reverse proxy). Anything else: 421.
2. **Authentication**: the `http { auth { basic { ... } filter { ... } } }` block (Alloy's): 401
   with `WWW-Authenticate: Basic` without the right credentials, compared in constant time.
3. **Cross-site writes** (CSRF): a request that changes something (any method but GET, HEAD,
   OPTIONS) coming from another site's page is refused with 403 before its handler runs. Browsers
   say where a request comes from with `Sec-Fetch-Site` and `Origin`; both are checked, so a
   text/plain or form POST, which needs no CORS preflight, cannot reload the configuration.
   Clients that are not browsers (curl, scripts) send neither and are not affected. No CORS
   headers are ever sent, so no other origin can read any answer.

The rules read the current configuration on every request, so a reload that changes the `auth`
block applies at once.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import os
import socket
from functools import lru_cache
from typing import TYPE_CHECKING, Awaitable, Callable, Final

from aiohttp import web
from aiohttp.typedefs import Middleware

if TYPE_CHECKING:
    from collector.pipeline.configblocks import Auth

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
ALLOWED_HOSTS_ENV: Final = "COLLECTOR_ALLOWED_HOSTS"
REALM: Final = 'Basic realm="collector", charset="UTF-8"'

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@lru_cache(maxsize=1)
def _machine_names() -> frozenset[str]:
    names = {socket.gethostname().lower()}
    try:
        names.add(socket.getfqdn().lower())
    except OSError:
        pass
    return frozenset(n for n in names if n)


def configured_hosts() -> frozenset[str]:
    return frozenset(h.strip().lower().rstrip(".") for h in os.environ.get(ALLOWED_HOSTS_ENV, "").split(",")
                     if h.strip())


def host_name(host_header: str) -> str:
    """The name part of a Host header (`[::1]:12345` -> `::1`, `Example.COM.:80` -> `example.com`)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def host_allowed(host_header: str | None, listen_host: str, extra: frozenset[str]) -> bool:
    if "*" in extra:
        return True
    if not host_header:
        return False  # HTTP/1.1 requires one; a browser always sends it
    name = host_name(host_header)
    try:
        ipaddress.ip_address(name)
        return True  # a page whose origin is an IP literal is that address's own page
    except ValueError:
        pass
    return (name == "localhost" or name.endswith(".localhost") or name == listen_host.lower()
            or name in _machine_names() or name in extra)


def cross_site_reason(request: web.Request) -> str | None:
    """Why a state-changing request is refused as cross-site, or None."""
    if request.method in SAFE_METHODS:
        return None
    fetch_site = request.headers.get("Sec-Fetch-Site", "").lower()
    if fetch_site in ("cross-site", "same-site"):
        return f"Sec-Fetch-Site: {fetch_site}"
    origin = request.headers.get("Origin")
    if origin is not None:
        # host[:port] only: behind a TLS-terminating proxy the browser's scheme is not ours
        origin_host = origin.lower().rstrip("/").partition("://")[2]
        if origin == "null" or origin_host != request.host.lower():
            return f"Origin {origin} is not this server ({request.host})"
    return None


def _path_needs_auth(auth: Auth, path: str) -> bool:
    flt = auth.filter
    if flt is None or not flt.paths:
        return True
    matches = any(path.startswith(prefix) for prefix in flt.paths)
    return matches if flt.authenticate_matching_paths else not matches


def credentials_ok(auth: Auth, header: str | None) -> bool:
    basic = auth.basic
    if basic is None:
        return True
    if not header or not header[:6].lower() == "basic ":
        return False
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    username, sep, password = decoded.partition(b":")
    # both comparisons always run: the time taken does not tell which part was wrong
    user_ok = hmac.compare_digest(username, basic.username.encode())
    password_ok = hmac.compare_digest(password, str(basic.password).encode())
    return bool(sep) and user_ok and password_ok


def guard(listen_host: Callable[[], str], auth: Callable[[], Auth | None]) -> Middleware:
    """The middleware; `listen_host` and `auth` are read per request (reloads apply at once)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not host_allowed(request.headers.get("Host"), listen_host(), configured_hosts()):
            return web.Response(status=421, text=f"Host {request.headers.get('Host', '')!r} is not a name of this "
                                                 f"server; add it to {ALLOWED_HOSTS_ENV} to allow it\n")
        current = auth()
        if current is not None and current.basic is not None and _path_needs_auth(current, request.path):
            if not credentials_ok(current, request.headers.get("Authorization")):
                return web.Response(status=401, text="Unauthorized\n", headers={"WWW-Authenticate": REALM})
        reason = cross_site_reason(request)
        if reason is not None:
            return web.Response(status=403, text=f"cross-site request refused ({reason})\n")
        return await handler(request)

    return middleware
