"""Prometheus series and the batch type that flows between Prometheus components.

Theory of operation: a `Series` is created once per distinct label set by whoever first produces it
(the OTLP translator, a scrape loop, a relabel cache) and then reused for every sample of that series,
so per-sample work is appending a `Series` reference, a value and a timestamp to three lists. A
`Series` carries its labels sorted bytewise and already protobuf-encoded (repeated `Label` entries of
a remote-write `TimeSeries`), so encoders never touch label strings on the hot path.

Ownership: a `SampleBatch` handed to a `MetricsReceiver.append()` is read-only from then on. Receivers
never mutate it (they build new batches), which is what lets one batch be fanned out to several
`forward_to` receivers without copying.
"""

from __future__ import annotations


import struct
from dataclasses import dataclass, field
from typing import Final, Iterable, Mapping

from collector.protocols.wire import encode_varint

STALE_NAN_BITS: Final = 0x7FF0000000000002
STALE_NAN: Final[float] = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]
_DOUBLE = struct.Struct("<d")


def is_stale_nan(value: float) -> bool:
    """Prometheus `value.IsStaleNaN`: compares bits, since every NaN compares unequal."""
    return value != value and _DOUBLE.pack(value) == _STALE_BYTES


_STALE_BYTES: Final = _DOUBLE.pack(STALE_NAN)


def _len_field(tag: int, payload: bytes) -> bytes:
    return bytes((tag,)) + encode_varint(len(payload)) + payload


def encode_label(name: str, value: str) -> bytes:
    """One `Label{name=1, value=2}` as field 1 of its parent (TimeSeries or Exemplar)."""
    body = _len_field(0x0A, name.encode()) + _len_field(0x12, value.encode())
    return _len_field(0x0A, body)


def encode_labels(labels: Iterable[tuple[str, str]]) -> bytes:
    return b"".join([encode_label(name, value) for name, value in labels])


class Series:
    """One label set, sorted bytewise, without empty values, with its encoded form and a hash.

    Identity (not content) is used as the key of per-series caches downstream; two `Series` with
    the same labels are the same Prometheus series (`hash`/`encoded` are equal)."""

    __slots__ = ("labels", "encoded", "hash", "__weakref__")

    def __init__(self, labels: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
        items = labels.items() if isinstance(labels, Mapping) else labels
        # label names are ASCII after sanitisation, so code-point order is byte order. Pairs given
        # as tuples are kept, not copied: series built from one label set share them (the 13
        # series of a 10-bucket histogram point hold one set of pairs, not 13).
        self.labels: tuple[tuple[str, str], ...] = tuple(sorted(pair for pair in items if pair[1]))
        self.encoded: bytes = encode_labels(self.labels)
        self.hash: int = hash(self.encoded)

    @property
    def name(self) -> str:
        for key, value in self.labels:
            if key == "__name__":
                return value
        return ""

    def as_dict(self) -> dict[str, str]:
        return dict(self.labels)

    def same_labels(self, other: Series) -> bool:
        return self.encoded == other.encoded

    def __repr__(self) -> str:
        inner = ",".join(f'{k}="{v}"' for k, v in self.labels if k != "__name__")
        return f"{self.name}{{{inner}}}"


@dataclass(frozen=True, slots=True)
class Exemplar:
    """An exemplar attached to sample `index` of its batch."""

    index: int
    labels: tuple[tuple[str, str], ...]
    value: float
    timestamp_ms: int


class MetricType:
    """Remote-write `MetricMetadata.MetricType` numbers."""

    UNKNOWN: Final = 0
    COUNTER: Final = 1
    GAUGE: Final = 2
    HISTOGRAM: Final = 3
    GAUGEHISTOGRAM: Final = 4
    SUMMARY: Final = 5
    INFO: Final = 6
    STATESET: Final = 7


@dataclass(frozen=True, slots=True)
class Metadata:
    family: str
    type: int
    help: str = ""
    unit: str = ""


@dataclass(slots=True)
class SampleBatch:
    """Samples as parallel columns: `series[i]` had `values[i]` at `timestamps_ms[i]`."""

    series: list[Series] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    timestamps_ms: list[int] = field(default_factory=list)
    exemplars: list[Exemplar] = field(default_factory=list)
    metadata: list[Metadata] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.values)

    def append(self, series: Series, value: float, timestamp_ms: int) -> None:
        self.series.append(series)
        self.values.append(value)
        self.timestamps_ms.append(timestamp_ms)

    def rows(self) -> list[tuple[Series, float, int]]:
        """For tests and debugging, not the hot path."""
        return list(zip(self.series, self.values, self.timestamps_ms))


