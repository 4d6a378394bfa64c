"""`otelcol.exporter.otlp`: send OTLP Export requests over gRPC (unary `Export` per signal).

The payload is already a serialized Export request, so the call is a generic unary-unary with no
serializer: `payload.data` goes on the wire as is, and the response comes back as bytes (parsed only
to look for a partial success). Status codes are classified by the exporterhelper's table (retry
UNAVAILABLE & co., RESOURCE_EXHAUSTED only with RetryInfo); queue/retry/timeout are the
`ExportSender`'s. One `grpc.aio` channel per component; TLS is on unless `tls { insecure = true }`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import grpc
import msgspec

from collector.components.api import ArgumentError, BuildContext, Component, Health, HealthState, Placement
from collector.components.exporterhelper.config import QueueArgs, RetryArgs
from collector.components.exporterhelper.errors import grpc_error
from collector.components.exporterhelper.sender import ExportSender
from collector.components.otelcol.client import GRPCClientArgs
from collector.components.otelcol.exporter.otlphttp import USER_AGENT, partial_success_message
from collector.components.registry import register
from collector.components.types import DebugMetrics, Duration
from collector.signals import Payload, Signal

_COMPRESSION = {"gzip": grpc.Compression.Gzip, "deflate": grpc.Compression.Deflate,
                "none": grpc.Compression.NoCompression, "": grpc.Compression.NoCompression}


class Arguments(msgspec.Struct, frozen=True, kw_only=True):
    client: GRPCClientArgs
    timeout: Duration = 5.0
    sending_queue: QueueArgs = msgspec.field(default_factory=QueueArgs)
    retry_on_failure: RetryArgs = msgspec.field(default_factory=RetryArgs)
    debug_metrics: DebugMetrics | None = None

    def validate(self) -> None:
        if self.timeout < 0:
            raise ArgumentError("timeout must not be negative", "timeout")
        self.client.validate()
        self.sending_queue.validate()
        self.retry_on_failure.validate()


def grpc_target(endpoint: str) -> str:
    """`host:port` for grpc; like configgrpc, a leading http:// or https:// is tolerated and removed."""
    for scheme in ("http://", "https://"):
        if endpoint.startswith(scheme):
            return endpoint[len(scheme):].rstrip("/")
    return endpoint


def channel_options(client: GRPCClientArgs) -> list[tuple[str, Any]]:
    options: list[tuple[str, Any]] = [
        ("grpc.primary_user_agent", USER_AGENT),
        ("grpc.max_send_message_length", -1),
        ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ]
    if client.balancer_name:
        options.append(("grpc.lb_policy_name", client.balancer_name))
    if client.authority:
        options.append(("grpc.default_authority", client.authority))
    if client.tls.server_name and not client.tls.insecure:
        options.append(("grpc.ssl_target_name_override", client.tls.server_name))
    if client.keepalive is not None:
        keepalive = client.keepalive
        if keepalive.ping_wait > 0:
            options.append(("grpc.keepalive_time_ms", int(keepalive.ping_wait * 1000)))
        if keepalive.ping_response_timeout > 0:
            options.append(("grpc.keepalive_timeout_ms", int(keepalive.ping_response_timeout * 1000)))
        options.append(("grpc.keepalive_permit_without_calls", int(keepalive.ping_without_stream)))
    return options


def open_channel(client: GRPCClientArgs) -> grpc.aio.Channel:
    target = grpc_target(client.endpoint)
    options = channel_options(client)
    compression = _COMPRESSION[client.compression]
    if client.tls.insecure:
        return grpc.aio.insecure_channel(target, options=options, compression=compression)
    roots, key, chain = client.tls.read_pem()
    credentials = grpc.ssl_channel_credentials(root_certificates=roots, private_key=key, certificate_chain=chain)
    return grpc.aio.secure_channel(target, credentials, options=options, compression=compression)


@register("otelcol.exporter.otlp", arguments=Arguments, accepts=tuple(Signal), placement=Placement.WORKER)
class OTLPExporter(Component):
    def __init__(self, ctx: BuildContext, args: Arguments) -> None:  # type: ignore[override]
        super().__init__(ctx, args)
        self.args: Arguments = args
        self.logger: logging.Logger = ctx.logger
        self._channel: grpc.aio.Channel | None = None
        self._calls: dict[Signal, Any] = {}
        self._metadata = tuple((k.lower(), v) for k, v in args.client.headers.items())
        self.sender = self._new_sender(args)
        self._last_partial_log = float("-inf")

    def _new_sender(self, args: Arguments) -> ExportSender:
        return ExportSender(component_id=self.ctx.component_id, logger=self.logger, push=self._push,
                            timeout=args.timeout, queue=args.sending_queue, retry=args.retry_on_failure)

    def _open(self) -> None:
        self._channel = open_channel(self.args.client)
        self._calls = {signal: self._channel.unary_unary(signal.spec.grpc_method) for signal in Signal}

    async def start(self) -> None:
        if self._channel is None:
            self._open()
        await self.sender.start()
        self.health = Health(HealthState.HEALTHY, "started component")

    async def update(self, args: msgspec.Struct) -> None:
        assert isinstance(args, Arguments)
        if args == self.args:
            return
        old_sender, old_channel = self.sender, self._channel
        self.args = args
        self._metadata = tuple((k.lower(), v) for k, v in args.client.headers.items())
        self._open()
        self.sender = self._new_sender(args)
        await self.sender.start()
        await old_sender.shutdown(time.monotonic() + max(args.timeout, 1.0))
        if old_channel is not None:
            await old_channel.close()

    async def shutdown(self, deadline: float | None = None) -> None:
        await self.sender.shutdown(deadline)
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
        self.health = Health(HealthState.EXITED, "component shut down cleanly")

    async def consume(self, payload: Payload) -> None:
        await self.sender.consume(payload)

    async def _push(self, payload: Payload) -> None:
        call = self._calls[payload.signal]
        try:
            response = await call(payload.data, timeout=self.args.timeout or None, metadata=self._metadata,
                                  wait_for_ready=self.args.client.wait_for_ready)
        except grpc.aio.AioRpcError as error:
            code = error.code().value[0]
            raise grpc_error(code, error.details() or "", tuple(error.trailing_metadata() or ())) from None
        if response:
            warning = partial_success_message(payload.signal, response, "application/x-protobuf")
            if warning:
                now = time.monotonic()
                if now - self._last_partial_log >= 10.0:
                    self._last_partial_log = now
                    self.logger.warning("Partial success response: %s component_id=%s", warning,
                                        self.ctx.component_id)
