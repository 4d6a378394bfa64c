"""A backend double for tests and benchmarks: OTLP/HTTP and Prometheus remote write on one port.

It decodes every request (gzip/zstd/deflate/snappy bodies; OTLP protobuf or JSON; remote-write
protobuf) and counts items per signal, so a test can assert exact delivery; `count_bytes_only`
skips decoding for throughput runs where the sink must cost less than the collector.
`fail(status, requests=..., seconds=...)` answers with an error status for a while (an outage) and
then recovers.

Remote write carries samples, not OTLP points: one OTLP point becomes one sample (gauge, counter) or
a `_bucket` per bound plus `_sum` and `_count` (histogram). The sink counts as *metric points* the
samples of series named `bench_*` that are not `_bucket`/`_sum`, i.e. one per OTLP point the load
generator sent, and every sample in `samples`; series the collector adds itself (`target_info`,
host_info) are therefore not mistaken for delivered load.

End-to-end delay: requests from `collector loadgen` (`bench.load`) carry a send stamp (see `collector/loadgen/payloads.py`); the sink
records receipt - send for every stamp it finds (a bounded sample) and reports percentiles.
"""

from __future__ import annotations

import gzip
import re
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import orjson
from aiohttp import web

from collector.signals import Signal
from collector.testing.server_thread import ServerThread

# a receiving route after the body is read and no scripted failure applies: (request, body, arrival ns)
_Receiver = Callable[[web.Request, bytes, int], Awaitable[web.Response]]
_PATH_SIGNALS = {"traces": Signal.TRACES, "metrics": Signal.METRICS, "logs": Signal.LOGS}
_STAMP_KEY = b"bench.send_ns"
_DIGITS = re.compile(rb"(\d{19})")
_PROBE_NAME = "bench_probe"
_STAMP_MAX_AGE_NS = 3600 * 10**9  # older stamps are unpatched placeholders (e.g. gzip bodies)
_JSON_ITEMS = {Signal.TRACES: ("resourceSpans", "scopeSpans", "spans"),
               Signal.LOGS: ("resourceLogs", "scopeLogs", "logRecords")}


@dataclass
class Failure:
    status: int
    remaining_requests: int | None
    until: float | None
    retry_after: str | None

    def active(self, now: float) -> bool:
        if self.until is not None and now >= self.until:
            return False
        if self.remaining_requests is not None and self.remaining_requests <= 0:
            return False
        return True


class DelayRecorder:
    """Bounded sample of end-to-end delays per signal (ms); percentiles on demand, resettable."""

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self.samples: dict[str, list[float]] = {s.value: [] for s in Signal}
        self.seen: dict[str, int] = {s.value: 0 for s in Signal}

    def observe(self, signal: Signal, sent_ns: int, received_ns: int) -> None:
        delay = received_ns - sent_ns
        if delay < 0 or delay > _STAMP_MAX_AGE_NS:
            return
        self.seen[signal.value] += 1
        bucket = self.samples[signal.value]
        if len(bucket) < self.capacity:
            bucket.append(delay / 1e6)

    def observe_otlp(self, signal: Signal, raw: bytes, received_ns: int) -> None:
        """Every `bench.send_ns` attribute in an OTLP body (protobuf or JSON): memchr-speed find."""
        at = raw.find(_STAMP_KEY)
        while at >= 0:
            match = _DIGITS.search(raw, at + len(_STAMP_KEY), at + len(_STAMP_KEY) + 48)
            if match:
                self.observe(signal, int(match.group(1)), received_ns)
            at = raw.find(_STAMP_KEY, at + len(_STAMP_KEY))

    def summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for name, values in self.samples.items():
            if not values:
                continue
            ordered = sorted(values)

            def pct(p: float, ordered: list[float] = ordered) -> float:
                return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 2)

            out[name] = {"count": self.seen[name], "p50_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": round(ordered[-1], 2)}
        return out

    def reset(self) -> None:
        for name in self.samples:
            self.samples[name] = []
            self.seen[name] = 0


