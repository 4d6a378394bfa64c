"""Runs an `otelcol.receiver.otlp` on an event loop in a background thread, so blocking clients
(the OpenTelemetry SDK exporters, urllib, sync gRPC stubs) can drive it from the test thread."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Coroutine, Iterator, TypeVar

import uvloop

from collector.components.kit.api import BuildContext, RuntimeServices
from collector.components.otelcol.receiver.otlp import Arguments, GrpcArguments, HttpArguments, OtlpReceiver
from collector.components.kit.types import Output
from collector.testing.admission import CollectingAdmission
from collector.testing.context import StaticWiring
from collector.transport.grpc_server import OtlpGrpcServer
from collector.transport.http_server import OtlpHttpServer

T = TypeVar("T")


class LoopThread:
    def __init__(self, use_uvloop: bool = True) -> None:
        self.loop = uvloop.new_event_loop() if use_uvloop else asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="receiver-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


def build_context(admission: Any, component_id: str = "otelcol.receiver.otlp.default") -> BuildContext:
    return BuildContext(component_id, OtlpReceiver.info, Path("data"), "127.0.0.1:0", "receiver", None, 0,
                        logging.getLogger(component_id), StaticWiring({}),
                        RuntimeServices(admission=admission, reuse_port=False))


def default_args(**http: Any) -> Arguments:
    grpc_kw = http.pop("grpc", {})
    args = Arguments(output=Output(), grpc=GrpcArguments(endpoint="127.0.0.1:0", **grpc_kw),
                     http=HttpArguments(endpoint="127.0.0.1:0", **http))
    args.validate()
    return args


class RunningReceiver:
    def __init__(self, loop: LoopThread, component: OtlpReceiver, admission: CollectingAdmission) -> None:
        self.loop = loop
        self.component = component
        self.admission = admission

    @property
    def http_port(self) -> int:
        return next(s.port for s in self.component.servers if isinstance(s, OtlpHttpServer))

    @property
    def grpc_port(self) -> int:
        return next(s.port for s in self.component.servers if isinstance(s, OtlpGrpcServer))

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


def running_receiver(args: Arguments | None = None, *, use_uvloop: bool = True) -> Iterator[RunningReceiver]:
    """Generator for fixtures: start, yield, shut down (twice: it must be idempotent), stop the loop."""
    loop = LoopThread(use_uvloop)
    admission = CollectingAdmission()
    component = OtlpReceiver(build_context(admission), args or default_args())
    try:
        loop.run(component.start())
        yield RunningReceiver(loop, component, admission)
    finally:
        loop.run(component.shutdown(time.monotonic() + 5))
        loop.run(component.shutdown(time.monotonic() + 5))
        loop.stop()

