"""An OTLP/HTTP backend double for tests and benchmarks: counts what arrives, can fail on demand.

It decodes every request (gzip/zstd/deflate bodies, protobuf or JSON-less) and counts items per
signal, so a test can assert exact delivery; `count_bytes_only` skips decoding for throughput runs
where the sink must cost less than the collector. `fail(status, requests=..., seconds=...)` answers
with an error status for a while (an outage) and then recovers.
"""

from __future__ import annotations

import asyncio
import gzip
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from collector.signals import Signal

_PATH_SIGNALS = {"traces": Signal.TRACES, "metrics": Signal.METRICS, "logs": Signal.LOGS}


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


@dataclass
class SinkStats:
    items: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in Signal})
    requests: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in Signal})
    refused_requests: int = 0
    bytes: int = 0
    first_ns: int | None = None
    last_ns: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"items": dict(self.items), "requests": dict(self.requests), "refused_requests": self.refused_requests,
                "bytes": self.bytes, "first_ns": self.first_ns, "last_ns": self.last_ns}


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


class OtlpSink:
    def __init__(self, *, keep_requests: bool = False, count_bytes_only: bool = False) -> None:
        self.keep_requests = keep_requests
        self.count_bytes_only = count_bytes_only
        self.stats = SinkStats()
        self.received: dict[Signal, list[Any]] = {s: [] for s in Signal}
        self.headers: list[dict[str, str]] = []
        self._failure: Failure | None = None
        self._lock = threading.Lock()
        self.app = web.Application(client_max_size=256 << 20)
        self.app.add_routes([web.post("/{tail:.*}", self._handle), web.get("/stats", self._stats)])

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

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        refusal = self._refusal()
        if refusal is not None:
            return refusal
        tail = request.match_info["tail"].rstrip("/").rsplit("/", 1)[-1]
        signal = _PATH_SIGNALS.get(tail)
        if signal is None:
            return web.Response(status=404, text=f"unknown path /{request.match_info['tail']}")
        count = 0
        message = None
        if not self.count_bytes_only:
            try:
                encoding = request.headers.get("Content-Encoding", "")
                raw = body if encoding.strip().lower() in ("gzip", "deflate") else decompress(body, encoding)
                message = signal.spec.request_class.FromString(raw)
            except Exception as exc:  # a broken request from the collector is a test failure: say why
                return web.Response(status=400, text=f"undecodable: {exc}")
            count = signal.spec.count_items(message)
        now = time.time_ns()
        with self._lock:
            stats = self.stats
            stats.items[signal.value] += count
            stats.requests[signal.value] += 1
            stats.bytes += len(body)
            stats.first_ns = stats.first_ns or now
            stats.last_ns = now
            if self.keep_requests and message is not None:
                self.received[signal].append(message)
                self.headers.append(dict(request.headers))
        return web.Response(status=200, body=signal.spec.response_class().SerializeToString(),
                            content_type="application/x-protobuf")

    async def _stats(self, _request: web.Request) -> web.Response:
        with self._lock:
            return web.json_response(self.stats.as_dict())


class SinkThread:
    """Runs an `OtlpSink` on its own event loop in a thread, for synchronous tests."""

    def __init__(self, sink: OtlpSink | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sink = sink or OtlpSink()
        self.host = host
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="otlp-sink")
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> SinkThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.sink.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server  # noqa: SLF001 - the only way aiohttp exposes the bound port
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
            self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> SinkThread:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