@dataclass
class SinkStats:
    items: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in Signal})
    requests: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in Signal})
    refused_requests: int = 0
    samples: int = 0  # remote-write samples of every series
    bytes: int = 0
    first_ns: int | None = None
    last_ns: int | None = None
    per_second: dict[int, int] = field(default_factory=dict)  # items received per wall-clock second
    window_first_ns: int | None = None  # first receipt since the last `reset_delays`

    def as_dict(self) -> dict[str, Any]:
        return {"items": dict(self.items), "requests": dict(self.requests), "refused_requests": self.refused_requests,
                "samples": self.samples, "bytes": self.bytes, "first_ns": self.first_ns, "last_ns": self.last_ns,
                "per_second": sorted(self.per_second.items()), "window_first_ns": self.window_first_ns}


def decompress(body: bytes, encoding: str) -> bytes:
    """Undo a Content-Encoding that aiohttp's server has not already undone (it inflates gzip and
    deflate request bodies itself)."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding in ("deflate", "zlib"):
        return zlib.decompress(body)
    if encoding == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj().decompress(body)
    if encoding == "snappy":
        import snappy

        return snappy.uncompress(body)
    raise ValueError(f"unsupported Content-Encoding {encoding!r}")


def count_json_items(signal: Signal, raw: bytes) -> int:
    """Items of an OTLP/JSON request, walking only the three levels that hold them."""
    doc = orjson.loads(raw)
    if signal is Signal.METRICS:
        total = 0
        for rm in doc.get("resourceMetrics", ()):
            for sm in rm.get("scopeMetrics", ()):
                for metric in sm.get("metrics", ()):
                    for kind in ("gauge", "sum", "histogram", "exponentialHistogram", "summary"):
                        if kind in metric:
                            total += len(metric[kind].get("dataPoints", ()))
        return total
    top, scope, leaf = _JSON_ITEMS[signal]
    return sum(len(s.get(leaf, ())) for r in doc.get(top, ()) for s in r.get(scope, ()))


def count_remote_write(raw: bytes, delays: DelayRecorder | None, received_ns: int) -> tuple[int, int]:
    """(bench points, samples) of an uncompressed WriteRequest; records `bench_probe` delays."""
    from collector.protocols.prometheus import prompb

    request = prompb.decode(raw)
    points = samples = 0
    probe = delays is not None and b"bench_probe" in raw
    for series in request.timeseries:
        count = len(series.samples)
        samples += count
        name = ""
        for label in series.labels:
            if label.name == "__name__":
                name = label.value
                break
        if not name.startswith("bench_") or name.endswith(("_bucket", "_sum")):
            continue
        points += count
        if probe and name == _PROBE_NAME:
            for sample in series.samples:
                delays.observe(Signal.METRICS, sample.timestamp * 1_000_000, received_ns)  # type: ignore[union-attr]
    return points, samples


class OtlpSink:
    def __init__(self, *, keep_requests: bool = False, count_bytes_only: bool = False,
                 record_delays: bool = True) -> None:
        self.keep_requests = keep_requests
        self.count_bytes_only = count_bytes_only
        self.stats = SinkStats()
        self.delays = DelayRecorder() if record_delays else None
        self.received: dict[Signal, list[Any]] = {s: [] for s in Signal}
        self.headers: list[dict[str, str]] = []
        self._failure: Failure | None = None
        self._lock = threading.Lock()
        self.app = web.Application(client_max_size=256 << 20)
        self.app.add_routes([web.post("/api/v1/write", self._receiving(self._handle_remote_write)),
                             web.post("/{tail:.*}", self._receiving(self._handle)), web.get("/stats", self._stats)])

    def fail(self, status: int, *, requests: int | None = None, seconds: float | None = None,
             retry_after: str | None = None) -> None:
        with self._lock:
            self._failure = Failure(status, requests, time.monotonic() + seconds if seconds else None, retry_after)

    def recover(self) -> None:
        with self._lock:
            self._failure = None

    def items(self, signal: Signal) -> int:
        with self._lock:
            return self.stats.items[signal.value]

    def _refusal(self) -> web.Response | None:
        with self._lock:
            failure = self._failure
            if failure is None or not failure.active(time.monotonic()):
                self._failure = None
                return None
            if failure.remaining_requests is not None:
                failure.remaining_requests -= 1
            self.stats.refused_requests += 1
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            return web.Response(status=failure.status, text="refused by test sink", headers=headers)

    def _account(self, signal: Signal, count: int, size: int, now: int, samples: int = 0) -> None:
        with self._lock:
            stats = self.stats
            stats.items[signal.value] += count
            stats.requests[signal.value] += 1
            stats.samples += samples
            stats.bytes += size
            stats.first_ns = stats.first_ns or now
            stats.window_first_ns = stats.window_first_ns or now
            stats.last_ns = now
            second = now // 1_000_000_000
            stats.per_second[second] = stats.per_second.get(second, 0) + count

    def _receiving(self, handler: _Receiver) -> Callable[[web.Request], Awaitable[web.Response]]:
        """A route that receives data: read the whole body and note its arrival time first (a
        refused request still costs its transfer, as at a real backend), then answer a scripted
        failure if one is active, else hand the body to `handler`."""

        async def route(request: web.Request) -> web.Response:
            body = await request.read()
            now = time.time_ns()
            refusal = self._refusal()
            if refusal is not None:
                return refusal
            return await handler(request, body, now)

        return route

    async def _handle(self, request: web.Request, body: bytes, now: int) -> web.Response:
        tail = request.match_info["tail"].rstrip("/").rsplit("/", 1)[-1]
        signal = _PATH_SIGNALS.get(tail)
        if signal is None:
            return web.Response(status=404, text=f"unknown path /{request.match_info['tail']}")
        count = 0
        message = None
        is_json = request.content_type == "application/json"
        if not self.count_bytes_only:
            try:
                encoding = request.headers.get("Content-Encoding", "")
                raw = body if encoding.strip().lower() in ("gzip", "deflate") else decompress(body, encoding)
                if is_json:
                    count = count_json_items(signal, raw)
                else:
                    message = signal.spec.request_class.FromString(raw)
                    count = signal.spec.count_items(message)
            except Exception as exc:  # a broken request from the collector is a test failure: say why
                return web.Response(status=400, text=f"undecodable: {exc}")
            if self.delays is not None:
                with self._lock:
                    self.delays.observe_otlp(signal, raw, now)
        self._account(signal, count, len(body), now)
        if self.keep_requests and message is not None:
            with self._lock:
                self.received[signal].append(message)
                self.headers.append(dict(request.headers))
        if is_json:
            return web.Response(status=200, body=b"{}", content_type="application/json")
        return web.Response(status=200, body=signal.spec.response_class().SerializeToString(),
                            content_type="application/x-protobuf")

    async def _handle_remote_write(self, _request: web.Request, body: bytes, now: int) -> web.Response:
        points = samples = 0
        if not self.count_bytes_only:
            try:
                import snappy

                raw = snappy.uncompress(body)
                with self._lock:
                    points, samples = count_remote_write(raw, self.delays, now)
            except Exception as exc:
                return web.Response(status=400, text=f"undecodable remote write: {exc}")
        self._account(Signal.METRICS, points, len(body), now, samples)
        return web.Response(status=204)

    async def _stats(self, request: web.Request) -> web.Response:
        with self._lock:
            doc = self.stats.as_dict()
            if self.delays is not None:
                doc["delays"] = self.delays.summary()
            if request.query.get("reset_delays"):
                if self.delays is not None:
                    self.delays.reset()
                self.stats.per_second.clear()
                self.stats.window_first_ns = None
            return web.json_response(doc)


class SinkThread(ServerThread):
    """Runs an `OtlpSink` on its own event loop in a thread, for synchronous tests."""

    def __init__(self, sink: OtlpSink | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sink = sink or OtlpSink()
        super().__init__(self.sink.app, host, port, name="otlp-sink")
