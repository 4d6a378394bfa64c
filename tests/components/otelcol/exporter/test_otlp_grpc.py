from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc
import msgspec
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

from collector.components.kit.api import ArgumentError
from collector.components.otelcol.exporter.otlp import Arguments, OTLPExporter, grpc_target
from collector.selfmetrics.otelcol import EXPORTER_SEND_FAILED, EXPORTER_SENT
from collector.signals import Signal
from collector.testing.context import build_context
from tests.components.otelcol.exporter.test_otlphttp import Tokens, counter
from tests.signals import otlp_data as data


class GrpcBackend:
    """A grpc.aio server for the three Export methods: fails per a script of codes, then succeeds."""

    def __init__(self, script: list[tuple[grpc.StatusCode, float | None]]) -> None:
        self.script = list(script)
        self.calls = 0
        self.items = 0
        self.metadata: list[dict[str, Any]] = []

    async def start(self) -> None:
        """Created inside the running loop (grpc.aio servers bind to the loop that makes them)."""
        self.server = grpc.aio.server()
        for signal in Signal:
            handler = grpc.unary_unary_rpc_method_handler(self._handler(signal))
            self.server.add_generic_rpc_handlers(
                (grpc.method_handlers_generic_handler(signal.spec.grpc_service, {"Export": handler}),))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        await self.server.start()

    def _handler(self, signal: Signal):  # type: ignore[no-untyped-def]
        async def export(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            self.calls += 1
            self.metadata.append(dict(context.invocation_metadata() or ()))
            if self.script:
                code, delay = self.script.pop(0)
                if delay is not None:
                    status = status_pb2.Status(code=code.value[0], message="slow down")
                    detail = any_pb2.Any()
                    detail.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(nanos=int(delay * 1e9))))
                    status.details.append(detail)
                    context.set_trailing_metadata((("grpc-status-details-bin", status.SerializeToString()),))
                await context.abort(code, "scripted")
            message = signal.spec.request_class()
            message.ParseFromString(request)
            self.items += signal.spec.count_items(message)
            return signal.spec.response_class().SerializeToString()

        return export


def args_for(port: int, **client: Any) -> Arguments:
    args = msgspec.convert({
        "client": {"endpoint": f"127.0.0.1:{port}", "tls": {"insecure": True}, "headers": {"X-Scope-OrgID": "t"},
                   **client},
        "retry_on_failure": {"initial_interval": 0.01, "max_interval": 0.02, "max_elapsed_time": 10.0},
    }, Arguments)
    args.validate()
    return args


async def run_exporter(backend: GrpcBackend, payload_count: int, tokens: Tokens, **client: Any) -> str:
    await backend.start()
    cid = f"otelcol.exporter.otlp.g{time.monotonic_ns()}"
    exporter = OTLPExporter(build_context(OTLPExporter, cid), args_for(backend.port, **client))
    await exporter.start()
    try:
        for _ in range(payload_count):
            await exporter.consume(data.payload(Signal.TRACES, data.traces([[5]]), token=tokens.new()))
        while not all(tokens.released.values()):
            await asyncio.sleep(0.01)
    finally:
        await exporter.shutdown(time.monotonic() + 5)
        await backend.server.stop(None)
    return cid


def test_delivers_with_gzip_and_metadata() -> None:
    tokens = Tokens()
    backend = GrpcBackend([])
    cid = asyncio.run(run_exporter(backend, 4, tokens))
    assert backend.items == 20 and backend.calls == 4
    assert backend.metadata[0]["x-scope-orgid"] == "t"
    assert counter(EXPORTER_SENT[Signal.TRACES], cid) == 20
    assert tokens.all_once()


def test_unavailable_then_ok_delivers_everything() -> None:
    tokens = Tokens()
    backend = GrpcBackend([(grpc.StatusCode.UNAVAILABLE, None)] * 3 + [(grpc.StatusCode.RESOURCE_EXHAUSTED, 0.01)])
    cid = asyncio.run(run_exporter(backend, 2, tokens, compression="none"))
    assert backend.items == 10 and backend.calls == 6
    assert counter(EXPORTER_SEND_FAILED[Signal.TRACES], cid) == 0
    assert tokens.all_once()


@pytest.mark.parametrize("code", [grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED,
                                  grpc.StatusCode.PERMISSION_DENIED])
def test_permanent_codes_drop_after_one_call(code: grpc.StatusCode) -> None:
    tokens = Tokens()
    backend = GrpcBackend([(code, None)] * 2)
    cid = asyncio.run(run_exporter(backend, 2, tokens))
    assert backend.calls == 2 and backend.items == 0
    assert counter(EXPORTER_SEND_FAILED[Signal.TRACES], cid) == 10
    assert tokens.all_once()


@pytest.mark.parametrize("endpoint,target", [("host:4317", "host:4317"), ("http://host:4317", "host:4317"),
                                             ("https://host:4317/", "host:4317")])
def test_grpc_target(endpoint: str, target: str) -> None:
    assert grpc_target(endpoint) == target


def test_validation() -> None:
    with pytest.raises(ArgumentError) as info:
        msgspec.convert({"client": {"endpoint": "x:1", "compression": "zstd"}}, Arguments).validate()
    assert info.value.attribute == "client.compression"
    defaults = msgspec.convert({"client": {"endpoint": "x:1"}}, Arguments)
    assert defaults.timeout == 5.0 and not defaults.client.tls.insecure and defaults.client.compression == "gzip"
