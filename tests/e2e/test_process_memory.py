"""Each process holds only what it runs: libraries it does not use are not loaded (read from
/proc/<pid>/maps, where an extension module such as grpc's cygrpc shows as a mapped .so), the
Processes API reports its PSS split, and a ring a burst went through gives its pages back."""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Iterator

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.testing.process import CollectorProcess, free_port
from collector.testing.sdk import wait_until

GRPC = "cygrpc"  # grpc's extension module: loaded by `import grpc`
AIOHTTP = "/aiohttp/"  # aiohttp's extension modules (_http_parser, _http_writer, ...)

DEBUG_ONLY = """
otelcol.receiver.otlp "in" {
  grpc {
    endpoint = "127.0.0.1:%(grpc)d"
  }
  http {
    endpoint = "127.0.0.1:%(http)d"
  }
  output {
    traces = [otelcol.processor.batch.b.input]
    logs   = [otelcol.processor.batch.b.input]
  }
}

otelcol.processor.batch "b" {
  output {
    traces = [otelcol.exporter.debug.out.input]
    logs   = [otelcol.exporter.debug.out.input]
  }
}

otelcol.exporter.debug "out" {}
"""

HTTP_IN_GRPC_OUT = """
otelcol.receiver.otlp "in" {
  http {
    endpoint = "127.0.0.1:%(http)d"
  }
  output {
    traces = [otelcol.exporter.otlp.out.input]
    logs   = [otelcol.exporter.debug.out.input]
  }
}

otelcol.exporter.otlp "out" {
  client {
    endpoint = "127.0.0.1:%(sink)d"
    tls {
      insecure = true
    }
  }
}

otelcol.exporter.debug "out" {}
"""


def mapped_files(pid: int) -> str:
    with open(f"/proc/{pid}/maps") as handle:
        return handle.read()


PORTS = ("grpc", "http", "sink")


def start(config: str, ports: dict[str, int], fork_server: str = "on") -> CollectorProcess:
    return CollectorProcess(config % ports, env={"COLLECTOR_TRACES_WORKERS": "1", "COLLECTOR_LOGS_WORKERS": "1",
                                                 "COLLECTOR_METRICS_WORKERS": "1",
                                                 "COLLECTOR_FORK_SERVER": fork_server}).start()


@pytest.fixture
def debug_ports() -> dict[str, int]:
    return {name: free_port() for name in PORTS}


@pytest.fixture
def debug_only(debug_ports: dict[str, int]) -> Iterator[CollectorProcess]:
    collector = start(DEBUG_ONLY, debug_ports)
    try:
        yield collector
    finally:
        collector.close()


def process_maps(collector: CollectorProcess) -> dict[str, str]:
    assert collector.process is not None
    maps = {"supervisor": mapped_files(collector.process.pid)}
    maps.update({title: mapped_files(child.pid) for title, child in collector.children().items()})
    return maps


def test_only_the_grpc_receiver_loads_grpc(debug_only: CollectorProcess) -> None:
    maps = process_maps(debug_only)
    assert set(maps) == {"supervisor", "receiver/0", "worker traces/0", "worker logs/0", "worker metrics/0"}
    assert GRPC in maps["receiver/0"]  # the gRPC server runs there: the check sees a loaded grpc
    for title in ("supervisor", "worker traces/0", "worker logs/0", "worker metrics/0"):
        assert GRPC not in maps[title], f"{title} loaded grpc"


def test_without_the_fork_server_workers_load_no_http_library(debug_ports: dict[str, int]) -> None:
    """Fresh interpreters import only what they run. (Forked children map the libraries the fork server
    preloaded, aiohttp among them, but share those pages instead of paying for them each.)"""
    collector = start(DEBUG_ONLY, debug_ports, fork_server="off")
    try:
        maps = process_maps(collector)
        for title in ("worker traces/0", "worker logs/0", "worker metrics/0"):
            assert AIOHTTP not in maps[title], f"{title} loaded aiohttp (no HTTP server or client runs there)"
            assert GRPC not in maps[title], f"{title} loaded grpc"
    finally:
        collector.close()


def test_grpc_is_loaded_by_the_worker_whose_exporter_uses_it_only() -> None:
    collector = start(HTTP_IN_GRPC_OUT, {name: free_port() for name in PORTS})
    try:
        maps = process_maps(collector)
        assert GRPC in maps["worker traces/0"]
        for title in ("supervisor", "receiver/0", "worker logs/0", "worker metrics/0"):
            assert GRPC not in maps[title], f"{title} loaded grpc"
    finally:
        collector.close()


def test_processes_api_splits_each_process_pss(debug_only: CollectorProcess) -> None:
    def rows() -> list[dict[str, object]] | None:
        status, body = debug_only.get("/api/v0/web/processes")
        found = json.loads(body) if status == 200 else []
        return found if found and all(row.get("memory") for row in found) else None

    assert wait_until(lambda: rows() is not None, timeout=30)
    for row in rows() or []:
        memory = row["memory"]
        assert isinstance(memory, dict)
        assert memory["pssBytes"] > 0 and memory["anonBytes"] > 0 and memory["fileBytes"] > 0
        assert memory["anonBytes"] + memory["fileBytes"] + memory["shmemBytes"] <= memory["pssBytes"] + 4096


def big_request(size: int) -> bytes:
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = b"\1" * 16, b"\2" * 8, "burst"
    attribute = span.attributes.add()
    attribute.key, attribute.value.string_value = "padding", "x" * size
    return request.SerializeToString()


def test_a_ring_gives_back_the_pages_of_a_burst(debug_only: CollectorProcess, debug_ports: dict[str, int]) -> None:
    receiver = debug_only.children()["receiver/0"]
    rings = [line.split()[-1] for line in mapped_files(receiver.pid).splitlines() if "/dev/shm/collector-ring-" in line]
    traces_ring = next(path for path in rings if "-traces-" in path)
    http_port = debug_ports["http"]
    body = big_request(1 << 20)
    for _ in range(24):  # 24 MiB through a 64 MiB ring: without trimming every page written stays allocated
        post = urllib.request.Request(f"http://127.0.0.1:{http_port}/v1/traces", data=body,
                                      headers={"Content-Type": "application/x-protobuf"})
        with urllib.request.urlopen(post, timeout=30) as response:
            assert response.status == 200

    def allocated() -> int:
        return os.stat(traces_ring).st_blocks * 512

    assert wait_until(lambda: allocated() <= 64 << 10, timeout=60), f"{allocated()} bytes still allocated"
