from __future__ import annotations

import math
import struct
from typing import Any

from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2

from collector.protocols.wire import any_value
from collector.protocols.prometheus.series import STALE_NAN, is_stale_nan
from collector.protocols.prometheus.expiry import DEPTH, GENERATION
from collector.protocols.prometheus.translate import (STALE_AFTER, TranslateOptions, TranslateStats, Translator,
                                                      attributes_key)

CUM = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
DELTA = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
T0 = 1_700_000_000_123_456_789  # ns -> 1700000000123 ms (truncated)
T0_MS = 1_700_000_000_123


def kv(target: Any, **attrs: Any) -> None:
    for key, value in attrs.items():
        key = key.replace("__", ".")
        target.add(key=key, value=any_value(value))


def request(resource: dict[str, Any] | None = None, scope: tuple[str, str] = ("lib", "1.0")) -> tuple[Any, Any]:
    req = metrics_service_pb2.ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    kv(rm.resource.attributes, **(resource if resource is not None else {"service__name": "api"}))
    sm = rm.scope_metrics.add()
    sm.scope.name, sm.scope.version = scope
    return req, sm


def rows(batch: Any) -> dict[str, tuple[float, int]]:
    out = {}
    for series, value, ts in batch.rows():
        out[repr(series)] = (value, ts)
    return out


def histogram_point(sm: Any, name: str, unit: str = "", temporality: int = CUM, **point: Any) -> Any:
    """Adds histogram `name` to `sm` with one data point at T0 made of `point`; returns the point."""
    h = sm.metrics.add(name=name, unit=unit)
    h.histogram.aggregation_temporality = temporality
    return h.histogram.data_points.add(time_unix_nano=T0, **point)


def samples(req: Any) -> list[tuple[str, float]]:
    """(series text, value) rows of `req` translated without scope labels, in output order."""
    batch = Translator(TranslateOptions(include_scope_labels=False)).translate(req)
    return [(repr(s), v) for s, v, _ in batch.rows()]


def test_gauge_counter_and_job_instance_labels() -> None:
    req, sm = request({"service__name": "api", "service__namespace": "shop", "service__instance__id": "i-1"})
    g = sm.metrics.add(name="system.memory.usage", unit="By")
    kv(g.gauge.data_points.add(time_unix_nano=T0, as_int=42).attributes, state="used")
    c = sm.metrics.add(name="http.requests", unit="1")
    c.sum.is_monotonic, c.sum.aggregation_temporality = True, CUM
    kv(c.sum.data_points.add(time_unix_nano=T0, as_double=7.5).attributes, http__method="GET", code=200, ok=True)
    batch = Translator().translate(req)
    assert rows(batch) == {
        'system_memory_usage_bytes{instance="i-1",job="shop/api",otel_scope_name="lib",otel_scope_version="1.0",'
        'state="used"}': (42.0, T0_MS),
        'http_requests_total{code="200",http_method="GET",instance="i-1",job="shop/api",ok="true",'
        'otel_scope_name="lib",otel_scope_version="1.0"}': (7.5, T0_MS),
    }
    assert [(m.family, m.type) for m in batch.metadata] == [("system_memory_usage_bytes", 2), ("http_requests_total", 1)]


def test_labels_are_sorted_bytewise_and_encoded() -> None:
    req, sm = request()
    g = sm.metrics.add(name="g")
    kv(g.gauge.data_points.add(time_unix_nano=T0, as_double=1).attributes, Zone="z", a="1")
    batch = Translator(TranslateOptions(include_scope_labels=False)).translate(req)
    assert batch.series[0].labels == (("Zone", "z"), ("__name__", "g"), ("a", "1"), ("job", "api"))


def test_target_info_with_non_identifying_attributes_only() -> None:
    req, sm = request({"service__name": "api", "service__instance__id": "i-1", "host__name": "node", "k8s__pod__name": ""})
    sm.metrics.add(name="g").gauge.data_points.add(time_unix_nano=T0, as_double=1)
    batch = Translator().translate(req)
    info = [r for r in rows(batch) if r.startswith("target_info")]
    assert info == ['target_info{host_name="node",instance="i-1",job="api"}']
    assert rows(batch)[info[0]] == (1.0, T0_MS)

    req, sm = request({"service__name": "api", "service__instance__id": "i-1"})
    sm.metrics.add(name="g").gauge.data_points.add(time_unix_nano=T0, as_double=1)
    assert not [r for r in rows(Translator().translate(req)) if r.startswith("target_info")]
    req, sm = request({"service__name": "api", "host__name": "node"})
    sm.metrics.add(name="g").gauge.data_points.add(time_unix_nano=T0, as_double=1)
    assert not [r for r in rows(Translator(TranslateOptions(include_target_info=False)).translate(req))
                if r.startswith("target_info")]


