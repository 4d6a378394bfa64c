"""The OTLP/gRPC server: the C-core engine (grpc_core + grpc_otlp_core) or the grpc.aio shell.

Which engine. By default the receiver drives grpcio's C-core completion queue itself
(`collector/transport/grpc_core.py`, through grpcio's internal Cython layer): it costs about a third
of grpc.aio's server CPU per call (`python -m bench.grpc_server_cost`). When that internal layer is
missing from the installed grpcio, or `COLLECTOR_GRPC_SERVER=aio` asks for it, the grpc.aio shell
below serves instead, with the same behaviour. Both take the same core channel arguments (TLS,
keepalive, stream limits, max_receive_message_length), so the C-core does the same HTTP/2 work.

The grpc.aio shell: three generic unary methods that take and return raw bytes.

Registering the methods without (de)serializers means grpcio hands us the message bytes as received
(after gRPC-level gzip), and `otlp_grpc.decode` parses them exactly once. grpcio enforces
`max_receive_message_length` itself, answering RESOURCE_EXHAUSTED without RetryInfo, as OTLP wants.

`grpc.so_reuseport` defaults to on in grpcio; we turn it off unless the runtime asks for shared
ports, otherwise a second collector on the same port would bind silently instead of failing.

With `auth`, each method is registered as stream-unary instead (same wire format: a unary client
sends one message): the handler then runs before any message is received, checks the call's
metadata through the `AuthGate` and aborts with UNAUTHENTICATED without ever pulling the message,
so grpcio never receives, inflates or hands over the body of a call without valid credentials.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable

from collector.transport import grpc_core  # first: it chooses grpc's connection polling before grpc loads

import grpc  # noqa: E402
import grpc.aio  # noqa: E402

from collector.protocols import otlp_grpc
from collector.protocols.otlp_limits import TooMuchWork
from collector.protocols.status import ExportRejected
from collector.signals import Signal
from collector.signals.metadata import Metadata, MetadataTooLarge, from_request
from collector.transport.auth import AuthGate
from collector.transport.errors import BindError
from collector.transport.offload import in_decode_thread
from collector.transport.grpc_limits import server_options
from collector.transport.admission import AdmitOutcome
from collector.transport.ingest import Ingest

__all__ = ["ENGINE_VARIABLE", "GrpcServerConfig", "OtlpGrpcServer", "engine"]

ENGINE_VARIABLE = "COLLECTOR_GRPC_SERVER"  # "core" (default) or "aio"


def engine() -> str:
    """"core" when the C-core engine can run and is not turned off, else "aio"."""
    wanted = os.environ.get(ENGINE_VARIABLE, "core").strip().lower()
    return "core" if wanted != "aio" and grpc_core.available() else "aio"


@dataclass(frozen=True)
class GrpcServerConfig:
    host: str
    port: int
    max_recv_msg_size: int = 4 * 1024 * 1024
    credentials: grpc.ServerCredentials | None = None
    reuse_port: bool = False
    max_concurrent_streams: int = 0
    options: tuple[tuple[str, Any], ...] = field(default=())  # keepalive and other channel args
    auth: AuthGate | None = None  # `auth = otelcol.auth.*.handler`: checked before the message is read
    include_metadata: bool = False  # keep the call's metadata with the data (signals.metadata)


# Messages this large decode in a worker thread so the event loop keeps serving meanwhile (see
# http_server.OFFLOAD_BYTES); grpcio has already inflated them, within max_recv_msg_size.
OFFLOAD_BYTES = 64 * 1024


def _export_method(signal: Signal, ingest: Ingest, auth: AuthGate | None = None,
                   include_metadata: bool = False) -> grpc.RpcMethodHandler:
    async def export(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        metadata: Metadata = ()
        if include_metadata:
            try:
                metadata = from_request(context.invocation_metadata() or ())
            except MetadataTooLarge as exc:
                ingest.refuse("metadata_too_large")
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        try:
            if len(request) >= OFFLOAD_BYTES:
                decoded = await in_decode_thread(otlp_grpc.decode, signal, request)
            else:
                decoded = otlp_grpc.decode(signal, request)
        except TooMuchWork as refused:  # permanent: RESOURCE_EXHAUSTED without RetryInfo, as for oversize
            ingest.invalid(refused.reason)
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, refused.error.message)
            raise  # unreachable: abort() raises
        except ExportRejected as rejected:
            ingest.invalid("malformed")
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, rejected.error.message)
            raise  # unreachable: abort() raises
        result = ingest.offer(decoded, metadata)
        if result.outcome is AdmitOutcome.FULL:
            result = await ingest.offer_until_room(decoded, metadata, gone=lambda: context.done())
        error = ingest.settle(decoded, result)
        if error is not None:
            await context.abort(grpc.StatusCode.UNAVAILABLE, error.message,
                                trailing_metadata=otlp_grpc.failure_trailers(error))
        return otlp_grpc.success_body(signal)

    if auth is None:
        handler: Callable[[bytes, grpc.aio.ServicerContext], Awaitable[bytes]] = export
        return grpc.unary_unary_rpc_method_handler(handler)
    gate = auth

    async def guarded(requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> bytes:
        headers = {key: value for key, value in context.invocation_metadata() or () if isinstance(value, str)}
        verdict = await gate.check(headers, context.peer())
        if not verdict.ok:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, f"unauthenticated: {verdict.reason}")
        async for request in requests:  # the one message of a unary call, pulled only now
            return await export(request, context)
        ingest.invalid("malformed")
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the call carried no request message")
        raise AssertionError("unreachable: abort() raises")

    streamed: Callable[[AsyncIterator[bytes], grpc.aio.ServicerContext], Awaitable[bytes]] = guarded
    return grpc.stream_unary_rpc_method_handler(streamed)


def _endpoint(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class OtlpGrpcServer:
    def __init__(self, config: GrpcServerConfig, ingest: Ingest, logger: logging.Logger) -> None:
        self.config = config
        self.ingest = ingest
        self.logger = logger
        self._server: grpc.aio.Server | None = None
        self._core: grpc_core.CoreServer | None = None
        self._core_stopped: asyncio.Future[None] | None = None
        self.port = config.port
        self.engine = engine()

    @property
    def endpoint(self) -> str:
        return _endpoint(self.config.host, self.config.port)

    def _options(self) -> list[tuple[str, Any]]:
        cfg = self.config
        return [
            ("grpc.max_receive_message_length", cfg.max_recv_msg_size),
            ("grpc.so_reuseport", 1 if cfg.reuse_port else 0),
            *server_options(cfg.max_concurrent_streams, cfg.options),  # HTTP/2 abuse limits (grpc_limits)
        ]

    def _bound(self, add_port: Callable[[], int]) -> int:
        try:
            port = add_port()
        except RuntimeError as exc:
            raise BindError(0, f"otlp grpc: cannot listen on {self.endpoint}: {exc}") from exc
        if port == 0:
            raise BindError(0, f"otlp grpc: cannot listen on {self.endpoint}")
        return port

    async def start(self) -> None:
        if self.engine == "core":
            self._start_core()
            return
        cfg = self.config
        server = grpc.aio.server(options=self._options())
        server.add_generic_rpc_handlers(tuple(
            grpc.method_handlers_generic_handler(s.spec.grpc_service, {
                "Export": _export_method(s, self.ingest, cfg.auth, cfg.include_metadata)})
            for s in Signal
        ))
        if cfg.credentials is not None:
            credentials = cfg.credentials
            self.port = self._bound(lambda: server.add_secure_port(self.endpoint, credentials))
        else:
            self.port = self._bound(lambda: server.add_insecure_port(self.endpoint))
        await server.start()
        self._server = server

    def _start_core(self) -> None:
        from collector.transport.grpc_otlp_core import OtlpCoreHandler

        cfg = self.config
        loop = asyncio.get_running_loop()
        handler = OtlpCoreHandler(self.ingest, loop, cfg.auth, cfg.include_metadata, OFFLOAD_BYTES)
        methods = {s.spec.grpc_method.encode(): s for s in Signal}
        core = grpc_core.CoreServer(self._options(), methods, handler)
        self.port = self._bound(lambda: core.add_port(self.endpoint, cfg.credentials))
        stopped: asyncio.Future[None] = loop.create_future()

        def settle() -> None:
            if not stopped.done():
                stopped.set_result(None)

        def on_stopped() -> None:  # from the serving thread
            loop.call_soon_threadsafe(settle)

        core.on_stopped = on_stopped
        core.start()
        self._core, self._core_stopped = core, stopped

    async def shutdown(self, deadline: float | None) -> None:
        """Refuse new RPCs at once; in-flight ones get until the monotonic `deadline`."""
        grace = None if deadline is None else max(0.0, deadline - time.monotonic())
        core, stopped, self._core, self._core_stopped = self._core, self._core_stopped, None, None
        if core is not None and stopped is not None:
            core.stop(grace)
            await stopped  # the loop keeps running the calls still in flight meanwhile
            return
        server, self._server = self._server, None
        if server is None:
            return
        await server.stop(grace)
