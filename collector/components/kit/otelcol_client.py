"""Client blocks shared by the OTLP exporters: `client` (HTTP or gRPC), its `tls`, `keepalive`,
`compression_params` and `cookies` sub-blocks, with Alloy's defaults.

The blocks only describe; `ssl_context()` turns a `tls` block into the one object both transports
(aiohttp and grpc) can be fed from, so TLS rules live in one place.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, ClassVar, Final

import msgspec

from collector.components.kit.api import ArgumentError
from collector.components.kit.auth import AuthHandler, check_client_handler
from collector.components.kit.types import ByteSize, Duration

COMPRESSIONS: Final = frozenset({"gzip", "zlib", "deflate", "zstd", "snappy", "none", ""})

_TLS_VERSIONS: Final = {
    "": ssl.TLSVersion.TLSv1_2,
    "TLS 1.0": ssl.TLSVersion.TLSv1,
    "TLS 1.1": ssl.TLSVersion.TLSv1_1,
    "TLS 1.2": ssl.TLSVersion.TLSv1_2,
    "TLS 1.3": ssl.TLSVersion.TLSv1_3,
}


class TLSClientArgs(msgspec.Struct, frozen=True, kw_only=True):
    insecure: bool = False
    insecure_skip_verify: bool = False
    ca_file: str = ""
    ca_pem: str = ""
    cert_file: str = ""
    cert_pem: str = ""
    key_file: str = ""
    key_pem: str = ""
    server_name: str = ""
    min_version: str = ""
    max_version: str = ""
    reload_interval: Duration = 0.0
    include_system_ca_certs_pool: bool = False
    cipher_suites: list[str] = msgspec.field(default_factory=list)

    def validate(self, prefix: str = "tls") -> None:
        for name in ("min_version", "max_version"):
            if getattr(self, name) not in _TLS_VERSIONS:
                raise ArgumentError(f"invalid TLS version {getattr(self, name)!r}", f"{prefix}.{name}")
        if bool(self.cert_file or self.cert_pem) != bool(self.key_file or self.key_pem):
            raise ArgumentError("cert and key must be set together", f"{prefix}.cert_file")
        # Neither Python's ssl nor grpcio can apply these as Go does; refusing them beats a
        # connection that silently negotiates something else than what was asked for.
        if self.cipher_suites:
            raise ArgumentError("cipher_suites is not supported by this collector (OpenSSL chooses the TLS 1.2/1.3 "
                                "suites); remove it", f"{prefix}.cipher_suites")
        if self.reload_interval:
            raise ArgumentError("reload_interval is not supported by this collector: certificates are read when "
                                "the component starts (a configuration reload re-reads them)",
                                f"{prefix}.reload_interval")

    def validate_grpc(self, prefix: str = "tls") -> None:
        """What grpcio's channel credentials cannot express (it takes PEM roots, key and chain only)."""
        for name in ("min_version", "max_version"):
            if getattr(self, name):
                raise ArgumentError(f"{name} is not supported by the gRPC client (grpcio does not expose the TLS "
                                    "version range)", f"{prefix}.{name}")
        if self.include_system_ca_certs_pool and (self.ca_file or self.ca_pem):
            raise ArgumentError("include_system_ca_certs_pool together with a CA is not supported by the gRPC "
                                "client (grpcio uses either the system roots or the given CA)",
                                f"{prefix}.include_system_ca_certs_pool")

    def ssl_context(self) -> ssl.SSLContext:
        """The client context: system roots (or the CA; both with `include_system_ca_certs_pool`),
        optional client certificate from files or inline PEM."""
        from collector.components.kit.http_client import load_cert_chain

        context = ssl.create_default_context(cafile=self.ca_file or None, cadata=self.ca_pem or None)
        if self.include_system_ca_certs_pool and (self.ca_file or self.ca_pem):
            context.load_default_certs()
        context.minimum_version = _TLS_VERSIONS[self.min_version]
        if self.max_version:
            context.maximum_version = _TLS_VERSIONS[self.max_version]
        if self.insecure_skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.cert_file or self.cert_pem:
            load_cert_chain(context, self.cert_file, self.cert_pem, self.key_file, self.key_pem)
        return context

    def read_pem(self) -> tuple[bytes | None, bytes | None, bytes | None]:
        """(root CAs, private key, certificate chain) as gRPC's `ssl_channel_credentials` wants them."""

        def read(path: str, inline: str) -> bytes | None:
            if inline:
                return inline.encode()
            return Path(path).read_bytes() if path else None

        return read(self.ca_file, self.ca_pem), read(self.key_file, self.key_pem), read(self.cert_file, self.cert_pem)