def test_non_monotonic_sum_is_gauge_and_delta_is_dropped() -> None:
    req, sm = request()
    s = sm.metrics.add(name="queue.size")
    s.sum.aggregation_temporality = CUM
    s.sum.data_points.add(time_unix_nano=T0, as_int=3)
    d = sm.metrics.add(name="delta.requests")
    d.sum.aggregation_temporality, d.sum.is_monotonic = DELTA, True
    d.sum.data_points.add(time_unix_nano=T0, as_int=3)
    histogram_point(sm, "delta.hist", temporality=DELTA, count=1)
    stats = TranslateStats()
    batch = Translator(TranslateOptions(include_scope_labels=False)).translate(req, stats)
    assert rows(batch) == {'queue_size{job="api"}': (3.0, T0_MS)}
    assert stats.dropped_delta == 2 and stats.points == 3 and stats.samples == 1


def test_histogram_buckets_cumulative_with_inf_sum_count() -> None:
    req, sm = request()
    histogram_point(sm, "http.duration", "s", count=10, sum=4.5, explicit_bounds=[0.005, 1.0, 1e6],
                    bucket_counts=[1, 2, 3, 4])
    assert samples(req) == [
        ('http_duration_seconds_bucket{job="api",le="0.005"}', 1.0),
        ('http_duration_seconds_bucket{job="api",le="1"}', 3.0),
        ('http_duration_seconds_bucket{job="api",le="1000000"}', 6.0),
        ('http_duration_seconds_bucket{job="api",le="+Inf"}', 10.0),
        ('http_duration_seconds_sum{job="api"}', 4.5),
        ('http_duration_seconds_count{job="api"}', 10.0),
    ]


def test_histogram_without_sum_has_no_sum_series() -> None:
    req, sm = request()
    histogram_point(sm, "h", count=2, explicit_bounds=[1.0], bucket_counts=[1, 1])
    names = [s.name for s in Translator().translate(req).series]
    assert names == ["h_bucket", "h_bucket", "h_count"]


def test_summary_quantiles() -> None:
    req, sm = request()
    s = sm.metrics.add(name="rpc.latency", unit="ms")
    dp = s.summary.data_points.add(time_unix_nano=T0, count=5, sum=12.0)
    dp.quantile_values.add(quantile=0.5, value=2.0)
    dp.quantile_values.add(quantile=0.99, value=9.0)
    assert samples(req) == [
        ('rpc_latency_milliseconds{job="api",quantile="0.5"}', 2.0),
        ('rpc_latency_milliseconds{job="api",quantile="0.99"}', 9.0),
        ('rpc_latency_milliseconds_sum{job="api"}', 12.0),
        ('rpc_latency_milliseconds_count{job="api"}', 5.0),
    ]


def test_no_recorded_value_becomes_stale_nan_for_every_series() -> None:
    req, sm = request()
    g = sm.metrics.add(name="g")
    g.gauge.data_points.add(time_unix_nano=T0, as_double=5, flags=1)
    histogram_point(sm, "h", count=3, sum=1.0, explicit_bounds=[1.0], bucket_counts=[1, 2], flags=1)
    batch = Translator().translate(req)
    assert len(batch) == 5
    assert all(is_stale_nan(v) for v in batch.values)
    assert struct.pack("<d", batch.values[0]) == bytes.fromhex("020000000000f07f")
    assert not is_stale_nan(math.nan)


def test_exponential_histogram_dropped_and_counted() -> None:
    req, sm = request()
    e = sm.metrics.add(name="e")
    e.exponential_histogram.aggregation_temporality = CUM
    e.exponential_histogram.data_points.add(time_unix_nano=T0, count=1)
    stats = TranslateStats()
    assert len(Translator().translate(req, stats)) == 0
    assert stats.dropped_exponential_histogram == 1


def test_exemplars_on_counter_and_histogram_bucket() -> None:
    req, sm = request()
    c = sm.metrics.add(name="c")
    c.sum.is_monotonic, c.sum.aggregation_temporality = True, CUM
    dp = c.sum.data_points.add(time_unix_nano=T0, as_int=1)
    dp.exemplars.add(time_unix_nano=T0, as_double=0.5, trace_id=bytes(range(16)), span_id=bytes(range(8)))
    hdp = histogram_point(sm, "h", count=3, explicit_bounds=[1.0, 2.0], bucket_counts=[1, 1, 1])
    hdp.exemplars.add(time_unix_nano=T0, as_double=1.5)
    hdp.exemplars.add(time_unix_nano=T0, as_double=9.0)
    batch = Translator().translate(req)
    ex = batch.exemplars
    assert ex[0].index == 0 and ex[0].labels == (("span_id", "0001020304050607"),
                                                  ("trace_id", "000102030405060708090a0b0c0d0e0f"))
    assert ex[0].value == 0.5 and ex[0].timestamp_ms == T0_MS
    assert ("le", "2") in batch.series[ex[1].index].labels
    assert ("le", "+Inf") in batch.series[ex[2].index].labels


