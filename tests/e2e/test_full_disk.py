"""A full disk under `--storage.path`, end to end: retryable refusals, recovery, nothing accepted lost.

The collector's `--storage.path` is a tiny tmpfs; the exporter's backend answers 503, so every batch
goes to the persistent queue on that tmpfs until it is full. Then appends fail: the exporter holds
its batches, the ring fills and the receiver must refuse (503/429, retryable) instead of answering 200
for data it cannot keep; `/-/healthy` names the exporter. Once the backend is back the queue drains,
its files are deleted, appends work again and new data is accepted. Every span of every request that
was answered 200 must reach the backend (duplicates allowed: at least once), and nothing is counted
as dropped.

Requests are plain OTLP/HTTP protobuf POSTs (no SDK: it retries on its own, which would hide which
request was answered what), each with its own span ids and an incompressible attribute so the
queue files grow quickly.
"""

from __future__ import annotations

import os
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.signals import Signal
from collector.testing.process import CollectorProcess, free_port
from collector.testing.sdk import wait_until
from collector.testing.sink import OtlpSink, SinkThread
from collector.testing.tmpfs import mounted_tmpfs
from tests.e2e.conftest import gateway_config

DISK = "6m"
SPANS_PER_REQUEST = 200
PAD_BYTES = 300  # random, so snappy cannot shrink the queue records: ~70 KB on disk per request
EXPORTER = "otelcol.exporter.otlphttp.out"


def _request(first_id: int) -> tuple[bytes, set[bytes]]:
    """An Export request of SPANS_PER_REQUEST spans with span ids first_id, first_id + 1, ..."""
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    ids = set()
    for n in range(first_id, first_id + SPANS_PER_REQUEST):
        span = spans.add()
        span.span_id = n.to_bytes(8, "big")
        span.trace_id = os.urandom(16)
        span.name = "full-disk"
        span.start_time_unix_nano = time.time_ns()
        span.end_time_unix_nano = span.start_time_unix_nano + 1000
        pad = span.attributes.add()
        pad.key = "pad"
        pad.value.bytes_value = os.urandom(PAD_BYTES)
        ids.add(span.span_id)
    return request.SerializeToString(), ids


class Client:
    """Sends requests with fresh span ids and remembers what each answer promised."""

    def __init__(self, url: str) -> None:
        self.url = url + "/v1/traces"
        self.next_id = 1
        self.accepted: set[bytes] = set()
        self.refused: list[tuple[int, str | None]] = []  # (status, Retry-After)
        self.other: list[str] = []

    def send(self) -> int:
        body, ids = _request(self.next_id)
        self.next_id += SPANS_PER_REQUEST
        post = urllib.request.Request(self.url, data=body, method="POST",
                                      headers={"Content-Type": "application/x-protobuf"})
        try:
            with urllib.request.urlopen(post, timeout=15) as response:
                response.read()
                status = response.status
        except urllib.error.HTTPError as err:
            status = err.code
            err.read()
            if status in (429, 503):
                self.refused.append((status, err.headers.get("Retry-After")))
            else:
                self.other.append(f"HTTP {status}")
            return status
        except (urllib.error.URLError, OSError) as err:  # no answer: promises nothing, counted apart
            self.other.append(repr(err))
            return -1
        if status == 200:
            self.accepted |= ids
        else:
            self.other.append(f"HTTP {status}")
        return status


def _received(sink: OtlpSink) -> set[bytes]:
    return {span.span_id for request in sink.received[Signal.TRACES]
            for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans}


def _disk_used(path: Path) -> int:
    usage = shutil.disk_usage(path)
    return usage.used


def test_full_storage_path_refuses_retryably_recovers_and_loses_nothing(tmp_path: Path) -> None:
    with mounted_tmpfs(tmp_path / "disk", DISK, what="FULL-DISK E2E TEST") as disk:
        _fill_recover_and_check(tmp_path, disk)


