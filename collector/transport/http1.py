"""HTTP/1.1 on the wire, sans-IO: the parts of a request the OTLP shell needs, and answers as bytes.

An answer is rendered into one buffer (status line, headers, body) so that it leaves in one write; the
success answers of a listener never change, so they are rendered once per (route, keep-alive) and
reused. Header names and values are decoded as UTF-8 with `surrogateescape`, so no byte is lost and
the client metadata block (`signals.metadata`) can encode them back exactly.
"""

from __future__ import annotations

import time
from email.utils import formatdate
from http import HTTPStatus
from typing import Final, Iterable
from urllib.parse import unquote

from multidict import CIMultiDict

__all__ = ["CONTINUE", "MAX_FIELD_BYTES", "MAX_HEADER_BYTES", "Headers", "has_body", "path_of", "render",
           "decode_header", "split_for_date", "DateCache"]

# Limits on what a request may send before its body: one header line (name + value) and all of them
# together. A request over either is answered 431 and its connection closed.
MAX_FIELD_BYTES: Final = 8190
MAX_HEADER_BYTES: Final = 64 * 1024

CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
_REASONS: Final = {status.value: status.phrase.encode() for status in HTTPStatus}

Headers = CIMultiDict[str]


def decode_header(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def path_of(target: bytes) -> str:
    """The decoded path of a request target: origin form (`/v1/traces?x=1`) or absolute form
    (`http://host/v1/traces`)."""
    text = target.decode("utf-8", "surrogateescape")
    if not text.startswith("/"):
        scheme, sep, rest = text.partition("://")
        if sep:
            text = "/" + rest.partition("/")[2]
    text = text.partition("?")[0].partition("#")[0]
    return unquote(text) if "%" in text else text


def has_body(headers: Headers) -> bool:
    """Whether a body follows the headers (RFC 9112 section 6.3: chunked, or a non-zero length)."""
    if "Transfer-Encoding" in headers:
        return True
    length = headers.get("Content-Length", "0").strip()
    return length != "0" and length != ""


def split_for_date(response: bytes) -> tuple[bytes, bytes]:
    """A rendered response cut where its `Date` line goes (after the status line)."""
    status_line, _, rest = response.partition(b"\r\n")
    return status_line + b"\r\nDate: ", b"\r\n" + rest


class DateCache:
    """The `Date` header value, formatted at most once a second (RFC 9110 asks an origin server
    with a clock to send it)."""

    __slots__ = ("_second", "_value")

    def __init__(self) -> None:
        self._second = -1
        self._value = b""

    def value(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._value = formatdate(now, usegmt=True).encode()
        return self._value


def render(status: int, content_type: str, body: bytes, headers: Iterable[tuple[str, str]] = (), *,
           close: bool = False) -> bytes:
    """A whole HTTP/1.1 response, without `Date` (`split_for_date` cuts it where the listener splices
    the current one in: `OtlpHttpServer.render`)."""
    parts = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Unknown"))]
    if content_type:
        parts.append(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n")
    parts.append(b"Content-Length: %d\r\n" % len(body))
    for name, value in headers:
        parts.append(f"{name}: {value}\r\n".encode("latin-1", "replace"))
    if close:
        parts.append(b"Connection: close\r\n")
    parts.append(b"\r\n")
    parts.append(body)
    return b"".join(parts)
