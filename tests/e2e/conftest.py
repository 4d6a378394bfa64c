from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import pytest

from collector.testing.configs import FAST_RETRY, otlp_pipeline
from collector.testing.process import CollectorProcess, OtlpEndpoints, free_port
from collector.testing.sink import OtlpSink, SinkThread

def gateway_config(*, http_port: int, sink_url: str, grpc_port: int | None = None,
                   signals: tuple[str, ...] = ("traces", "logs", "metrics"), max_elapsed: str = "5m",
                   file_storage: str | None = None, batch_size: int | None = None) -> str:
    """The e2e tests' collector: OTLP in (HTTP, and gRPC when `grpc_port` is given) for `signals`, a
    50 ms batch processor, OTLP/HTTP out to `sink_url` with fast retries; with `file_storage`, the
    exporter's sending queue is persistent, kept by `otelcol.storage.file "<file_storage>"`; with
    `batch_size`, the batch processor sends a batch once it holds that many items, never more."""
    storage = f'\notelcol.storage.file "{file_storage}" {{}}\n' if file_storage else ""
    queue = (f"  sending_queue {{\n    storage = otelcol.storage.file.{file_storage}.handler\n  }}\n"
             if file_storage else "")
    return storage + otlp_pipeline(sink_url=sink_url, signals=signals, grpc_port=grpc_port, http_port=http_port,
                                   retry={**FAST_RETRY, "max_elapsed_time": max_elapsed}, exporter_extra=queue,
                                   batch_size=batch_size)


@dataclass
class Gateway(OtlpEndpoints):
    sink: SinkThread
    collector: CollectorProcess
    grpc_port: int
    http_port: int

    def close(self) -> None:
        """Stop the collector, then its backend (the sink): what every test that starts one ends with."""
        self.collector.close()
        self.sink.stop()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def start_gateway(*, env: dict[str, str] | None = None, max_elapsed: str = "5m", keep_requests: bool = True) -> Gateway:
    sink = SinkThread(OtlpSink(keep_requests=keep_requests)).start()
    grpc_port, http_port = free_port(), free_port()
    config = gateway_config(grpc_port=grpc_port, http_port=http_port, sink_url=sink.url, max_elapsed=max_elapsed)
    collector = CollectorProcess(config, env=env)
    try:
        collector.start()
    except Exception:
        collector.close()
        sink.stop()
        raise
    return Gateway(sink, collector, grpc_port, http_port)


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    with start_gateway() as gw:
        yield gw
