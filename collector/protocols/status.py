"""Errors as OTLP tells clients about them: one table maps an outcome to a gRPC code, an HTTP status,
and whether a `google.rpc.RetryInfo` travels with it.

Servers answer OTLP failures with a `google.rpc.Status` (gRPC: in the `grpc-status-details-bin`
trailer; HTTP: as the response body, encoded like the request). Retry hints are what makes a refusal
retryable: gRPC clients retry UNAVAILABLE always and RESOURCE_EXHAUSTED only with RetryInfo; HTTP
clients retry 429/502/503/504 and honour `Retry-After`.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

__all__ = ["GrpcCode", "ExportError", "ExportRejected", "grpc_to_http", "status_proto", "retry_after_header"]


class GrpcCode(enum.IntEnum):
    """gRPC status codes (numbers are the wire values, as in `google.rpc.Code`)."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


_HTTP_OF_GRPC: dict[GrpcCode, int] = {
    # the OpenTelemetry Collector's mapping (receiver/otlpreceiver/internal/errors)
    GrpcCode.OK: 200,
    GrpcCode.UNAVAILABLE: 503,
    GrpcCode.CANCELLED: 503,
    GrpcCode.DEADLINE_EXCEEDED: 503,
    GrpcCode.ABORTED: 503,
    GrpcCode.OUT_OF_RANGE: 503,
    GrpcCode.DATA_LOSS: 503,
    GrpcCode.RESOURCE_EXHAUSTED: 429,
    GrpcCode.INVALID_ARGUMENT: 400,
    GrpcCode.UNAUTHENTICATED: 401,
    GrpcCode.PERMISSION_DENIED: 403,
    GrpcCode.UNIMPLEMENTED: 404,
}


def grpc_to_http(code: GrpcCode) -> int:
    return _HTTP_OF_GRPC.get(code, 500)


@dataclass(frozen=True, slots=True)
class ExportError:
    """A failed Export: what both transports need to answer it. `retry_after` (seconds) adds RetryInfo."""

    code: GrpcCode
    message: str
    retry_after: float | None = None
    http_status: int | None = None  # overrides the table (413, 415, 405 have no gRPC twin)

    @property
    def http(self) -> int:
        return self.http_status if self.http_status is not None else grpc_to_http(self.code)


def status_proto(error: ExportError) -> status_pb2.Status:
    status = status_pb2.Status(code=int(error.code), message=error.message)
    if error.retry_after is not None:
        seconds = max(0.0, error.retry_after)
        whole = int(seconds)
        delay = duration_pb2.Duration(seconds=whole, nanos=int(round((seconds - whole) * 1e9)))
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        status.details.append(detail)
    return status


def retry_after_header(seconds: float) -> str:
    """`Retry-After` takes whole seconds; round up so the client never comes back too early."""
    return str(max(0, math.ceil(seconds)))


class ExportRejected(Exception):
    """Raised by the sans-IO decoders; carries the answer for the client."""

    def __init__(self, error: ExportError) -> None:
        super().__init__(error.message)
        self.error = error
