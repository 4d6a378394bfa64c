from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import pytest

from collector.testing.process import CollectorProcess, OtlpEndpoints, free_port
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
    with start_gateway() as gw:
        yield gw
