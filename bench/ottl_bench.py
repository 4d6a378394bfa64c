"""Micro-benchmark: OTTL statements over data points (datapoint context).

    .venv/bin/python bench/ottl_bench.py [--requests 1000] [--points 1000] [--resources 10]
                                         [--statements tutorial|literal]

`tutorial` is the example configuration's two `set`s of resource attributes; `literal` is one
`set(attributes["team"], "checkout")`. Reports CPU seconds per million points and points/s for:
the decoded path (upb parse, OTTL on the message, serialize) and the byte path the transform
processor takes for such groups (`splice`, bytes in and bytes out; `serialize+splice` is its cost
when the payload arrives decoded, as it does behind resourcedetection).
"""

from __future__ import annotations

import argparse
import time

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from collector.ottl.runner import compile_group, run_group, visit_fn
from collector.ottl.splice import Splicer
from collector.signals import Signal

STATEMENTS = [
    'set(attributes["deployment.environment"], resource.attributes["deployment.environment"])',
    'set(attributes["service.version"], resource.attributes["service.version"])',
]
SETS = {"tutorial": STATEMENTS, "literal": ['set(attributes["team"], "checkout")']}


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
    parser.add_argument("--statements", choices=sorted(SETS), default="tutorial")
    opts = parser.parse_args()
    data = build_request(opts.points, opts.resources)
    group = compile_group("datapoint", SETS[opts.statements])
    spec = Signal.METRICS.spec
    assert group.constant_sets is not None
    splicer = Splicer(group.context, group.constant_sets, group.conditions, group.hoister)
    visit = visit_fn(group, lambda text, exc: None)
    parse_s = run_s = ser_s = splice_s = reser_s = 0.0
    for _ in range(opts.requests):
        t0 = time.process_time()
        msg = ExportMetricsServiceRequest.FromString(data)
        t1 = time.process_time()
        run_group(msg, spec, group, lambda text, exc: None)
        t2 = time.process_time()
        msg.SerializeToString()
        t3 = time.process_time()
        spliced, _ = splicer.run(data, visit)
        t4 = time.process_time()
        fresh = ExportMetricsServiceRequest.FromString(data)
        t5 = time.process_time()
        fresh.SerializeToString()
        t6 = time.process_time()
        assert spliced is not None
        parse_s += t1 - t0
        run_s += t2 - t1
        ser_s += t3 - t2
        splice_s += t4 - t3
        reser_s += t6 - t5
    total_points = opts.requests * (opts.points // opts.resources) * opts.resources
    million = total_points / 1e6
    print(f"statements: {opts.statements}; {opts.requests} requests x {total_points // opts.requests} points")
    for name, secs in (("parse", parse_s), ("ottl", run_s), ("serialize", ser_s),
                       ("decoded total", parse_s + run_s + ser_s), ("splice", splice_s),
                       ("serialize+splice", reser_s + splice_s)):
        print(f"{name:17s} {secs:8.2f} cpu-s  {secs / million:6.2f} cpu-s/1M points  {total_points / secs:12,.0f} points/s")


if __name__ == "__main__":
    main()
