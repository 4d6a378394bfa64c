"""Decode amplification against the OTLP/HTTP receiver: `python -m bench.amplification [--bodies 6]`.

Starts a real collector (OTLP in -> batch -> OTLP/HTTP out to a local sink), measures the latency
of small valid OTLP/HTTP requests while it is quiet, then while other clients send `--bodies`
copies of the probe's body at once: 20 KB of gzip inflating to 20 MiB of empty ResourceSpans
(10.5 million of them). Reports the answers to the hostile bodies, p50/p99/max of the valid
requests in both phases, the time the hostile requests took, and the receiver's and traces worker's
RSS growth. On a shared, loaded machine the latencies are indications only.
"""

from __future__ import annotations

import argparse
import gzip
import threading
import time

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from bench.latency import summary
from collector.testing.configs import otlp_pipeline
from collector.testing.process import CollectorProcess, free_port
from collector.testing.http import post_status
from collector.testing.sink import OtlpSink, SinkThread

MIB = 1024 * 1024


def _valid_latencies(url: str, seconds: float, stop: threading.Event | None = None) -> list[float]:
    request = ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.add(name="probe", trace_id=b"\x01" * 16, span_id=b"\x02" * 8)
    body = request.SerializeToString()
    out = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
        start = time.perf_counter()
        post_status(url, body, {"Content-Type": "application/x-protobuf"}, timeout=120)
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bodies", type=int, default=6, help="hostile bodies sent at once")
    parser.add_argument("--quiet-seconds", type=float, default=5.0)
    args = parser.parse_args()

    sink = SinkThread(OtlpSink()).start()
    http_port = free_port()
    collector = CollectorProcess(otlp_pipeline(http_port=http_port, sink_url=sink.url))
    try:
        collector.start()
        url = f"http://127.0.0.1:{http_port}/v1/traces"
        children = {t: p for t, p in collector.children().items() if t.startswith(("receiver", "worker traces"))}
        rss_before = {t: p.memory_info().rss for t, p in children.items()}
        print(summary("quiet", _valid_latencies(url, args.quiet_seconds)))

        bomb = gzip.compress(b"\x0a\x00" * (10 * MIB), 9)
        statuses: list[int] = []
        stop = threading.Event()

        def hostile() -> None:
            statuses.append(post_status(url, bomb, {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}, timeout=120))

        senders = [threading.Thread(target=hostile) for _ in range(args.bodies)]
        measured: list[float] = []
        measurer = threading.Thread(target=lambda: measured.extend(_valid_latencies(url, 120, stop)))
        measurer.start()
        started = time.perf_counter()
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        hostile_seconds = time.perf_counter() - started
        time.sleep(0.5)
        stop.set()
        measurer.join()
        print(f"hostile: {args.bodies} x {len(bomb)} B gzip bodies (20 MiB, 10.5M empty ResourceSpans each) "
              f"answered {sorted(set(statuses))} in {hostile_seconds:.2f} s")
        print(summary("during", measured))
        for title, proc in children.items():
            grown = (proc.memory_info().rss - rss_before[title]) / MIB
            print(f"{title}: RSS grew {grown:.1f} MiB")
    finally:
        collector.close()
        sink.stop()


if __name__ == "__main__":
    main()
