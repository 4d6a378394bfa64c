"""OTLP load generator: `collector loadgen --signal traces --protocol http --rate 50000 --duration 15`
(also `python -m bench.load` in the repository, with the same flags).

Payloads are pre-encoded (collector/loadgen/payloads.py) in protobuf or JSON, optionally gzipped, so the
generator's own cost is the HTTP/gRPC client plus one stamp patch per request (the send time, for the
sink's end-to-end delay; gzip bodies are not stamped since patching them would mean re-compressing).
`--rate` paces all senders together; without it each of the `--concurrency` senders sends as fast as
its previous request is answered.

It behaves as an OTLP client must: a retryable refusal (HTTP 429/502/503/504; gRPC UNAVAILABLE,
CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, DATA_LOSS, and RESOURCE_EXHAUSTED when it carries
RetryInfo) is retried after `Retry-After`/RetryInfo or an exponential backoff, until `--retry-for`
seconds after the end; other failures are counted as failed. The JSON summary on stdout reports items
offered and accepted (and per second), refusals, retries, failures, request latency p50/p99/max and
the generator's own CPU use.
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
from typing import Any

from collector.loadgen.payloads import Encoded, Shape, encode
from collector.components.kit.exporterhelper.errors import STATUS_DETAILS_KEY, retry_info_delay
from collector.signals import Signal

RETRYABLE_HTTP = frozenset({429, 502, 503, 504})
_BACKOFF_START, _BACKOFF_MAX = 0.05, 1.0


@dataclass
class LoadReport:
    signal: str
    protocol: str
    format: str = "protobuf"
    compression: str = "none"
    duration_s: float = 0.0
    requests_sent: int = 0  # first attempts
    items_offered: int = 0
    requests_accepted: int = 0
    items_accepted: int = 0
    refused: int = 0  # retryable refusals received
    retried: int = 0  # retries sent (a request refused at the end is not retried)
    failed: int = 0  # requests given up: permanent error or retries exhausted
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    generator_cpu_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)

        def pct(p: float) -> float:
            return round(lat[min(len(lat) - 1, int(p * len(lat)))], 3) if lat else 0.0

        doc = {k: v for k, v in asdict(self).items() if k != "latencies_ms"}
        seconds = self.duration_s or 1e-9
        doc.update(items_offered_per_s=round(self.items_offered / seconds),
                   items_per_s=round(self.items_accepted / seconds),
                   latency_p50_ms=pct(0.50), latency_p99_ms=pct(0.99), latency_max_ms=round(lat[-1], 3) if lat else 0.0,
                   generator_cpu_percent=round(100 * self.generator_cpu_s / seconds, 1))
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


class Backoff:
    def __init__(self) -> None:
        self.delay = _BACKOFF_START

    def next(self, hint: float | None) -> float:
        if hint is not None:
            return min(hint, 30.0)
        delay, self.delay = self.delay, min(self.delay * 2, _BACKOFF_MAX)
        return delay


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form; an HTTP date counts as no hint)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def grpc_retry_delay(trailing: Any) -> float | None:
    """RetryInfo.retry_delay from `grpc-status-details-bin`, if the server sent one (read as the
    collector's exporters read it)."""
    for key, value in trailing or ():
        if key == STATUS_DETAILS_KEY:
            return retry_info_delay(value)
    return None


class Sender:
    """One in-flight request at a time; the transport-specific `attempt` returns (outcome, hint)."""

    def __init__(self, bodies: list[Encoded], report: LoadReport, pacer: Pacer, stop_at: float, retry_for: float,
                 worker: int) -> None:
        self.bodies, self.report, self.pacer = bodies, report, pacer
        self.stop_at, self.give_up_at = stop_at, stop_at + retry_for
        self.index = worker

    async def attempt(self, body: bytes) -> tuple[str, float | None]:
        raise NotImplementedError

    async def run(self) -> None:
        report = self.report
        while time.monotonic() < self.stop_at:
            await self.pacer.wait()
            encoded = self.bodies[self.index % len(self.bodies)]
            self.index += 1
            report.requests_sent += 1
            report.items_offered += encoded.items
            backoff = Backoff()
            while True:
                started = time.perf_counter()
                outcome, hint = await self.attempt(encoded.stamped(time.time_ns()))
                report.latencies_ms.append((time.perf_counter() - started) * 1000)
                if outcome == "ok":
                    report.requests_accepted += 1
                    report.items_accepted += encoded.items
                    break
                if outcome == "retry":
                    report.refused += 1
                    delay = backoff.next(hint)
                    if time.monotonic() + delay < self.give_up_at:
                        report.retried += 1
                        await asyncio.sleep(delay)
                        continue
                report.failed += 1
                break


class HttpSender(Sender):
    def __init__(self, session: Any, url: str, headers: dict[str, str], *args: Any) -> None:
        super().__init__(*args)
        self.session, self.url, self.headers = session, url, headers

    async def attempt(self, body: bytes) -> tuple[str, float | None]:
        import aiohttp

        try:
            async with self.session.post(self.url, data=body, headers=self.headers) as response:
                await response.read()
                status, retry_after = response.status, response.headers.get("Retry-After")
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return "retry", None
        if 200 <= status < 300:
            return "ok", None
        if status in RETRYABLE_HTTP:
            return "retry", parse_retry_after(retry_after)
        return "fail", None


class GrpcSender(Sender):
    def __init__(self, call: Any, *args: Any) -> None:
        super().__init__(*args)
        self.call = call

    async def attempt(self, body: bytes) -> tuple[str, float | None]:
        import grpc

        try:
            await self.call(body, timeout=30)
            return "ok", None
        except grpc.aio.AioRpcError as err:
            code = err.code()
            hint = grpc_retry_delay(err.trailing_metadata())
        codes = grpc.StatusCode
        if code in (codes.UNAVAILABLE, codes.CANCELLED, codes.DEADLINE_EXCEEDED, codes.ABORTED, codes.OUT_OF_RANGE,
                    codes.DATA_LOSS) or (code == codes.RESOURCE_EXHAUSTED and hint is not None):
            return "retry", hint
        return "fail", None


async def run_load(*, signal: Signal, protocol: str, endpoint: str, duration: float, rate: float | None,
                   concurrency: int, shape: Shape, fmt: str = "protobuf", compression: str = "none",
                   retry_for: float = 30.0, progress: bool = True) -> LoadReport:
    if protocol == "grpc" and fmt != "protobuf":
        raise ValueError("OTLP/gRPC carries protobuf only")
    bodies = encode(signal, shape, fmt=fmt, stamp=compression == "none")  # type: ignore[arg-type]
    if compression == "gzip":
        bodies = [Encoded(gzip.compress(b.body, 1), b.items) for b in bodies]
    report = LoadReport(signal.value, protocol, fmt, compression)
    pacer = Pacer(rate, bodies[0].items)
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    stop_at = started + duration
    ticker = asyncio.ensure_future(_progress(report, started, duration)) if progress else None
    try:
        if protocol == "http":
            import aiohttp

            url = endpoint.rstrip("/") + signal.spec.http_path
            headers = {"Content-Type": "application/x-protobuf" if fmt == "protobuf" else "application/json"}
            if compression == "gzip":
                headers["Content-Encoding"] = "gzip"
            timeout = aiohttp.ClientTimeout(total=30)
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency), timeout=timeout) as session:
                await asyncio.gather(*(HttpSender(session, url, headers, bodies, report, pacer, stop_at, retry_for, w).run()
                                       for w in range(concurrency)))
        else:
            import grpc

            # A few HTTP/2 connections, several streams each, as a fleet of SDKs would open.
            channels = [grpc.aio.insecure_channel(endpoint, options=[("grpc.use_local_subchannel_pool", 1)])
                        for _ in range(max(1, concurrency // 8))]
            calls: list[Any] = [channel.unary_unary(signal.spec.grpc_method) for channel in channels]
            await asyncio.gather(*(GrpcSender(calls[w % len(calls)], bodies, report, pacer, stop_at, retry_for, w).run()
                                   for w in range(concurrency)))
            for channel in channels:
                await channel.close()
    finally:
        report.duration_s = round(time.monotonic() - started, 3)
        if ticker:
            ticker.cancel()
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    report.generator_cpu_s = round((cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime), 3)
    return report


async def _progress(report: LoadReport, started: float, duration: float) -> None:
    from tqdm import tqdm

    with tqdm(total=round(duration, 1), unit="s", file=sys.stderr, leave=False,
              bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f}s {postfix}") as bar:
        while True:
            await asyncio.sleep(0.5)
            elapsed = time.monotonic() - started
            bar.n = min(elapsed, duration)
            bar.set_postfix_str(f"{report.signal}: offered {report.items_offered / elapsed:,.0f}/s "
                                f"accepted {report.items_accepted / elapsed:,.0f}/s refused {report.refused} "
                                f"failed {report.failed}")


def run_from_arguments(args: argparse.Namespace) -> int:
    """Send the load the parsed flags describe and print the JSON summary on stdout."""
    endpoint = args.endpoint or ("http://127.0.0.1:4318" if args.protocol == "http" else "127.0.0.1:4317")
    shape = Shape(args.items_per_request, args.resources_per_request, args.attributes_per_item,
                  args.resource_attributes, args.value_size, args.distinct_series)
    import uvloop

    report = uvloop.run(run_load(signal=Signal(args.signal), protocol=args.protocol, endpoint=endpoint,
                                 duration=args.duration, rate=args.rate, concurrency=args.concurrency, shape=shape,
                                 fmt=args.format, compression=args.compression, retry_for=args.retry_for,
                                 progress=not args.quiet))
    print(json.dumps(report.summary(), indent=2))
    return 0

