"""Remote write 1.0 wire format: `prometheus.WriteRequest` encoding, snappy, HTTP headers.

We write the protobuf bytes directly instead of building upb messages: every sample becomes its own
`TimeSeries` (as Prometheus' queue manager does), whose labels were encoded once per series
(`Series.encoded`). For the usual 6-byte varint timestamps (1971..2109 in ms) the bytes in front of the
value — TimeSeries tag and length, the labels, the Sample tag, length and value tag — are identical for
every sample of a series, so they are cached per label set and a sample costs one dict lookup, one
`struct.pack` and a join. (bench/prometheus_bench.py compares this with a `descriptor_pb2`-built upb
message class.)

Message layout (field numbers):
    WriteRequest   { TimeSeries timeseries = 1; MetricMetadata metadata = 3; }
    TimeSeries     { Label labels = 1; Sample samples = 2; Exemplar exemplars = 3; Histogram histograms = 4; }
    Label          { string name = 1; string value = 2; }
    Sample         { double value = 1; int64 timestamp = 2; }
    Exemplar       { Label labels = 1; double value = 2; int64 timestamp = 3; }
    MetricMetadata { MetricType type = 1; string metric_family_name = 2; string help = 4; string unit = 5; }
"""

from __future__ import annotations

import struct
from typing import Final, Iterable, Sequence

import snappy

from collector.protocols.prometheus.series import Exemplar, Metadata, encode_labels
from collector.protocols.wire import encode_varint, read_varint

CONTENT_TYPE: Final = "application/x-protobuf"
CONTENT_ENCODING: Final = "snappy"
VERSION: Final = "0.1.0"

_DOUBLE = struct.Struct("<d")
_HEAD_CACHE_LIMIT: Final = 1_000_000
_TS_CACHE_LIMIT: Final = 4096


