from __future__ import annotations

import math

import pytest

from collector.protocols.prometheus import walrecord
from collector.protocols.prometheus.remote_write import WriteRequestEncoder
from collector.protocols.prometheus.series import STALE_NAN, Exemplar, SampleBatch, Series, is_stale_nan

A = Series({"__name__": "up", "job": "x"})
B = Series({"__name__": "req_total", "job": "x", "code": "200"})
C = Series({"__name__": "temp", "job": "y"})


def _batch() -> SampleBatch:
    batch = SampleBatch()
    batch.append(A, 1.0, 1_700_000_000_000)
    batch.append(B, 12.5, 1_700_000_000_001)
    batch.append(A, STALE_NAN, 1_700_000_015_000)
    batch.append(B, -3.0, 5)  # a timestamp of unusual width
    batch.exemplars.append(Exemplar(1, (("trace_id", "ab"),), 0.25, 1_700_000_000_001))
    return batch


def _check(decoded: SampleBatch, batch: SampleBatch) -> None:
    assert [s.labels for s in decoded.series] == [s.labels for s in batch.series]
    assert decoded.timestamps_ms == batch.timestamps_ms
    assert decoded.values[:2] == batch.values[:2] and decoded.values[3] == batch.values[3]
    assert math.isnan(decoded.values[2]) and is_stale_nan(decoded.values[2])
    assert decoded.exemplars == batch.exemplars


def _single(series: Series, value: float) -> SampleBatch:
    batch = SampleBatch()
    batch.append(series, value, 1_700_000_000_000)
    return batch


def test_round_trip_keeps_samples_exemplars_and_series_identity() -> None:
    batch = _batch()
    encoder, decoder = walrecord.Encoder(), walrecord.Decoder()
    first = encoder.encode(batch, 0)
    second = encoder.encode(batch, 0)
    assert len(second) < len(first)  # labels are written once per segment
    decoded = decoder.decode(first, 0)
    _check(decoded, batch)
    assert decoded.series[0] is decoded.series[2]
    again = decoder.decode(second, 0)
    _check(again, batch)
    assert again.series[0] is decoded.series[0]  # endpoint caches keyed by Series keep hitting


def test_a_reader_starting_mid_segment_learns_refs_from_skipped_records() -> None:
    encoder = walrecord.Encoder()
    records = [encoder.encode(_single(A, 1.0), 3), encoder.encode(_single(B, 2.0), 3),
               encoder.encode(_batch(), 3)]
    decoder = walrecord.Decoder()
    decoder.skip(records[0], 3)
    decoder.skip(records[1], 3)
    _check(decoder.decode(records[2], 3), _batch())
    with pytest.raises(ValueError):
        walrecord.Decoder().decode(records[1], 3)  # the segment was not read from its start


def test_refs_restart_in_a_new_segment_and_after_a_writer_restart() -> None:
    encoder = walrecord.Encoder()
    old = encoder.encode(_single(A, 1.0), 0)
    rotated = encoder.encode(_single(B, 2.0), 1)
    restarted = walrecord.Encoder().encode(_single(C, 3.0), 1)  # a new process appends to segment 1
    decoder = walrecord.Decoder()
    assert decoder.decode(old, 0).series[0].labels == A.labels
    assert decoder.decode(rotated, 1).series[0].labels == B.labels
    assert decoder.decode(restarted, 1).series[0].labels == C.labels  # ref 0 now means C


def test_reset_defines_series_again() -> None:
    encoder = walrecord.Encoder()
    encoder.encode(_single(A, 1.0), 0)  # suppose this record never reached the disk
    encoder.reset()
    record = encoder.encode(_single(A, 2.0), 0)
    assert walrecord.Decoder().decode(record, 0).series[0].labels == A.labels


def test_write_request_records_of_older_wals_still_decode() -> None:
    batch = _batch()
    body = WriteRequestEncoder().encode([s.encoded for s in batch.series], batch.values, batch.timestamps_ms,
                                        batch.exemplars)
    _check(walrecord.Decoder().decode(body, 0), batch)


def test_empty_batch_round_trips() -> None:
    assert len(walrecord.Decoder().decode(walrecord.Encoder().encode(SampleBatch(), 0), 0)) == 0


def test_a_decoder_seeded_by_the_writer_reads_from_the_middle_of_a_segment() -> None:
    """An endpoint that falls behind starts reading right after the last record written: the
    writer's ref table stands in for the records before it."""
    from collector.protocols.prometheus.series import SampleBatch, Series
    from collector.protocols.prometheus.walrecord import Encoder

    encoder = Encoder()
    first, second = SampleBatch(), SampleBatch()
    a, b = Series({"__name__": "a"}), Series({"__name__": "b"})
    first.append(a, 1.0, 1)
    encoder.encode(first, 0)  # defines a
    decoder = encoder.decoder()
    second.append(a, 2.0, 2)
    second.append(b, 3.0, 3)
    body = encoder.encode(second, 0)  # uses a's ref, defines b
    decoded = decoder.decode(body, 0)
    assert [(s.labels, v, t) for s, v, t in decoded.rows()] == [(a.labels, 2.0, 2), (b.labels, 3.0, 3)]
