from __future__ import annotations

import math

from collector.protocols.prometheus import walrecord
from collector.protocols.prometheus.remote_write import WriteRequestEncoder
from collector.protocols.prometheus.series import STALE_NAN, Exemplar, SampleBatch, Series, is_stale_nan


def _batch() -> SampleBatch:
    a = Series({"__name__": "up", "job": "x"})
    b = Series({"__name__": "req_total", "job": "x", "code": "200"})
    batch = SampleBatch()
    batch.append(a, 1.0, 1_700_000_000_000)
    batch.append(b, 12.5, 1_700_000_000_001)
    batch.append(a, STALE_NAN, 1_700_000_015_000)
    batch.append(b, -3.0, 5)  # a timestamp of unusual width
    batch.exemplars.append(Exemplar(1, (("trace_id", "ab"),), 0.25, 1_700_000_000_001))
    return batch


def _check(decoded: SampleBatch, batch: SampleBatch) -> None:
    assert [s.labels for s in decoded.series] == [s.labels for s in batch.series]
    assert decoded.timestamps_ms == batch.timestamps_ms
    assert decoded.values[:2] == batch.values[:2] and decoded.values[3] == batch.values[3]
    assert math.isnan(decoded.values[2]) and is_stale_nan(decoded.values[2])
    assert decoded.exemplars == batch.exemplars


def test_columnar_round_trip_keeps_samples_exemplars_and_series_identity() -> None:
    batch = _batch()
    decoder = walrecord.Decoder()
    decoded = decoder.decode(walrecord.encode(batch))
    _check(decoded, batch)
    assert decoded.series[0] is decoded.series[2]
    again = decoder.decode(walrecord.encode(batch))
    assert again.series[0] is decoded.series[0]  # endpoint caches keyed by Series keep hitting


def test_write_request_records_of_older_wals_still_decode() -> None:
    batch = _batch()
    body = WriteRequestEncoder().encode([s.encoded for s in batch.series], batch.values, batch.timestamps_ms,
                                        batch.exemplars)
    _check(walrecord.Decoder().decode(body), batch)


def test_empty_batch_round_trips() -> None:
    assert len(walrecord.Decoder().decode(walrecord.encode(SampleBatch()))) == 0
