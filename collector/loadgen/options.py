"""The flags of `collector loadgen` and `collector sink` (and of `python -m bench.load`/`bench.sink`,
which wrap the same code), kept apart from the tools so that building the CLI parser imports nothing
heavy: `collector run` should not load protobuf payload builders to print its help."""

from __future__ import annotations

import argparse

LOAD_DESCRIPTION = "OTLP load generator: paced or as-fast-as-accepted, retrying refusals as an OTLP client must"
SINK_DESCRIPTION = "Counting sink: OTLP/HTTP and Prometheus remote write on one port, counts and delays on GET /stats"
SIGNALS = ("traces", "metrics", "logs")


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    """The generator's flags, shared by `collector loadgen` and `python -m bench.load`."""
    parser.add_argument("--signal", choices=SIGNALS, default="traces")
    parser.add_argument("--protocol", choices=["http", "grpc"], default="http")
    parser.add_argument("--endpoint", help="http://127.0.0.1:4318 (http) or 127.0.0.1:4317 (grpc)")
    parser.add_argument("--format", choices=["protobuf", "json"], default="protobuf", help="OTLP/HTTP body encoding")
    parser.add_argument("--compression", choices=["none", "gzip"], default="none", help="OTLP/HTTP Content-Encoding")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of sending")
    parser.add_argument("--rate", type=float, default=None, help="items/s; omit for as fast as accepted")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--retry-for", type=float, default=30.0, help="seconds after the end to keep retrying")
    parser.add_argument("--items-per-request", type=int, default=100)
    parser.add_argument("--resources-per-request", type=int, default=3)
    parser.add_argument("--attributes-per-item", type=int, default=10)
    parser.add_argument("--resource-attributes", type=int, default=12)
    parser.add_argument("--value-size", type=int, default=16, help="bytes per string attribute value")
    parser.add_argument("--distinct-series", type=int, default=1000, help="metrics: distinct series; hosts")
    parser.add_argument("--quiet", action="store_true", help="no progress line")


def add_sink_arguments(parser: argparse.ArgumentParser) -> None:
    """The sink's flags, shared by `collector sink` and `python -m bench.sink`."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bytes-only", action="store_true", help="count requests and bytes, decode nothing")
    parser.add_argument("--fail", type=int, help="answer this HTTP status ...")
    parser.add_argument("--fail-seconds", type=float, default=None, help="... for this long (default: until restarted)")
    parser.add_argument("--retry-after", default=None, help="Retry-After header sent with --fail")
