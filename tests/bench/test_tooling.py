"""Smoke tests of the benchmark tooling: payload shapes and stamps, sink counting (OTLP protobuf and
JSON, remote write) and delays, the load generator against the sink, and the results page."""

from __future__ import annotations

import json
import struct
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import snappy
import uvloop

from bench import report
from bench.load import Backoff, parse_retry_after, run_load
from bench.payloads import PROBE_METRIC, SENTINEL, STAMP_KEY, Shape, encode
from collector.protocols.prometheus.remote_write import WriteRequestEncoder
from collector.protocols.prometheus.series import encode_labels
from collector.signals import Signal
from collector.testing.sink import DelayRecorder, OtlpSink, SinkThread


@pytest.mark.parametrize("signal", list(Signal))
@pytest.mark.parametrize("fmt", ["protobuf", "json"])
def test_payload_shape_and_stamps(signal: Signal, fmt: str) -> None:
    shape = Shape(items_per_request=30, resources_per_request=3, attributes_per_item=4)
    bodies = encode(signal, shape, variants=2, fmt=fmt)  # type: ignore[arg-type]
    assert len(bodies) == 2 and bodies[0].body != bodies[1].body
    for encoded in bodies:
        assert encoded.items == 30
        assert len(encoded.stamps) == (30 if signal is Signal.METRICS else 1)  # metrics: every point's time
        stamped = encoded.stamped(1_800_000_000_123_456_789)
        assert len(stamped) == len(encoded.body)
        if fmt == "protobuf":
            message = signal.spec.request_class.FromString(stamped)
            assert signal.spec.count_items(message) == 30
            resources = getattr(message, signal.spec.resource_field)
            assert len(resources) == 3
            if signal is Signal.METRICS:
                probe = resources[0].scope_metrics[0].metrics[0]
                assert probe.name == PROBE_METRIC
                assert probe.gauge.data_points[0].time_unix_nano == 1_800_000_000_123_456_789
                histogram = resources[2].scope_metrics[0].metrics[2]
                assert histogram.histogram.data_points[0].time_unix_nano == 1_800_000_000_123_456_789
                assert histogram.histogram.aggregation_temporality == 2
            else:
                item = getattr(getattr(resources[0], signal.spec.scope_field)[0], signal.spec.item_field)[0]
                stamp = {kv.key: kv.value.string_value for kv in item.attributes}[STAMP_KEY]
                assert stamp == "1800000000123456789"
        else:
            doc = json.loads(stamped)
            assert str(SENTINEL) not in stamped.decode() and "1800000000123456789" in stamped.decode()
            if signal is Signal.TRACES:
                span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
                assert len(span["traceId"]) == 32 and len(span["spanId"]) == 16  # hex, not base64


def test_attribute_shape_flags() -> None:
    message = Signal.LOGS.spec.request_class.FromString(
        encode(Signal.LOGS, Shape(items_per_request=5, resources_per_request=1, attributes_per_item=7,
                                  resource_attributes=9, value_size=40), 1, stamp=False)[0].body)
    resource_logs = message.resource_logs[0]
    assert len(resource_logs.resource.attributes) == 9
    record = resource_logs.scope_logs[0].log_records[0]
    assert len(record.attributes) == 7
    assert len(record.attributes[0].value.string_value) == 40


