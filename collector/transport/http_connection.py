"""One OTLP/HTTP/1.1 connection on httptools: parse, route, decode, admit and answer in one event-loop
turn per request.

Why not aiohttp's server here. At the load most hosts have (100 requests/s, each arriving at an idle
process), aiohttp's per-request machinery (a task per request, request and response objects, a
stream reader, header multidicts, several loop turns) cost 200-270 us of CPU per request on top of
the decode itself, measured with `bench/http_server_cost.py`: half of the receiver's light-load
cost. httptools (llhttp, the parser Node.js uses) does the HTTP parsing; this module keeps only what
an OTLP endpoint needs on top of it. The web UI and every HTTP client stay on aiohttp.

Theory of operation. httptools calls back as it parses each chunk read from the socket. Headers
complete -> `_on_headers` decides what it can before the body: a CORS preflight, authentication (the
only asynchronous step: reading pauses until the verdict, the body is not decoded before it), client
metadata, and `OtlpHttpProtocol.start` (path, method, media type, announced size). An answer decided
then, for a request with a body, is sent at once and the connection closed, so an oversize or
unauthenticated body is never read. Body chunks are kept up to the protocol's read limit. Message
complete -> the exchange joins the connection's queue and `_pump` answers queued exchanges strictly
in order: a small body is decoded and admitted right there, synchronously (the common case, no task,
no extra loop turn); a large or compressed one is decoded in the decode pool (`offload`); a request
that finds the pipeline's queue full waits up to a second for room (`Ingest.offer_until_room`)
before it is refused. While either runs the connection stops reading, so a pipelining client cannot
queue unbounded work. A failure of our own is a logged 500 that closes the connection.

Time limits: a request must arrive whole within `body_timeout` of its first byte (else 408 and the
connection closes); an idle keep-alive connection closes after `idle_timeout`. Both run on one lazy
timer per connection: a request only moves a deadline, the timer re-arms itself when it fires early.

A client whose connection drops loses the answers it had not read; an exchange already being decoded
is still admitted (as aiohttp does: handlers are not cancelled), and queued ones that were never
answered are dropped unadmitted, so nothing is both refused to the client and kept, or acknowledged
and lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Awaitable, Final

import httptools

from collector.components.kit.auth import AuthOutcome
from collector.protocols.otlp_http import HttpReply, HttpRoute
from collector.protocols.otlp_request import DecodedExport
from collector.signals.metadata import Metadata, MetadataTooLarge, from_request
from collector.transport import http1
from collector.transport.admission import AdmitOutcome, AdmitResult
from collector.transport.offload import in_decode_thread

if TYPE_CHECKING:
    from collector.transport.http_server import OtlpHttpServer

__all__ = ["OtlpHttpConnection"]

log = logging.getLogger(__name__)

# Decoding runs in the decode pool (the event loop keeps serving) for bodies that can take long:
# large ones, and compressed ones that may inflate up to the body limit. Small bodies, the common
# case, decode inline: a thread hop costs more.
OFFLOAD_BYTES: Final = 64 * 1024
OFFLOAD_COMPRESSED_BYTES: Final = 4 * 1024

_TEXT: Final = "text/plain; charset=utf-8"
# How long a connection answered before its request's body was read keeps dropping input so that the
# client, still sending, can read the answer (aiohttp lingers 10 s; Go reads at most 256 KiB more).
LINGER_SECONDS: Final = 10.0


def decode_in_thread(route: HttpRoute, size: int) -> bool:
    return size >= OFFLOAD_BYTES or (bool(route.content_encoding) and size >= OFFLOAD_COMPRESSED_BYTES)


class _Exchange:
    """One request and what is known of it so far."""

    __slots__ = ("target", "fields", "header_bytes", "method", "headers", "keep_alive", "path", "route",
                 "metadata", "reply", "chunks", "size", "auth", "overflow", "close", "queued")

    def __init__(self) -> None:
        self.target = b""
        self.fields: list[tuple[str, str]] = []
        self.header_bytes = 0
        self.method = ""
        self.headers: http1.Headers | None = None
        self.keep_alive = True
        self.path = ""
        self.route: HttpRoute | None = None
        self.metadata: Metadata = ()
        self.reply: HttpReply | None = None  # decided before the body was decoded: sent as is
        self.chunks: list[bytes] = []
        self.size = 0
        self.auth: asyncio.Task[None] | None = None  # the pending authentication, if any
        self.overflow = False  # the body outgrew the read limit: not kept
        self.close = False  # close the connection after answering
        self.queued = False


class OtlpHttpConnection(asyncio.Protocol):
    def __init__(self, server: OtlpHttpServer) -> None:
        self._server = server
        self._config = server.config
        self._protocol = server.config.protocol
        self._ingest = server.ingest
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._peer = ""
        self._reading: _Exchange | None = None  # the request being parsed
        self._queue: deque[_Exchange] = deque()  # parsed, not yet answered, in arrival order
        self._decoding: asyncio.Task[None] | None = None  # queue[0] decoding off the loop, or waiting for room
        self._closed = False  # answered with close (or lost)
        self._deaf = False  # an answer that closes the connection is queued: the rest of the input is ignored
        self._draining = False  # the server is shutting down: close after the current exchange
        self._read_paused = False
        self._write_paused = False
        self._lingering = False  # answered and closing: reading only to drop the rest of the input
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    # --- asyncio.Protocol ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # a stream transport (uvloop's is no subclass)
        peer = transport.get_extra_info("peername")
        self._peer = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        self._server.connections.add(self)
        self._set_deadline(self._config.idle_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._lingering = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for ex in (self._reading, *self._queue):
            if ex is not None and ex.auth is not None:
                ex.auth.cancel()
        self._reading = None
        self._queue.clear()
        self._server.connection_done(self)

    def data_received(self, data: bytes) -> None:
        if self._deaf or self._closed:
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._malformed("protocol upgrade is not supported")
        except httptools.HttpParserError as exc:
            self._malformed(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)

    def eof_received(self) -> bool | None:
        """The client sent all it will: answer what is in hand, then close (not before)."""
        if self._lingering or (self._reading is None and not self._queue):
            return None  # nothing pending: close (answers already written are flushed first)
        self._draining = True
        return True

    def pause_writing(self) -> None:
        self._write_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._update_reading()

    # --- httptools callbacks -------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._reading = _Exchange()
        self._set_deadline(self._config.body_timeout)

    def on_url(self, url: bytes) -> None:
        ex = self._reading
        if ex is not None and self._count_header_bytes(ex, len(url)):
            ex.target += url

    def on_header(self, name: bytes, value: bytes) -> None:
        ex = self._reading
        if ex is None or not self._count_header_bytes(ex, len(name) + len(value)):
            return
        if len(name) + len(value) > http1.MAX_FIELD_BYTES:
            self._header_limit(ex, f"a header field exceeds {http1.MAX_FIELD_BYTES} bytes")
            return
        ex.fields.append((http1.decode_header(name), http1.decode_header(value)))

    def on_headers_complete(self) -> None:
        ex = self._reading
        if ex is None:
            return
        ex.method = self._parser.get_method().decode("ascii", "replace")
        ex.keep_alive = self._parser.should_keep_alive()
        ex.headers = http1.Headers(ex.fields)
        if ex.reply is None:
            self._on_headers(ex)
        if ex.reply is not None and http1.has_body(ex.headers):
            self._answer_early(ex)

    def on_body(self, chunk: bytes) -> None:
        ex = self._reading
        if ex is None or ex.queued:
            return  # answered before its body: the rest is ignored (the connection closes)
        ex.size += len(chunk)
        if ex.size > self._protocol.read_limit and not ex.overflow:
            ex.overflow = True
            ex.chunks = []
            if ex.route is not None and ex.reply is None:
                ex.reply = self._protocol.too_large(ex.route)
                self._ingest.invalid("too_large")
            # still authenticating: the verdict decides the answer (401, or 413 then)
            self._answer_early(ex)
            return
        if not ex.overflow:
            ex.chunks.append(chunk)

    def on_message_complete(self) -> None:
        ex, self._reading = self._reading, None
        if ex is None or ex.queued:
            return
        ex.queued = True
        self._queue.append(ex)
        self._pump()

    # --- deciding --------------------------------------------------------------------------------
    def _on_headers(self, ex: _Exchange) -> None:
        assert ex.headers is not None
        ex.path = http1.path_of(ex.target)
        cors = self._config.cors
        if cors is not None and ex.method == "OPTIONS" and ex.path in self._protocol.paths:
            status, extra = cors.preflight(ex.headers)
            ex.reply = HttpReply(status, b"", "", tuple(extra))
            return
        gate = self._config.auth
        if gate is not None:
            ex.auth = self._loop.create_task(self._authenticate(ex, gate.check(ex.headers, self._peer)))
            self._update_reading()
            return
        self._route(ex)

    async def _authenticate(self, ex: _Exchange, pending: Awaitable[AuthOutcome]) -> None:
        verdict = await pending
        ex.auth = None
        if self._closed:
            return
        if not verdict.ok:  # counted and logged by the gate
            challenge = (("WWW-Authenticate", verdict.challenge),) if verdict.challenge else ()
            ex.reply = HttpReply(401, b"401 Unauthorized", _TEXT, challenge, "unauthenticated")
        else:
            self._route(ex)
            if ex.reply is None and ex.overflow and ex.route is not None:
                ex.reply = self._protocol.too_large(ex.route)
                self._ingest.invalid("too_large")
        if ex.reply is not None:
            ex.chunks = []
            assert ex.headers is not None
            if http1.has_body(ex.headers):
                self._answer_early(ex)
        self._update_reading()
        self._pump()

    def _route(self, ex: _Exchange) -> None:
        """After authentication: client metadata, then the protocol's verdict on the headers."""
        assert ex.headers is not None
        if self._config.include_metadata:
            try:
                ex.metadata = from_request(ex.headers.items())
            except MetadataTooLarge as exc:
                self._ingest.refuse("metadata_too_large")
                ex.reply = HttpReply(431, str(exc).encode(), _TEXT, (), "metadata_too_large")
                return
        decision = self._protocol.start(ex.method, ex.path, ex.headers)
        if isinstance(decision, HttpReply):
            self._ingest.refuse(decision.reason)
            ex.reply = decision
            return
        ex.route = decision
        if (ex is self._reading and not self._queue and self._transport is not None
                and ex.headers.get("Expect", "").lower() == "100-continue"):
            self._transport.write(http1.CONTINUE)

    def _count_header_bytes(self, ex: _Exchange, n: int) -> bool:
        if ex.reply is not None:
            return False
        ex.header_bytes += n
        if ex.header_bytes > http1.MAX_HEADER_BYTES:
            self._header_limit(ex, f"request headers exceed {http1.MAX_HEADER_BYTES} bytes")
            return False
        return True

    def _header_limit(self, ex: _Exchange, why: str) -> None:
        self._server.malformed.report(self._peer, f"431 {why}")
        ex.reply = HttpReply(431, why.encode(), _TEXT, (), "bad_http_request")
        ex.fields = []
        self._answer_early(ex)

    def _malformed(self, why: str) -> None:
        self._server.malformed.report(self._peer, f"400 {why}")
        ex = self._reading or _Exchange()
        self._reading = None
        if ex.auth is not None:
            ex.auth.cancel()
        ex.reply = HttpReply(400, f"400 Bad Request: {why}".encode(), _TEXT, (), "bad_http_request")
        ex.auth = None
        self._answer_early(ex)

    def _answer_early(self, ex: _Exchange) -> None:
        """Answer a request before (the rest of) its body and close: its body is never read."""
        ex.close = True
        self._deaf = True
        if not ex.queued:
            ex.queued = True
            self._queue.append(ex)
        self._pump()

    # --- answering -------------------------------------------------------------------------------
    def _pump(self) -> None:
        """Answer the queued exchanges in order, as far as nothing asynchronous is pending."""
        queue = self._queue
        while queue and self._decoding is None and not self._closed:
            ex = queue[0]
            if ex.auth is not None:
                return  # `_authenticate` pumps again
            if ex.reply is not None:
                queue.popleft()
                self._send(ex, ex.reply)
                continue
            route = ex.route
            assert route is not None
            body = ex.chunks[0] if len(ex.chunks) == 1 else b"".join(ex.chunks)
            ex.chunks = []
            if decode_in_thread(route, len(body)):
                self._decoding = self._loop.create_task(self._decode_offloaded(ex, route, body))
                self._update_reading()
                return
            try:
                reply = self._after_decode(ex, route, self._protocol.decode(route, body))
            except Exception:  # noqa: BLE001 - a bug of ours: the client gets a 500, not a silent stall
                reply = self._internal_error(ex)
            if reply is None:  # waiting for room
                self._update_reading()
                return
            queue.popleft()
            self._send(ex, reply)
        if not queue and self._reading is None and not self._closed:
            self._set_deadline(self._config.idle_timeout)

    def _after_decode(self, ex: _Exchange, route: HttpRoute, outcome: DecodedExport | HttpReply) -> HttpReply | None:
        """The answer to a decoded body (or to one the protocol refused), or None once the request
        waits for room in the pipeline's queue (`_admit_when_room`, the connection's async step)."""
        if not isinstance(outcome, DecodedExport):
            return self._invalid(ex, outcome)
        result = self._ingest.offer(outcome, ex.metadata)
        if result.outcome is AdmitOutcome.FULL:
            self._decoding = self._loop.create_task(self._admit_when_room(ex, route, outcome))
            return None
        return self._answer(route, outcome, result)

    async def _decode_offloaded(self, ex: _Exchange, route: HttpRoute, body: bytes) -> None:
        try:
            reply = self._after_decode(ex, route, await in_decode_thread(self._protocol.decode, route, body))
        except Exception:  # noqa: BLE001 - see _pump
            reply = self._internal_error(ex)
        if reply is not None:  # else the wait for room took over as the async step
            self._finish_async(ex, reply)

    async def _admit_when_room(self, ex: _Exchange, route: HttpRoute, decoded: DecodedExport) -> None:
        try:
            result = await self._ingest.offer_until_room(decoded, ex.metadata, gone=lambda: self._closed)
            reply = self._answer(route, decoded, result)
        except Exception:  # noqa: BLE001 - see _pump
            reply = self._internal_error(ex)
        self._finish_async(ex, reply)

    def _internal_error(self, ex: _Exchange) -> HttpReply:
        """Answer a request our own code failed on (called in an `except`): logged with its traceback,
        counted, and the connection closed, since its state is unknown. A 500 is retryable for OTLP
        clients, so whatever happened to the data, the client sends it again rather than losing it."""
        log.exception("%s: handling an OTLP/HTTP request failed", self._ingest.component_id)
        self._ingest.invalid("internal_error")
        ex.close = True
        return HttpReply(500, b"500 internal error: the request was not accepted", _TEXT, (), "internal_error")

    def _finish_async(self, ex: _Exchange, reply: HttpReply) -> None:
        self._decoding = None
        if self._queue and self._queue[0] is ex:
            self._queue.popleft()
        self._send(ex, reply)
        self._update_reading()
        self._pump()

    def _invalid(self, ex: _Exchange, reply: HttpReply) -> HttpReply:
        self._ingest.invalid(reply.reason)
        ex.close = ex.close or reply.status == 413
        return reply

    def _answer(self, route: HttpRoute, decoded: DecodedExport, result: AdmitResult) -> HttpReply:
        error = self._ingest.settle(decoded, result)
        return self._protocol.success(route) if error is None else self._protocol.failure(route, error)

    def _send(self, ex: _Exchange, reply: HttpReply) -> None:
        transport = self._transport
        if transport is None or self._closed:
            return
        # A HEAD request gets the same answer and a close: the body it did not ask for ends with it.
        close = ex.close or not ex.keep_alive or self._draining or ex.method == "HEAD"
        headers = reply.headers
        cors = self._config.cors
        if cors is not None and ex.headers is not None:
            headers = headers + tuple(cors.response_headers(ex.headers))
        transport.write(self._server.render(reply, headers, close))
        if not close:
            return
        self._closed = True
        self._queue.clear()
        if self._reading is None:
            transport.close()
            return
        # Answered before the request's body was read: closing now, with unread input, would make
        # the kernel reset the connection and the client could lose the answer. Linger instead
        # (RFC 9112 section 9.6): no more output, input read and dropped, closed once the client
        # closes or LINGER_SECONDS have passed.
        self._reading = None
        if transport.can_write_eof():
            transport.write_eof()
        self._lingering = True
        if self._read_paused:  # e.g. paused for an authentication that refused: drop the input now
            self._read_paused = False
            transport.resume_reading()
        self._set_deadline(LINGER_SECONDS)

    # --- flow control and time limits ---------------------------------------------------------
    def _update_reading(self) -> None:
        """Read only while nothing asynchronous holds the head of the line and answers can leave."""
        transport = self._transport
        if transport is None or self._closed:
            return
        waiting = self._write_paused or self._decoding is not None or any(
            ex.auth is not None for ex in (self._reading, *self._queue) if ex is not None)
        if waiting and not self._read_paused:
            self._read_paused = True
            transport.pause_reading()
        elif not waiting and self._read_paused:
            self._read_paused = False
            transport.resume_reading()

    def _set_deadline(self, seconds: float) -> None:
        self._deadline = deadline = self._loop.time() + seconds
        if self._timer is None or deadline < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = deadline
            self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._lingering and self._loop.time() >= self._deadline and self._transport is not None:
            self._transport.close()
            return
        if self._closed:
            return
        if self._loop.time() < self._deadline:  # moved later since the timer was armed
            self._timer_at = self._deadline
            self._timer = self._loop.call_at(self._deadline, self._on_timer)
            return
        ex = self._reading
        if ex is not None and not ex.queued:  # a request that did not arrive whole in time
            self._reading = None
            if ex.auth is not None:
                ex.auth.cancel()
                ex.auth = None
            self._ingest.invalid("timeout")
            ex.reply = HttpReply(408, b"request body not received in time", _TEXT, (), "timeout")
            ex.chunks = []
            self._answer_early(ex)
        elif not self._queue and self._transport is not None:  # idle keep-alive connection
            self._closed = True
            self._transport.close()
        else:  # still answering: look again later
            self._set_deadline(self._config.idle_timeout)

    def drain(self) -> None:
        """The server is shutting down: close now if idle, else after the exchange in hand."""
        self._draining = True
        if self._reading is None and not self._queue and self._transport is not None and not self._closed:
            self._closed = True
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()
