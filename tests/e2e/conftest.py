from __future__ import annotations

from typing import Iterator

import pytest

from collector.testing.process import CollectorProcess, free_port
from collector.testing.sink import OtlpSink, SinkThread

GATEWAY = """
otelcol.receiver.otlp "in" {{
  grpc {{
    endpoint = "127.0.0.1:{grpc_port}"
  }}
  http {{
    endpoint = "127.0.0.1:{http_port}"
  }}
  output {{
    traces  = [otelcol.processor.batch.b.input]
    logs    = [otelcol.processor.batch.b.input]
    metrics = [otelcol.processor.batch.b.input]
  }}
}}

otelcol.processor.batch "b" {{
  timeout = "50ms"
  output {{
    traces  = [otelcol.exporter.otlphttp.out.input]
    logs    = [otelcol.exporter.otlphttp.out.input]
    metrics = [otelcol.exporter.otlphttp.out.input]
  }}
}}

otelcol.exporter.otlphttp "out" {{
  client {{
    endpoint = "{sink_url}"
  }}
  retry_on_failure {{
    initial_interval = "50ms"
    max_interval     = "200ms"
    max_elapsed_time = "{max_elapsed}"
  }}
}}
"""


class Gateway:
    def __init__(self, sink: SinkThread, collector: CollectorProcess, grpc_port: int, http_port: int) -> None:
        self.sink = sink
        self.collector = collector
        self.grpc_port = grpc_port
        self.http_port = http_port

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_endpoint(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"


def start_gateway(*, env: dict[str, str] | None = None, max_elapsed: str = "5m", keep_requests: bool = True) -> Gateway:
    sink = SinkThread(OtlpSink(keep_requests=keep_requests)).start()
    grpc_port, http_port = free_port(), free_port()
    config = GATEWAY.format(grpc_port=grpc_port, http_port=http_port, sink_url=sink.url, max_elapsed=max_elapsed)
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
    gw = start_gateway()
    try:
        yield gw
    finally:
        gw.collector.close()
        gw.sink.stop()