def test_delay_recorder_finds_every_stamp() -> None:
    recorder = DelayRecorder()
    now = time.time_ns()
    bodies = [e.stamped(now - 5_000_000) for e in encode(Signal.TRACES, Shape(items_per_request=10), 3)]
    recorder.observe_otlp(Signal.TRACES, b"".join(bodies), now)  # a batch of three concatenated requests
    summary = recorder.summary()["traces"]
    assert summary["count"] == 3 and summary["p50_ms"] == pytest.approx(5.0)
    recorder.observe_otlp(Signal.TRACES, encode(Signal.TRACES, Shape(items_per_request=10), 1)[0].body, now)
    assert recorder.summary()["traces"]["count"] == 3  # an unpatched placeholder is not a delay
    recorder.reset()
    assert recorder.summary() == {}


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def test_sink_counts_otlp_json_and_remote_write() -> None:
    with SinkThread(OtlpSink()) as sink:
        now = time.time_ns()
        proto = encode(Signal.TRACES, Shape(items_per_request=20), 1)[0]
        assert _post(sink.url + "/v1/traces", proto.stamped(now), {"Content-Type": "application/x-protobuf"}) == 200
        logs = encode(Signal.LOGS, Shape(items_per_request=7), 1, fmt="json")[0]
        assert _post(sink.url + "/v1/logs", logs.stamped(now), {"Content-Type": "application/json"}) == 200
        names = ["bench_gauge", "bench_sum_total", "bench_histogram_bucket", "bench_histogram_sum",
                 "bench_histogram_count", "target_info", "bench_probe"]
        labels = [encode_labels([("__name__", n), ("job", "j")]) for n in names]
        sent_ms = now // 1_000_000 - 3
        body = WriteRequestEncoder().encode(labels, [1.0] * len(names), [sent_ms] * len(names))
        assert _post(sink.url + "/api/v1/write", snappy.compress(body),
                     {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"}) == 204
        with urllib.request.urlopen(sink.url + "/stats?reset_delays=1", timeout=10) as response:
            stats = json.load(response)
        assert stats["items"] == {"traces": 20, "logs": 7, "metrics": 4}  # gauge, counter, _count, probe
        assert stats["samples"] == len(names)
        assert set(stats["delays"]) == {"traces", "logs", "metrics"}
        assert stats["delays"]["metrics"]["count"] == 1
        assert sink.sink.delays is not None and sink.sink.delays.summary() == {}


def test_sink_failure_window_then_recovery() -> None:
    sink = OtlpSink()
    sink.fail(503, requests=1, retry_after="0")
    with SinkThread(sink) as running:
        body = encode(Signal.TRACES, Shape(items_per_request=3), 1)[0].body
        with pytest.raises(urllib.error.HTTPError) as refused:
            _post(running.url + "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
        assert refused.value.code == 503 and refused.value.headers["Retry-After"] == "0"
        assert _post(running.url + "/v1/traces", body, {"Content-Type": "application/x-protobuf"}) == 200
        assert sink.items(Signal.TRACES) == 3 and sink.stats.refused_requests == 1


def test_retry_hints() -> None:
    assert parse_retry_after("2") == 2.0 and parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
    backoff = Backoff()
    assert [backoff.next(None) for _ in range(3)] == [0.05, 0.1, 0.2]
    assert backoff.next(1.5) == 1.5


def test_load_generator_against_sink_retries_refusals() -> None:
    sink = OtlpSink()
    sink.fail(429, requests=3, retry_after="0")
    with SinkThread(sink) as running:
        report = uvloop.run(run_load(signal=Signal.TRACES, protocol="http", endpoint=running.url, duration=1.0,
                                     rate=None, concurrency=2, shape=Shape(items_per_request=50), progress=False))
        summary = report.summary()
        assert summary["items_accepted"] == sink.items(Signal.TRACES) > 0
        assert summary["refused"] == 3 and summary["retried"] == 3 and summary["failed"] == 0
        assert summary["items_offered"] == summary["items_accepted"]
        assert summary["latency_p99_ms"] >= summary["latency_p50_ms"] > 0
        assert sink.delays is not None and sink.delays.summary()["traces"]["count"] == summary["requests_accepted"]


def test_load_generator_grpc_refused_permanently_counts_failures() -> None:
    # Nothing serves gRPC here: UNAVAILABLE is retryable, so with no retry budget every request fails.
    from collector.testing.process import free_port

    report = uvloop.run(run_load(signal=Signal.LOGS, protocol="grpc", endpoint=f"127.0.0.1:{free_port()}",
                                 duration=0.3, rate=None, concurrency=1, shape=Shape(items_per_request=5),
                                 retry_for=0.0, progress=False))
    assert report.items_accepted == 0 and report.failed == report.requests_sent >= 1


def _point(scenario: str, target: str, workers: int, rate: float, cpu: float, sweep: bool = False) -> dict[str, object]:
    def s(v: float) -> dict[str, float]:
        return {"median": v, "min": v * 0.9, "max": v * 1.1}

    return {"scenario": scenario, "target": target, "workers": workers, "sweep": sweep, "items_per_s": s(rate),
            "cpu_s_per_million": s(cpu), "peak_rss_mib": s(100), "peak_pss_mib": s(80), "e2e_p99_ms": s(12),
            "loss": 0, "modes": ["max"], "runs": [{}, {}, {}]}


def test_report_renders_table_comparison_and_charts(tmp_path: Path) -> None:
    doc = {"machine": {"cpu": "test cpu", "cores": 2, "python": "3.11", "libraries": {"rotel": "x"},
                       "loadavg_at_start": [0.1, 0.2, 0.3]}, "started": "now",
           "points": [_point("traces-http", "collector", 1, 1000, 20), _point("traces-http", "collector", 2, 1500, 21, True),
                      _point("traces-http", "rotel", 1, 4000, 5)],
           "micro": {"pytest": [{"name": "otlp_decode[traces]", "unit": "spans", "items_per_s": 1e6}], "scripts": {}}}
    (tmp_path / "run-1.json").write_text(json.dumps(doc))
    readme = tmp_path / "README-top.md"
    readme.write_text(f"intro\n{report.BEGIN}\nold\n{report.END}\noutro\n")
    report.write(tmp_path, readme)
    page = (tmp_path / "README.md").read_text()
    assert "| traces-http | collector | 1 | 1,000 [900–1,100]" in page
    assert "**0.25×**" in page and "**4.00×**" in page  # items/s ratio and CPU-s per 1M ratio
    assert "| traces-http | 2 | 1,500 [1,350–1,650]" in page
    assert (tmp_path / "traces-http.png").stat().st_size > 0 and (tmp_path / "traces-http-workers.png").exists()
    top = readme.read_text()
    assert "old" not in top and "intro" in top and "outro" in top and "**0.25×**" in top


def test_steady_rate_uses_whole_seconds_of_sending() -> None:
    from bench.run import steady_rate

    start_ns = 1_000 * 10**9 + 300_000_000  # sending from second 1000.3 for 6 s
    per_second = [[1000, 5], [1001, 50], [1002, 100], [1003, 100], [1004, 120], [1005, 80], [1006, 900]]
    assert steady_rate(per_second, start_ns, 6.0) == pytest.approx((100 + 100 + 120 + 80) / 4)
    assert steady_rate(per_second, start_ns, 1.5) is None  # too short for a whole steady second


def test_comparisons_divide_ours_by_the_peer() -> None:
    from bench.run import comparisons

    points = [_point("logs-http", "collector", 1, 3000, 6), _point("logs-http", "rotel", 1, 6000, 3),
              _point("logs-http", "collector", 2, 5000, 7, True)]
    [row] = comparisons(points)  # type: ignore[arg-type]
    assert row["peer"] == "rotel" and row["items_per_s"]["ratio"] == 0.5 and row["cpu_s_per_million"]["ratio"] == 2.0


def test_light_load_and_idle_points_get_their_own_tables(tmp_path: Path) -> None:
    fixed = _point("traces-http-10k", "collector", 1, 10000, 4.5) | {"modes": ["fixed-rate"], "processes": 5,
                                                                     "cpu_percent": {"median": 4.5, "min": 4.4, "max": 4.6}}
    peer = _point("traces-http-10k", "rotel", 1, 10000, 9.0) | {"modes": ["fixed-rate"], "processes": 1}
    idle = {"scenario": "idle-default", "target": "collector", "workers": 1, "idle": True, "processes": 5,
            "cpu_percent": {"median": 0.3, "min": 0.2, "max": 0.4}, "pss_mib": {"median": 101.5, "min": 100, "max": 102},
            "peak_pss_mib": {"median": 103, "min": 103, "max": 103}, "rss_mib": {"median": 200, "min": 200, "max": 200},
            "modes": ["idle"], "loss": 0, "runs": [{}, {}, {}]}
    doc = {"machine": {"cpu": "test cpu", "cores": 2, "python": "3.11", "libraries": {},
                       "loadavg_at_start": [0.1, 0.2, 0.3]}, "started": "now", "points": [fixed, peer, idle]}
    (tmp_path / "run-1.json").write_text(json.dumps(doc))
    _page, summary = report.render(tmp_path)
    assert "| traces-http-10k | collector | 5 | 10,000 [9,000–11,000] | 4.50 [4.05–4.95] | 4.5 [4.4–4.6] | 80 [72–88]" \
        in summary
    assert "| traces-http-10k | rotel | 1 |" in summary
    assert "| idle-default | collector | 5 | 0.30 [0.20–0.40] | 101.5 [100.0–102.0] | 103.0 [103.0–103.0]" in summary
    assert "| traces-http-10k | rotel | 10,000 / 10,000 | **1.00×** | 4.50 / 9.00 | **0.50×** |" in summary
    assert not (tmp_path / "idle-default.png").exists()  # nothing to chart without a load


def test_scenarios_declare_fixed_rates_idle_runs_and_environment() -> None:
    from bench import scenario

    light = scenario.load("traces-http-10k")
    assert light.fixed_rate and not light.idle and light.loads[0].rate == 10000 and "rotel" in light.peers
    inline = scenario.load("traces-http-10k-inline")
    assert dict(inline.env) == {"COLLECTOR_WORKERS_MODE": "inline"}
    idle = scenario.load("idle-default")
    assert idle.idle and not idle.fixed_rate and idle.default_workers and idle.example == "default.alloy"
    assert not scenario.load("traces-http").fixed_rate


def test_idle_measurement_reads_the_tree() -> None:
    import os

    from bench.procstat import TreeMonitor
    from bench.run import measure_idle

    run = measure_idle(TreeMonitor(os.getpid()), duration=0.3, interval=0.1)
    assert run["mode"] == "idle" and run["processes"] >= 1
    assert run["pss_mib"] > 0 and run["peak_pss_mib"] >= run["pss_mib"] and run["cpu_percent"] >= 0
