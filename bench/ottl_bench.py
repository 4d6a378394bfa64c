"""Micro-benchmark: OTTL statements over data points (datapoint context).

    .venv/bin/python bench/ottl_bench.py [--requests 1000] [--points 1000] [--resources 10]
                                         [--statements tutorial|literal]

`tutorial` is the example configuration's two `set`s of resource attributes; `literal` is one
`set(attributes["team"], "checkout")`. Reports CPU seconds per million points and points/s for:
the decoded path (upb parse, OTTL on the message, serialize) and the byte path the transform
processor takes for such groups (`splice`, bytes in and bytes out; `serialize+splice` is its cost
when the payload arrives decoded, as it does behind resourcedetection); then the whole
`otelcol.processor.transform` `consume` (counters, payload hand-over) for payloads that arrive as
bytes and decoded, up to the bytes the next component (batch) concatenates.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

import msgspec

from collector.components.otelcol.processor.transform import Arguments, TransformProcessor
from collector.ottl.runner import compile_group, run_group, visit_fn
from collector.ottl.splice import Splicer
from collector.signals import Payload, Signal
from collector.testing.context import CollectingConsumer, build_context, ref

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
    bytes_s, decoded_s = processor_seconds(data, SETS[opts.statements], opts.requests)
    print(f"statements: {opts.statements}; {opts.requests} requests x {total_points // opts.requests} points")
    for name, secs in (("parse", parse_s), ("ottl", run_s), ("serialize", ser_s),
                       ("decoded total", parse_s + run_s + ser_s), ("splice", splice_s),
                       ("serialize+splice", reser_s + splice_s), ("processor/bytes", bytes_s),
                       ("processor/decoded", decoded_s)):
        print(f"{name:17s} {secs:8.2f} cpu-s  {secs / million:6.2f} cpu-s/1M points  {total_points / secs:12,.0f} points/s")


def processor_seconds(data: bytes, statements: list[str], requests: int) -> tuple[float, float]:
    """CPU seconds of `TransformProcessor.consume` plus the downstream `payload.data`, for payloads
    that arrive as bytes and for payloads that arrive decoded (decoding not counted)."""
    args = msgspec.convert({"metric_statements": [{"context": "datapoint", "statements": statements}],
                            "output": {}}, Arguments)
    args = msgspec.structs.replace(args, output=msgspec.structs.replace(args.output, metrics=[ref("sink", Signal.METRICS)]))
    sink = CollectingConsumer()
    proc = TransformProcessor(build_context(TransformProcessor, "otelcol.processor.transform.bench",
                                            consumers={"sink": sink}), args)
    loop = asyncio.new_event_loop()
    totals = [0.0, 0.0]
    try:
        for _ in range(requests):
            for which in (0, 1):
                if which:
                    payload = Payload(Signal.METRICS, message=ExportMetricsServiceRequest.FromString(data), item_count=1000)
                else:
                    payload = Payload(Signal.METRICS, data=data)
                t0 = time.process_time()
                loop.run_until_complete(proc.consume(payload))
                sink.payloads.pop().data
                totals[which] += time.process_time() - t0
    finally:
        loop.close()
    return totals[0], totals[1]


if __name__ == "__main__":
    main()
