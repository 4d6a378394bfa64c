from __future__ import annotations

import email.utils

import pytest
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

from collector.components.kit.exporterhelper.errors import (
    PermanentError,
    RetryableError,
    grpc_error,
    http_error,
    parse_retry_after,
)
from collector.protocols.status import GrpcCode

NOW = 1_700_000_000.0


@pytest.mark.parametrize("status,retryable", [
    (400, False), (401, False), (403, False), (404, False), (408, False), (413, False), (415, False),
    (429, True), (500, False), (501, False), (502, True), (503, True), (504, True), (505, False),
])
def test_http_status_table(status: int, retryable: bool) -> None:
    error = http_error(status, {}, "body", NOW)
    assert isinstance(error, RetryableError if retryable else PermanentError)
    assert f"HTTP {status}" in str(error)


@pytest.mark.parametrize("value,expected", [
    ("7", 7.0),
    (" 0 ", 0.0),
    (email.utils.formatdate(NOW + 30, usegmt=True), 30.0),
    (email.utils.formatdate(NOW - 30, usegmt=True), 0.0),  # a date in the past: retry now
    ("soon", None),
    ("", None),
    (None, None),
    ("-5", None),
])
def test_retry_after(value: str | None, expected: float | None) -> None:
    result = parse_retry_after(value, NOW)
    assert result == (pytest.approx(expected) if expected is not None else None)


def test_http_retry_after_is_carried() -> None:
    error = http_error(503, {"Retry-After": "3"}, "", NOW)
    assert isinstance(error, RetryableError) and error.retry_after == 3.0
    assert http_error(503, {}, "", NOW).retry_after is None  # type: ignore[attr-defined]


def status_details(delay: float | None) -> bytes:
    status = status_pb2.Status(code=8, message="slow down")
    if delay is not None:
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=int(delay), nanos=500_000_000)))
        status.details.append(detail)
    return status.SerializeToString()


@pytest.mark.parametrize("code,retryable", [
    (GrpcCode.CANCELLED, True), (GrpcCode.DEADLINE_EXCEEDED, True), (GrpcCode.ABORTED, True),
    (GrpcCode.OUT_OF_RANGE, True), (GrpcCode.UNAVAILABLE, True), (GrpcCode.DATA_LOSS, True),
    (GrpcCode.RESOURCE_EXHAUSTED, False), (GrpcCode.UNKNOWN, False), (GrpcCode.INVALID_ARGUMENT, False),
    (GrpcCode.NOT_FOUND, False), (GrpcCode.ALREADY_EXISTS, False), (GrpcCode.PERMISSION_DENIED, False),
    (GrpcCode.UNAUTHENTICATED, False), (GrpcCode.FAILED_PRECONDITION, False), (GrpcCode.UNIMPLEMENTED, False),
    (GrpcCode.INTERNAL, False),
])
def test_grpc_code_table(code: GrpcCode, retryable: bool) -> None:
    error = grpc_error(int(code), "x")
    assert isinstance(error, RetryableError if retryable else PermanentError)
    assert code.name in str(error)


def test_resource_exhausted_retries_only_with_retry_info() -> None:
    with_info = grpc_error(GrpcCode.RESOURCE_EXHAUSTED, "x", [("grpc-status-details-bin", status_details(2))])
    assert isinstance(with_info, RetryableError) and with_info.retry_after == pytest.approx(2.5)
    without = grpc_error(GrpcCode.RESOURCE_EXHAUSTED, "x", [("grpc-status-details-bin", status_details(None))])
    assert isinstance(without, PermanentError)
    garbage = grpc_error(GrpcCode.RESOURCE_EXHAUSTED, "x", [("grpc-status-details-bin", b"\xff\xff")])
    assert isinstance(garbage, PermanentError)


def test_unavailable_carries_its_retry_info() -> None:
    error = grpc_error(GrpcCode.UNAVAILABLE, "x", [("grpc-status-details-bin", status_details(1))])
    assert isinstance(error, RetryableError) and error.retry_after == pytest.approx(1.5)