def _fill_recover_and_check(tmp_path: Path, disk: Path) -> None:
    sink = None
    collector = None
    try:
        sink = SinkThread(OtlpSink(keep_requests=True)).start()
        sink.sink.fail(503, retry_after="0")  # the backend is down: the queue on the tiny disk grows
        http_port = free_port()
        collector = CollectorProcess(
            gateway_config(http_port=http_port, sink_url=sink.url, signals=("traces",), max_elapsed="0s",
                           file_storage="q"), workdir=tmp_path, storage=disk,
            shutdown_timeout="2s",
            env={"COLLECTOR_TRACES_WORKERS": "1", "COLLECTOR_METRICS_WORKERS": "1", "COLLECTOR_LOGS_WORKERS": "1",
                 "COLLECTOR_RECEIVER_PROCESSES": "1", "COLLECTOR_RING_BYTES": str(1 << 20)})
        collector.start()
        client = Client(f"http://127.0.0.1:{http_port}")

        # 1. fill the disk: send until the exporter is unhealthy and the receiver refuses a few requests
        #    in a row (a refusal alone may be a busy ring; pause after one, as a client would)
        def unhealthy() -> bool:
            status, text = collector.get("/-/healthy")
            return status == 503 and EXPORTER in text

        deadline = time.monotonic() + 60
        in_a_row = 0
        full = False
        while not (full and in_a_row >= 3) and time.monotonic() < deadline:
            if client.send() in (429, 503):
                in_a_row += 1
                full = full or unhealthy()
                time.sleep(0.1)
            else:
                in_a_row = 0
        used = _disk_used(disk)
        assert full and in_a_row >= 3, (
            f"the disk never filled: {len(client.accepted)} spans accepted, {len(client.refused)} refused, disk "
            f"{used} bytes used, other answers {client.other[-5:]}\n{collector.logs()[-4000:]}")
        assert client.accepted, "nothing was accepted before the disk filled"
        assert all(retry_after for status, retry_after in client.refused if status == 503), client.refused
        print(f"disk full after {len(client.accepted)} accepted spans, {len(client.refused)} refusals, "
              f"{used} bytes used on the tmpfs")

        # 2. the exporter stays unhealthy while its queue cannot append (the host polls every second)
        time.sleep(1.5)
        assert unhealthy(), collector.get("/-/healthy")
        assert "Persistent queue append failed" in collector.logs(), collector.logs()[-4000:]
        assert sink.sink.items(Signal.TRACES) == 0

        # 3. the backend is back: the queue drains, its files go, appends work again
        sink.sink.recover()
        assert wait_until(lambda: client.accepted <= _received(sink.sink), timeout=45), (
            f"{len(client.accepted - _received(sink.sink))} of {len(client.accepted)} accepted spans "
            f"not delivered yet\n{collector.logs()[-4000:]}")
        assert wait_until(lambda: collector.get("/-/healthy")[0] == 200, timeout=15), collector.get("/-/healthy")

        # 4. one more round is accepted (refusals may linger while the rings empty: retry briefly)
        before = len(client.accepted)
        deadline = time.monotonic() + 15
        accepted_after = 0
        while accepted_after < 5 and time.monotonic() < deadline:
            if client.send() == 200:
                accepted_after += 1
            else:
                time.sleep(0.2)
        assert accepted_after == 5, (f"not accepting again after the disk was freed: {client.refused[-3:]} "
                                     f"{client.other[-3:]}, disk {_disk_used(disk)} bytes used\n"
                                     f"{collector.logs()[-4000:]}")
        assert len(client.accepted) == before + 5 * SPANS_PER_REQUEST

        # 5. every span of every request answered 200 arrived; nothing counted as dropped
        assert wait_until(lambda: client.accepted <= _received(sink.sink), timeout=30), (
            f"{len(client.accepted - _received(sink.sink))} accepted spans lost\n{collector.logs()[-4000:]}")
        delivered = sum(1 for request in sink.sink.received[Signal.TRACES]
                        for rs in request.resource_spans for ss in rs.scope_spans for _ in ss.spans)
        print(f"{len(client.accepted)} spans accepted, {delivered} delivered "
              f"({delivered - len(_received(sink.sink))} duplicates), {len(client.refused)} refused")
        assert collector.metric_value("collector_dropped_spans_total") == 0, collector.get("/metrics")[1]
        assert collector.metric_value("collector_dropped_traces_total") == 0
        assert not client.other, client.other
        logs = collector.logs()
        assert "Traceback" not in logs, logs[-6000:]
        assert collector.stop() == 0, collector.logs()[-4000:]
    finally:
        if collector is not None:
            collector.close()
        if sink is not None:
            sink.stop()
