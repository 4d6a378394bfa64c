"""`otelcol.receiver.otlp`: OTLP over gRPC and HTTP into the collector's rings.

Runs in the receiver processes only. Each request is decompressed, size-checked, decoded once to
validate and count it, and offered with its serialized bytes to the runtime's `Admission`
(`ctx.admission`, a runtime service only receiver processes offer), which puts it in a shared-memory ring for the workers. The client hears
"OK" only when admission accepted the data; a full ring becomes a retryable refusal (gRPC
UNAVAILABLE + RetryInfo, HTTP 503 + Retry-After). The `output` block is honoured by the workers,
which route what came out of the ring; this component emits nothing in-process.

Default endpoints are loopback (127.0.0.1:4317 / :4318, the OpenTelemetry Collector's secure
default) rather than Alloy's 0.0.0.0; listening elsewhere without TLS logs a warning.

`auth = otelcol.auth.<basic|bearer>.<label>.handler` on a `grpc` or `http` block: every request is
checked against the handler's server side before its body is read (`collector/transport/auth.py`):
401 (with `WWW-Authenticate` for basic) / UNAUTHENTICATED, counted and rate-limited in the log.
`include_metadata = true` keeps the request's headers / gRPC metadata with its data all the way to
the exporters (`collector/signals/metadata.py`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, ClassVar, TYPE_CHECKING

import msgspec

from collector.components.kit.api import (
    ArgumentError, BuildContext, Component, Health, HealthState, Placement, Service,
)
from collector.components.kit.auth import AuthHandler, check_server_handler
from collector.components.kit.registry import register
from collector.components.kit.tls import CertificateFiles
from collector.components.kit.types import ByteSize, DebugMetrics, Duration, Output
from collector.signals import Signal
from collector.transport.tls import ServerTls, grpc_credentials, parse_version, ssl_context
from collector.transport.addresses import is_loopback

if TYPE_CHECKING:
    from collector.transport.grpc_server import OtlpGrpcServer
    from collector.transport.http_server import OtlpHttpServer

MIB = 1024 * 1024


# --- arguments ---------------------------------------------------------------------------------
class TlsArguments(CertificateFiles, frozen=True, kw_only=True):
    NOT_APPLIED: ClassVar[dict[str, str]] = {
        "ca_file": "a server verifies client certificates with client_ca_file",
        "ca_pem": "a server verifies client certificates with client_ca_file",
        "include_system_ca_certs_pool": "a server verifies client certificates with client_ca_file only",
        "reload_interval": "certificates are read when the receiver starts (and on a configuration reload)",
        "cipher_suites": "OpenSSL's default TLS 1.2/1.3 suites are used",
    }

    client_ca_file: str = ""
    min_version: str = ""
    max_version: str = ""
    reload_interval: Duration = 0.0
    cipher_suites: list[str] = msgspec.field(default_factory=list)
    include_system_ca_certs_pool: bool = False

    def validate(self, where: str) -> None:
        for kind in ("cert", "key"):
            if getattr(self, f"{kind}_file") and getattr(self, f"{kind}_pem"):
                raise ArgumentError(f"at most one of {kind}_file and {kind}_pem may be set", f"{where}.{kind}_file")
        has_cert = bool(self.cert_file or self.cert_pem)
        has_key = bool(self.key_file or self.key_pem)
        if has_cert != has_key:
            raise ArgumentError("cert_file/cert_pem and key_file/key_pem must be set together",
                                f"{where}.{'key' if has_cert else 'cert'}_file")
        if not has_cert:
            raise ArgumentError("a server tls block needs a certificate and a key", f"{where}.cert_file")
        if self.client_ca_file and not has_cert:
            raise ArgumentError("client_ca_file needs cert_file and key_file", f"{where}.client_ca_file")
        for name in ("min_version", "max_version"):
            try:
                parse_version(getattr(self, name))
            except ValueError as exc:
                raise ArgumentError(str(exc), f"{where}.{name}") from None

    def load(self) -> ServerTls:
        """Read the files now (at start), so a missing file fails the start, naming the file."""
        def read(path: str, pem: str | None) -> bytes:
            if pem:
                return pem.encode()
            try:
                with open(path, "rb") as f:
                    return f.read()
            except OSError as exc:
                raise ArgumentError(f"cannot read {path}: {exc.strerror}") from exc

        client_ca = read(self.client_ca_file, None) if self.client_ca_file else None
        return ServerTls(read(self.cert_file, self.cert_pem), read(self.key_file, self.key_pem), client_ca,
                         self.min_version or "1.2", self.max_version)


class KeepaliveServerParameters(msgspec.Struct, frozen=True, kw_only=True):
    max_connection_idle: Duration = 0.0
    max_connection_age: Duration = 0.0
    max_connection_age_grace: Duration = 0.0
    time: Duration = 0.0
    timeout: Duration = 0.0


class KeepaliveEnforcementPolicy(msgspec.Struct, frozen=True, kw_only=True):
    min_time: Duration = 0.0
    permit_without_stream: bool = False


class Keepalive(msgspec.Struct, frozen=True, kw_only=True):
    server_parameters: KeepaliveServerParameters | None = None
    enforcement_policy: KeepaliveEnforcementPolicy | None = None

    def grpc_options(self) -> tuple[tuple[str, Any], ...]:
        out: list[tuple[str, Any]] = []
        sp = self.server_parameters
        if sp is not None:
            for value, option in ((sp.max_connection_idle, "grpc.max_connection_idle_ms"),
                                  (sp.max_connection_age, "grpc.max_connection_age_ms"),
                                  (sp.max_connection_age_grace, "grpc.max_connection_age_grace_ms"),
                                  (sp.time, "grpc.keepalive_time_ms"),
                                  (sp.timeout, "grpc.keepalive_timeout_ms")):
                if value > 0:
                    out.append((option, int(value * 1000)))
        ep = self.enforcement_policy
        if ep is not None:
            if ep.min_time > 0:
                out.append(("grpc.http2.min_ping_interval_without_data_ms", int(ep.min_time * 1000)))
            out.append(("grpc.keepalive_permit_without_calls", int(ep.permit_without_stream)))
        return tuple(out)


class Cors(msgspec.Struct, frozen=True, kw_only=True):
    allowed_origins: list[str] = msgspec.field(default_factory=list)
    allowed_headers: list[str] = msgspec.field(default_factory=lambda: ["X-Requested-With"])
    exposed_headers: list[str] = msgspec.field(default_factory=list)
    max_age: int = 0


class GrpcArguments(msgspec.Struct, frozen=True, kw_only=True):
    NOT_APPLIED: ClassVar[dict[str, str]] = {
        "read_buffer_size": "grpcio sizes its own buffers",
        "write_buffer_size": "grpcio sizes its own buffers",
    }

    endpoint: str = "127.0.0.1:4317"
    transport: str = "tcp"
    max_recv_msg_size: ByteSize = 4 * MIB
    read_buffer_size: ByteSize = 512 * 1024
    write_buffer_size: ByteSize = 0
    max_concurrent_streams: int = 0
    include_metadata: bool = False
    auth: AuthHandler | None = None
    tls: TlsArguments | None = None
    keepalive: Keepalive | None = None


class HttpArguments(msgspec.Struct, frozen=True, kw_only=True):
    NOT_APPLIED: ClassVar[dict[str, str]] = {
        "write_timeout": "answers are small and written at once; slow readers are bounded by idle_timeout",
    }

    endpoint: str = "127.0.0.1:4318"
    traces_url_path: str = "/v1/traces"
    metrics_url_path: str = "/v1/metrics"
    logs_url_path: str = "/v1/logs"
    max_request_body_size: ByteSize = 20 * MIB
    include_metadata: bool = False
    compression_algorithms: list[str] = msgspec.field(
        default_factory=lambda: ["", "gzip", "zstd", "zlib", "snappy", "deflate", "lz4"])
    read_header_timeout: Duration = 60.0
    idle_timeout: Duration = 60.0
    write_timeout: Duration = 30.0
    auth: AuthHandler | None = None
    tls: TlsArguments | None = None
    cors: Cors | None = None

    def paths(self) -> dict[str, Signal]:
        return {self.traces_url_path: Signal.TRACES, self.metrics_url_path: Signal.METRICS,
                self.logs_url_path: Signal.LOGS}


class Arguments(msgspec.Struct, frozen=True, kw_only=True):
    output: Output
    grpc: GrpcArguments | None = None
    http: HttpArguments | None = None
    debug_metrics: DebugMetrics = msgspec.field(default_factory=DebugMetrics)

    def validate(self) -> None:
        if self.grpc is not None:
            split_endpoint(self.grpc.endpoint, "grpc.endpoint")
            if self.grpc.transport != "tcp":
                raise ArgumentError(f"unsupported transport {self.grpc.transport!r}: only \"tcp\" is supported",
                                    "grpc.transport")
            if self.grpc.max_recv_msg_size <= 0:
                raise ArgumentError("max_recv_msg_size must be positive", "grpc.max_recv_msg_size")
            if self.grpc.tls is not None:
                self.grpc.tls.validate("grpc.tls")
            check_server_handler(self.grpc.auth, "grpc.auth")
        if self.http is not None:
            split_endpoint(self.http.endpoint, "http.endpoint")
            if self.http.max_request_body_size <= 0:
                raise ArgumentError("max_request_body_size must be positive", "http.max_request_body_size")
            paths = [self.http.traces_url_path, self.http.metrics_url_path, self.http.logs_url_path]
            for name, path in zip(("traces_url_path", "metrics_url_path", "logs_url_path"), paths):
                if not path.startswith("/"):
                    raise ArgumentError(f"{name} must start with \"/\"", f"http.{name}")
            if len(set(paths)) != 3:
                raise ArgumentError("the three url paths must differ", "http.traces_url_path")
            if self.http.tls is not None:
                self.http.tls.validate("http.tls")
            check_server_handler(self.http.auth, "http.auth")


def split_endpoint(endpoint: str, attribute: str) -> tuple[str, int]:
    """"host:port" or "[v6]:port" -> (host, port); an empty host means all interfaces."""
    host, sep, port = endpoint.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ArgumentError(f"invalid endpoint {endpoint!r}: want host:port", attribute)
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    return host or "0.0.0.0", int(port)


def _listen_address(protocol: str, endpoint: str, auth: AuthHandler | None, tls: bool,
                    log: logging.Logger) -> tuple[str, int]:
    """The (host, port) a `grpc`/`http` block listens on; warns when it is reachable without TLS,
    and louder when it also takes requests from anyone (no `auth`)."""
    host, port = split_endpoint(endpoint, f"{protocol}.endpoint")
    if not tls and not is_loopback(host):
        if auth is not None:
            log.warning("otlp %s listener on %s is reachable from other hosts and has no TLS: credentials "
                        "travel in clear text", protocol, endpoint)
        else:
            log.warning("otlp %s listener on %s is reachable from other hosts and has no TLS", protocol, endpoint)
    return host, port


# --- the component -------------------------------------------------------------------------------
@register(
    "otelcol.receiver.otlp",
    arguments=Arguments,
    accepts=(),
    emits=(Signal.TRACES, Signal.METRICS, Signal.LOGS),
    placement=Placement.RECEIVER,
)
class OtlpReceiver(Component[Arguments]):
    needs = frozenset({Service.ADMISSION, Service.REUSE_PORT})

    def __init__(self, ctx: BuildContext, args: Arguments) -> None:
        super().__init__(ctx, args)
        self._servers: list[OtlpGrpcServer | OtlpHttpServer] = []

    @property
    def servers(self) -> list[OtlpGrpcServer | OtlpHttpServer]:
        return list(self._servers)

    def _build(self, args: Arguments) -> list[OtlpGrpcServer | OtlpHttpServer]:
        # The servers' libraries (grpc, aiohttp, codecs) load only where the receiver runs, and each
        # only if its protocol is configured: workers evaluate this component's arguments too, and
        # an HTTP-only receiver process should not pay for grpc in memory.
        from collector.transport.auth import AuthGate
        from collector.transport.ingest import Ingest

        admission = self.ctx.admission
        reuse_port = self.ctx.reuse_port
        log = self.ctx.logger
        cid = self.ctx.component_id
        servers: list[OtlpGrpcServer | OtlpHttpServer] = []
        if args.grpc is not None:
            from collector.transport.grpc_server import GrpcServerConfig, OtlpGrpcServer

            g = args.grpc
            host, port = _listen_address("grpc", g.endpoint, g.auth, g.tls is not None, log)
            creds = grpc_credentials(g.tls.load()) if g.tls is not None else None
            gate = AuthGate(g.auth, cid, "grpc", log) if g.auth is not None else None
            servers.append(OtlpGrpcServer(GrpcServerConfig(
                host, port, g.max_recv_msg_size, creds, reuse_port, g.max_concurrent_streams,
                g.keepalive.grpc_options() if g.keepalive is not None else (),
                auth=gate, include_metadata=g.include_metadata,
            ), Ingest(admission, cid, "grpc"), log))
        if args.http is not None:
            from collector.protocols import otlp_compression
            from collector.protocols.otlp_cors import CorsPolicy
            from collector.protocols.otlp_http import OtlpHttpProtocol
            from collector.transport.http_server import HttpServerConfig, OtlpHttpServer

            h = args.http
            host, port = _listen_address("http", h.endpoint, h.auth, h.tls is not None, log)
            context = ssl_context(h.tls.load()) if h.tls is not None else None
            allowed = otlp_compression.allowed_encodings(h.compression_algorithms)
            unknown = {otlp_compression.normalize_encoding(n) for n in h.compression_algorithms} - allowed
            if unknown:
                log.info("otlp http: compression %s not available; such requests get 400", sorted(unknown))
            cors = None
            if h.cors is not None and h.cors.allowed_origins:
                cors = CorsPolicy(tuple(h.cors.allowed_origins), tuple(h.cors.allowed_headers),
                                  tuple(h.cors.exposed_headers), h.cors.max_age)
            protocol = OtlpHttpProtocol(h.paths(), h.max_request_body_size, allowed)
            gate = AuthGate(h.auth, cid, "http", log) if h.auth is not None else None
            servers.append(OtlpHttpServer(HttpServerConfig(
                host, port, protocol, context, reuse_port, h.read_header_timeout, h.idle_timeout, cors,
                auth=gate, include_metadata=h.include_metadata,
            ), Ingest(admission, cid, "http"), log))
        return servers

    async def start(self) -> None:
        servers = self._build(self.args)
        started: list[OtlpGrpcServer | OtlpHttpServer] = []
        try:
            for server in servers:
                await server.start()
                started.append(server)
        except BaseException:
            for server in reversed(started):
                await server.shutdown(time.monotonic())
            raise
        self._servers = started
        for server in started:
            self.ctx.logger.info("%s listening on %s (port %d)", self.ctx.component_id, server.endpoint, server.port)
        self.health = Health(HealthState.HEALTHY, "started component")

    async def shutdown(self, deadline: float | None = None) -> None:
        servers, self._servers = self._servers, []
        await asyncio.gather(*(server.shutdown(deadline) for server in servers))
        self.health = Health(HealthState.EXITED, "component shut down cleanly")
