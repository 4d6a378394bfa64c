"""Pre-encoded OTLP requests of a chosen shape, so a load generator spends no CPU building them.

End-to-end delay without per-item work: requests carry *stamps*, fixed-width placeholders
(`SENTINEL`) that the generator overwrites with `time.time_ns()` just before sending (one C-level
join per request). Traces and logs carry one, as the string attribute `bench.send_ns` of their first
item; metrics carry it as every point's `time_unix_nano` (attributes would become remote-write labels,
a new series per request, while the point time survives as the sample's timestamp; and fresh times
keep a repeated body from being a duplicate sample), with one `bench.probe` gauge per request for the
sink to read it from. The sink finds stamps in what it receives and computes receipt - send.
"""

from __future__ import annotations

import base64
import os
import random
import struct
import time
from dataclasses import dataclass
from typing import Any, Iterator, Literal

import orjson
from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from collector.signals import Signal

SENTINEL = 1_111_111_111_111_111_111  # 19 digits, as every time_ns() until 2286
SENTINEL_ASCII = str(SENTINEL).encode()
SENTINEL_FIXED64 = struct.pack("<Q", SENTINEL)
STAMP_KEY = "bench.send_ns"
PROBE_METRIC = "bench.probe"

Format = Literal["protobuf", "json"]
StampKind = Literal["ascii", "fixed64"]


@dataclass(frozen=True)
class Shape:
    items_per_request: int = 100
    resources_per_request: int = 3
    attributes_per_item: int = 10
    resource_attributes: int = 12
    value_size: int = 16
    distinct_series: int = 1000  # metrics: distinct attribute sets; also distinct hosts (host.name)


@dataclass(frozen=True)
class Encoded:
    """One pre-encoded request body, where its stamps sit, and how many items it carries.

    All stamps of a body have one kind, so stamping is one C-level `join` of the pieces between them."""

    body: bytes
    items: int
    stamps: tuple[tuple[int, StampKind], ...] = ()

    def __post_init__(self) -> None:
        pieces, last = [], 0
        for offset, kind in self.stamps:
            pieces.append(self.body[last:offset])
            last = offset + (19 if kind == "ascii" else 8)
        pieces.append(self.body[last:])
        object.__setattr__(self, "_pieces", pieces)
        object.__setattr__(self, "_ascii", bool(self.stamps) and self.stamps[0][1] == "ascii")

    def stamped(self, now_ns: int) -> bytes:
        if not self.stamps:
            return self.body
        value = str(now_ns).encode() if self._ascii else struct.pack("<Q", now_ns)  # type: ignore[attr-defined]
        return value.join(self._pieces)  # type: ignore[attr-defined]


def _attrs(target: object, count: int, value_size: int, rng: random.Random, prefix: str) -> None:
    for i in range(count):
        kv: KeyValue = target.add()  # type: ignore[attr-defined]
        kv.key = f"{prefix}.attr{i}"
        if i % 3 == 2:
            kv.value.int_value = rng.randrange(1 << 30)
        else:
            kv.value.string_value = "".join(rng.choice("abcdefghijklmnop") for _ in range(value_size))


def _stamp_attr(target: object) -> None:
    kv: KeyValue = target.add()  # type: ignore[attr-defined]
    kv.key, kv.value.string_value = STAMP_KEY, SENTINEL_ASCII.decode()


def _resource(target: object, shape: Shape, index: int, rng: random.Random) -> None:
    attrs = target.attributes  # type: ignore[attr-defined]
    # the tutorial's transform copies deployment.environment and service.version onto data points
    identity = (("service.name", f"svc-{index % 7}"), ("service.namespace", "bench"),
                ("service.instance.id", f"inst-{index}"), ("host.name", f"host-{index % shape.distinct_series}"),
                ("deployment.environment", ("prod", "staging")[index % 2]), ("service.version", f"1.{index % 5}.0"))
    for key, value in identity:
        kv = attrs.add()
        kv.key, kv.value.string_value = key, value
    _attrs(attrs, max(0, shape.resource_attributes - len(identity)), shape.value_size, rng, "res")


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _bench_scopes(request: Message, signal: Signal, shape: Shape, seed: int,
                  rng: random.Random) -> Iterator[tuple[int, Any, int]]:
    """The resources of a request, each with one `bench` scope and its share of the items; yields
    (resource index, scope message, items to add). Every signal's builder lays requests out alike."""
    spec = signal.spec
    for r, count in enumerate(_split(shape.items_per_request, shape.resources_per_request)):
        rx = getattr(request, spec.resource_field).add()
        _resource(rx.resource, shape, seed * 31 + r, rng)
        sx = getattr(rx, spec.scope_field).add()
        sx.scope.name = "bench"
        yield r, sx, count


def traces_message(shape: Shape, seed: int = 0, stamp: bool = True) -> ExportTraceServiceRequest:
    rng = random.Random(seed)
    request = ExportTraceServiceRequest()
    for r, ss, count in _bench_scopes(request, Signal.TRACES, shape, seed, rng):
        ss.scope.version = "1.0"
        for i in range(count):
            span = ss.spans.add()
            span.trace_id, span.span_id = os.urandom(16), os.urandom(8)
            span.name = f"span-{i % 20}"
            span.kind = 2
            span.start_time_unix_nano = 1_700_000_000_000_000_000 + i
            span.end_time_unix_nano = span.start_time_unix_nano + 1000
            if stamp and r == 0 and i == 0:
                _stamp_attr(span.attributes)
            _attrs(span.attributes, shape.attributes_per_item, shape.value_size, rng, "span")
    return request


