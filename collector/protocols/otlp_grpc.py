"""OTLP/gRPC server protocol, sans-IO: method path -> signal, raw message bytes -> decoded Export
request, failure -> (status code, details, trailing metadata).

gRPC itself (grpcio) frames, decompresses (`grpc-encoding: gzip`) and enforces the receive limit
(RESOURCE_EXHAUSTED, no RetryInfo, as the spec wants); the shell registers the methods with no
deserializer so the bytes reach `decode()` untouched and are parsed exactly once, here.
"""

from __future__ import annotations

from typing import Final

from collector.protocols.otlp_request import DecodedExport, decode_protobuf
from collector.protocols.status import ExportError, status_proto
from collector.signals import Signal

__all__ = ["METHODS", "STATUS_DETAILS_KEY", "decode", "failure_trailers", "success_body"]

STATUS_DETAILS_KEY: Final = "grpc-status-details-bin"
METHODS: Final[dict[str, Signal]] = {signal.spec.grpc_method: signal for signal in Signal}
_SUCCESS: Final[dict[Signal, bytes]] = {s: s.spec.response_class().SerializeToString() for s in Signal}


def decode(signal: Signal, data: bytes) -> DecodedExport:
    """Raises `ExportRejected` (INVALID_ARGUMENT) for bytes that are not the method's request."""
    return decode_protobuf(signal, data)


def success_body(signal: Signal) -> bytes:
    """An Export*ServiceResponse with `partial_success` unset (we accept all or refuse all)."""
    return _SUCCESS[signal]


def failure_trailers(error: ExportError) -> tuple[tuple[str, bytes], ...]:
    """`google.rpc.Status` with details (RetryInfo) goes into the status-details trailer."""
    if error.retry_after is None:
        return ()
    return ((STATUS_DETAILS_KEY, status_proto(error).SerializeToString()),)
