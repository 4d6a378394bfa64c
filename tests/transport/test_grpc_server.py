"""The real grpc.aio shell on 127.0.0.1, driven by a raw-bytes gRPC client."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from collector.signals import Signal
from collector.transport.admission import AdmitOutcome
from tests.transport import payloads
from tests.transport.harness import RunningReceiver, default_args, running_receiver


def export(port: int, signal: Signal, data: bytes, compression: grpc.Compression | None = None,
           options: list[tuple[str, int]] | None = None) -> tuple[bytes, grpc.Call]:
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=options or []) as channel:
        method = channel.unary_unary(signal.spec.grpc_method)
        response, call = method.with_call(data, timeout=10, compression=compression)
        return response, call


def failure(port: int, signal: Signal, data: bytes, **kw: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        export(port, signal, data, **kw)  # type: ignore[arg-type]
    return info.value


@pytest.mark.parametrize("signal, request_, items", payloads.EXPORTS)
def test_export_is_ok_with_unset_partial_success(receiver: RunningReceiver, signal: Signal, request_: object,
                                                 items: int) -> None:
    data = request_.SerializeToString()  # type: ignore[attr-defined]
    response, call = export(receiver.grpc_port, signal, data)
    assert response == b"" and call.code() == grpc.StatusCode.OK
    [admitted] = receiver.admission.admitted
    assert (admitted.signal, admitted.item_count, admitted.data) == (signal, items, data)


def test_gzip_compressed_message_is_accepted(receiver: RunningReceiver) -> None:
    data = payloads.logs(3).SerializeToString()
    export(receiver.grpc_port, Signal.LOGS, data, compression=grpc.Compression.Gzip)
    assert receiver.admission.admitted[0].data == data


def test_empty_request_is_ok(receiver: RunningReceiver) -> None:
    assert export(receiver.grpc_port, Signal.TRACES, b"")[0] == b""
    assert receiver.admission.items(Signal.TRACES) == 0


def test_garbage_is_invalid_argument(receiver: RunningReceiver) -> None:
    error = failure(receiver.grpc_port, Signal.METRICS, b"\xff\xff\xff")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert "unable to decode the metrics request" in error.details()  # type: ignore[attr-defined]
    assert not receiver.admission.admitted


def test_full_admission_is_unavailable_with_retry_info(receiver: RunningReceiver) -> None:
    receiver.admission.outcome = AdmitOutcome.FULL
    receiver.admission.retry_after = 3
    error = failure(receiver.grpc_port, Signal.TRACES, payloads.traces().SerializeToString())
    assert error.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    details = dict(error.trailing_metadata())["grpc-status-details-bin"]  # type: ignore[attr-defined]
    status = status_pb2.Status.FromString(details)
    info = error_details_pb2.RetryInfo()
    assert status.code == 14 and status.details[0].Unpack(info) and info.retry_delay.seconds == 3


def test_unknown_method_is_unimplemented(receiver: RunningReceiver) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{receiver.grpc_port}") as channel:
        with pytest.raises(grpc.RpcError) as info:
            channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Nope")(b"", timeout=10)
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED  # type: ignore[attr-defined]


def test_oversize_message_is_resource_exhausted_without_retry_info() -> None:
    for rr in running_receiver(default_args(grpc={"max_recv_msg_size": 1024})):
        big = payloads.logs(200).SerializeToString()
        assert len(big) > 1024
        error = failure(rr.grpc_port, Signal.LOGS, big)
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
        assert "grpc-status-details-bin" not in dict(error.trailing_metadata() or ())  # type: ignore[attr-defined]
        assert not rr.admission.admitted