def logs_message(shape: Shape, seed: int = 0, stamp: bool = True) -> ExportLogsServiceRequest:
    rng = random.Random(seed)
    request = ExportLogsServiceRequest()
    for r, sl, count in _bench_scopes(request, Signal.LOGS, shape, seed, rng):
        for i in range(count):
            record = sl.log_records.add()
            record.time_unix_nano = 1_700_000_000_000_000_000 + i
            record.severity_number, record.severity_text = 9, "INFO"
            record.body.string_value = f"request {i} served in {rng.randrange(1000)} ms " + "x" * shape.value_size
            if stamp and r == 0 and i == 0:
                _stamp_attr(record.attributes)
            _attrs(record.attributes, shape.attributes_per_item, shape.value_size, rng, "log")
    return request


def metrics_message(shape: Shape, seed: int = 0, stamp: bool = True,
                    timestamp_ns: int | None = None) -> ExportMetricsServiceRequest:
    """Gauges, cumulative counters and 10-bucket histograms in equal parts; each point one series.

    With `stamp`, every point's time is a stamp (each request then carries fresh samples, as a real
    client's would, rather than repeating the same series and timestamp) and one of the points is the
    `bench.probe` gauge by which the sink finds a sample per request."""
    rng = random.Random(seed)
    now = timestamp_ns or time.time_ns()
    request = ExportMetricsServiceRequest()
    kinds = ("gauge", "sum", "histogram")
    for r, sm, count in _bench_scopes(request, Signal.METRICS, shape, seed, rng):
        if stamp and r == 0 and count:
            probe = sm.metrics.add()
            probe.name = PROBE_METRIC
            point = probe.gauge.data_points.add()
            point.time_unix_nano = SENTINEL
            point.as_double = float(seed)
            count -= 1
        for k, (kind, per_kind) in enumerate(zip(kinds, _split(count, len(kinds)))):
            metric = sm.metrics.add()
            metric.name = f"bench.{kind}"
            metric.unit = "ms" if kind == "histogram" else "1"
            if kind == "sum":
                metric.sum.is_monotonic = True
                metric.sum.aggregation_temporality = 2  # cumulative, as Prometheus requires
            elif kind == "histogram":
                metric.histogram.aggregation_temporality = 2
            container = getattr(metric, kind)
            for i in range(per_kind):
                point = container.data_points.add()
                point.time_unix_nano = SENTINEL if stamp else now
                point.start_time_unix_nano = now - 60_000_000_000
                attr = point.attributes.add()
                attr.key, attr.value.string_value = "series", f"s{(seed * 1000 + r * 100 + i) % shape.distinct_series}"
                if kind == "histogram":
                    point.explicit_bounds.extend([1, 2, 5, 10, 20, 50, 100, 200, 500])
                    point.bucket_counts.extend([rng.randrange(10) for _ in range(10)])
                    point.count = sum(point.bucket_counts)
                    point.sum = float(point.count * 7)
                elif kind == "sum":
                    point.as_int = rng.randrange(1 << 20)
                else:
                    point.as_double = rng.random()
    return request


MESSAGE_BUILDERS = {Signal.TRACES: traces_message, Signal.LOGS: logs_message, Signal.METRICS: metrics_message}


def _hex_ids(node: object) -> None:
    """OTLP/JSON writes trace and span ids as hex, not protobuf-JSON's base64."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                node[key] = base64.b64decode(value).hex()
            else:
                _hex_ids(value)
    elif isinstance(node, list):
        for value in node:
            _hex_ids(value)


def to_json(message: Message) -> bytes:
    """OTLP/JSON: lowerCamelCase names, enums as integers, 64-bit integers as strings, hex ids."""
    doc = json_format.MessageToDict(message, use_integers_for_enums=True)
    _hex_ids(doc)
    return orjson.dumps(doc)


def _stamp_offsets(body: bytes, fmt: Format, signal: Signal) -> tuple[tuple[int, StampKind], ...]:
    kind: StampKind
    if fmt == "protobuf" and signal is Signal.METRICS:
        needle, kind = SENTINEL_FIXED64, "fixed64"
    else:
        needle, kind = SENTINEL_ASCII, "ascii"
    offsets: list[tuple[int, StampKind]] = []
    at = body.find(needle)
    while at >= 0:
        offsets.append((at, kind))
        at = body.find(needle, at + len(needle))
    return tuple(offsets)


def encode(signal: Signal, shape: Shape, variants: int = 8, fmt: Format = "protobuf",
           stamp: bool = True) -> list[Encoded]:
    """`variants` distinct requests (different ids, values and resources) of one shape."""
    out = []
    for seed in range(variants):
        message = MESSAGE_BUILDERS[signal](shape, seed, stamp)
        body = message.SerializeToString() if fmt == "protobuf" else to_json(message)
        out.append(Encoded(body, signal.spec.count_items(message), _stamp_offsets(body, fmt, signal) if stamp else ()))
    return out


def build(signal: Signal, shape: Shape, variants: int = 8) -> list[bytes]:
    """Unstamped protobuf bodies (for micro-benchmarks and tests that only need bytes)."""
    return [e.body for e in encode(signal, shape, variants, stamp=False)]
