"""Micro-benchmark of resource detection's apply step over 100,000 resources.

Builds `--requests` trace requests of `--resources` resources (each with a few attributes and
`--spans` spans) and measures, per override mode:
* apply: merging the detected attributes into already-decoded messages (the processor's own cost);
* end to end: parse bytes -> apply -> serialize (what a worker pays when nothing else decoded).
Reports resources/s (wall) and CPU-seconds per million resources.

    python bench/resourcedetection_bench.py [--requests 1000] [--resources 100] [--spans 2] [--rounds 3]

Prints one line per measurement: resources/s and CPU-seconds per million resources.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402

from collector.components.otelcol.processor.resourcedetection.merge import ResourceAttributeMerger  # noqa: E402

DETECTED = [("host.name", "collector-host-01"), ("os.type", "linux"), ("deployment.environment", "prod")]


def build_request(resources: int, spans: int, seed: int) -> bytes:
    request = ExportTraceServiceRequest()
    for r in range(resources):
        rs = request.resource_spans.add()
        attrs = rs.resource.attributes
        attrs.add(key="service.name").value.string_value = f"svc-{r % 7}"
        attrs.add(key="service.instance.id").value.string_value = f"pod-{seed}-{r}"
        if r % 2:  # half of the resources already carry host.name (exercises the override path)
            attrs.add(key="host.name").value.string_value = f"app-{r % 5}"
        scope = rs.scope_spans.add()
        scope.scope.name = "bench"
        for s in range(spans):
            span = scope.spans.add(name=f"op-{s}", start_time_unix_nano=1, end_time_unix_nano=2)
            span.trace_id = (seed * 1_000_003 + r * 131 + s).to_bytes(16, "big")
            span.span_id = (s + 1).to_bytes(8, "big")
    return request.SerializeToString()


def measure(label: str, total: int, rounds: int, body: object) -> None:
    walls, cpus = [], []
    for _ in range(rounds):
        w0, c0 = time.perf_counter(), time.process_time()
        body()  # type: ignore[operator]
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    print(f"{label:<38} {total / wall:>12,.0f} resources/s   {cpu / total * 1e6:6.2f} CPU-s per million")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--resources", type=int, default=100)
    parser.add_argument("--spans", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    opts = parser.parse_args()
    blobs = [build_request(opts.resources, opts.spans, i) for i in range(opts.requests)]
    total = opts.requests * opts.resources
    print(f"python {platform.python_version()} on {platform.machine()} ({os.cpu_count()} cpus), "
          f"{opts.requests} requests x {opts.resources} resources x {opts.spans} spans")
    for override in (True, False):
        merger = ResourceAttributeMerger(DETECTED, override)

        def apply_only() -> None:
            messages = [ExportTraceServiceRequest.FromString(b) for b in blobs]
            t0 = time.process_time()
            for message in messages:
                merger.apply(message.resource_spans)
            apply_only.cpu = time.process_time() - t0  # type: ignore[attr-defined]

        def end_to_end() -> None:
            for blob in blobs:
                message = ExportTraceServiceRequest.FromString(blob)
                merger.apply(message.resource_spans)
                message.SerializeToString()

        # apply alone: decode outside the timed region
        cpu_runs = []
        for _ in range(opts.rounds):
            apply_only()
            cpu_runs.append(apply_only.cpu)  # type: ignore[attr-defined]
        cpu = statistics.median(cpu_runs)
        print(f"{'apply (override=' + str(override).lower() + ')':<38} {total / cpu:>12,.0f} resources/s   "
              f"{cpu / total * 1e6:6.2f} CPU-s per million")
        measure(f"parse+apply+serialize (override={str(override).lower()})", total, opts.rounds, end_to_end)


if __name__ == "__main__":
    main()
