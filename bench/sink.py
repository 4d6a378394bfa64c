"""Benchmark sink: `python -m bench.sink --port 4418 [--bytes-only] [--fail 503 --fail-seconds 10]`.

OTLP/HTTP (`/v1/traces`, `/v1/metrics`, `/v1/logs`, protobuf or JSON) and Prometheus remote write
(`/api/v1/write`, snappy) on one loopback port. Counts what arrives (decoding, so loss is measured in
items) and serves the counts and end-to-end delay percentiles as JSON on `GET /stats`
(`?reset_delays=1` starts a new delay sample). `--bytes-only` skips decoding for pure throughput runs
where the sink must be cheaper than the collector. `--fail STATUS` answers that status (with
`--retry-after`) for `--fail-seconds`, then recovers.
"""

from __future__ import annotations

import argparse

from aiohttp import web

from collector.testing.sink import OtlpSink


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sink", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bytes-only", action="store_true", help="count requests and bytes, decode nothing")
    parser.add_argument("--fail", type=int, help="answer this HTTP status ...")
    parser.add_argument("--fail-seconds", type=float, default=None, help="... for this long (default: until restarted)")
    parser.add_argument("--retry-after", default=None, help="Retry-After header sent with --fail")
    args = parser.parse_args(argv)
    sink = OtlpSink(count_bytes_only=args.bytes_only, record_delays=not args.bytes_only)
    if args.fail:
        sink.fail(args.fail, seconds=args.fail_seconds, retry_after=args.retry_after)
    import uvloop

    web.run_app(sink.app, host=args.host, port=args.port, access_log=None, print=None, loop=uvloop.new_event_loop())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