class CompressionParams(msgspec.Struct, frozen=True, kw_only=True):
    level: int = 0  # 0 = the exporter's chosen default (see otlphttp's docstring)


class Cookies(msgspec.Struct, frozen=True, kw_only=True):
    enabled: bool = False


class HTTPClientArgs(msgspec.Struct, frozen=True, kw_only=True):
    """`client` block of `otelcol.exporter.otlphttp`."""

    NOT_APPLIED: ClassVar[dict[str, str]] = {
        "read_buffer_size": "aiohttp sizes its own buffers",
        "write_buffer_size": "aiohttp sizes its own buffers",
        "max_idle_conns": "the connection pool is sized by sending_queue.num_consumers",
        "max_idle_conns_per_host": "the connection pool is sized by sending_queue.num_consumers",
        "max_conns_per_host": "the connection pool is sized by sending_queue.num_consumers",
        "force_attempt_http2": "the HTTP client speaks HTTP/1.1 only",
        "http2_read_idle_timeout": "the HTTP client speaks HTTP/1.1 only",
        "http2_ping_timeout": "the HTTP client speaks HTTP/1.1 only",
        "cookies": "responses' cookies are not kept",
        "tls.insecure": "over HTTP the endpoint's scheme (http:// or https://) decides, as in Alloy",
    }

    endpoint: str = ""
    auth: AuthHandler | None = None  # an otelcol.auth.* handler's client side, applied to every request
    compression: str = "gzip"
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    timeout: Duration = 30.0
    read_buffer_size: ByteSize = 0
    write_buffer_size: ByteSize = 512 * 1024
    max_idle_conns: int = 100
    max_idle_conns_per_host: int = 0
    max_conns_per_host: int = 0
    idle_conn_timeout: Duration = 90.0
    disable_keep_alives: bool = False
    force_attempt_http2: bool = True
    http2_read_idle_timeout: Duration = 0.0
    http2_ping_timeout: Duration = 0.0
    proxy_url: str = ""
    tls: TLSClientArgs = msgspec.field(default_factory=TLSClientArgs)
    cookies: Cookies | None = None
    compression_params: CompressionParams | None = None

    def validate(self) -> None:
        validate_compression(self.compression, "client.compression")
        self.tls.validate("client.tls")
        check_client_handler(self.auth, "client.auth")
        if self.proxy_url and not self.proxy_url.startswith(("http://", "https://")):
            raise ArgumentError("only http:// and https:// proxies are supported (no SOCKS)", "client.proxy_url")
        if self.compression_params is not None and not -1 <= self.compression_params.level <= 22:
            raise ArgumentError("compression level out of range", "client.compression_params.level")


class KeepaliveArgs(msgspec.Struct, frozen=True, kw_only=True):
    ping_wait: Duration = 0.0
    ping_response_timeout: Duration = 0.0
    ping_without_stream: bool = False


class GRPCClientSettings(msgspec.Struct, frozen=True, kw_only=True):
    """A gRPC `client` block but its `endpoint`: what `otelcol.exporter.loadbalancing`'s
    `protocol { otlp { client } }` takes (its resolver names the endpoints), and the rest of
    `otelcol.exporter.otlp`'s."""

    NOT_APPLIED: ClassVar[dict[str, str]] = {
        "read_buffer_size": "grpcio sizes its own buffers",
        "write_buffer_size": "grpcio sizes its own buffers",
    }

    auth: AuthHandler | None = None  # an otelcol.auth.* handler's client side, applied to every call
    compression: str = "gzip"
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    authority: str = ""
    balancer_name: str = "round_robin"
    wait_for_ready: bool = False
    read_buffer_size: ByteSize = 0
    write_buffer_size: ByteSize = 512 * 1024
    tls: TLSClientArgs = msgspec.field(default_factory=TLSClientArgs)
    keepalive: KeepaliveArgs | None = None

    def for_endpoint(self, endpoint: str) -> GRPCClientArgs:
        return GRPCClientArgs(endpoint=endpoint, **{f: getattr(self, f) for f in GRPCClientSettings.__struct_fields__})


