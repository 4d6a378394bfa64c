"""Micro-benchmark: the user-written regexes on the hot paths (relabel rules and OTTL).

    .venv/bin/python -m bench.regex_bench [--series 20000] [--rounds 5] [--requests 200] [--repeat 3]

`relabel`: `apply` of five typical rules (keep by name, replace with a capture, labelmap, labeldrop,
drop by namespace) to `--series` distinct label sets. `cold` is the first pass over fresh compiled
rules (every value new to the regexes); `warm` is the mean of `--rounds` further passes over the
same label sets (what a long-running `discovery.relabel` or `write_relabel_config` sees, and what
`prometheus.relabel` sees behind its per-series cache). Times exclude building the label sets.

`ottl`: datapoint statements with `IsMatch`, `replace_pattern` and `replace_all_patterns` over the
request `bench/ottl_bench.py` builds (1000 points, 20 distinct routes: `repeated`), and the same
with a distinct route on every point of every request (`distinct`: no value is seen twice), freshly
parsed for each request; only the statements are timed. Every figure is the best of `--repeat`
runs (CPU time), which is what stays comparable on a shared machine.
"""

from __future__ import annotations

import argparse
import time
from typing import Callable

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from bench.ottl_bench import build_request
from collector.ottl.runner import compile_group, run_group
from collector.protocols.prometheus.relabel import Rule, apply, compile_rules
from collector.signals import Signal

RULES = [
    Rule(source_labels=["__name__"], regex="http_.*|process_.*|go_gc_.*|up", action="keep"),
    Rule(source_labels=["instance"], regex="(.*):[0-9]+", target_label="host", replacement="$1"),
    Rule(regex="__meta_kubernetes_pod_label_(.+)", action="labelmap"),
    Rule(regex="pod_template_hash|controller_revision_hash", action="labeldrop"),
    Rule(source_labels=["namespace"], regex="kube-system|monitoring", action="drop"),
]

STATEMENTS = [
    'set(attributes["route.kind"], "numbered") where IsMatch(attributes["http.route"], "^/r/[0-9]+$")',
    'replace_pattern(attributes["http.route"], "/r/([0-9]+)", "/r/{id}")',
    'replace_all_patterns(attributes, "value", "^GET$", "get")',
]


def label_sets(n: int) -> list[dict[str, str]]:
    names = ["http_requests_total", "process_cpu_seconds_total", "go_gc_duration_seconds", "up", "node_load1"]
    namespaces = ["default", "shop", "kube-system", "payments"]
    return [
        {
            "__name__": names[i % len(names)],
            "job": "kubernetes-pods",
            "instance": f"10.0.{i // 250 % 256}.{i % 250}:9090",
            "namespace": namespaces[i % len(namespaces)],
            "pod": f"checkout-{i:06d}",
            "pod_template_hash": f"{i * 7919 % 1000003:x}",
            "__meta_kubernetes_pod_label_app": f"app-{i % 40}",
            "__meta_kubernetes_pod_label_tier": "backend" if i % 2 else "frontend",
        }
        for i in range(n)
    ]


def cpu(fn: Callable[[], None]) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def bench_relabel(series: int, rounds: int, repeat: int) -> None:
    kept = 0
    cold = warm = float("inf")
    for run in range(repeat):
        sets = label_sets(series)
        for labels in sets:  # distinct values on every run, so the first pass is cold
            labels["instance"] += f"{run}"
        rules = compile_rules(RULES)

        def one_pass() -> None:
            nonlocal kept
            kept = sum(1 for labels in sets if apply(rules, labels) is not None)

        cold = min(cold, cpu(one_pass))
        warm = min(warm, sum(cpu(one_pass) for _ in range(rounds)) / rounds)
    print(f"relabel  {series} label sets x {len(RULES)} rules ({kept} kept)")
    for name, secs in (("cold", cold), ("warm", warm)):
        print(f"  {name:9s} {secs:7.3f} cpu-s  {series / secs:12,.0f} label sets/s  {secs / series * 1e6:7.2f} us/set")


def distinct_routes(data: bytes, request: int) -> bytes:
    """The request with `http.route` = `/r/<request>-<point>` on every point."""
    msg = ExportMetricsServiceRequest.FromString(data)
    n = 0
    for rm in msg.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for dp in metric.gauge.data_points:
                    for kv in dp.attributes:
                        if kv.key == "http.route":
                            kv.value.string_value = f"/r/{request}{n:04d}"
                    n += 1
    return msg.SerializeToString()


def bench_ottl(requests: int, repeat: int) -> None:
    base = build_request(1000, 10)
    spec = Signal.METRICS.spec
    errors: list[str] = []
    print(f"ottl     {requests} requests x 1000 points x {len(STATEMENTS)} statements")
    for name, payloads in (("repeated", [base] * requests),
                           ("distinct", [distinct_routes(base, r) for r in range(requests)])):
        best = float("inf")
        for _ in range(repeat):
            group = compile_group("datapoint", STATEMENTS)
            total = 0.0
            for data in payloads:
                msg = ExportMetricsServiceRequest.FromString(data)
                total += cpu(lambda: run_group(msg, spec, group, lambda text, exc: errors.append(text)))
            best = min(best, total)
        assert not errors, errors[:3]
        points = requests * 1000
        print(f"  {name:9s} {best:7.3f} cpu-s  {points / best:12,.0f} points/s  {best / points * 1e6:7.2f} us/point")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args()
    bench_relabel(opts.series, opts.rounds, opts.repeat)
    bench_ottl(opts.requests, opts.repeat)


if __name__ == "__main__":
    main()
