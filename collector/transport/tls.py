"""Server-side TLS from an Alloy `tls` block, for both shells (ssl.SSLContext for aiohttp, grpc
ServerCredentials for grpcio). A `client_ca_file` turns on mutual TLS (client certs required).
"""

from __future__ import annotations

import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import grpc

__all__ = ["ServerTls", "ssl_context", "grpc_credentials"]

_VERSIONS = {"1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1,
             "1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


@dataclass(frozen=True, slots=True)
class ServerTls:
    cert_pem: bytes
    key_pem: bytes
    client_ca_pem: bytes | None = None
    min_version: str = "1.2"
    max_version: str = ""

    @classmethod
    def from_files(cls, cert_file: str, key_file: str, client_ca_file: str = "", *, min_version: str = "1.2",
                   max_version: str = "") -> ServerTls:
        return cls(Path(cert_file).read_bytes(), Path(key_file).read_bytes(),
                   Path(client_ca_file).read_bytes() if client_ca_file else None, min_version, max_version)


def parse_version(text: str) -> ssl.TLSVersion | None:
    """Alloy spells versions "TLS 1.2"; an empty string means the library default."""
    text = text.strip().upper().removeprefix("TLS").strip()
    if not text:
        return None
    try:
        return _VERSIONS[text]
    except KeyError:
        raise ValueError(f"unknown TLS version {text!r} (want one of TLS 1.0, 1.1, 1.2, 1.3)") from None


def ssl_context(tls: ServerTls) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    low = parse_version(tls.min_version)
    high = parse_version(tls.max_version)
    if low is not None:
        ctx.minimum_version = low
    if high is not None:
        ctx.maximum_version = high
    # ssl wants files; PEM bytes are written to a private temporary directory and loaded at once.
    with tempfile.TemporaryDirectory() as tmp:
        cert = Path(tmp, "cert.pem")
        key = Path(tmp, "key.pem")
        cert.write_bytes(tls.cert_pem)
        key.touch(0o600)
        key.write_bytes(tls.key_pem)
        ctx.load_cert_chain(cert, key)
    if tls.client_ca_pem:
        ctx.load_verify_locations(cadata=tls.client_ca_pem.decode())
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def grpc_credentials(tls: ServerTls) -> grpc.ServerCredentials:
    import grpc

    return grpc.ssl_server_credentials(
        [(tls.key_pem, tls.cert_pem)],
        root_certificates=tls.client_ca_pem,
        require_client_auth=bool(tls.client_ca_pem),
    )
