"""Micro-benchmark of the remote-write hot path: OTLP translate -> WriteRequest encode -> snappy.

Prints OTLP points/s and remote-write samples/s with warm caches, plus CPU-seconds per million
samples (robust to a noisy machine), and compares the direct byte encoder with upb message classes.

    python bench/prometheus_bench.py [--requests 40] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import platform
import statistics
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2  # noqa: E402
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2

from collector.protocols.prometheus import prompb
from collector.protocols.prometheus.remote_write import WriteRequestEncoder, compress
from collector.protocols.prometheus.translate import Translator

CUMULATIVE = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]


def _attrs(target: object, pairs: list[tuple[str, str]]) -> None:
    for key, value in pairs:
        target.add(key=key, value=common_pb2.AnyValue(string_value=value))  # type: ignore[attr-defined]


def build_request(step: int, resources: int = 10, points_per_resource: int = 100) -> bytes:
    """1000 points: a third gauges, a third counters, a third 10-bucket histograms; 10 resources."""
    ts = (1_700_000_000 + step * 15) * 1_000_000_000
    req = metrics_service_pb2.ExportMetricsServiceRequest()
    for r in range(resources):
        rm = req.resource_metrics.add()
        _attrs(rm.resource.attributes, [("service.name", "checkout"), ("service.namespace", "shop"),
                                        ("service.instance.id", f"pod-{r}"), ("host.name", f"node-{r % 3}"),
                                        ("deployment.environment", "prod")])
        sm = rm.scope_metrics.add()
        sm.scope.name = "io.opentelemetry.http"
        sm.scope.version = "1.2.3"
        third = points_per_resource // 3
        gauge = sm.metrics.add(name="system.memory.usage", unit="By")
        for i in range(points_per_resource - 2 * third):
            dp = gauge.gauge.data_points.add(time_unix_nano=ts, as_double=1e6 + i + step)
            _attrs(dp.attributes, [("state", f"s{i}"), ("device", f"d{i % 4}")])
        counter = sm.metrics.add(name="http.server.requests", unit="1")
        counter.sum.is_monotonic = True
        counter.sum.aggregation_temporality = CUMULATIVE
        for i in range(third):
            dp = counter.sum.data_points.add(time_unix_nano=ts, start_time_unix_nano=1, as_int=1000 + step * 10 + i)
            _attrs(dp.attributes, [("http.route", f"/api/{i}"), ("http.request.method", "GET"),
                                   ("http.response.status_code", "200")])
        hist = sm.metrics.add(name="http.server.request.duration", unit="s")
        hist.histogram.aggregation_temporality = CUMULATIVE
        for i in range(third):
            dp = hist.histogram.data_points.add(time_unix_nano=ts, start_time_unix_nano=1, count=110 + step,
                                                sum=12.5 + step, explicit_bounds=BOUNDS,
                                                bucket_counts=[10] * 10 + [10 + step])
            _attrs(dp.attributes, [("http.route", f"/api/{i}"), ("http.request.method", "GET")])
    return req.SerializeToString()


def _cpu() -> float:
    return time.process_time()


def encode_upb(batch: object, merge_labels: bool) -> bytes:
    """Alternative: upb message classes, labels merged from the cached encoded bytes or (naive)
    added one by one."""
    req = prompb.WriteRequest()
    add = req.timeseries.add
    for series, value, ts in zip(batch.series, batch.values, batch.timestamps_ms):  # type: ignore[attr-defined]
        t = add()
        if merge_labels:
            t.MergeFromString(series.encoded)
        else:
            for name, val in series.labels:
                t.labels.add(name=name, value=val)
        t.samples.add(value=value, timestamp=ts)
    return req.SerializeToString()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    total_requests = args.requests * (args.rounds + 1)
    bodies = [build_request(step) for step in range(total_requests)]
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    print(f"request: {len(bodies[0])} bytes, 1000 OTLP points (1/3 gauge, 1/3 counter, 1/3 histogram x10 buckets),"
          f" 10 resources")

    translator = Translator()
    encoder = WriteRequestEncoder()
    # warm-up round fills the caches
    messages = []
    for body in bodies[: args.requests]:
        m = metrics_service_pb2.ExportMetricsServiceRequest()
        m.ParseFromString(body)
        batch = translator.translate(m)
        compress(encoder.encode([s.encoded for s in batch.series], batch.values, batch.timestamps_ms))

    results = {"parse": [], "translate": [], "encode": [], "snappy": [], "total": []}
    samples_per_request = 0
    for rnd in range(args.rounds):
        chunk = bodies[(rnd + 1) * args.requests:(rnd + 2) * args.requests]
        t_parse = t_tr = t_enc = t_snappy = 0.0
        samples = 0
        for body in chunk:
            c0 = _cpu()
            m = metrics_service_pb2.ExportMetricsServiceRequest()
            m.ParseFromString(body)
            c1 = _cpu()
            batch = translator.translate(m)
            c2 = _cpu()
            raw = encoder.encode([s.encoded for s in batch.series], batch.values, batch.timestamps_ms)
            c3 = _cpu()
            compress(raw)
            c4 = _cpu()
            t_parse += c1 - c0
            t_tr += c2 - c1
            t_enc += c3 - c2
            t_snappy += c4 - c3
            samples += len(batch)
        samples_per_request = samples // len(chunk)
        for key, value in (("parse", t_parse), ("translate", t_tr), ("encode", t_enc), ("snappy", t_snappy),
                           ("total", t_parse + t_tr + t_enc + t_snappy)):
            results[key].append((value, samples, len(chunk) * 1000))
        messages.append(m)

    print(f"samples per request: {samples_per_request}")
    for key, runs in results.items():
        cpu_per_m = [v / s * 1e6 for v, s, _ in runs]
        sps = [s / v for v, s, _ in runs if v > 0]
        pps = [p / v for v, _, p in runs if v > 0]
        print(f"{key:>10}: {statistics.median(cpu_per_m):6.2f} CPU-s per 1M samples  "
              f"{statistics.median(sps):>12,.0f} samples/s  {statistics.median(pps):>10,.0f} OTLP points/s  "
              f"[{min(sps):,.0f} - {max(sps):,.0f} samples/s]")

    # prometheus.remote_write append: per-series label rewrite (cached) + routing to 4 shards
    import asyncio
    import logging

    from collector.components.prometheus.remote_write.queue import EndpointQueue
    from collector.components.prometheus.remote_write import Endpoint, QueueConfig

    async def append_rate() -> float:
        queue = EndpointQueue("bench", Endpoint(url="http://127.0.0.1:1/api/v1/write",
                                                queue_config=QueueConfig(capacity=10**9, min_shards=4)),
                              {"cluster": "bench"}, logging.getLogger("bench"))
        batches = []
        for step in range(args.rounds + 1):
            mm = metrics_service_pb2.ExportMetricsServiceRequest()
            mm.ParseFromString(build_request(20_000 + step))
            batches.append(translator.translate(mm))
        await queue.append(batches[0])  # warm the label cache
        c0 = _cpu()
        for b in batches[1:]:
            await queue.append(b)
        return sum(len(b) for b in batches[1:]) / (_cpu() - c0)

    print(f"remote_write append (4 shards, external label): {asyncio.run(append_rate()):>12,.0f} samples/s")

    # prometheus.remote_write.append as the pipeline calls it: WAL record (encode + snappy + CRC +
    # write) and then the endpoint queue. The endpoint is unreachable, so nothing is sent meanwhile.
    import tempfile
    import time
    from pathlib import Path

    from collector.components.prometheus.remote_write import Arguments, RemoteWrite
    from collector.testing.context import build_context

    async def wal_append_rate(storage: Path) -> tuple[float, int, int, int, int]:
        endpoint = Endpoint(url="http://127.0.0.1:1/api/v1/write", name="bench",
                            queue_config=QueueConfig(capacity=10**9, min_shards=4, batch_send_deadline=3600))
        rw = RemoteWrite(build_context(RemoteWrite, "prometheus.remote_write.bench", storage_path=storage),
                         Arguments(external_labels={"cluster": "bench"}, endpoint=[endpoint]))
        rw.segment_bytes = 4 << 20
        await rw.start()
        batches = []
        for step in range(args.rounds * 4 + 1):
            mm = metrics_service_pb2.ExportMetricsServiceRequest()
            mm.ParseFromString(build_request(30_000 + step))
            batches.append(translator.translate(mm))
        await rw.append(batches[0])
        c0 = _cpu()
        for b in batches[1:]:
            await rw.append(b)
        rate = sum(len(b) for b in batches[1:]) / (_cpu() - c0)
        wal = rw.wal
        assert wal is not None
        backlog = wal.size_bytes  # everything unsent: the WAL holds it all
        # steady load with an endpoint that keeps up: ack each record, truncation on rotation
        peak = 0
        for step in range(200):
            mm = metrics_service_pb2.ExportMetricsServiceRequest()
            mm.ParseFromString(build_request(40_000 + step))
            await rw.append(translator.translate(mm))
            wal.ack("bench", wal.head)
            peak = max(peak, wal.size_bytes)
        rw._truncate(full=True)
        after = wal.size_bytes
        samples = sum(len(b) for b in batches[1:])
        await rw.shutdown(time.monotonic())
        return rate, backlog, samples, peak, after

    with tempfile.TemporaryDirectory(prefix="wal-bench-") as tmp:
        rate, backlog, samples, peak, after = asyncio.run(wal_append_rate(Path(tmp)))
    print(f"remote_write append incl. WAL (4 shards, external label): {rate:>12,.0f} samples/s")
    print(f"WAL backlog: {backlog / 1e6:.1f} MB for {samples:,} unsent samples ({backlog / samples:.1f} B/sample); "
          f"steady load, endpoint keeping up (4 MiB segments): peak {peak / 1e6:.1f} MB, "
          f"{after / 1e6:.1f} MB after truncation")

    # encoder comparison on one translated batch (same content for every variant)
    m = metrics_service_pb2.ExportMetricsServiceRequest()
    m.ParseFromString(build_request(10_000))
    batch = Translator().translate(m)
    labels = [s.encoded for s in batch.series]
    direct = encoder.encode(labels, batch.values, batch.timestamps_ms)
    assert (prompb.decode(direct) == prompb.decode(encode_upb(batch, merge_labels=True))
            == prompb.decode(encode_upb(batch, merge_labels=False)))
    for name, fn in (("direct bytes", lambda: encoder.encode(labels, batch.values, batch.timestamps_ms)),
                     ("upb + merge labels", lambda: encode_upb(batch, merge_labels=True)),
                     ("upb naive", lambda: encode_upb(batch, merge_labels=False))):
        times = []
        for _ in range(args.rounds):
            c0 = _cpu()
            for _ in range(5):
                fn()
            times.append((_cpu() - c0) / 5)
        best = statistics.median(times)
        print(f"encode {name:>20}: {len(batch) / best:>12,.0f} samples/s")

    # the WAL record of the same batch (series refs already defined in this segment)
    from collector.protocols.prometheus import walrecord

    records = walrecord.Encoder()
    records.encode(batch, 0)
    times = []
    for _ in range(args.rounds):
        c0 = _cpu()
        for _ in range(5):
            compress(records.encode(batch, 0))
        times.append((_cpu() - c0) / 5)
    print(f"WAL record encode + snappy: {len(batch) / statistics.median(times):>12,.0f} samples/s")


if __name__ == "__main__":
    main()
