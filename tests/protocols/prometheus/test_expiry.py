"""Generational cache expiry (collector/protocols/prometheus/expiry.py) and the translator's use of it:
entries go after DEPTH generations without use, and what is written does not change."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2

from collector.protocols.prometheus import walrecord
from collector.protocols.prometheus.expiry import DEPTH, Generations
from collector.protocols.prometheus.series import SampleBatch, Series
from collector.protocols.prometheus.translate import STALE_AFTER, Translator
from collector.protocols.wire import any_value

T0 = 1_700_000_000_000_000_000
CUM = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE


def test_unused_entry_expires_after_depth_generations() -> None:
    cache: Generations[str, int] = Generations()
    cache["a"] = 1
    for generation in range(DEPTH):
        assert cache.rotate(float(generation)) == (float(generation), {})
        assert len(cache) == 1
    assert cache.young == {}
    assert cache.rotate(99.0) == (0.0, {"a": 1})  # not used since the rotation at 0.0
    assert len(cache) == 0 and not cache


def test_recalled_entry_is_young_again_and_survives() -> None:
    cache: Generations[str, int] = Generations()
    cache["a"] = 1
    cache["b"] = 2
    for generation in range(3 * DEPTH):
        expired = cache.rotate(float(generation))[1]
        assert "a" not in expired
        if expired:
            assert expired == {"b": 2} and generation == DEPTH
        assert cache.young.get("a") is None  # the hot path misses after a rotation ...
        assert cache.recall("a") == 1  # ... and the miss path brings the entry back
        assert cache.young == {"a": 1}
    assert cache.get("a") == 1 and cache.get("b") is None and cache.recall("b", -1) == -1


def test_none_values_are_entries_too() -> None:
    cache: Generations[str, bytes | None] = Generations()
    cache["dropped"] = None
    cache.rotate()
    assert cache.recall("dropped", b"missing") is None
    assert cache.young == {"dropped": None}


def test_empty_cache_rotates_for_free() -> None:
    cache: Generations[str, int] = Generations()
    for _ in range(10):
        cache.rotate()
    assert cache._older == []


def _request(step: int, series: int = 3) -> Any:
    req = metrics_service_pb2.ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.add(key="service.name", value=any_value("api"))
    sm = rm.scope_metrics.add()
    sm.scope.name = "lib"
    gauge = sm.metrics.add(name="g")
    hist = sm.metrics.add(name="h", unit="s")
    hist.histogram.aggregation_temporality = CUM
    for i in range(series):
        dp = gauge.gauge.data_points.add(time_unix_nano=T0 + step * 1_000_000, as_double=float(step))
        dp.attributes.add(key="k", value=any_value(f"v{i}"))
        hp = hist.histogram.data_points.add(time_unix_nano=T0 + step * 1_000_000, count=2, sum=1.0,
                                            explicit_bounds=[1.0], bucket_counts=[1, 1])
        hp.attributes.add(key="k", value=any_value(f"v{i}"))
    return req


def _rows(batch: Any) -> list[tuple[str, float, int]]:
    return sorted((repr(s), v, t) for s, v, t in batch.rows() if s.name != "target_info")


def _rotate(translator: Translator, times: int, now: list[float]) -> int:
    retired = 0
    for _ in range(times):
        now[0] += 15.0
        retired += translator.rotate()
    return retired


def test_series_in_use_keep_their_entries() -> None:
    now = [0.0]
    translator = Translator(clock=lambda: now[0])
    first = translator.translate(_request(1))
    for step in range(2, 3 * DEPTH):
        assert _rotate(translator, 1, now) == 0
        batch = translator.translate(_request(step))
        assert [id(s) for s in batch.series] == [id(s) for s in first.series]  # same cached Series: no rebuild
    assert translator.cached_points == 6  # back in full; their retired table stays until gc


def test_unused_series_are_retired_and_come_back_unchanged() -> None:
    now = [0.0]
    translator = Translator(clock=lambda: now[0])
    before = translator.translate(_request(5))
    assert translator.cached_points == 6
    assert _rotate(translator, DEPTH, now) == 0
    assert _rotate(translator, 1, now) == 6
    assert translator.cached_points == 0 and translator.retired_points == 6
    # the last timestamp written survives retirement: points that are not newer are still skipped
    stale = translator.translate(_request(5))
    older = translator.translate(_request(4))
    assert len(stale) == 0 and len(older) == 0
    assert translator.cached_points == 6  # back in full; their retired table stays until gc
    after = translator.translate(_request(6))
    assert [(name, ts) for name, _, ts in _rows(after)] == [(name, ts + 1) for name, _, ts in _rows(before)]


def test_a_series_retired_twice_is_judged_by_its_latest_timestamp() -> None:
    now = [0.0]
    translator = Translator(clock=lambda: now[0])
    translator.translate(_request(5, series=1))
    _rotate(translator, DEPTH + 1, now)
    assert len(translator.translate(_request(7, series=1))) > 0  # back, and newer
    _rotate(translator, DEPTH + 1, now)
    assert translator.retired_points == 4  # two tables, both holding the gauge and the histogram
    assert len(translator.translate(_request(6, series=1))) == 0  # older than 7: skipped
    assert len(translator.translate(_request(8, series=1))) > 0


def test_gc_forgets_retired_series_after_stale_after_then_the_resource() -> None:
    now = [0.0]
    translator = Translator(clock=lambda: now[0])
    translator.translate(_request(5))
    _rotate(translator, DEPTH + 1, now)  # retired; not used since the first rotation, at 15 s
    now[0] = 15.0 + STALE_AFTER - 1
    assert translator.gc() == 0 and translator.retired_points == 6
    now[0] = 15.0 + STALE_AFTER + 1
    assert translator.gc() == 6 and translator.retired_points == 0
    assert translator._resources == {}
    # forgotten as Alloy forgets it: an old point is written again
    assert len(translator.translate(_request(4))) > 0


def test_rotation_keeps_a_retired_series_last_timestamp_until_it_is_seen_again() -> None:
    now = [0.0]
    translator = Translator(clock=lambda: now[0])
    translator.translate(_request(5, series=1))
    _rotate(translator, DEPTH + 1, now)
    _rotate(translator, 3 * DEPTH, now)  # further rotations do not lose the retired timestamp
    assert translator.retired_points == 2
    assert len(translator.translate(_request(5, series=1))) == 0


def _one(series: Series, value: float, ts: int) -> SampleBatch:
    batch = SampleBatch()
    batch.append(series, value, ts)
    return batch


def test_wal_encoder_forgets_refs_only_after_an_idle_generation_and_readers_follow() -> None:
    a = Series({"__name__": "a"})
    b = Series({"__name__": "b"})
    encoder = walrecord.Encoder()
    records = [encoder.encode(_one(a, 1.0, 1), 0), encoder.encode(_one(b, 2.0, 2), 0)]
    assert encoder.expire() is False  # records were written during this generation
    assert encoder.decoder()._table == [a, b]
    assert encoder.expire() is True  # a generation without records: the refs go
    assert encoder.decoder()._table == []
    assert encoder.expire() is False  # nothing left to forget
    records.append(encoder.encode(_one(b, 3.0, 3), 0))  # b is defined again, as ref 0
    # a reader from the segment's start, and one seeded mid-segment before the expiry, read alike
    for decoder, start in ((walrecord.Decoder(), 0), (None, 2)):
        if decoder is None:
            seeded = walrecord.Encoder()
            seeded.encode(_one(a, 1.0, 1), 0)
            seeded.encode(_one(b, 2.0, 2), 0)
            decoder = seeded.decoder()
        decoded = [decoder.decode(body, 0).rows() for body in records[start:]]
        expected = [[(a, 1.0, 1)], [(b, 2.0, 2)], [(b, 3.0, 3)]][start:]
        assert [[(s.labels, v, t) for s, v, t in rows] for rows in decoded] == \
            [[(s.labels, v, t) for s, v, t in rows] for rows in expected]


def test_retired_table_finds_every_key_and_only_those() -> None:
    from collector.protocols.prometheus.translate import _Point, _Retired

    points = {}
    for i in range(500):
        point = _Point({}, 1000 + i)
        points[f"key-{i}".encode() * (i % 3 + 1)] = point
    table = _Retired(42.0, points)
    assert len(table) == 500 and table.since == 42.0
    assert all(table.get(key) == point.last_ts for key, point in points.items())
    assert table.get(b"key-1") is None and table.get(b"") is None