def test_out_of_order_and_duplicate_points_skipped_and_series_reused() -> None:
    translator = Translator()
    req, sm = request()
    g = sm.metrics.add(name="g")
    kv(g.gauge.data_points.add(time_unix_nano=T0, as_double=1).attributes, a="x")
    first = translator.translate(req)
    again = TranslateStats()
    assert len(translator.translate(req, again)) == 0
    assert again.skipped_out_of_order == 1
    g.gauge.data_points[0].time_unix_nano = T0 + 1_000_000_000
    g.gauge.data_points[0].as_double = 2
    later = translator.translate(req)
    assert later.series[0] is first.series[0]
    assert later.values == [2.0]


def test_resource_to_telemetry_conversion_and_scope_info() -> None:
    req, sm = request({"service__name": "api", "region": "eu", "replicas": 2.0})
    kv(sm.scope.attributes, team="core")
    kv(sm.metrics.add(name="g").gauge.data_points.add(time_unix_nano=T0, as_double=1).attributes, region="local")
    opts = TranslateOptions(resource_to_telemetry_conversion=True, include_scope_info=True, include_target_info=False)
    got = rows(Translator(opts).translate(req))
    assert got == {
        'g{job="api",otel_scope_name="lib",otel_scope_version="1.0",region="local",replicas="2",service_name="api"}':
            (1.0, T0_MS),
        'otel_scope_info{job="api",otel_scope_name="lib",otel_scope_version="1.0",team="core"}': (1.0, T0_MS),
    }


def test_colliding_attribute_keys_joined_in_key_order() -> None:
    req, sm = request()
    kv(sm.metrics.add(name="g").gauge.data_points.add(time_unix_nano=T0, as_double=1).attributes,
       **{"b.c": "2", "b_c": "1"})
    series = Translator(TranslateOptions(include_scope_labels=False)).translate(req).series[0]
    assert dict(series.labels)["b_c"] == "2;1"  # "b.c" < "b_c"


def test_gc_forgets_unseen_series() -> None:
    now = [1000.0]
    translator = Translator(clock=lambda: now[0])
    req, sm = request()
    sm.metrics.add(name="g").gauge.data_points.add(time_unix_nano=T0, as_double=1)
    translator.translate(req)
    assert translator.cached_points == 1
    for _ in range(DEPTH + 1):  # the component rotates every GENERATION seconds
        now[0] += GENERATION
        translator.rotate()
    assert translator.cached_points == 0 and translator.retired_points == 1
    now[0] = 1100
    assert translator.gc() == 0 and translator.retired_points == 1
    now[0] = 1000 + GENERATION + STALE_AFTER + 1  # not used since the first rotation, STALE_AFTER ago
    assert translator.gc() == 1 and translator.retired_points == 0


def test_attributes_key_distinguishes_attribute_sets() -> None:
    a = metrics_pb2.NumberDataPoint(time_unix_nano=1, as_double=1)
    kv(a.attributes, x="1")
    b = metrics_pb2.NumberDataPoint(time_unix_nano=2, as_double=2, flags=1)
    kv(b.attributes, x="1")
    c = metrics_pb2.NumberDataPoint(time_unix_nano=1, as_double=1)
    kv(c.attributes, x="2")
    key = attributes_key
    assert key(a.SerializeToString(), 0x3A) == key(b.SerializeToString(), 0x3A) != key(c.SerializeToString(), 0x3A)


def test_stale_nan_constant() -> None:
    assert struct.pack("<Q", 0x7FF0000000000002) == struct.pack("<d", STALE_NAN)


def test_le_quantile_and_name_attributes_give_way_and_series_of_a_point_share_label_pairs() -> None:
    req, sm = request()
    hist = sm.metrics.add(name="h", unit="s")
    hist.histogram.aggregation_temporality = CUM
    dp = hist.histogram.data_points.add(time_unix_nano=T0, count=3, sum=1.0, explicit_bounds=[1.0],
                                        bucket_counts=[1, 2])
    kv(dp.attributes, le="attr", zone="z")
    dp.attributes.add(key="__name__", value=any_value("attr"))  # becomes the label `__name__`
    summary = sm.metrics.add(name="s")
    sp = summary.summary.data_points.add(time_unix_nano=T0, count=1, sum=2.0)
    sp.quantile_values.add(quantile=0.5, value=1.0)
    kv(sp.attributes, quantile="attr", zone="z")
    batch = Translator().translate(req)
    labels = {repr(s) for s in batch.series}
    assert 'h_seconds_bucket{job="api",le="1",otel_scope_name="lib",otel_scope_version="1.0",zone="z"}' in labels
    assert 'h_seconds_bucket{job="api",le="+Inf",otel_scope_name="lib",otel_scope_version="1.0",zone="z"}' in labels
    assert 'h_seconds_sum{job="api",le="attr",otel_scope_name="lib",otel_scope_version="1.0",zone="z"}' in labels
    assert 's{job="api",otel_scope_name="lib",otel_scope_version="1.0",quantile="0.5",zone="z"}' in labels
    assert 's_count{job="api",otel_scope_name="lib",otel_scope_version="1.0",quantile="attr",zone="z"}' in labels
    zone = [pair for s in batch.series if s.name.startswith("h_") for pair in s.labels if pair[0] == "zone"]
    assert len(zone) == 4 and all(pair is zone[0] for pair in zone)
