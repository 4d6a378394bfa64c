"""Secrets out of everything the collector shows: URLs, free text (log lines), configuration source.

One place decides what a secret looks like, so the UI, the API, `/metrics` labels, logs and the
support bundle hide the same things:

* the password of a URL's userinfo: `http://user:pass@host` -> `http://user:<secret>@host`, as
  Prometheus displays a remote-write URL;
* the value of query parameters whose name says it is a credential (`?token=`, `api_key`,
  `password`, `signature`, ...), in URLs and in free text;
* in configuration source, the value of every attribute whose component schema type is `secret`
  (`redact_config_source`), plus the URL rules above applied to the rest.

`Secret` values (the `secret` Alloy type) are already shown as `(secret)` by `collector/web/bodies.py`.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Final

SECRET_TEXT: Final = "<secret>"

# query parameter names that carry credentials (compared lower-cased, `-` read as `_`)
_SECRET_PARAMS: Final = frozenset({
    "token", "access_token", "refresh_token", "id_token", "auth", "auth_token", "authorization", "bearer",
    "password", "passwd", "pass", "pwd", "secret", "client_secret", "api_key", "apikey", "key", "private_key",
    "signature", "sig", "x_amz_signature", "x_amz_security_token", "x_amz_credential", "credential",
    "credentials", "session_token", "sas", "code",
})
# header names whose values are credentials wherever they appear (e.g. an exporter's `headers` map)
_SECRET_HEADERS: Final = frozenset({
    "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key", "apikey",
    "x-auth-token", "x-access-token", "private-token", "x-amz-security-token",
})
_URL_IN_TEXT: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>`]+")


def is_secret_param(name: str) -> bool:
    return name.lower().replace("-", "_") in _SECRET_PARAMS


def is_secret_header(name: str) -> bool:
    return name.lower().replace("_", "-") in _SECRET_HEADERS


def redact_url(url: str) -> str:
    """`url` with a userinfo password and credential query values replaced by `<secret>`; any
    other string is returned unchanged (so it is safe to call on every string value)."""
    if "://" not in url:
        return url
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url
    netloc, query = parts.netloc, parts.query
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        if ":" in userinfo:
            netloc = f"{userinfo.split(':', 1)[0]}:{SECRET_TEXT}@{hostport}"
    if query:
        query = "&".join(_redact_pair(pair) for pair in query.split("&"))
    if netloc == parts.netloc and query == parts.query:
        return url
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _redact_pair(pair: str) -> str:
    name, eq, value = pair.partition("=")
    if eq and value and is_secret_param(urllib.parse.unquote_plus(name)):
        return f"{name}={SECRET_TEXT}"
    return pair


def redact_text(text: str) -> str:
    """Every URL inside `text` (a log line, an error message) redacted."""
    if "://" not in text:
        return text
    return _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)


def redact_config_source(source: str, secret_spans: list[tuple[int, int]]) -> str:
    """`source` with the given (start, end) character ranges replaced by a quoted `<secret>`,
    then every URL in it redacted. `collector.web.bodies.secret_value_spans` finds the ranges of a
    loaded pipeline's secret attributes."""
    out: list[str] = []
    cursor = 0
    for start, end in sorted(secret_spans):
        if start < cursor:
            continue
        out.append(source[cursor:start])
        out.append(f'"{SECRET_TEXT}"')
        cursor = end
    out.append(source[cursor:])
    return redact_text("".join(out))
