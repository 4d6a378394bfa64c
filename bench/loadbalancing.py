"""`python -m bench.loadbalancing`: what routing by trace id costs the first tier of a fleet.

One first-tier collector (OTLP/gRPC in -> batch -> exporter) is measured twice in the same run,
alternating: with `otelcol.exporter.loadbalancing` (routing_key "traceID", a static ring of three
backends) and with a plain `otelcol.exporter.otlp` to one backend. The backends are gRPC servers
in this process that count the spans they get (upb decode), so nothing is lost unnoticed; the
figures are the first tier's: spans accepted per second by the load generator (`bench.load`, as
fast as accepted) and CPU seconds of the collector's process tree per million spans.

The load generator gives every span its own random trace id (the worst case for splitting: each
request becomes one part per backend); the backends' counts must add up to what was accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from typing import Any

from bench.procstat import TreeMonitor, cpu_model
from collector.signals import Signal
from collector.testing.configs import batch_processor, otlp_receiver
from collector.testing.process import CollectorProcess, free_port

BACKENDS = 3

LOADBALANCING = """
otelcol.exporter.loadbalancing "lb" {{
  resolver {{
    static {{
      hostnames = [{hostnames}]
    }}
  }}
  protocol {{
    otlp {{
      client {{
        compression = "none"
        tls {{
          insecure = true
        }}
      }}
    }}
  }}
}}
"""
OTLP = """
otelcol.exporter.otlp "out" {{
  client {{
    endpoint    = "{endpoint}"
    compression = "none"
    tls {{
      insecure = true
    }}
  }}
}}
"""


class CountingBackends:
    """gRPC trace Export servers on loopback, in a thread with its own event loop."""

    def __init__(self, count: int) -> None:
        self.ports = [free_port() for _ in range(count)]
        self.spans = [0] * count
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="backends")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._loop.run_forever()

    async def _serve(self) -> None:
        import grpc

        self._servers = []
        for index, port in enumerate(self.ports):
            server = grpc.aio.server()

            def handler(index: int = index) -> Any:
                async def export(request: bytes, context: Any) -> bytes:
                    message = Signal.TRACES.spec.request_class.FromString(request)
                    with self._lock:
                        self.spans[index] += Signal.TRACES.spec.count_items(message)
                    return b""
                return grpc.unary_unary_rpc_method_handler(export)

            server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
                Signal.TRACES.spec.grpc_service, {"Export": handler()}),))
            server.add_insecure_port(f"127.0.0.1:{port}")
            await server.start()
            self._servers.append(server)
        self._ready.set()

    def start(self) -> CountingBackends:
        self._thread.start()
        self._ready.wait(30)
        return self

    def total(self) -> int:
        with self._lock:
            return sum(self.spans)

    def stop(self) -> None:
        async def stop_all() -> None:
            for server in self._servers:
                await server.stop(None)

        asyncio.run_coroutine_threadsafe(stop_all(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)


def config(mode: str, grpc_port: int, backends: CountingBackends) -> str:
    endpoints = [f"127.0.0.1:{port}" for port in backends.ports]
    if mode == "loadbalancing":
        exporter = "otelcol.exporter.loadbalancing.lb"
        tail = LOADBALANCING.format(hostnames=", ".join(f'"{e}"' for e in endpoints))
    else:
        exporter = "otelcol.exporter.otlp.out"
        tail = OTLP.format(endpoint=endpoints[0])
    first_tier = (otlp_receiver(to="otelcol.processor.batch.b", grpc_port=grpc_port)
                  + batch_processor(to=exporter, timeout=None))
    return first_tier + tail


def load(endpoint: str, duration: float, concurrency: int, items: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "bench.load", "--signal", "traces", "--protocol", "grpc",
                          "--endpoint", endpoint, "--duration", str(duration), "--concurrency", str(concurrency),
                          "--items-per-request", str(items), "--quiet"], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout))


def wait_delivered(backends: CountingBackends, total: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while backends.total() < total and time.monotonic() < deadline:
        time.sleep(0.05)


def measure(mode: str, backends: CountingBackends, duration: float, warmup: float, workers: int) -> dict[str, Any]:
    grpc_port = free_port()
    env = {"COLLECTOR_TRACES_WORKERS": str(workers), "COLLECTOR_RECEIVER_PROCESSES": "1"}
    with CollectorProcess(config(mode, grpc_port, backends), env=env) as collector:
        assert collector.process is not None
        endpoint = f"127.0.0.1:{grpc_port}"
        started = backends.total()
        warm = int(load(endpoint, warmup, 16, 100)["items_accepted"])
        wait_delivered(backends, started + warm)  # the warm-up's tail must not count in the measurement
        monitor = TreeMonitor(collector.process.pid)
        delivered_before = backends.total()
        cpu_before = monitor.cpu_total()
        report = load(endpoint, duration, 16, 100)
        accepted = int(report["items_accepted"])
        wait_delivered(backends, delivered_before + accepted)
        cpu = monitor.cpu_total() - cpu_before
        delivered = backends.total() - delivered_before
    return {"mode": mode, "workers": workers, "duration_s": report["duration_s"], "spans_accepted": accepted,
            "spans_delivered": delivered, "spans_per_s": round(accepted / report["duration_s"]),
            "cpu_s": round(cpu, 2), "cpu_s_per_million": round(cpu / max(accepted, 1) * 1e6, 2),
            "per_backend": list(backends.spans)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadbalancing", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of load per measurement")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of both modes")
    parser.add_argument("--workers", type=int, default=1, help="COLLECTOR_TRACES_WORKERS of the first tier")
    args = parser.parse_args(argv)
    backends = CountingBackends(BACKENDS).start()
    results = []
    try:
        for _ in range(args.rounds):
            for mode in ("otlp", "loadbalancing"):
                result = measure(mode, backends, args.duration, args.warmup, args.workers)
                results.append(result)
                print(json.dumps(result), file=sys.stderr)
    finally:
        backends.stop()
    print(json.dumps({"cpu": cpu_model(), "cores": os.cpu_count(), "load_average": os.getloadavg(),
                      "results": results}, indent=2))
    print("\n| exporter | spans/s | CPU-s per 1M spans | delivered / accepted |", file=sys.stderr)
    print("|---|---|---|---|", file=sys.stderr)
    for r in results:
        print(f"| {r['mode']} | {r['spans_per_s']:,} | {r['cpu_s_per_million']:.2f} | "
              f"{r['spans_delivered']:,} / {r['spans_accepted']:,} |", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
