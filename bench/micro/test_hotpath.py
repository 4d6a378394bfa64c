"""pytest-benchmark cases for the hot-path steps we own; `extra_info` says how many items one call does."""

from __future__ import annotations

import gzip
import zlib
from typing import Any, Callable

import pytest
import snappy

from bench.payloads import Shape, build
from collector.protocols.prometheus.remote_write import WriteRequestEncoder
from collector.protocols.prometheus.series import encode_labels
from collector.signals import Signal
from collector.signals.payload import Payload

TRACES_100 = build(Signal.TRACES, Shape(items_per_request=100), 1)[0]
LOGS_1000 = build(Signal.LOGS, Shape(items_per_request=1000), 1)[0]
METRICS_1000 = build(Signal.METRICS, Shape(items_per_request=1000), 1)[0]
SAMPLES = 1000
LABELS = [encode_labels(sorted({"__name__": f"bench_gauge_{i % 20}", "series": f"s{i}", "job": "svc/bench",
                                "instance": "inst-1"}.items())) for i in range(SAMPLES)]
VALUES = [float(i) for i in range(SAMPLES)]
TIMESTAMPS = [1_700_000_000_000] * SAMPLES
WRITE_REQUEST = WriteRequestEncoder().encode(LABELS, VALUES, TIMESTAMPS)


def _measure(benchmark: Any, fn: Callable[[], object], items: int, unit: str) -> None:
    benchmark.extra_info.update(items=items, unit=unit)
    assert benchmark(fn) is not None


@pytest.mark.parametrize(("signal", "body", "items"), [
    (Signal.TRACES, TRACES_100, 100), (Signal.LOGS, LOGS_1000, 1000), (Signal.METRICS, METRICS_1000, 1000)],
    ids=["traces", "logs", "metrics"])
def test_otlp_decode(benchmark: Any, signal: Signal, body: bytes, items: int) -> None:
    cls = signal.spec.request_class
    _measure(benchmark, lambda: cls.FromString(body), items, signal.spec.items)


def test_batch_merge_20_requests(benchmark: Any) -> None:
    def merge() -> Payload:
        parts = [Payload(Signal.TRACES, data=TRACES_100, item_count=100) for _ in range(20)]
        return Payload.merge(Signal.TRACES, parts)

    merged = merge()
    assert merged.item_count == 2000
    _measure(benchmark, merge, 2000, "spans")


def test_remote_write_encode(benchmark: Any) -> None:
    encoder = WriteRequestEncoder()
    encoder.encode(LABELS, VALUES, TIMESTAMPS)  # warm caches, as a long-running shard has them
    _measure(benchmark, lambda: encoder.encode(LABELS, VALUES, TIMESTAMPS), SAMPLES, "samples")


def test_snappy_remote_write(benchmark: Any) -> None:
    assert snappy.uncompress(snappy.compress(WRITE_REQUEST)) == WRITE_REQUEST
    _measure(benchmark, lambda: snappy.compress(WRITE_REQUEST), SAMPLES, "samples")


@pytest.mark.parametrize("level", [1, 6])
def test_gzip_traces(benchmark: Any, level: int) -> None:
    def compress() -> bytes:
        z = zlib.compressobj(level, zlib.DEFLATED, 31)
        return z.compress(TRACES_100) + z.flush()

    assert gzip.decompress(compress()) == TRACES_100
    _measure(benchmark, compress, 100, "spans")
