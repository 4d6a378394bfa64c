"""The OTLP/HTTP listener: binds, hands each connection to `OtlpHttpConnection`, shuts down gracefully.

The per-request work lives in `http_connection` (httptools) and `protocols.otlp_http` (sans-IO); this
module owns what is per listener: the socket, the set of open connections (so shutdown can let
in-flight requests finish, then close the rest), the malformed-request log, and the rendered answers
that never change (success per route, cached with the current `Date`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
from dataclasses import dataclass

from collector.protocols.otlp_cors import CorsPolicy
from collector.protocols.otlp_http import HttpReply, OtlpHttpProtocol
from collector.transport import http1
from collector.transport.auth import AuthGate
from collector.transport.client_errors import MalformedRequestLog
from collector.transport.errors import BindError
from collector.transport.http_connection import OtlpHttpConnection
from collector.transport.ingest import Ingest

__all__ = ["HttpServerConfig", "OtlpHttpServer"]

_CACHED_BODY_BYTES = 256  # answers this small are rendered once and kept
_CACHED_ANSWERS = 1024  # at most this many kept per listener (error texts may vary)


@dataclass(frozen=True)
class HttpServerConfig:
    host: str
    port: int
    protocol: OtlpHttpProtocol
    ssl: ssl.SSLContext | None = None
    reuse_port: bool = False
    body_timeout: float = 60.0  # a request must arrive whole within this time of its first byte
    idle_timeout: float = 60.0
    cors: CorsPolicy | None = None
    auth: AuthGate | None = None  # `auth = otelcol.auth.*.handler`: checked before anything else
    include_metadata: bool = False  # keep the request headers with the data (signals.metadata)


class OtlpHttpServer:
    def __init__(self, config: HttpServerConfig, ingest: Ingest, logger: logging.Logger) -> None:
        self.config = config
        self.ingest = ingest
        self.logger = logger
        self.malformed = MalformedRequestLog(logger, ingest.refuse)
        self.connections: set[OtlpHttpConnection] = set()
        self._all_closed: asyncio.Event | None = None
        self._server: asyncio.AbstractServer | None = None
        self._date = http1.DateCache()
        self._rendered: dict[tuple[int, bytes, str, tuple[tuple[str, str], ...], bool], tuple[bytes, bytes]] = {}
        self.port: int = config.port

    @property
    def endpoint(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                lambda: OtlpHttpConnection(self), self.config.host, self.config.port, ssl=self.config.ssl,
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
        self._all_closed = asyncio.Event()
        for connection in list(self.connections):
            connection.drain()
        if self.connections:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                await asyncio.wait_for(self._all_closed.wait(), remaining)
            except TimeoutError:
                pass
        for connection in list(self.connections):
            connection.abort()
        await server.wait_closed()

    def connection_done(self, connection: OtlpHttpConnection) -> None:
        self.connections.discard(connection)
        if not self.connections and self._all_closed is not None:
            self._all_closed.set()

    def render(self, reply: HttpReply, headers: tuple[tuple[str, str], ...], close: bool) -> bytes:
        """The answer's bytes. Small answers (successes, mostly) are rendered once and only get the
        current `Date` spliced in."""
        key = (reply.status, reply.body, reply.content_type, headers, close)
        cached = self._rendered.get(key)
        if cached is None:
            whole = http1.render(reply.status, reply.content_type, reply.body, headers, close=close)
            cached = http1.split_for_date(whole)
            if len(reply.body) <= _CACHED_BODY_BYTES:
                if len(self._rendered) >= _CACHED_ANSWERS:
                    self._rendered.clear()
                self._rendered[key] = cached
        return cached[0] + self._date.value() + cached[1]
