"""`python -m bench.http_server_cost`: server CPU per OTLP/HTTP request, aiohttp's server against ours.

Why. At the load most hosts have (`--rate 10000` spans/s = 100 requests/s of 100 spans), every request
reaches an idle process, and the per-request machinery of the HTTP server, not the decode, was half
of the receiver's CPU. This measures that machinery alone: each variant serves OTLP/HTTP in its own
process with the same protocol logic (`OtlpHttpProtocol`: route, decode with upb, answer) and an
admission that accepts and forgets (`NullAdmission`), `bench.load` sends traces at the given rate,
and the figure is the server process's CPU (utime+stime, /proc) per request.

Variants:
  aiohttp    aiohttp's low-level `web.Server` with the handler the receiver used before
  httptools  the receiver's own server (`collector/transport/http_server.py`, httptools)

Variants alternate within each round (`bench/rounds.py`); the report is the median per variant.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
from typing import Any

from bench.procstat import cpu_seconds
from bench.rounds import run_rounds
from collector.testing.admission import NullAdmission
from collector.testing.process import free_port

VARIANTS = ("aiohttp", "httptools")


def _protocol() -> Any:
    from collector.components.otelcol.receiver.otlp import HttpArguments
    from collector.protocols.otlp_http import OtlpHttpProtocol

    args = HttpArguments(endpoint="127.0.0.1:0")
    return OtlpHttpProtocol(args.paths(), args.max_request_body_size)


async def _serve_aiohttp(port: int) -> None:
    from aiohttp import web

    from collector.protocols.otlp_http import HttpReply
    from collector.transport.ingest import Ingest

    protocol = _protocol()
    ingest = Ingest(NullAdmission(), "bench", "http")

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        decision = protocol.start(request.method, request.path, request.headers)
        if isinstance(decision, HttpReply):
            reply = decision
        else:
            outcome = protocol.decode(decision, await request.read())
            if isinstance(outcome, HttpReply):
                reply = outcome
            else:
                error = ingest.settle(outcome, ingest.offer(outcome))
                reply = protocol.success(decision) if error is None else protocol.failure(decision, error)
        return web.Response(status=reply.status, body=reply.body,
                            headers={"Content-Type": reply.content_type, **dict(reply.headers)})

    server = web.Server(handle, auto_decompress=False, access_log=None)
    await asyncio.get_running_loop().create_server(server, "127.0.0.1", port)


async def _serve_ours(port: int) -> None:
    from collector.transport.http_server import HttpServerConfig, OtlpHttpServer
    from collector.transport.ingest import Ingest

    server = OtlpHttpServer(HttpServerConfig("127.0.0.1", port, _protocol()),
                            Ingest(NullAdmission(), "bench", "http"), logging.getLogger("bench"))
    await server.start()


def serve(variant: str, port: int) -> None:
    import uvloop

    async def main() -> None:
        await (_serve_aiohttp(port) if variant == "aiohttp" else _serve_ours(port))
        print("ready", flush=True)
        await asyncio.Event().wait()

    uvloop.run(main())


def measure(variant: str, rate: int | None, duration: float, warmup: float, concurrency: int) -> dict[str, float]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "bench.http_server_cost", "--serve", variant, "--port", str(port)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        if not server.stdout.readline().startswith("ready"):
            raise RuntimeError(f"{variant} server did not start")
        command = [sys.executable, "-m", "bench.load", "--signal", "traces", "--protocol", "http",
                   "--endpoint", f"http://127.0.0.1:{port}", "--concurrency", str(concurrency),
                   "--items-per-request", "100", "--duration", str(warmup + duration), "--quiet"]
        if rate:
            command += ["--rate", str(rate)]
        load = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        time.sleep(warmup)
        cpu_before, started = cpu_seconds(server.pid), time.monotonic()
        out, _ = load.communicate()
        cpu, wall = cpu_seconds(server.pid) - cpu_before, time.monotonic() - started
        report = json.loads(out)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    requests = report["requests_accepted"] * wall / (warmup + wall)  # those of the measured window
    return {"cost": cpu / requests * 1e6, "rate": requests / wall,
            "failed": report["failed"] + report["refused"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http_server_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--variant", action="append", choices=VARIANTS, help="default: both")
    parser.add_argument("--rate", type=int, default=10_000, help="spans/s (100 per request); 0: as fast as accepted")
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        serve(args.serve, args.port)
        return 0
    print(f"traces over OTLP/HTTP, 100 spans per request, {'%d spans/s' % args.rate if args.rate else 'full speed'}, "
          f"concurrency {args.concurrency}; load average {os.getloadavg()[0]:.2f}")
    run_rounds(args.variant or list(VARIANTS), args.rounds,
               lambda variant: measure(variant, args.rate or None, args.duration, args.warmup, args.concurrency),
               "request")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