class GRPCClientArgs(GRPCClientSettings, frozen=True, kw_only=True):
    """`client` block of `otelcol.exporter.otlp`."""

    endpoint: str

    def validate(self) -> None:
        validate_compression(self.compression, "client.compression")
        check_client_handler(self.auth, "client.auth")
        if self.compression not in ("gzip", "none", ""):
            # grpcio ships gzip and deflate only; zstd/snappy need codecs the C core lacks.
            if self.compression != "deflate":
                raise ArgumentError(f"compression {self.compression!r} is not supported for gRPC",
                                    "client.compression")
        if not self.endpoint:
            raise ArgumentError("client.endpoint must be set", "client.endpoint")
        if "://" in self.endpoint and not self.endpoint.startswith(("dns:", "unix:")):
            # Go's gRPC client takes host:port; a URL scheme is a common mistake worth a clear error.
            scheme, _, rest = self.endpoint.partition("://")
            if scheme not in ("http", "https") or "/" in rest.rstrip("/"):
                raise ArgumentError(f"endpoint {self.endpoint!r} must be host:port", "client.endpoint")
        self.tls.validate("client.tls")
        self.tls.validate_grpc("client.tls")
        if self.tls.insecure_skip_verify and not self.tls.insecure:
            raise ArgumentError("insecure_skip_verify is not supported by the gRPC client (grpcio cannot skip "
                                "verification); use insecure = true or a ca_file", "client.tls.insecure_skip_verify")
        if self.balancer_name not in ("round_robin", "pick_first", ""):
            raise ArgumentError(f"unknown balancer {self.balancer_name!r}", "client.balancer_name")


def validate_compression(value: str, attribute: str) -> None:
    if value not in COMPRESSIONS:
        raise ArgumentError(f"unsupported compression {value!r}", attribute)


# --- request body compression -------------------------------------------------------------------
# Default gzip level: 1, not Go's "default compression" (6). Measured on a 100-span traces request
# (31 KB, ~310 bytes per span, 10 attributes each; `zlib.compressobj(level, DEFLATED, 31)`, one core):
# level 1 -> 4.56 KB (ratio 6.9) in ~160 µs; level 6 -> 4.26 KB (ratio 7.3) in ~435 µs. Level 6 buys
# 7 % fewer bytes for 2.7x the CPU, i.e. ~2.7 µs more per span on a path whose whole budget is a few
# µs per span; on a LAN or loopback to Loki/Tempo the bytes are cheaper than the CPU. A configured
# `compression_params { level = N }` wins.
#
# Levels 1-3 use ISA-L (python-isal), whose deflate is 4-5x faster than zlib's at the same level and
# compresses slightly better. Measured on a batch of 2,000 bench spans (748 KB of high-entropy
# attributes): zlib level 1 11 ms (69 MB/s, 331 KB out), ISA-L level 1 2.1 ms (359 MB/s, 318 KB
# out). The output is ordinary gzip/zlib. Higher levels (4-9) use zlib: whoever asks for them wants
# bytes more than CPU, and ISA-L stops at level 3.
DEFAULT_GZIP_LEVEL: Final = 1
DEFAULT_ZSTD_LEVEL: Final = 1
_ISAL_MAX_LEVEL: Final = 3


def _deflate_module(level: int) -> Any:
    if level <= _ISAL_MAX_LEVEL:
        try:
            from isal import isal_zlib

            return isal_zlib
        except ImportError:  # a platform without a python-isal wheel
            pass
    import zlib

    return zlib


def compressor(compression: str, level: int = 0) -> tuple[str | None, Any]:
    """(`Content-Encoding` value or None, function bytes -> bytes) for a `compression` setting.

    zlib/gzip/zstd/snappy all run in C; the body is compressed in one call (no streaming: a batch is
    already a single bytes object).
    """
    if compression in ("", "none"):
        return None, None
    if compression == "gzip":
        gzip_level = level if level else DEFAULT_GZIP_LEVEL
        deflate = _deflate_module(gzip_level)

        def gzip(data: bytes) -> bytes:
            c = deflate.compressobj(gzip_level, deflate.DEFLATED, 31)
            return c.compress(data) + c.flush()

        return "gzip", gzip
    if compression in ("zlib", "deflate"):
        # Go's confighttp writes the zlib format (RFC 1950) for both names
        zlib_level = level if level else DEFAULT_GZIP_LEVEL
        deflate = _deflate_module(zlib_level)
        return compression, lambda data: deflate.compress(data, zlib_level)
    if compression == "zstd":
        import zstandard

        zstd = zstandard.ZstdCompressor(level=level if level else DEFAULT_ZSTD_LEVEL)
        return "zstd", zstd.compress
    if compression == "snappy":
        import snappy

        return "snappy", snappy.compress  # block format, as current confighttp sends
    raise ValueError(f"unsupported compression {compression!r}")
