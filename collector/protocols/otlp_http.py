"""OTLP/HTTP server protocol, sans-IO: headers in -> a route or an early answer; body in -> a decoded
Export request or an answer; admission outcome in -> the response.

The shell (collector.transport.http_server) only moves bytes: it asks `start()` about the request
line and headers before reading the body (so a wrong path, method, media type or an announced
oversize body is answered without reading it), reads at most `read_limit` body bytes, and hands them
to `decode()`.

Answers follow the OpenTelemetry Collector's otlpreceiver: 404/405/415 as text/plain; every other
failure as a `google.rpc.Status` in the request's encoding; success as an empty
`Export*ServiceResponse` (`{}` in JSON). Body limits apply after decompression (413).
"""

from __future__ import annotations

import enum
import gzip
from dataclasses import dataclass, field
from typing import Final, Mapping

from collector.protocols import otlp_compression as compression
from collector.protocols.otlp_json import message_to_json
from collector.protocols.otlp_limits import DEFAULT_LIMITS, RequestLimits, TooMuchWork
from collector.protocols.otlp_request import DecodedExport, decode_json, decode_protobuf
from collector.protocols.status import ExportError, ExportRejected, GrpcCode, retry_after_header, status_proto
from collector.signals import Signal

__all__ = ["BodyEncoding", "HttpReply", "HttpRoute", "OtlpHttpProtocol"]

_GZIP_RESPONSE_MIN: Final = 1024  # below this, gzip costs more than it saves


class BodyEncoding(enum.Enum):
    PROTOBUF = "application/x-protobuf"
    JSON = "application/json"

    @property
    def content_type(self) -> str:
        return self.value


_MEDIA_TYPES: Final = {e.value: e for e in BodyEncoding}


@dataclass(frozen=True, slots=True)
class HttpReply:
    status: int
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = ()
    reason: str = ""  # why a request was refused, for the refusal counter ("" on success)


@dataclass(frozen=True, slots=True)
class HttpRoute:
    """A request that passed the header checks: what its body is and how to answer it."""

    signal: Signal
    encoding: BodyEncoding
    content_encoding: str
    accept_gzip: bool


def _text(status: int, text: str, reason: str, headers: tuple[tuple[str, str], ...] = ()) -> HttpReply:
    return HttpReply(status, text.encode(), "text/plain; charset=utf-8", headers, reason)


@dataclass
class OtlpHttpProtocol:
    paths: Mapping[str, Signal]
    max_body_size: int
    allowed_encodings: frozenset[str] = compression.KNOWN_ENCODINGS
    limits: RequestLimits = DEFAULT_LIMITS
    _success: dict[tuple[Signal, BodyEncoding], bytes] = field(default_factory=dict, init=False)

    @property
    def read_limit(self) -> int:
        """Most raw body bytes worth reading: compressed input that large inflates past the limit."""
        return self.max_body_size

    # --- before the body -------------------------------------------------------------------
    def start(self, method: str, path: str, headers: Mapping[str, str]) -> HttpRoute | HttpReply:
        signal = self.paths.get(path)
        if signal is None:
            return _text(404, "404 page not found", "not_found")
        if method != "POST":
            return _text(405, "405 method not allowed, supported: [POST]", "method_not_allowed", (("Allow", "POST"),))
        media = headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        encoding = _MEDIA_TYPES.get(media)
        if encoding is None:
            return _text(415, "415 unsupported media type, supported: [application/json, application/x-protobuf]",
                         "unsupported_media_type")
        content_encoding = compression.normalize_encoding(headers.get("Content-Encoding", ""))
        accept_gzip = "gzip" in headers.get("Accept-Encoding", "").lower()
        route = HttpRoute(signal, encoding, content_encoding, accept_gzip)
        if content_encoding and content_encoding not in self.allowed_encodings:
            return self.failure(route, ExportError(GrpcCode.INVALID_ARGUMENT,
                                                   f"unsupported Content-Encoding {content_encoding!r}"),
                                "unsupported_encoding")
        length = headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > self.read_limit:
            return self.too_large(route)
        return route

    def too_large(self, route: HttpRoute) -> HttpReply:
        return self.failure(route, ExportError(GrpcCode.INVALID_ARGUMENT,
                                               f"request body too large: limit is {self.max_body_size} bytes",
                                               http_status=413), "too_large")

    # --- the body ----------------------------------------------------------------------------
    def decode(self, route: HttpRoute, body: bytes) -> DecodedExport | HttpReply:
        try:
            plain = compression.decompress(body, route.content_encoding, self.max_body_size, self.allowed_encodings)
        except compression.TooLarge:
            return self.too_large(route)
        except (compression.DecompressError, compression.UnsupportedEncoding) as exc:
            return self.failure(route, ExportError(GrpcCode.INVALID_ARGUMENT, str(exc)), "decompression")
        try:
            if route.encoding is BodyEncoding.PROTOBUF:
                return decode_protobuf(route.signal, plain, self.limits)
            return decode_json(route.signal, plain, self.limits)
        except TooMuchWork as refused:
            return self.failure(route, refused.error, refused.reason)
        except ExportRejected as rejected:
            return self.failure(route, rejected.error, "malformed")

    # --- the answer ----------------------------------------------------------------------------
    def success(self, route: HttpRoute) -> HttpReply:
        key = (route.signal, route.encoding)
        body = self._success.get(key)
        if body is None:
            response = route.signal.spec.response_class()
            body = response.SerializeToString() if route.encoding is BodyEncoding.PROTOBUF else message_to_json(response)
            self._success[key] = body
        return HttpReply(200, body, route.encoding.content_type)

    def failure(self, route: HttpRoute, error: ExportError, reason: str = "") -> HttpReply:
        status = status_proto(error)
        if route.encoding is BodyEncoding.PROTOBUF:
            body = status.SerializeToString()
        else:
            body = message_to_json(status)
        headers: tuple[tuple[str, str], ...] = ()
        if error.retry_after is not None and error.http in (429, 503):
            headers = (("Retry-After", retry_after_header(error.retry_after)),)
        reply = HttpReply(error.http, body, route.encoding.content_type, headers, reason)
        return _maybe_gzip(reply, route.accept_gzip)


def _maybe_gzip(reply: HttpReply, accept_gzip: bool) -> HttpReply:
    if not accept_gzip or len(reply.body) < _GZIP_RESPONSE_MIN:
        return reply
    return HttpReply(reply.status, gzip.compress(reply.body, 1), reply.content_type,
                     reply.headers + (("Content-Encoding", "gzip"),), reply.reason)
