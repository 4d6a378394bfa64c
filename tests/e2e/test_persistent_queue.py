"""The persistent sending queue end to end: a backend outage, a stop, a simulated reboot, a restart.

A reboot is simulated by stopping the collector (SIGTERM) and deleting its shared-memory rings: what
it had accepted survives only if it is in the queue files under `--storage.path` (the page cache,
which a real reboot without `fsync = true` could lose, survives this simulation).
"""

from __future__ import annotations

import os
from pathlib import Path

from collector.signals import Signal
from collector.testing.process import CollectorProcess, free_port
from collector.testing.sdk import send_logs, send_spans, wait_until
from collector.testing.sink import OtlpSink, SinkThread
from tests.e2e.conftest import gateway_config

SPANS = 5000
LOGS = 2000


def _delete_rings(storage: Path) -> list[str]:
    """The shared-memory segments of the collector whose instance is `storage` (a simulated reboot)."""
    from collector.runtime.instance import instance_id

    prefix = f"collector-ring-i{instance_id(storage)}-"
    removed = []
    for name in os.listdir("/dev/shm"):
        if name.startswith(prefix):
            os.unlink(f"/dev/shm/{name}")
            removed.append(name)
    return removed


def _key(attributes: object) -> tuple[int, int]:
    values = {a.key: a.value.int_value for a in attributes}  # type: ignore[attr-defined]
    return values.get("batch", -1), values.get("i", -1)


def _span_ids(sink: OtlpSink) -> list[tuple[int, int]]:
    return [_key(span.attributes) for request in sink.received[Signal.TRACES]
            for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]


def _log_ids(sink: OtlpSink) -> list[tuple[int, int]]:
    return [_key(record.attributes) for request in sink.received[Signal.LOGS]
            for rl in request.resource_logs for sl in rl.scope_logs for record in sl.log_records]


def _start(workdir: Path, sink: SinkThread, batch_size: int | None = None, **env: str) -> tuple[CollectorProcess, str]:
    http_port = free_port()
    config = gateway_config(grpc_port=free_port(), http_port=http_port, sink_url=sink.url, signals=("traces", "logs"),
                            max_elapsed="0s", file_storage="queue", batch_size=batch_size)
    collector = CollectorProcess(config, workdir=workdir, shutdown_timeout="2s",
                                 env={"COLLECTOR_TRACES_WORKERS": "2", "COLLECTOR_LOGS_WORKERS": "1", **env})
    try:
        collector.start()
    except Exception:
        collector.stop()
        raise
    return collector, f"http://127.0.0.1:{http_port}"


def _queue_root(collector: CollectorProcess) -> Path:
    return collector.storage / "otelcol.storage.file.queue" / "otelcol.exporter.otlphttp.out"


