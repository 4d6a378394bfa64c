"""HTTP/2 rapid reset (CVE-2023-44487) against the OTLP/gRPC receiver:
`python -m bench.rapid_reset [--seconds 15] [--connections 2] [--requests 400]`.

Starts a real collector (OTLP gRPC in -> batch -> OTLP/HTTP out to a local sink), measures the
latency of valid Export calls from a gRPC client while it is quiet, then again while flooders open
HTTP/2 connections (with the `h2` library) and send HEADERS for the trace Export method followed at
once by RST_STREAM(CANCEL), as fast as the server lets them. Reports p50/p99 of the valid calls in
both phases, the streams the flooders opened, whether the server sent GOAWAY or refused streams, and
the receiver process's CPU over the flood. Figures depend on the machine: on a shared, loaded one
they are indications, not measurements to compare across runs.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time

import grpc
import psutil
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from bench.latency import summary
from collector.signals import Signal
from collector.testing.configs import otlp_pipeline
from collector.testing.process import CollectorProcess, free_port
from collector.testing.rapid_reset import FloodResult, flood
from collector.testing.sink import OtlpSink, SinkThread



def _flood_process(port: int, seconds: float, results: mp.Queue[FloodResult], niceness: int = 0) -> None:
    """One flooding connection in its own process, so the flood does not compete with the
    measuring client for this process's GIL. `niceness` lowers its CPU priority: on a 2-core box
    the flooders, the client and the receiver share the cores, and a real attacker's CPU is not the
    server's; at 19 the flood's cost to valid calls is what the server spends, not what it waits."""
    if niceness:
        os.nice(niceness)
    deadline = time.monotonic() + seconds
    results.put(flood(port, lambda: time.monotonic() > deadline))


FAILURES: dict[str, int] = {}  # status code -> valid calls that failed with it


def _latencies(endpoint: str, count: int) -> list[float]:
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add(name="probe")
    span.trace_id = b"\x01" * 16
    span.span_id = b"\x02" * 8
    body = request.SerializeToString()
    out = []
    with grpc.insecure_channel(endpoint) as channel:
        export: grpc.UnaryUnaryMultiCallable = channel.unary_unary(Signal.TRACES.spec.grpc_method)
        grpc.channel_ready_future(channel).result(timeout=30)  # connect outside the measurement
        for _ in range(count):
            start = time.perf_counter()
            try:
                export(body, timeout=30)
            except grpc.RpcError as exc:
                out.append(float("inf"))
                FAILURES[str(exc.code())] = FAILURES.get(str(exc.code()), 0) + 1
                continue
            out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0, help="flood duration")
    parser.add_argument("--connections", type=int, default=2, help="flooding connections")
    parser.add_argument("--requests", type=int, default=400, help="valid calls measured per phase")
    parser.add_argument("--flood-nice", type=int, default=0, metavar="N",
                        help="run the flooders at this niceness (19: they yield the CPU to the server and client)")
    args = parser.parse_args()

    sink = SinkThread(OtlpSink()).start()
    grpc_port = free_port()
    collector = CollectorProcess(otlp_pipeline(grpc_port=grpc_port, sink_url=sink.url))
    try:
        collector.start()
        receiver = next(p for title, p in collector.children().items() if title.startswith("receiver"))
        endpoint = f"127.0.0.1:{grpc_port}"
        quiet = _latencies(endpoint, args.requests)
        print(summary("quiet", quiet))

        results: mp.Queue[FloodResult] = mp.Queue()
        flooders = [mp.Process(target=_flood_process, args=(grpc_port, args.seconds, results, args.flood_nice), daemon=True)
                    for _ in range(args.connections)]
        cpu_before = receiver.cpu_times()
        started = time.monotonic()
        for process in flooders:
            process.start()
        flooded: list[float] = []
        while time.monotonic() - started < args.seconds:
            flooded += _latencies(endpoint, max(1, args.requests // 10))
        elapsed = time.monotonic() - started
        cpu_after = receiver.cpu_times()
        total = FloodResult()
        for process in flooders:
            part = results.get(timeout=30)
            total.streams += part.streams
            total.refused += part.refused
            total.goaways += part.goaways
            total.connections += part.connections
            process.join(10)
        print(summary("flood", flooded), FAILURES or "")
        cpu = (cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system) / elapsed
        print(f"flood: {total.streams} HEADERS+RST_STREAM in {elapsed:.1f}s from {args.connections} processes "
              f"({total.streams / elapsed:.0f}/s), server refusals={total.refused} GOAWAYs={total.goaways} "
              f"connections={total.connections}")
        print(f"receiver CPU during the flood: {cpu * 100:.0f}% of one core; "
              f"RSS {psutil.Process(receiver.pid).memory_info().rss / 2**20:.0f} MiB")
    finally:
        collector.close()
        sink.stop()


if __name__ == "__main__":
    main()
