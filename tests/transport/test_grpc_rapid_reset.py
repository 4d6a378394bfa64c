"""HTTP/2 abuse limits on the OTLP/gRPC server (grpc_limits): the stream limit is announced, Alloy's
`max_concurrent_streams` overrides it, and valid calls are served while a client floods the server
with HEADERS+RST_STREAM (no timing assertion: latency figures are in bench/rapid_reset.py)."""

from __future__ import annotations

import threading
import time
from typing import Iterator

import grpc
import h2.settings
import pytest

from collector.signals import Signal
from collector.testing.rapid_reset import FloodResult, flood, server_settings
from collector.transport.grpc_limits import DEFAULT_MAX_CONCURRENT_STREAMS, server_options
from tests.transport import payloads
from tests.transport.harness import RunningReceiver, default_args, running_receiver


def test_the_server_announces_a_stream_limit_by_default(receiver: RunningReceiver) -> None:
    settings = server_settings(receiver.grpc_port)
    assert settings[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] == DEFAULT_MAX_CONCURRENT_STREAMS


@pytest.fixture
def limited() -> Iterator[RunningReceiver]:
    yield from running_receiver(default_args(grpc={"max_concurrent_streams": 7}))


def test_alloys_max_concurrent_streams_replaces_the_default(limited: RunningReceiver) -> None:
    assert server_settings(limited.grpc_port)[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] == 7


def test_configured_channel_arguments_override_the_hardening_defaults() -> None:
    options = dict(server_options(0, [("grpc.http2.max_requests_per_read", 3), ("grpc.max_connection_age_ms", 1000)]))
    assert options["grpc.http2.max_requests_per_read"] == 3
    assert options["grpc.max_connection_age_ms"] == 1000
    assert options["grpc.max_concurrent_streams"] == DEFAULT_MAX_CONCURRENT_STREAMS


def test_valid_calls_are_served_during_a_rapid_reset_flood(receiver: RunningReceiver) -> None:
    stop = threading.Event()
    results: list[FloodResult] = []
    flooder = threading.Thread(target=lambda: results.append(flood(receiver.grpc_port, stop.is_set)), daemon=True)
    flooder.start()
    request = payloads.traces(2, 1)
    data = request.SerializeToString()
    try:
        time.sleep(0.3)  # let the flood get under way (not a timing assertion)
        with grpc.insecure_channel(f"127.0.0.1:{receiver.grpc_port}") as channel:
            export: grpc.UnaryUnaryMultiCallable = channel.unary_unary(Signal.TRACES.spec.grpc_method)
            for _ in range(20):
                response, call = export.with_call(data, timeout=30)
                assert call.code() == grpc.StatusCode.OK
    finally:
        stop.set()
        flooder.join(30)
    (result,) = results
    assert result.streams > 0
    assert len(receiver.admission.admitted) == 20
    assert all(a.data == data for a in receiver.admission.admitted)