def request_headers(user_agent: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Headers of a remote-write POST; the protocol headers win over user-supplied ones."""
    headers = dict(extra or {})
    for name in list(headers):
        if name.lower() in ("content-encoding", "content-type", "x-prometheus-remote-write-version", "user-agent"):
            del headers[name]
    headers.update({
        "Content-Encoding": CONTENT_ENCODING,
        "Content-Type": CONTENT_TYPE,
        "X-Prometheus-Remote-Write-Version": VERSION,
        "User-Agent": user_agent,
    })
    return headers


def _sample(value: float, timestamp_ms: int) -> bytes:
    body = b"\x09" + _DOUBLE.pack(value) + b"\x10" + encode_varint(timestamp_ms)
    return b"\x12" + encode_varint(len(body)) + body


def encode_exemplar(exemplar: Exemplar) -> bytes:
    body = encode_labels(exemplar.labels) + b"\x11" + _DOUBLE.pack(exemplar.value) + b"\x18" + encode_varint(
        exemplar.timestamp_ms)
    return b"\x1a" + encode_varint(len(body)) + body


def encode_timeseries(labels: bytes, value: float, timestamp_ms: int, extra: bytes = b"") -> bytes:
    """One `TimeSeries` with one sample (and optional pre-encoded exemplars), as WriteRequest field 1."""
    body = labels + _sample(value, timestamp_ms) + extra
    return b"\x0a" + encode_varint(len(body)) + body


def encode_metadata(metadata: Metadata) -> bytes:
    body = bytearray()
    if metadata.type:
        body += b"\x08" + encode_varint(metadata.type)
    for tag, text in ((0x12, metadata.family), (0x22, metadata.help), (0x2A, metadata.unit)):
        if text:
            raw = text.encode()
            body += bytes((tag,)) + encode_varint(len(raw)) + raw
    return b"\x1a" + encode_varint(len(body)) + bytes(body)


def timeseries_head(labels: bytes) -> bytes:
    """The bytes of a one-sample `TimeSeries` in front of the value, for a 6-byte varint timestamp:
    TimeSeries{ labels..., samples = Sample{ value = <8 bytes>, timestamp = <6-byte varint> } }
    (sample body: 1 + 8 + 1 + 6 = 16 bytes; sample field: 2 + 16 = 18 bytes)."""
    return b"\x0a" + encode_varint(len(labels) + 18) + labels + b"\x12\x10\x09"


def labels_of_head(head: bytes) -> bytes:
    """Inverse of `timeseries_head`."""
    return head[read_varint(head, 1)[1]:-3]


class WriteRequestEncoder:
    """Encodes WriteRequests, caching per label set the bytes that precede each sample's value.

    One encoder per sending shard (not thread-safe, no locking needed in asyncio)."""

    __slots__ = ("_heads", "_ts")

    def __init__(self) -> None:
        self._heads: dict[bytes, bytes] = {}
        self._ts: dict[int, bytes] = {}

    def _head(self, labels: bytes) -> bytes:
        head = timeseries_head(labels)
        if len(self._heads) >= _HEAD_CACHE_LIMIT:
            self._heads.clear()
        self._heads[labels] = head
        return head

    def expire(self) -> None:
        """Drop the cached heads and timestamp fields (called every `expiry.GENERATION` seconds):
        both are rebuilt on the next miss, and timestamps move on anyway."""
        self._heads = {}
        self._ts = {}

    def _tail(self, timestamp_ms: int) -> bytes:
        """Timestamp field of a sample; only the common 6-byte varint width is cached (others take
        the slow path, which re-encodes the whole TimeSeries with its own lengths)."""
        tail = b"\x10" + encode_varint(timestamp_ms)
        if len(tail) == 7:
            if len(self._ts) >= _TS_CACHE_LIMIT:
                self._ts.clear()
            self._ts[timestamp_ms] = tail
        return tail

    def encode(
        self,
        labels: Sequence[bytes],
        values: Sequence[float],
        timestamps_ms: Sequence[int],
        exemplars: Iterable[Exemplar] = (),
        metadata: Iterable[Metadata] = (),
    ) -> bytes:
        """Serialized (uncompressed) WriteRequest: sample i is `labels[i]`, `values[i]`, `timestamps_ms[i]`.

        The common case runs without a Python-level loop per sample: heads, packed values and
        timestamp tails are looked up/packed with `map` (C) and interleaved by slice assignment.
        Samples with exemplars or an uncommon timestamp width are re-encoded on the slow path."""
        heads = list(map(self._heads.get, labels))
        if None in heads:
            for lb in set(labels).difference(self._heads):
                self._head(lb)
            heads = [self._heads.get(lb) or self._head(lb) for lb in labels]  # the cache may have been cleared
        return self.encode_heads(heads, values, timestamps_ms, exemplars, metadata)  # type: ignore[arg-type]

    def encode_heads(
        self,
        heads: list[bytes],
        values: Sequence[float],
        timestamps_ms: Sequence[int],
        exemplars: Iterable[Exemplar] = (),
        metadata: Iterable[Metadata] = (),
    ) -> bytes:
        """`encode` for callers that keep `timeseries_head(labels)` per sample instead of the labels."""
        n = len(values)
        tails = list(map(self._ts.get, timestamps_ms))
        if None in tails:
            for ts in set(timestamps_ms).difference(self._ts):
                self._tail(ts)
            tails = list(map(self._ts.get, timestamps_ms))
        slow: dict[int, list[Exemplar]] = {}
        for exemplar in exemplars:
            slow.setdefault(exemplar.index, []).append(exemplar)
        if None in tails:  # uncommon timestamp widths, or the cache cleared meanwhile
            for i in range(n):
                if tails[i] is None:
                    tails[i] = self._tail(timestamps_ms[i])
                    if len(tails[i]) != 7:  # type: ignore[arg-type]
                        slow.setdefault(i, [])
        parts: list[bytes] = [b""] * (3 * n)
        parts[0::3] = heads
        parts[1::3] = map(_DOUBLE.pack, values)
        parts[2::3] = tails  # type: ignore[assignment]
        for i, extra in slow.items():
            if i < n:
                parts[3 * i] = encode_timeseries(labels_of_head(heads[i]), values[i], timestamps_ms[i],
                                                 b"".join([encode_exemplar(e) for e in extra]))
                parts[3 * i + 1] = parts[3 * i + 2] = b""
        parts.extend(map(encode_metadata, metadata))
        return b"".join(parts)


def compress(body: bytes) -> bytes:
    """Snappy *block* format, as remote write requires (not the framed stream format)."""
    return snappy.compress(body)


def decompress(body: bytes) -> bytes:
    return snappy.uncompress(body)


def classify_status(status: int, retry_on_http_429: bool) -> str:
    """Remote-write answer -> "ok", "retry" or "drop" (5xx must be retried, 429 may, other 4xx must not)."""
    if 200 <= status < 300:
        return "ok"
    if status >= 500 or (status == 429 and retry_on_http_429):
        return "retry"
    return "drop"


def next_backoff(current: float, minimum: float, maximum: float) -> float:
    """Prometheus' backoff: start at `min_backoff`, double, cap at `max_backoff`."""
    if current <= 0:
        return minimum
    return min(current * 2, maximum)
