"""`python -m bench.grpc_server_cost`: server CPU per unary gRPC call, by server implementation.

Why. The OTLP/gRPC receiver costs more CPU per request than OTLP/HTTP, and profiles put most of it
in grpcio's Python server machinery rather than in our handler. This measures that machinery alone:
each server variant runs in its own process with the same trivial handler (answer the OTLP success
body; with `--decode`, parse the request as the receiver does first), real grpc.aio clients send
`--calls` traces requests (100 spans each) at a fixed concurrency over two HTTP/2 connections, and
the figure is the server process's CPU (utime+stime of all its threads, /proc) per call. With
`--rate` the clients pace their calls (e.g. 100 calls/s, the light load the receiver mostly sees):
then every call arrives alone, and what a call costs on its own (thread wake-ups included) shows.

Variants:
  aio        grpc.aio server on uvloop, generic bytes handler (what the receiver used before)
  sync       grpc.server with a thread pool
  core       collector/transport/grpc_core.py: the C-core completion queue in one thread, the
             handler run inline in it (what the receiver does with an ordinary request)
  core-loop  the same, but every answer is sent from a uvloop event loop, reached through the
             coalescing hand-off (collector/transport/loop_bridge.py) the receiver uses for
             authenticated and large requests (and used for every request before)
Both core variants run with the connection polling grpc_core chooses (GRPC_EXPERIMENTS, see its
docstring); run with GRPC_EXPERIMENTS set to something else to compare.

Variants alternate within each round so machine noise spreads over all of them; the report is the
median per variant. On a loaded machine absolute figures move; the ratios are what to read.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from typing import Any

from bench.procstat import cpu_seconds
from bench.rounds import run_rounds
from collector.signals import Signal
from collector.testing.process import free_port

VARIANTS = ("aio", "sync", "core", "core-loop")
METHOD = Signal.TRACES.spec.grpc_method


# --- the servers (run with --serve in a child process) ---------------------------------------------
def _handler_work(decode: bool) -> Any:
    from collector.protocols import otlp_grpc

    body = otlp_grpc.success_body(Signal.TRACES)

    def work(message: bytes) -> bytes:
        if decode:
            otlp_grpc.decode(Signal.TRACES, message)
        return body

    return work


def _options() -> list[tuple[str, Any]]:
    from collector.transport.grpc_limits import server_options

    return [("grpc.max_receive_message_length", 4 << 20), ("grpc.so_reuseport", 0), *server_options(0)]


def _serve_aio(port: int, decode: bool) -> None:
    import grpc
    import grpc.aio
    import uvloop

    work = _handler_work(decode)

    async def export(request: bytes, context: Any) -> bytes:
        return work(request)

    async def main() -> None:
        server = grpc.aio.server(options=_options())
        service, _, method = METHOD.strip("/").partition("/")
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
            service, {method: grpc.unary_unary_rpc_method_handler(export)}),))
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        _ready(port)
        await server.wait_for_termination()

    uvloop.run(main())


def _serve_sync(port: int, decode: bool) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import grpc

    work = _handler_work(decode)
    server = grpc.server(ThreadPoolExecutor(max_workers=16), options=_options())
    service, _, method = METHOD.strip("/").partition("/")
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        service, {method: grpc.unary_unary_rpc_method_handler(lambda request, context: work(request))}),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    _ready(port)
    server.wait_for_termination()


def _serve_core(port: int, decode: bool, via_loop: bool) -> None:
    import uvloop

    from collector.transport.grpc_core import CoreCall, CoreServer
    from collector.transport.loop_bridge import LoopBridge

    work = _handler_work(decode)
    loop = uvloop.new_event_loop()
    bridge = LoopBridge(loop)

    def answer(call: CoreCall, body: bytes) -> None:
        call.finish(0, "", body)

    class Handler:
        def on_call(self, call: CoreCall, method: Any) -> None:
            call.receive()

        def on_message(self, call: CoreCall, method: Any, message: bytes | None) -> None:
            body = work(message or b"")
            if via_loop:
                bridge.submit(answer, call, body)
            else:
                answer(call, body)

    server = CoreServer(_options(), {METHOD.encode(): Signal.TRACES}, Handler())
    server.add_port(f"127.0.0.1:{port}")
    server.start()
    _ready(port)
    loop.run_forever()


def _ready(port: int) -> None:
    print(f"ready {port}", flush=True)


# --- the client and the measurement ------------------------------------------------------------------
async def _drive(port: int, bodies: list[bytes], calls: int, concurrency: int, rate: float = 0.0) -> int:
    import grpc
    import grpc.aio

    channels = [grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)])
                for _ in range(2)]
    stubs: list[Any] = [channel.unary_unary(METHOD) for channel in channels]
    remaining = calls
    failed = 0
    started = time.monotonic()

    async def sender(w: int) -> None:
        nonlocal remaining, failed
        stub = stubs[w % len(stubs)]
        while remaining > 0:
            remaining -= 1
            if rate > 0:  # call number (calls - remaining) is due at its slot of the schedule
                await asyncio.sleep(max(0.0, started + (calls - remaining) / rate - time.monotonic()))
            try:
                await stub(bodies[remaining % len(bodies)], timeout=30)
            except grpc.aio.AioRpcError:
                failed += 1

    await asyncio.gather(*(sender(w) for w in range(concurrency)))
    for channel in channels:
        await channel.close()
    return failed


def measure(variant: str, bodies: list[bytes], calls: int, concurrency: int, warmup: int, decode: bool,
            rate: float = 0.0) -> dict[str, float]:
    port = free_port()
    command = [sys.executable, "-m", "bench.grpc_server_cost", "--serve", variant, "--port", str(port)]
    if decode:
        command.append("--decode")
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line.startswith("ready"):
            raise RuntimeError(f"{variant} server did not start: {line!r}")
        asyncio.run(_drive(port, bodies, warmup, concurrency))
        cpu_before, started = cpu_seconds(server.pid), time.monotonic()
        failed = asyncio.run(_drive(port, bodies, calls, concurrency, rate))
        cpu = cpu_seconds(server.pid) - cpu_before
        wall = time.monotonic() - started
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    return {"cost": cpu / calls * 1e6, "rate": calls / wall, "failed": failed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.grpc_server_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--variant", action="append", choices=VARIANTS, help="default: all")
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--decode", action="store_true", help="the handler parses the request, as the receiver does")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="calls per second, paced (default: as fast as the server answers)")
    parser.add_argument("--serve", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        if args.serve == "aio":
            _serve_aio(args.port, args.decode)
        elif args.serve == "sync":
            _serve_sync(args.port, args.decode)
        else:
            _serve_core(args.port, args.decode, via_loop=args.serve == "core-loop")
        return 0

    from bench.payloads import Shape, build

    bodies = build(Signal.TRACES, Shape(items_per_request=100), variants=8)
    print(f"{args.calls} calls per run, concurrency {args.concurrency}, request {len(bodies[0])} bytes, "
          f"{f'{args.rate:g} calls/s, ' if args.rate else ''}handler {'decodes' if args.decode else 'does nothing'}; "
          f"load average {os.getloadavg()[0]:.2f}")
    run_rounds(args.variant or list(VARIANTS), args.rounds,
               lambda variant: measure(variant, bodies, args.calls, args.concurrency, args.warmup, args.decode,
                                       args.rate), "call")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
