"""`otelcol.exporter.otlp`: send OTLP Export requests over gRPC (unary `Export` per signal).

The payload is already a serialized Export request, so the call is a generic unary-unary with no
serializer: `payload.data` goes on the wire as is, and the response comes back as bytes (parsed only
to look for a partial success). Status codes are classified by the exporterhelper's table (retry
UNAVAILABLE & co., RESOURCE_EXHAUSTED only with RetryInfo); queue/retry/timeout are the
`ExportSender`'s. One `grpc.aio` channel per component; TLS is on unless `tls { insecure = true }`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from collector.components.kit.api import ArgumentError, Placement
from collector.components.kit.exporterhelper.config import QueueArgs, RetryArgs
from collector.components.kit.exporterhelper.errors import grpc_error
from collector.components.kit.exporterhelper.exporter import QueuedExporter
from collector.components.kit.otelcol_client import GRPCClientArgs
from collector.components.otelcol.exporter.otlphttp import USER_AGENT, partial_success_message
from collector.components.kit.registry import register
from collector.components.kit.types import DebugMetrics, Duration
from collector.signals import Payload, Signal

if TYPE_CHECKING:  # grpc is imported where a channel is opened: every process that only reads the
    import grpc    # configuration (supervisor, receivers, other signals' workers) stays without it


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
    import grpc

    target = grpc_target(client.endpoint)
    options = channel_options(client)
    compression = {"gzip": grpc.Compression.Gzip, "deflate": grpc.Compression.Deflate,
                   "none": grpc.Compression.NoCompression, "": grpc.Compression.NoCompression}[client.compression]
    if client.tls.insecure:
        return grpc.aio.insecure_channel(target, options=options, compression=compression)
    roots, key, chain = client.tls.read_pem()
    credentials = grpc.ssl_channel_credentials(root_certificates=roots, private_key=key, certificate_chain=chain)
    return grpc.aio.secure_channel(target, credentials, options=options, compression=compression)


@register("otelcol.exporter.otlp", arguments=Arguments, accepts=tuple(Signal), placement=Placement.WORKER)
class OTLPExporter(QueuedExporter[Arguments, "grpc.aio.Channel"]):
    _calls: dict[Signal, Any]  # one unary-unary callable per signal on the current channel
    _rpc_error: type[grpc.aio.AioRpcError]

    def _configure(self, args: Arguments) -> None:
        self._metadata = tuple((k.lower(), v) for k, v in args.client.headers.items())

    def _connect(self, args: Arguments) -> grpc.aio.Channel:
        import grpc

        self._rpc_error = grpc.aio.AioRpcError
        channel = open_channel(args.client)
        self._calls = {signal: channel.unary_unary(signal.spec.grpc_method) for signal in Signal}
        return channel

    def _export_timeout(self, args: Arguments) -> float:
        return args.timeout

    async def _push(self, payload: Payload) -> None:
        call = self._calls[payload.signal]
        metadata = self._metadata
        auth = self.args.client.auth
        if auth is not None:  # per call: from_context headers come from this batch's metadata
            headers = dict(metadata)
            auth.apply(headers, payload.metadata)
            metadata = tuple((key.lower(), value) for key, value in headers.items())
        try:
            response = await call(payload.data, timeout=self.args.timeout or None, metadata=metadata,
                                  wait_for_ready=self.args.client.wait_for_ready)
        except self._rpc_error as error:
            code = error.code().value[0]
            raise grpc_error(code, error.details() or "", tuple(error.trailing_metadata() or ())) from None
        if response:
            warning = partial_success_message(payload.signal, response, "application/x-protobuf")
            if warning:
                self._log_partial(warning)
