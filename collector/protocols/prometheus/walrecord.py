"""The body of a remote-write WAL record: a `SampleBatch` as columns, series by reference.

Why this format: writing a record is on the hot path of every sample, so it must cost a few C-level
operations per sample and few bytes. As in Prometheus' own WAL, a series' labels are written once
(the first record of a WAL segment that uses it defines a numeric ref for it) and samples carry the
ref. Refs are scoped to a segment, so a reader must read a segment from its start (records it has
already sent only teach it the refs: `Decoder.learn`). A writer that starts again (new process) in
an existing segment defines its refs anew from 0; definitions override earlier ones for the records
after them, which is why records are decoded in order.

Layout (little endian), after a 0x01 marker byte (a serialized `WriteRequest`, the format of older
records, starts with 0x0a or 0x1a or is empty, so both are told apart and old WALs replay):

    u32 first new ref, u32 new refs, u32 samples, u32 exemplars
    u32[new refs] label lengths, then the new series' `Series.encoded` label bytes, concatenated
    f64[samples] values, i64[samples] timestamps_ms, u32[samples] refs
    per exemplar: u32 sample index, f64 value, i64 timestamp_ms, u32 length, encoded labels

The labels are the `Series` labels as appended, before any endpoint's external labels or write
relabelling, so one record serves every endpoint. Metadata is not logged: it is re-sent from memory
periodically.
"""

from __future__ import annotations

import struct
from typing import Final

from collector.protocols.prometheus import prompb
from collector.protocols.prometheus.series import Exemplar, SampleBatch, Series, encode_labels

_MARKER: Final = b"\x01"
_HEADER = struct.Struct("<IIII")
_EXEMPLAR = struct.Struct("<IdqI")
_REF_LIMIT: Final = 1 << 32


class Encoder:
    """The writer side: one per WAL, told the segment each record will be written to."""

    def __init__(self) -> None:
        self._refs: dict[Series, int] = {}
        self._segment = -1
        self._used = False  # a record was encoded since the last `expire()`

    def reset(self) -> None:
        """Define every series again in the next record (after a record that may not have been written)."""
        self._refs.clear()

    def expire(self) -> bool:
        """Called every `expiry.GENERATION` seconds: when no record was encoded during the last
        generation, forget the refs (and so the last references to their `Series`), as `reset`
        does; the next record defines its series again, which readers handle like a writer that
        started anew in the segment. Refs cannot expire one by one: they are positions in a table.
        Returns whether the refs were forgotten."""
        used, self._used = self._used, False
        if used or not self._refs:
            return False
        self.reset()
        return True

    def decoder(self) -> Decoder:
        """A decoder that already knows the refs defined so far in the current segment, so a reader
        can start right after the last record written instead of at the segment's start."""
        decoder = Decoder()
        decoder.seed(self._segment, list(self._refs))  # dict order is ref order: refs are 0, 1, 2, ...
        return decoder

    def encode(self, batch: SampleBatch, segment: int) -> bytes:
        self._used = True
        refs = self._refs
        if segment != self._segment or len(refs) >= _REF_LIMIT - len(batch.series):
            refs.clear()
            self._segment = segment
        first = len(refs)
        ids = list(map(refs.get, batch.series))
        new: list[bytes] = []
        if None in ids:
            for series in dict.fromkeys(batch.series):
                if series not in refs:
                    refs[series] = len(refs)
                    new.append(series.encoded)
            ids = list(map(refs.get, batch.series))
        n = len(batch.values)
        parts = [
            _MARKER,
            _HEADER.pack(first, len(new), n, len(batch.exemplars)),
            struct.pack(f"<{len(new)}I", *map(len, new)),
            *new,
            struct.pack(f"<{n}d", *batch.values),
            struct.pack(f"<{n}q", *batch.timestamps_ms),
            struct.pack(f"<{n}I", *ids),
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
    (so the endpoint queues' per-series caches keep working during a replay). Records must be fed
    in WAL order, each segment from its start."""

    def __init__(self, limit: int = 200_000) -> None:
        self._series: dict[bytes, Series] = {}
        self._limit = limit
        self._table: list[Series] = []
        self._segment = -1

    def _series_for(self, encoded: bytes) -> Series:
        series = self._series.get(encoded)
        if series is None:
            if len(self._series) >= self._limit:
                self._series.clear()
            series = self._series[encoded] = Series(_labels_of(encoded))
        return series

    def seed(self, segment: int, table: list[Series]) -> None:
        """Start from the ref table a writer holds for `segment` (see `Encoder.decoder`)."""
        self._segment, self._table = segment, table
        for series in table:
            self._series.setdefault(series.encoded, series)

    def learn(self, body: bytes, segment: int) -> int:
        """Take in the ref definitions of a record; returns where its sample columns start."""
        if segment != self._segment:
            self._table = []
            self._segment = segment
        first, count, _, _ = _HEADER.unpack_from(body, 1)
        offset = 1 + _HEADER.size
        lengths = struct.unpack_from(f"<{count}I", body, offset)
        offset += 4 * count
        table = self._table
        if first < len(table):
            del table[first:]  # a new writer in this segment: its refs replace the old ones
        elif first > len(table):
            raise ValueError(f"WAL record refers to series refs from {first} but only {len(table)} are known")
        for length in lengths:
            table.append(self._series_for(body[offset:offset + length]))
            offset += length
        return offset

    def decode(self, body: bytes, segment: int) -> SampleBatch:
        if body[:1] != _MARKER:
            return self._decode_write_request(body)
        offset = self.learn(body, segment)
        _, _, n, nex = _HEADER.unpack_from(body, 1)
        values = list(struct.unpack_from(f"<{n}d", body, offset))
        offset += 8 * n
        timestamps = list(struct.unpack_from(f"<{n}q", body, offset))
        offset += 8 * n
        series = list(map(self._table.__getitem__, struct.unpack_from(f"<{n}I", body, offset)))
        offset += 4 * n
        exemplars: list[Exemplar] = []
        for _ in range(nex):
            index, value, ts, length = _EXEMPLAR.unpack_from(body, offset)
            offset += _EXEMPLAR.size
            exemplars.append(Exemplar(index, _labels_of(body[offset:offset + length]), value, ts))
            offset += length
        return SampleBatch(series, values, timestamps, exemplars)

    def skip(self, body: bytes, segment: int) -> None:
        """A record the reader has already sent: only its ref definitions matter."""
        if body[:1] == _MARKER:
            self.learn(body, segment)

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
