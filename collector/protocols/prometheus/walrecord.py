"""The body of a remote-write WAL record: a `SampleBatch` as columns.

Why this format: writing a record is on the hot path of every sample, so it must cost C-level work
only. Layout (little endian), after a 0x00 marker byte (a serialized `WriteRequest`, the format of
older records, starts with 0x0a or 0x1a or is empty, so both are told apart and old WALs replay):

    u32 samples, u32 exemplars
    f64[samples] values, i64[samples] timestamps_ms, u32[samples] label lengths
    the samples' `Series.encoded` label bytes, concatenated
    per exemplar: u32 sample index, f64 value, i64 timestamp_ms, u32 length, encoded labels

A translated batch rarely holds a series twice, so the labels are written per sample rather than
through a per-batch dictionary (which would cost a Python-level lookup per sample). The record is
self-contained (a restarted process has none of the in-memory `Series`), and holds the `Series`
labels as appended, before any endpoint's external labels or write relabelling, so one record serves
every endpoint. Metadata is not logged: it is re-sent from memory periodically.
"""

from __future__ import annotations

import operator
import struct
from typing import Final

from collector.protocols.prometheus import prompb
from collector.protocols.prometheus.series import Exemplar, SampleBatch, Series, encode_labels

_MARKER: Final = b"\x00"
_HEADER = struct.Struct("<II")
_EXEMPLAR = struct.Struct("<IdqI")
_encoded = operator.attrgetter("encoded")


def encode(batch: SampleBatch) -> bytes:
    n = len(batch.values)
    labels = list(map(_encoded, batch.series))
    parts = [
        _MARKER,
        _HEADER.pack(n, len(batch.exemplars)),
        struct.pack(f"<{n}d", *batch.values),
        struct.pack(f"<{n}q", *batch.timestamps_ms),
        struct.pack(f"<{n}I", *map(len, labels)),
        b"".join(labels),
    ]
    for ex in batch.exemplars:
        raw = encode_labels(ex.labels)
        parts.append(_EXEMPLAR.pack(ex.index, ex.value, ex.timestamp_ms, len(raw)))
        parts.append(raw)
    return b"".join(parts)


def _labels_of(encoded: bytes) -> tuple[tuple[str, str], ...]:
    return tuple((label.name, label.value) for label in prompb.TimeSeries.FromString(encoded).labels)


class Decoder:
    """Decodes record bodies back into batches, reusing one `Series` per label set across records
    (so the endpoint queues' per-series caches keep working during a replay)."""

    def __init__(self, limit: int = 200_000) -> None:
        self._series: dict[bytes, Series] = {}
        self._limit = limit

    def _series_for(self, encoded: bytes) -> Series:
        series = self._series.get(encoded)
        if series is None:
            if len(self._series) >= self._limit:
                self._series.clear()
            series = self._series[encoded] = Series(_labels_of(encoded))
        return series

    def decode(self, body: bytes) -> SampleBatch:
        if body[:1] != _MARKER:
            return self._decode_write_request(body)
        n, nex = _HEADER.unpack_from(body, 1)
        offset = 1 + _HEADER.size
        values = list(struct.unpack_from(f"<{n}d", body, offset))
        offset += 8 * n
        timestamps = list(struct.unpack_from(f"<{n}q", body, offset))
        offset += 8 * n
        lengths = struct.unpack_from(f"<{n}I", body, offset)
        offset += 4 * n
        series: list[Series] = []
        for length in lengths:
            series.append(self._series_for(body[offset:offset + length]))
            offset += length
        exemplars: list[Exemplar] = []
        for _ in range(nex):
            index, value, ts, length = _EXEMPLAR.unpack_from(body, offset)
            offset += _EXEMPLAR.size
            exemplars.append(Exemplar(index, _labels_of(body[offset:offset + length]), value, ts))
            offset += length
        return SampleBatch(series, values, timestamps, exemplars)

    def _decode_write_request(self, body: bytes) -> SampleBatch:
        """Records written before the columnar format: an uncompressed `WriteRequest`."""
        request = prompb.decode(body)
        batch = SampleBatch()
        for ts in request.timeseries:
            series = self._series_for(encode_labels((label.name, label.value) for label in ts.labels))
            for sample in ts.samples:
                batch.append(series, sample.value, sample.timestamp)
            for ex in ts.exemplars:
                batch.exemplars.append(Exemplar(len(batch) - 1, tuple((lb.name, lb.value) for lb in ex.labels),
                                                ex.value, ex.timestamp))
        return batch
