from __future__ import annotations

import pytest

from collector.protocols.status import ExportError, GrpcCode, grpc_to_http, retry_after_header, status_proto


@pytest.mark.parametrize("code, http", [
    (GrpcCode.UNAVAILABLE, 503), (GrpcCode.CANCELLED, 503), (GrpcCode.DEADLINE_EXCEEDED, 503),
    (GrpcCode.ABORTED, 503), (GrpcCode.OUT_OF_RANGE, 503), (GrpcCode.DATA_LOSS, 503),
    (GrpcCode.RESOURCE_EXHAUSTED, 429), (GrpcCode.INVALID_ARGUMENT, 400), (GrpcCode.UNAUTHENTICATED, 401),
    (GrpcCode.PERMISSION_DENIED, 403), (GrpcCode.UNIMPLEMENTED, 404), (GrpcCode.INTERNAL, 500),
    (GrpcCode.UNKNOWN, 500),
])
def test_grpc_to_http_follows_the_collector(code: GrpcCode, http: int) -> None:
    assert grpc_to_http(code) == http


@pytest.mark.parametrize("seconds, header", [(0, "0"), (0.1, "1"), (1.0, "1"), (2.5, "3")])
def test_retry_after_rounds_up(seconds: float, header: str) -> None:
    assert retry_after_header(seconds) == header


def test_status_without_retry_has_no_details() -> None:
    status = status_proto(ExportError(GrpcCode.INVALID_ARGUMENT, "bad"))
    assert (status.code, status.message, len(status.details)) == (3, "bad", 0)
    assert ExportError(GrpcCode.INVALID_ARGUMENT, "big", http_status=413).http == 413
