"""Counter folding, windowed rates and counter-derived health (no processes, no clock)."""

from __future__ import annotations

from collector.web.rates import RateTracker, counters_from_samples, derive_health

EXPORTER = "otelcol.exporter.otlphttp.traces"


def test_samples_fold_into_component_stats() -> None:
    values = counters_from_samples([
        ("otelcol_receiver_accepted_spans_total", {"component_id": "r", "transport": "grpc"}, 3.0),
        ("otelcol_receiver_accepted_spans_total", {"component_id": "r", "transport": "http"}, 4.0),
        ("otelcol_processor_incoming_items_total", {"component_id": "p", "otel_signal": "logs"}, 5.0),
        ("otelcol_exporter_sent_metric_points_total", {"component_id": "e"}, 6.0),
        ("otelcol_exporter_send_failed_metric_points_total", {"component_id": "e"}, 2.0),
        ("prometheus_remote_storage_samples_total", {"component_id": "rw", "url": "u"}, 9.0),
        ("prometheus_remote_storage_samples_retried_total", {"component_id": "rw", "url": "u"}, 4.0),
        ("process_cpu_seconds_total", {}, 1.0),
        ("otelcol_exporter_sent_spans_total", {}, 1.0),  # no component: ignored
    ])
    assert values[("r", "accepted", "traces")] == 7.0
    assert values[("r", "out", "traces")] == 7.0
    assert values[("p", "in", "logs")] == 5.0
    assert values[("e", "sent", "metrics")] == 6.0
    assert values[("e", "failed", "metrics")] == 2.0
    assert values[("rw", "out", "metrics")] == 5.0  # 9 attempts, 4 of them retried
    assert values[("rw", "failed", "metrics")] == 4.0
    assert not any(key[0] == "" for key in values)
    # r: accepted, in, out; p: accepted, in; e: sent, out, failed; rw: attempted, failed, unsuccessful, sent, out
    assert len(values) == 13


def test_rates_need_two_samples_and_cover_the_window() -> None:
    tracker = RateTracker(window=10.0)
    key = ("e", "out", "traces")
    tracker.observe(100.0, {key: 0.0})
    assert tracker.rate(key) is None
    tracker.observe(102.0, {key: 20.0})
    assert tracker.rate(key) == 10.0
    for at, value in ((104.0, 40.0), (106.0, 40.0), (108.0, 40.0), (110.0, 40.0), (112.0, 40.0), (114.0, 40.0)):
        tracker.observe(at, {key: value})
    # the window now starts at 104: nothing was added since
    assert tracker.rate(key) == 0.0
    assert tracker.span == 10.0


def test_counter_reset_counts_from_zero() -> None:
    tracker = RateTracker(window=10.0)
    key = ("p", "in", "logs")
    tracker.observe(0.0, {key: 100.0})
    tracker.observe(5.0, {key: 10.0})
    assert tracker.rate(key) == 2.0


def test_component_without_counters_has_no_rate() -> None:
    tracker = RateTracker(window=10.0)
    tracker.observe(0.0, {("a", "in", "logs"): 1.0})
    tracker.observe(2.0, {("a", "in", "logs"): 5.0, ("a", "in", "traces"): 4.0})
    assert tracker.component_rate("b", "in") is None
    assert tracker.component_rate("a", "out") is None
    assert tracker.component_rate("a", "in") == 4.0  # logs 2/s + traces 4 new over 2 s
    assert tracker.component_rate("a", "in", "logs") == 2.0


def test_derived_health_follows_send_outcomes_and_keeps_state_without_traffic() -> None:
    down = derive_health(None, failed=12, sent=0, window=10, now=1.0)
    assert down is not None and down.state == "unhealthy" and "12 items failed" in down.message
    idle = derive_health(down, failed=0, sent=0, window=10, now=2.0)
    assert idle is down
    still_down = derive_health(down, failed=3, sent=0, window=10, now=3.0)
    assert still_down is not None and still_down.updated == 1.0  # same state: since the first failure
    up = derive_health(still_down, failed=1, sent=40, window=10, now=4.0)
    assert up is not None and up.state == "healthy" and up.updated == 4.0
    assert derive_health(None, failed=None, sent=None, window=10, now=5.0) is None
