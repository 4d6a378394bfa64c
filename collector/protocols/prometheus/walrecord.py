"""The body of a remote-write WAL record: a `SampleBatch` as an uncompressed remote-write `WriteRequest`.

Why this format: the record must be self-contained (a restarted process has none of the in-memory
`Series` caches), the encoder that writes it is already the fastest serializer we have (cached
per-series heads, see `remote_write.WriteRequestEncoder`), and upb decodes it on replay. Labels are
the `Series` labels as appended, before any endpoint's external labels or write relabelling, so one
record serves every endpoint. Metadata is not logged: it is re-sent from memory periodically.
"""

from __future__ import annotations

from collector.protocols.prometheus import prompb
from collector.protocols.prometheus.remote_write import WriteRequestEncoder
from collector.protocols.prometheus.series import Exemplar, SampleBatch, Series


def encode(batch: SampleBatch, encoder: WriteRequestEncoder) -> bytes:
    return encoder.encode([s.encoded for s in batch.series], batch.values, batch.timestamps_ms, batch.exemplars)


class Decoder:
    """Decodes record bodies back into batches, reusing one `Series` per label set across records
    (so the endpoint queues' per-series caches keep working during a replay)."""

    def __init__(self, limit: int = 200_000) -> None:
        self._series: dict[tuple[tuple[str, str], ...], Series] = {}
        self._limit = limit

    def decode(self, body: bytes) -> SampleBatch:
        request = prompb.decode(body)
        batch = SampleBatch()
        known = self._series
        for index, ts in enumerate(request.timeseries):
            key = tuple((label.name, label.value) for label in ts.labels)
            series = known.get(key)
            if series is None:
                if len(known) >= self._limit:
                    known.clear()
                series = known[key] = Series(key)
            for sample in ts.samples:
                batch.append(series, sample.value, sample.timestamp)
            for ex in ts.exemplars:
                batch.exemplars.append(Exemplar(len(batch) - 1, tuple((lb.name, lb.value) for lb in ex.labels),
                                                ex.value, ex.timestamp))
        return batch
