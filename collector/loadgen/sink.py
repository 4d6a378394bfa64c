"""Counting sink: `collector sink --port 4418 [--bytes-only] [--fail 503 --fail-seconds 10]`
(also `python -m bench.sink` in the repository, with the same flags).

OTLP/HTTP (`/v1/traces`, `/v1/metrics`, `/v1/logs`, protobuf or JSON) and Prometheus remote write
(`/api/v1/write`, snappy) on one port. Counts what arrives (decoding, so loss is measured in
items) and serves the counts and end-to-end delay percentiles as JSON on `GET /stats`
(`?reset_delays=1` starts a new delay sample). `--bytes-only` skips decoding for pure throughput runs
where the sink must be cheaper than the collector. `--fail STATUS` answers that status (with
`--retry-after`) for `--fail-seconds`, then recovers. The sink itself is the test suite's backend
double (`collector/testing/sink.py`), so what the tests trust is what an operator measures with.
"""

from __future__ import annotations

import argparse


def serve(args: argparse.Namespace) -> int:
    """Serve until interrupted (Ctrl-C or SIGTERM)."""
    import uvloop
    from aiohttp import web

    from collector.testing.sink import OtlpSink

    sink = OtlpSink(count_bytes_only=args.bytes_only, record_delays=not args.bytes_only)
    if args.fail:
        sink.fail(args.fail, seconds=args.fail_seconds, retry_after=args.retry_after)
    web.run_app(sink.app, host=args.host, port=args.port, access_log=None, print=None, loop=uvloop.new_event_loop())
    return 0