def test_outage_stop_reboot_restart_delivers_every_span_and_log(tmp_path: Path) -> None:
    sink = SinkThread(OtlpSink(keep_requests=True)).start()
    try:
        sink.sink.fail(503, retry_after="0")  # the backend is down for the whole first run
        first, url = _start(tmp_path, sink)
        try:
            # in rounds of 1,000: the SDK's batch processors drop beyond their own queue of 2,048
            for chunk in range(SPANS // 1000):
                send_spans("http", url, 1000, attributes={"batch": chunk})
            for chunk in range(LOGS // 1000):
                send_logs("http", url, 1000, attributes={"batch": chunk})
            assert wait_until(lambda: sink.sink.stats.refused_requests > 0, timeout=30)
        finally:
            assert first.stop() == 0
        assert {"logs-0", "traces-0", "traces-1"} <= {p.name for p in _queue_root(first).iterdir()}
        assert sink.sink.items(Signal.TRACES) == 0 and sink.sink.items(Signal.LOGS) == 0
        _delete_rings(first.storage)  # simulated reboot: shared memory is gone, the disk is not

        sink.sink.recover()
        second, _ = _start(tmp_path, sink)
        try:
            assert wait_until(lambda: len(set(_span_ids(sink.sink))) == SPANS
                              and len(set(_log_ids(sink.sink))) == LOGS, timeout=90), (
                f"spans {len(set(_span_ids(sink.sink)))}/{SPANS}, logs {len(set(_log_ids(sink.sink)))}/{LOGS}\n"
                + second.logs())
            duplicates = len(_span_ids(sink.sink)) - SPANS + len(_log_ids(sink.sink)) - LOGS
            print(f"duplicates after the restart: {duplicates}")  # at-least-once: counted, not a failure
            assert second.metric_value("collector_dropped_spans_total") == 0
            assert second.metric_value("collector_dropped_log_records_total") == 0
        finally:
            second.close()
    finally:
        sink.stop()


def _intact_ids(segment: Path) -> tuple[set[tuple[int, int]], int]:
    """The (batch, i) ids of the records of a damaged segment that check out, and the items of the
    damaged records whose header survived (what the collector must count as corrupt)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from collector.storage.queuefile import Damage, decode_body, scan

    ids: set[tuple[int, int]] = set()
    damaged = 0
    found = list(scan(segment.read_bytes()))
    for position, item in enumerate(found):
        if isinstance(item, Damage):
            if item.items >= 0 and position < len(found) - 1:
                damaged += item.items
            continue
        request = ExportTraceServiceRequest()
        request.ParseFromString(decode_body(item.body, item.flags))
        ids.update(_ids_of(request))
    return ids, damaged


def _ids_of(request: object) -> list[tuple[int, int]]:
    found = []
    for rs in request.resource_spans:  # type: ignore[attr-defined]
        for ss in rs.scope_spans:
            for span in ss.spans:
                attrs = {a.key: a.value.int_value for a in span.attributes}
                found.append((attrs.get("batch", -1), attrs.get("i", -1)))
    return found


def test_corrupted_queue_file_is_skipped_counted_and_logged(tmp_path: Path) -> None:
    from collector.storage.queuefile import HEADER_SIZE, Frame, scan

    sink = SinkThread(OtlpSink(keep_requests=True)).start()
    try:
        sink.sink.fail(503, retry_after="0")
        # batches of exactly 100 spans: one record per request, however fast the requests come
        first, url = _start(tmp_path, sink, batch_size=100, COLLECTOR_TRACES_WORKERS="1")
        try:
            for batch in range(20):
                send_spans("http", url, 100, attributes={"batch": batch})
            assert wait_until(lambda: sink.sink.stats.refused_requests > 0, timeout=30)
        finally:
            assert first.stop() == 0
        _delete_rings(first.storage)
        [segment] = sorted((_queue_root(first) / "traces-0").glob("*.q"))
        raw = bytearray(segment.read_bytes())
        records = [item for item in scan(bytes(raw)) if isinstance(item, Frame)]
        assert len(records) >= 3, [record.items for record in records]
        victim = records[len(records) // 2]  # neither the first nor the last, whose tail is torn below
        body_middle = (victim.offset + HEADER_SIZE + victim.end) // 2
        for offset in range(body_middle, body_middle + 16):  # flipped bytes inside one record's body
            raw[offset] ^= 0x5A
        segment.write_bytes(bytes(raw[:-20]))  # and a torn tail
        expected, damaged = _intact_ids(segment)
        assert 0 < len(expected) < 2000 and damaged == victim.items

        sink.sink.recover()
        second, _ = _start(tmp_path, sink, COLLECTOR_TRACES_WORKERS="1")
        try:
            assert wait_until(lambda: expected <= set(_ids_of_sink(sink.sink)), timeout=60), second.logs()
            counted = second.metric_value("collector_dropped_spans_total", reason="corrupt")
            assert counted == damaged and counted > 0, second.logs()  # the damaged record is counted...
            logs = second.logs()
            assert "skipped a corrupt record" in logs  # ...and logged, as is the torn tail
            assert "torn by a crash" in logs
            assert "Traceback" not in logs
            assert second.process is not None and second.process.poll() is None  # no crash loop
        finally:
            second.close()
    finally:
        sink.stop()


def _ids_of_sink(sink: OtlpSink) -> list[tuple[int, int]]:
    return [pair for request in sink.received[Signal.TRACES] for pair in _ids_of(request)]
