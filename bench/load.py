"""OTLP load generator: `python -m bench.load --signal traces --protocol http --rate 50000 --duration 15`.

Payloads are pre-encoded (bench/payloads.py), so the generator's own cost is the HTTP/gRPC client.
It behaves as an OTLP client must: a retryable refusal (HTTP 429/502/503/504, gRPC UNAVAILABLE or
RESOURCE_EXHAUSTED with RetryInfo) is retried after `Retry-After` (or a short backoff) and counted as
retried; other failures are counted as failed. Reports items/s offered and accepted, latency
percentiles, and the generator's own CPU use, as a JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import resource
import sys
import time
from dataclasses import asdict, dataclass, field

from bench.payloads import Shape, build
from collector.signals import Signal

RETRYABLE_HTTP = {429, 502, 503, 504}


@dataclass
class LoadReport:
    signal: str
    protocol: str
    duration_s: float = 0.0
    requests_sent: int = 0
    requests_accepted: int = 0
    items_accepted: int = 0
    retried: int = 0
    failed: int = 0
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    generator_cpu_s: float = 0.0

    def summary(self) -> dict[str, object]:
        lat = sorted(self.latencies_ms)

        def pct(p: float) -> float:
            return round(lat[min(len(lat) - 1, int(p * len(lat)))], 3) if lat else 0.0

        doc = {k: v for k, v in asdict(self).items() if k != "latencies_ms"}
        doc.update(items_per_s=round(self.items_accepted / self.duration_s) if self.duration_s else 0,
                   latency_p50_ms=pct(0.50), latency_p99_ms=pct(0.99), latency_max_ms=round(lat[-1], 3) if lat else 0.0)
        return doc


class Pacer:
    """Spreads sends at `rate` items/s across all senders (None: as fast as accepted)."""

    def __init__(self, rate: float | None, items_per_request: int) -> None:
        self.interval = items_per_request / rate if rate else 0.0
        self.next = time.monotonic()

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        slot = max(self.next, now)
        self.next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


async def _http_sender(url: str, bodies: list[bytes], items: int, report: LoadReport, pacer: Pacer,
                       stop_at: float, encoding: str, worker: int) -> None:
    import aiohttp

    headers = {"Content-Type": "application/x-protobuf"}
    if encoding == "gzip":
        headers["Content-Encoding"] = "gzip"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        i = worker
        while time.monotonic() < stop_at:
            await pacer.wait()
            body = bodies[i % len(bodies)]
            i += 1
            while True:
                started = time.perf_counter()
                report.requests_sent += 1
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        status = response.status
                        retry_after = response.headers.get("Retry-After")
                except aiohttp.ClientError:
                    status, retry_after = 0, None
                report.latencies_ms.append((time.perf_counter() - started) * 1000)
                if 200 <= status < 300:
                    report.requests_accepted += 1
                    report.items_accepted += items
                    break
                if status in RETRYABLE_HTTP or status == 0:
                    report.retried += 1
                    if time.monotonic() >= stop_at + 30:
                        report.failed += 1
                        break
                    await asyncio.sleep(min(float(retry_after), 1.0) if retry_after and retry_after.isdigit() else 0.05)
                    continue
                report.failed += 1
                break


async def _grpc_sender(target: str, method: str, bodies: list[bytes], items: int, report: LoadReport,
                       pacer: Pacer, stop_at: float, channel: object, worker: int) -> None:
    import grpc

    call = channel.unary_unary(method)  # type: ignore[attr-defined]
    i = worker
    while time.monotonic() < stop_at:
        await pacer.wait()
        body = bodies[i % len(bodies)]
        i += 1
        while True:
            started = time.perf_counter()
            report.requests_sent += 1
            try:
                await call(body, timeout=30)
                code = grpc.StatusCode.OK
            except grpc.aio.AioRpcError as err:
                code = err.code()
            report.latencies_ms.append((time.perf_counter() - started) * 1000)
            if code == grpc.StatusCode.OK:
                report.requests_accepted += 1
                report.items_accepted += items
                break
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED):
                report.retried += 1
                await asyncio.sleep(0.05)
                if time.monotonic() < stop_at + 30:
                    continue
            report.failed += 1
            break


async def run_load(*, signal: Signal, protocol: str, endpoint: str, duration: float, rate: float | None,
                   concurrency: int, shape: Shape, encoding: str = "none", progress: bool = True) -> LoadReport:
    bodies = build(signal, shape)
    if encoding == "gzip" and protocol == "http":
        bodies = [gzip.compress(b, 1) for b in bodies]
    items = signal.spec.count_items(signal.spec.request_class.FromString(build(signal, shape, 1)[0]))
    report = LoadReport(signal.value, protocol)
    pacer = Pacer(rate, items)
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    stop_at = started + duration
    ticker = asyncio.ensure_future(_progress(report, started, stop_at)) if progress else None
    if protocol == "http":
        url = endpoint.rstrip("/") + signal.spec.http_path
        await asyncio.gather(*(_http_sender(url, bodies, items, report, pacer, stop_at, encoding, w)
                               for w in range(concurrency)))
    else:
        import grpc

        channels = [grpc.aio.insecure_channel(endpoint) for _ in range(max(1, concurrency // 8))]
        await asyncio.gather(*(_grpc_sender(endpoint, signal.spec.grpc_method, bodies, items, report, pacer,
                                            stop_at, channels[w % len(channels)], w) for w in range(concurrency)))
        for channel in channels:
            await channel.close()
    report.duration_s = time.monotonic() - started
    if ticker:
        ticker.cancel()
        sys.stderr.write("\n")
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    report.generator_cpu_s = round((cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime), 3)
    return report


async def _progress(report: LoadReport, started: float, stop_at: float) -> None:
    while True:
        await asyncio.sleep(1.0)
        elapsed = time.monotonic() - started
        sys.stderr.write(f"\r{elapsed:5.1f}s accepted {report.items_accepted:>10,} items "
                         f"({report.items_accepted / max(elapsed, 1e-9):>9,.0f}/s) retried {report.retried} "
                         f"failed {report.failed}   ")
        sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--signal", choices=[s.value for s in Signal], default="traces")
    parser.add_argument("--protocol", choices=["http", "grpc"], default="http")
    parser.add_argument("--endpoint", help="http://127.0.0.1:4318 or 127.0.0.1:4317")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=None, help="items/s; omit for as fast as accepted")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--items-per-request", type=int, default=100)
    parser.add_argument("--resources-per-request", type=int, default=3)
    parser.add_argument("--attributes-per-item", type=int, default=10)
    parser.add_argument("--value-size", type=int, default=16)
    parser.add_argument("--distinct-series", type=int, default=1000)
    parser.add_argument("--encoding", choices=["none", "gzip"], default="none")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    endpoint = args.endpoint or ("http://127.0.0.1:4318" if args.protocol == "http" else "127.0.0.1:4317")
    shape = Shape(args.items_per_request, args.resources_per_request, args.attributes_per_item, 12, args.value_size,
                  args.distinct_series)
    import uvloop

    report = uvloop.run(run_load(signal=Signal(args.signal), protocol=args.protocol, endpoint=endpoint,
                                 duration=args.duration, rate=args.rate, concurrency=args.concurrency, shape=shape,
                                 encoding=args.encoding, progress=not args.quiet))
    print(json.dumps(report.summary(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
