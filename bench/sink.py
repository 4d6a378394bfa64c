"""Benchmark sink: `python -m bench.sink --port 4418 [--bytes-only] [--fail 503 --fail-seconds 10]`.

Counts what arrives (decoding protobuf, so loss is measured in items) and serves the counts as JSON on
`GET /stats`. `--bytes-only` skips decoding for pure throughput runs where the sink must be cheaper
than the collector.
"""

from __future__ import annotations

import argparse

from aiohttp import web

from collector.testing.sink import OtlpSink


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sink", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bytes-only", action="store_true")
    parser.add_argument("--fail", type=int, help="answer this HTTP status ...")
    parser.add_argument("--fail-seconds", type=float, default=None, help="... for this long (default: until restarted)")
    args = parser.parse_args(argv)
    sink = OtlpSink(count_bytes_only=args.bytes_only)
    if args.fail:
        sink.fail(args.fail, seconds=args.fail_seconds)
    import uvloop

    web.run_app(sink.app, host=args.host, port=args.port, access_log=None, print=None, loop=uvloop.new_event_loop())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
