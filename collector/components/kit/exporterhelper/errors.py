"""Export failures are data: permanent (drop and count) or retryable (maybe after a hint).

One table answers "retry?" for both transports, as OTLP specifies it for clients:
HTTP retries 429, 502, 503, 504 (honouring `Retry-After` in seconds or as an HTTP-date); gRPC
retries CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS, and
RESOURCE_EXHAUSTED only when the status carries a `google.rpc.RetryInfo`. Everything else is
permanent. Network failures and timeouts (no answer at all) are retryable.
"""

from __future__ import annotations

import email.utils
from typing import Final, Mapping, Sequence

from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2

from collector.protocols.status import GrpcCode


class ExportFailure(Exception):
    """Base of classified export errors."""


class PermanentError(ExportFailure):
    """The backend refused the data for good: retrying cannot help."""


class RetryableError(ExportFailure):
    """The attempt failed but a later one may succeed; `retry_after` is the backend's hint (seconds)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


RETRYABLE_HTTP: Final = frozenset({429, 502, 503, 504})
RETRYABLE_GRPC: Final = frozenset({
    GrpcCode.CANCELLED, GrpcCode.DEADLINE_EXCEEDED, GrpcCode.ABORTED,
    GrpcCode.OUT_OF_RANGE, GrpcCode.UNAVAILABLE, GrpcCode.DATA_LOSS,
})
STATUS_DETAILS_KEY: Final = "grpc-status-details-bin"


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` value (delta-seconds or HTTP-date); `now` is wall-clock time."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


def http_error(status: int, headers: Mapping[str, str], body_excerpt: str, now: float) -> ExportFailure:
    """Classify a non-2xx HTTP answer. `headers` lookups must be case-insensitive (aiohttp's are)."""
    message = f"HTTP {status}" + (f": {body_excerpt}" if body_excerpt else "")
    if status in RETRYABLE_HTTP:
        return RetryableError(message, parse_retry_after(headers.get("Retry-After"), now))
    return PermanentError(message)


def retry_info_delay(details_bin: bytes | None) -> float | None:
    """The `RetryInfo.retry_delay` carried by a serialized `google.rpc.Status`, if any."""
    if not details_bin:
        return None
    status = status_pb2.Status()
    try:
        status.ParseFromString(details_bin)
    except DecodeError:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    return None


def grpc_error(code: int, message: str, trailing_metadata: Sequence[tuple[str, str | bytes]] = ()) -> ExportFailure:
    """Classify a failed gRPC call by status code and its `grpc-status-details-bin` trailer."""
    details = next((v for k, v in trailing_metadata if k == STATUS_DETAILS_KEY), None)
    delay = retry_info_delay(details if isinstance(details, bytes) else None)
    try:
        name = GrpcCode(code).name
    except ValueError:
        name = str(code)
    text = f"rpc error: code = {name} desc = {message}"
    if code in RETRYABLE_GRPC:
        return RetryableError(text, delay)
    if code == GrpcCode.RESOURCE_EXHAUSTED and delay is not None:
        return RetryableError(text, delay)
    return PermanentError(text)
