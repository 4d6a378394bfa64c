"""Micro-benchmark: the tutorial's two `set` statements over data points (datapoint context).

    .venv/bin/python bench/ottl_bench.py [--requests 1000] [--points 1000] [--resources 10]

Reports, separately: upb parse, OTTL execution, serialize; CPU seconds per million points and
points/s for each and for the total.
"""

from __future__ import annotations

import argparse
import time

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from collector.ottl.runner import compile_group, run_group
from collector.signals import Signal

STATEMENTS = [
    'set(attributes["deployment.environment"], resource.attributes["deployment.environment"])',
    'set(attributes["service.version"], resource.attributes["service.version"])',
]


def build_request(points: int, resources: int) -> bytes:
    req = ExportMetricsServiceRequest()
    per_resource = points // resources
    for r in range(resources):
        rm = req.resource_metrics.add()
        for key, value in (("service.name", f"svc-{r}"), ("deployment.environment", "prod"),
                           ("service.version", "1.2.3"), ("host.name", f"host-{r}")):
            kv = rm.resource.attributes.add()
            kv.key = key
            kv.value.string_value = value
        metric = rm.scope_metrics.add().metrics.add()
        metric.name = "http.server.duration"
        for i in range(per_resource):
            dp = metric.gauge.data_points.add()
            dp.as_double = float(i)
            dp.time_unix_nano = 1_700_000_000_000_000_000 + i
            for key, value in (("http.method", "GET"), ("http.route", f"/r/{i % 20}"), ("status", "200")):
                kv = dp.attributes.add()
                kv.key = key
                kv.value.string_value = value
    return req.SerializeToString()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--resources", type=int, default=10)
    opts = parser.parse_args()
    data = build_request(opts.points, opts.resources)
    group = compile_group("datapoint", STATEMENTS)
    spec = Signal.METRICS.spec
    parse_s = run_s = ser_s = 0.0
    for _ in range(opts.requests):
        t0 = time.process_time()
        msg = ExportMetricsServiceRequest.FromString(data)
        t1 = time.process_time()
        run_group(msg, spec, group, lambda text, exc: None)
        t2 = time.process_time()
        msg.SerializeToString()
        t3 = time.process_time()
        parse_s += t1 - t0
        run_s += t2 - t1
        ser_s += t3 - t2
    total_points = opts.requests * (opts.points // opts.resources) * opts.resources
    million = total_points / 1e6
    for name, secs in (("parse", parse_s), ("ottl", run_s), ("serialize", ser_s),
                       ("total", parse_s + run_s + ser_s)):
        print(f"{name:10s} {secs:8.2f} cpu-s  {secs / million:6.2f} cpu-s/1M points  {total_points / secs:12,.0f} points/s")


if __name__ == "__main__":
    main()
