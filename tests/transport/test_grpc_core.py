"""The C-core gRPC engine (collector/transport/grpc_core.py) behind the OTLP receiver: that it is the
one serving, its fallback to grpc.aio, which thread exports a call (the serving thread when the
admission is thread-safe, else the event loop through the bridge), and its graceful stop."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

import grpc
import pytest
from google.protobuf.message import Message

from collector.components.kit.auth import AUTHENTICATED, AuthHandler, AuthOutcome
from collector.components.otelcol.receiver.otlp import Arguments, GrpcArguments
from collector.components.kit.types import Output
from collector.protocols import otlp_grpc
from collector.signals import Signal
from collector.testing.admission import CollectingAdmission
from collector.testing.process import free_port
from collector.transport.admission import AdmitOutcome, AdmitResult
from collector.transport import grpc_core, grpc_server
from collector.transport.grpc_server import OtlpGrpcServer
from tests.transport import harness, payloads
from tests.transport.harness import RunningReceiver, default_args, running_receiver


def export(port: int, data: bytes, signal: Signal = Signal.TRACES, **kw: Any) -> bytes:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        method: Any = channel.unary_unary(signal.spec.grpc_method)
        response: bytes = method(data, timeout=30, **kw)
        return response


def grpc_server_of(rr: RunningReceiver) -> OtlpGrpcServer:
    return next(s for s in rr.component.servers if isinstance(s, OtlpGrpcServer))


def test_the_receiver_serves_through_the_core_engine(receiver: RunningReceiver) -> None:
    assert grpc_core.available()  # the pinned grpcio range offers the internal layer
    assert grpc_server_of(receiver).engine == "core"
    data = payloads.traces().SerializeToString()
    assert export(receiver.grpc_port, data) == b""
    assert receiver.admission.admitted[-1].data == data


def test_grpc_aio_serves_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(grpc_server.ENGINE_VARIABLE, "aio")
    for rr in running_receiver():
        assert grpc_server_of(rr).engine == "aio"
        data = payloads.logs(2).SerializeToString()
        export(rr.grpc_port, data, Signal.LOGS)
        assert rr.admission.admitted[0].data == data


def test_grpc_aio_serves_when_the_internal_layer_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grpc_core, "_cygrpc", None)
    assert not grpc_core.available()
    assert grpc_server.engine() == "aio"


def test_grpc_aio_serves_under_a_grpcio_outside_the_tested_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grpc_core, "_grpcio_version", lambda: grpc_core.TESTED_GRPCIO[1])
    assert grpc_server.engine() == "aio"


def test_many_concurrent_calls_over_few_connections_are_all_admitted(receiver: RunningReceiver) -> None:
    bodies = [payloads.traces(spans=3 + i).SerializeToString() for i in range(4)]
    # one connection per channel (local subchannel pools), fewer streams each than the server allows
    channels = [grpc.insecure_channel(f"127.0.0.1:{receiver.grpc_port}", options=[("grpc.use_local_subchannel_pool", 1)])
                for _ in range(3)]
    try:
        stubs: list[Any] = [c.unary_unary(Signal.TRACES.spec.grpc_method) for c in channels]
        with ThreadPoolExecutor(12) as pool:
            answers = list(pool.map(lambda i: stubs[i % 3](bodies[i % 4], timeout=30), range(300)))
    finally:
        for channel in channels:
            channel.close()
    assert answers == [b""] * 300
    assert len(receiver.admission.admitted) == 300


def test_large_messages_decode_in_the_decode_threads(receiver: RunningReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[str] = []
    decode = otlp_grpc.decode

    def recording(signal: Signal, data: bytes) -> Any:
        threads.append(threading.current_thread().name)
        return decode(signal, data)

    monkeypatch.setattr(otlp_grpc, "decode", recording)
    big = payloads.logs(4000).SerializeToString()
    assert len(big) >= grpc_server.OFFLOAD_BYTES
    export(receiver.grpc_port, big, Signal.LOGS)
    assert receiver.admission.admitted[-1].data == big
    assert threads[-1].startswith("otlp-decode")
    with pytest.raises(grpc.RpcError) as raised:
        export(receiver.grpc_port, b"\xff" * grpc_server.OFFLOAD_BYTES, Signal.LOGS)
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_a_stopped_server_frees_its_port_for_the_next_one() -> None:
    """What a configuration reload does: the old receiver stops, a new one binds the same port."""
    port = free_port()
    args = Arguments(output=Output(), grpc=GrpcArguments(endpoint=f"127.0.0.1:{port}"))
    for _ in range(2):
        for rr in running_receiver(args):
            assert rr.grpc_port == port
            export(port, payloads.traces().SerializeToString())
            assert len(rr.admission.admitted) == 1


@dataclass(frozen=True, eq=False)
class HeldAuth(AuthHandler):
    """An authenticator that waits for the test to let it answer (an asynchronous authenticator)."""

    component_id: str = "otelcol.auth.held.test"
    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def server(self) -> bool:
        return True

    async def authenticate(self, headers: Mapping[str, str]) -> AuthOutcome:
        self.entered.set()
        while not self.release.is_set():
            await asyncio.sleep(0.01)
        return AUTHENTICATED if headers.get("authorization") == "let-me-in" else AuthOutcome(False, "wrong token")


def test_a_call_in_flight_at_stop_is_answered_within_the_grace() -> None:
    auth = HeldAuth()
    args = default_args(grpc={"auth": auth})
    for rr in running_receiver(args):
        data = payloads.traces().SerializeToString()
        with ThreadPoolExecutor(1) as pool:
            call = pool.submit(export, rr.grpc_port, data, metadata=(("authorization", "let-me-in"),))
            assert auth.entered.wait(30)
            stopping = asyncio.run_coroutine_threadsafe(rr.component.shutdown(time.monotonic() + 30), rr.loop.loop)
            auth.release.set()
            assert call.result(30) == b""
            stopping.result(30)
        assert rr.admission.admitted[0].data == data


def test_an_asynchronous_authenticator_refuses_before_the_message_is_read() -> None:
    auth = HeldAuth()
    auth.release.set()
    for rr in running_receiver(default_args(grpc={"auth": auth})):
        with pytest.raises(grpc.RpcError) as raised:
            export(rr.grpc_port, b"\xff\xff", metadata=(("authorization", "nope"),))
        assert raised.value.code() is grpc.StatusCode.UNAUTHENTICATED
        assert "wrong token" in str(raised.value.details())
        assert not rr.admission.admitted


def test_an_oversize_message_is_refused_by_the_core_and_not_counted_as_malformed() -> None:
    from collector.selfmetrics.otelcol import RECEIVER_REQUESTS

    failures = RECEIVER_REQUESTS.labels("otelcol.receiver.otlp.default", "/", "grpc", "failure")
    for rr in running_receiver(default_args(grpc={"max_recv_msg_size": 1024})):
        before = failures._value.get()
        with pytest.raises(grpc.RpcError) as raised:
            export(rr.grpc_port, payloads.logs(200).SerializeToString(), Signal.LOGS)
        assert raised.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        with pytest.raises(grpc.RpcError) as raised:  # the server still serves after a cut-short call
            export(rr.grpc_port, b"\xff\xff", Signal.LOGS)
        assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert failures._value.get() == before + 1  # the malformed one only
        assert not rr.admission.admitted


@dataclass
class ThreadRecordingAdmission(CollectingAdmission):
    """A collecting admission that declares itself thread-safe (as RingAdmission does) and notes the
    thread each request was admitted on. Appends to lists are atomic, so it is."""

    thread_safe = True
    threads: list[str] = field(default_factory=list)

    def admit(self, signal: Signal, data: bytes, message: Message, item_count: int, receiver_id: str,
              metadata: Sequence[tuple[str, str]] = ()) -> AdmitResult:
        self.threads.append(threading.current_thread().name)
        return super().admit(signal, data, message, item_count, receiver_id, metadata)


@pytest.fixture
def serving_thread_receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningReceiver]:
    """A receiver whose admission may be entered from any thread: the serving thread exports itself."""
    monkeypatch.setattr(harness, "CollectingAdmission", ThreadRecordingAdmission)
    yield from running_receiver()


def threads_of(rr: RunningReceiver) -> list[str]:
    assert isinstance(rr.admission, ThreadRecordingAdmission)
    return rr.admission.threads


def test_a_thread_safe_admission_is_entered_from_the_serving_thread(serving_thread_receiver: RunningReceiver) -> None:
    rr = serving_thread_receiver
    data = payloads.traces().SerializeToString()
    assert export(rr.grpc_port, data) == b""
    assert rr.admission.admitted[-1].data == data
    assert threads_of(rr) == ["grpc-core"]  # no hop to the event loop
    big = payloads.logs(4000).SerializeToString()  # large: decoded in the decode threads, admitted on the loop
    assert len(big) >= grpc_server.OFFLOAD_BYTES
    assert export(rr.grpc_port, big, Signal.LOGS) == b""
    assert rr.admission.admitted[-1].data == big
    assert threads_of(rr)[-1] != "grpc-core"


def test_the_serving_thread_answers_refusals_with_the_statuses_the_spec_names(
        serving_thread_receiver: RunningReceiver) -> None:
    rr = serving_thread_receiver
    with pytest.raises(grpc.RpcError) as raised:
        export(rr.grpc_port, b"\xff\xff")
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    rr.admission.outcome = AdmitOutcome.FULL
    data = payloads.traces().SerializeToString()
    with pytest.raises(grpc.RpcError) as raised:
        export(rr.grpc_port, data)
    assert raised.value.code() is grpc.StatusCode.UNAVAILABLE
    metadata: Any = raised.value.trailing_metadata() or ()
    trailers = [key for key, _ in metadata]
    assert "grpc-status-details-bin" in trailers  # google.rpc.Status with RetryInfo
    assert rr.admission.refused[-1].data == data
    # offered first on the serving thread, then again on the event loop while it waited for room
    assert threads_of(rr)[0] == "grpc-core" and set(threads_of(rr)[1:]) == {"receiver-loop"}


def test_a_failing_admission_still_answers_the_call(serving_thread_receiver: RunningReceiver,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug below the handler must not leave a call unanswered (it would never be released and the
    server could not stop)."""
    def broken(*args: Any, **kwargs: Any) -> AdmitResult:
        raise RuntimeError("admission bug")

    monkeypatch.setattr(serving_thread_receiver.admission, "admit", broken)
    with pytest.raises(grpc.RpcError) as raised:
        export(serving_thread_receiver.grpc_port, payloads.traces().SerializeToString())
    assert raised.value.code() is grpc.StatusCode.INTERNAL


