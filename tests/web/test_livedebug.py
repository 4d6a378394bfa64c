"""Live debugging (`/api/v0/web/debug/<id>`) against a running collector with real SDK clients."""

from __future__ import annotations

import json
import socket
import time
from typing import Any, Iterator

import pytest

from collector.runtime.livedebug import Sampler, render_sampled
from collector.signals import Signal
from collector.testing.process import CollectorProcess, free_port
from collector.testing.sdk import send_spans, wait_until
from collector.testing.sink import SinkThread

CONFIG = """
livedebugging {
  enabled = true
}

otelcol.receiver.otlp "default" {
  http {
    endpoint = "127.0.0.1:%(otlp)d"
  }
  output {
    traces = [otelcol.processor.batch.default.input]
  }
}

otelcol.processor.batch "default" {
  timeout = "50ms"
  output {
    traces = [otelcol.exporter.otlphttp.sink.input]
  }
}

otelcol.exporter.otlphttp "sink" {
  client {
    endpoint = "%(sink)s"
    compression = "none"
  }
}
"""
BATCH = "otelcol.processor.batch.default"


class Stream:
    """A raw HTTP/1.0 connection to the debug stream (no chunking: the body runs until close), so
    a test decides when, and whether, it reads."""

    def __init__(self, port: int, path: str, *, receive_buffer: int | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.connect(("127.0.0.1", port))
        self.sock.settimeout(30)
        self.sock.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        self.data = b""

    def read_some(self, timeout: float = 0.5) -> None:
        """Read what arrives until nothing has for `timeout` seconds (at most 5 s)."""
        deadline = time.monotonic() + 5.0
        self.sock.settimeout(timeout)
        while time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(1 << 20)
            except TimeoutError:
                return
            if not chunk:
                return
            self.data += chunk

    @property
    def status(self) -> int:
        return int(self.data.split(b" ", 2)[1]) if b" " in self.data else 0

    def records(self) -> list[dict[str, Any]]:
        body = self.data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in self.data else b""
        return [json.loads(r) for r in body.split(b"|;|")[:-1]]

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def watched() -> Iterator[tuple[CollectorProcess, SinkThread, str]]:
    otlp = free_port()
    with SinkThread() as sink:
        # one traces worker: the stream's first item proves the (only) tap is on
        with CollectorProcess(CONFIG % {"otlp": otlp, "sink": sink.url}, shutdown_timeout="2s",
                              env={"COLLECTOR_TRACES_WORKERS": "1"}) as proc:
            yield proc, sink, f"http://127.0.0.1:{otlp}"


def tap_on(proc: CollectorProcess, stream: Stream, endpoint: str) -> None:
    """Send a marked span until the stream shows one (the supervisor switches taps asynchronously)."""
    def seen() -> bool:
        send_spans("http", endpoint, 1, name="warm-up")
        stream.read_some()
        return any(r.get("name") == "warm-up" for r in stream.records())

    assert wait_until(seen, timeout=30, interval=0.2), stream.data[:500]


def test_sample_prob_1_streams_every_item(watched: tuple[CollectorProcess, SinkThread, str]) -> None:
    proc, sink, endpoint = watched
    stream = Stream(proc.admin_port, f"/api/v0/web/debug/{BATCH}?sampleProb=1")
    try:
        tap_on(proc, stream, endpoint)
        assert stream.status == 200
        send_spans("http", endpoint, 200, name="watched", attributes={"case": "all"})

        def names() -> list[dict[str, Any]]:
            return [r for r in stream.records() if r.get("name") == "watched"]

        assert wait_until(lambda: stream.read_some() or len(names()) >= 200, timeout=30), len(names())
        items = names()
        assert sorted(r["attributes"]["i"] for r in items) == list(range(200))
        first = items[0]
        assert first["signal"] == "traces" and len(first["traceId"]) == 32 and len(first["spanId"]) == 16
        assert first["resource"]["service.name"] == "test" and first["attributes"]["case"] == "all"
        assert not any("dropped" in r for r in stream.records())
    finally:
        stream.close()


def test_a_receiver_is_watched_where_its_output_enters_the_workers(
        watched: tuple[CollectorProcess, SinkThread, str]) -> None:
    proc, _, endpoint = watched
    stream = Stream(proc.admin_port, "/api/v0/web/debug/otelcol.receiver.otlp.default?sampleProb=1")
    try:
        tap_on(proc, stream, endpoint)
        send_spans("http", endpoint, 30, name="received")
        assert wait_until(lambda: stream.read_some() or sum(r.get("name") == "received" for r in stream.records()) == 30,
                          timeout=30)
    finally:
        stream.close()


def test_a_viewer_that_never_reads_does_not_block_the_pipeline(
        watched: tuple[CollectorProcess, SinkThread, str]) -> None:
    proc, sink, endpoint = watched
    stream = Stream(proc.admin_port, f"/api/v0/web/debug/{BATCH}?sampleProb=1", receive_buffer=4096)
    try:
        tap_on(proc, stream, endpoint)
        before = sink.sink.items(Signal.TRACES)
        total = 12_000
        for _ in range(6):
            send_spans("http", endpoint, total // 6, name="flood")
        # the stream is not read meanwhile; the pipeline still delivers everything
        assert wait_until(lambda: sink.sink.items(Signal.TRACES) - before >= total, timeout=120), (
            sink.sink.items(Signal.TRACES) - before)
        assert proc.process is not None and proc.process.poll() is None

        def accounted() -> int:  # every flood span is either in the stream or counted as dropped
            stream.read_some(0.2)
            records = stream.records()
            return (sum(1 for r in records if r.get("name") == "flood")
                    + sum(r["dropped"] for r in records if "dropped" in r))

        assert wait_until(lambda: accounted() >= total, timeout=60, interval=0), accounted()
        assert accounted() == total  # nothing counted twice
        assert any("dropped" in r for r in stream.records())  # 12 000 lines do not fit in 4 KiB
    finally:
        stream.close()


def test_errors_are_clear(watched: tuple[CollectorProcess, SinkThread, str],
                          otel_collector: CollectorProcess) -> None:
    proc, _, _ = watched
    status, body = otel_collector.get(f"/api/v0/web/debug/{BATCH}")
    assert status == 503 and "live debugging service is disabled" in body and "livedebugging" in body
    status, body = proc.get("/api/v0/web/debug/otelcol.exporter.otlphttp.sink")
    assert status == 400 and "does not support live debugging" in body
    status, body = proc.get("/api/v0/web/debug/otelcol.processor.batch.nope")
    assert status == 404 and "unknown component" in body
    status, body = proc.get(f"/api/v0/web/debug/{BATCH}?sampleProb=2")
    assert status == 400 and "sampleProb" in body


@pytest.mark.parametrize("size", [8192, 600, 100, 1])
def test_sampler_picks_each_item_with_probability_p(size: int) -> None:
    import random

    assert Sampler(1.0).picks(5) == [0, 1, 2, 3, 4]
    assert Sampler(0.0).picks(1000) == []
    sampler = Sampler(0.01, random.Random(size))
    payloads = 2_000_000 // size
    decoded = picked = 0
    for _ in range(payloads):
        picks = sampler.picks(size)
        assert picks == sorted(set(picks)) and all(0 <= i < size for i in picks)
        decoded += bool(picks)
        picked += len(picks)
    assert 16_000 < picked < 24_000  # 2 000 000 items at p = 0.01 (clustered, so a wide margin)
    if size == 8192:
        assert decoded < payloads / 3  # most big batches are never decoded


def test_rendered_metric_points_and_logs() -> None:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    metrics = ExportMetricsServiceRequest()
    metric = metrics.resource_metrics.add().scope_metrics.add().metrics.add()
    metric.name = "requests"
    for value in (1, 2, 3):
        metric.sum.data_points.add(as_int=value)
    rendered = [json.loads(line) for line in render_sampled(Signal.METRICS, metrics, [0, 2])]
    assert [(r["metric"], r["type"], r["value"]) for r in rendered] == [("requests", "sum", 1), ("requests", "sum", 3)]
    logs = ExportLogsServiceRequest()
    record = logs.resource_logs.add().scope_logs.add().log_records.add(severity_text="WARN")
    record.body.string_value = "disk almost full"
    [line] = render_sampled(Signal.LOGS, logs, [0])
    assert json.loads(line)["body"] == "disk almost full" and json.loads(line)["severity"] == "WARN"


class _Supervisor:
    """What the hub needs of the supervisor: where to bind, and the tap switch (recorded)."""

    def __init__(self, run_dir: Any) -> None:
        self.debug_socket = run_dir / "livedebug.sock"
        self.taps: list[tuple[str, float]] = []

    def set_debug_tap(self, component_id: str, sample_prob: float) -> None:
        self.taps.append((component_id, sample_prob))


def test_hub_taps_at_the_highest_probability_and_resamples_per_viewer(tmp_path: Any) -> None:
    import asyncio

    from collector.web.livedebug import LiveDebugHub

    async def scenario() -> None:
        supervisor = _Supervisor(tmp_path)
        hub = LiveDebugHub(supervisor)  # type: ignore[arg-type]
        everything = hub.open(BATCH, 1.0)
        tenth = hub.open(BATCH, 0.1)
        assert supervisor.taps == [(BATCH, 1.0)]  # one tap, at the highest wanted probability
        lines = [b'{"signal":"traces","name":"%d"}' % i for i in range(1000)]
        hub.deliver(json.dumps({"component": BATCH, "dropped": 3}).encode() + b"\n" + b"\n".join(lines))
        assert everything.queue.qsize() == 1000 and everything.dropped_upstream == 3
        assert 40 < tenth.queue.qsize() < 200 and tenth.dropped_upstream == 3
        hub.close(everything)
        assert supervisor.taps[-1] == (BATCH, 0.1)  # the remaining viewer's probability
        hub.deliver(json.dumps({"component": BATCH, "dropped": 0}).encode() + b"\n" + b"\n".join(lines))
        assert tenth.queue.full() or tenth.queue.qsize() > 900  # now tapped at 0.1: everything it gets is kept
        hub.close(tenth)
        assert supervisor.taps[-1] == (BATCH, 0.0)  # nobody watches: the tap is off
        hub.close_all()
        assert not supervisor.debug_socket.exists()

    asyncio.run(scenario())


def test_a_slow_viewer_drops_and_counts_beyond_its_queue(tmp_path: Any) -> None:
    import asyncio

    from collector.web.livedebug import VIEWER_QUEUE, LiveDebugHub

    async def scenario() -> None:
        hub = LiveDebugHub(_Supervisor(tmp_path))  # type: ignore[arg-type]
        viewer = hub.open(BATCH, 1.0)
        lines = [b"{}"] * (VIEWER_QUEUE + 250)
        hub.deliver(json.dumps({"component": BATCH}).encode() + b"\n" + b"\n".join(lines))
        assert viewer.queue.qsize() == VIEWER_QUEUE and viewer.dropped_slow == 250
        hub.close_all()

    asyncio.run(scenario())


def test_watching_survives_a_reload_that_replaces_the_component_and_ends_when_disabled() -> None:
    import urllib.request

    otlp = free_port()
    with SinkThread() as sink:
        config = CONFIG % {"otlp": otlp, "sink": sink.url}
        with CollectorProcess(config, shutdown_timeout="2s", env={"COLLECTOR_TRACES_WORKERS": "1"}) as proc:
            endpoint = f"http://127.0.0.1:{otlp}"
            stream = Stream(proc.admin_port, f"/api/v0/web/debug/{BATCH}")
            try:
                tap_on(proc, stream, endpoint)

                def reload(text: str) -> None:
                    proc.config_path.write_text(text)
                    request = urllib.request.Request(proc.admin_url + "/-/reload", method="POST")
                    with urllib.request.urlopen(request, timeout=60) as answer:
                        assert answer.status == 200

                reload(config.replace('timeout = "50ms"', 'timeout = "60ms"'))  # the batch processor is replaced

                def watched_after_reload() -> bool:  # the new instance's fan-out carries the tap too
                    send_spans("http", endpoint, 5, name="after-reload")
                    stream.read_some()
                    return any(r.get("name") == "after-reload" for r in stream.records())

                assert wait_until(watched_after_reload, timeout=30, interval=0.2)
                reload(config.replace("enabled = true", "enabled = false"))

                def ended() -> bool:
                    stream.sock.settimeout(1.0)
                    try:
                        return stream.sock.recv(1 << 20) == b""
                    except TimeoutError:
                        return False

                assert wait_until(ended, timeout=30, interval=0)
            finally:
                stream.close()
