"""aiohttp shell around `OtlpHttpProtocol`: moves bytes, enforces time limits, nothing else.

Uses aiohttp's low-level `web.Server` (no router, no middleware chain) with its automatic request
decompression turned off, so bodies arrive as sent and `otlp_compression` inflates them under the
size limit. A request's body must arrive within `body_timeout` (a slow client gets 408 and the
connection is closed); idle keep-alive connections close after `idle_timeout`.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
from dataclasses import dataclass

from aiohttp import web
from aiohttp.streams import StreamReader

from collector.protocols.otlp_cors import CorsPolicy
from collector.protocols.otlp_http import HttpReply, HttpRoute, OtlpHttpProtocol
from collector.protocols.otlp_request import DecodedExport
from collector.transport.client_errors import ClientErrorLog
from collector.signals.metadata import Metadata, MetadataTooLarge, from_request
from collector.transport.auth import AuthGate
from collector.transport.errors import BindError
from collector.transport.offload import in_decode_thread
from collector.transport.ingest import Ingest

__all__ = ["HttpServerConfig", "OtlpHttpServer"]


@dataclass(frozen=True)
class HttpServerConfig:
    host: str
    port: int
    protocol: OtlpHttpProtocol
    ssl: ssl.SSLContext | None = None
    reuse_port: bool = False
    body_timeout: float = 60.0
    idle_timeout: float = 60.0
    cors: CorsPolicy | None = None
    auth: AuthGate | None = None  # `auth = otelcol.auth.*.handler`: checked before anything else
    include_metadata: bool = False  # keep the request headers with the data (signals.metadata)


# Decoding runs in a worker thread (the event loop keeps serving) for bodies that can take long:
# large ones, and compressed ones that may inflate up to the body limit (collector.transport.offload,
# a small shared pool). Small bodies, the common case, decode inline: a thread hop costs more.
OFFLOAD_BYTES = 64 * 1024
OFFLOAD_COMPRESSED_BYTES = 4 * 1024


def _decode_in_thread(route: HttpRoute, size: int) -> bool:
    return size >= OFFLOAD_BYTES or (bool(route.content_encoding) and size >= OFFLOAD_COMPRESSED_BYTES)


class _BodyTooLarge(Exception):
    pass


async def _read_body(content: StreamReader, length: int | None, limit: int) -> bytes:
    if length is not None:
        return await content.readexactly(length) if length else b""
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = await content.readany()
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class OtlpHttpServer:
    def __init__(self, config: HttpServerConfig, ingest: Ingest, logger: logging.Logger) -> None:
        self.config = config
        self.ingest = ingest
        self.logger = logger
        self._web: web.Server | None = None
        self._server: asyncio.AbstractServer | None = None
        self.port: int = config.port

    @property
    def endpoint(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._web = web.Server(
            self._handle,
            auto_decompress=False,
            access_log=None,
            keepalive_timeout=self.config.idle_timeout,
            logger=ClientErrorLog(logging.getLogger("aiohttp.server"), self.ingest.refuse),
        )
        try:
            self._server = await loop.create_server(
                self._web, self.config.host, self.config.port, ssl=self.config.ssl,
                reuse_port=self.config.reuse_port or None, family=socket.AF_UNSPEC, backlog=1024,
            )
        except OSError as exc:
            raise BindError(exc.errno, f"otlp http: cannot listen on {self.endpoint}: {exc.strerror or exc}") from exc
        self.port = self._server.sockets[0].getsockname()[1]

    async def shutdown(self, deadline: float | None) -> None:
        """Stop accepting, let in-flight requests finish until the monotonic `deadline`, then close."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        if self._web is not None:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            await self._web.shutdown(remaining)
        await server.wait_closed()

    # --- per request ---------------------------------------------------------------------------
    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        protocol = self.config.protocol
        cors = self.config.cors
        headers = request.headers
        if cors is not None and request.method == "OPTIONS" and request.path in protocol.paths:
            status, extra = cors.preflight(headers)
            return web.Response(status=status, headers=dict(extra))
        if self.config.auth is not None:
            verdict = await self.config.auth.check(headers, request.remote or "")
            if not verdict.ok:
                challenge = (("WWW-Authenticate", verdict.challenge),) if verdict.challenge else ()
                return self._respond(request, HttpReply(401, b"401 Unauthorized", "text/plain; charset=utf-8",
                                                        challenge, "unauthenticated"), close=request.body_exists)
        metadata: Metadata = ()
        if self.config.include_metadata:
            try:
                metadata = from_request(headers.items())
            except MetadataTooLarge as exc:
                self.ingest.refuse("metadata_too_large")
                return self._respond(request, HttpReply(431, str(exc).encode(), "text/plain; charset=utf-8", (),
                                                        "metadata_too_large"), close=request.body_exists)
        decision = protocol.start(request.method, request.path, headers)
        if isinstance(decision, HttpReply):
            self.ingest.refuse(decision.reason)
            return self._respond(request, decision, close=request.body_exists)
        outcome = await self._receive(request, decision)
        if isinstance(outcome, HttpReply):
            self.ingest.invalid(outcome.reason)
            return self._respond(request, outcome, close=outcome.status in (408, 413))
        error = self.ingest.admit(outcome, metadata)
        reply = protocol.success(decision) if error is None else protocol.failure(decision, error)
        return self._respond(request, reply)

    async def _receive(self, request: web.BaseRequest, route: HttpRoute) -> DecodedExport | HttpReply:
        protocol = self.config.protocol
        try:
            if request.content.is_eof():  # the whole body has arrived (the usual case): no timer to arm
                body = await _read_body(request.content, request.content_length, protocol.read_limit)
            else:
                async with asyncio.timeout(self.config.body_timeout):
                    body = await _read_body(request.content, request.content_length, protocol.read_limit)
        except _BodyTooLarge:
            return protocol.too_large(route)
        except TimeoutError:
            return HttpReply(408, b"request body not received in time", "text/plain; charset=utf-8", (), "timeout")
        except asyncio.IncompleteReadError:
            return HttpReply(400, b"request body ended early", "text/plain; charset=utf-8", (), "incomplete_body")
        if _decode_in_thread(route, len(body)):
            return await in_decode_thread(protocol.decode, route, body)
        return protocol.decode(route, body)

    def _respond(self, request: web.BaseRequest, reply: HttpReply, close: bool = False) -> web.Response:
        response = web.Response(status=reply.status, body=reply.body,
                                headers={"Content-Type": reply.content_type, **dict(reply.headers)})
        if self.config.cors is not None:
            response.headers.extend(self.config.cors.response_headers(request.headers))
        if close:
            response.force_close()
        return response