def _experiments_after_import(env: dict[str, str]) -> str:
    """GRPC_EXPERIMENTS as a fresh interpreter holds it once the gRPC server module is imported."""
    code = "import os, collector.transport.grpc_server; print(os.environ.get('GRPC_EXPERIMENTS', '<unset>'))"
    clean = {k: v for k, v in os.environ.items() if k not in ("GRPC_EXPERIMENTS", grpc_server.ENGINE_VARIABLE)}
    result = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                            timeout=120, check=True)
    return result.stdout.strip()


def test_the_core_engine_has_connections_polled_by_its_serving_thread() -> None:
    """grpc reads GRPC_EXPERIMENTS once, when it loads: the server module sets it before grpc loads,
    and leaves an operator's own value, and the grpc.aio server, alone."""
    assert _experiments_after_import({}) == grpc_core.POLLED_CONNECTIONS
    assert _experiments_after_import({"GRPC_EXPERIMENTS": "-some_experiment"}) == "-some_experiment"
    assert _experiments_after_import({grpc_server.ENGINE_VARIABLE: "aio"}) == "<unset>"


def test_a_full_queue_that_frees_room_soon_admits_the_call(serving_thread_receiver: RunningReceiver) -> None:
    """The call waits on the event loop for room instead of UNAVAILABLE at once; counted once, accepted."""
    rr = serving_thread_receiver
    rr.admission.full_for = 2
    assert export(rr.grpc_port, payloads.traces().SerializeToString()) == b""
    assert rr.admission.offers == 3 and len(rr.admission.admitted) == 1


def test_an_admission_failing_while_the_call_waits_for_room_still_answers(serving_thread_receiver: RunningReceiver,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    admission = serving_thread_receiver.admission
    admission.full_for = 1  # the first offer finds the queue full: the call waits on the event loop
    collect = type(admission).admit

    def broken_on_retry(*args: Any, **kwargs: Any) -> AdmitResult:
        if admission.offers >= 1:
            raise RuntimeError("admission bug")
        return collect(admission, *args, **kwargs)

    monkeypatch.setattr(admission, "admit", broken_on_retry)
    with pytest.raises(grpc.RpcError) as raised:
        export(serving_thread_receiver.grpc_port, payloads.traces().SerializeToString())
    assert raised.value.code() is grpc.StatusCode.INTERNAL
