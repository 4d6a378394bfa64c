"""`prometheus.scrape`: scrape Prometheus text-format targets and forward the samples.

Runs in every metrics worker; a target is scraped only by the worker whose index equals a stable hash
of the target modulo the number of metrics workers (the `workers_for_signal` runtime service), so each
target has one writer. Each owned
target has a loop that scrapes every interval at a stable offset (spreading targets over the
interval), parses the text format 0.0.4 and appends the samples plus `up`/`scrape_*` to every
`forward_to` receiver. Differences from Alloy: text format only (OpenMetrics and protobuf
negotiation fall back to it), no native histograms, no clustering. TLS, proxies and oauth2 client
credentials are applied by `collector/components/kit/http_client.py`.
"""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar

import msgspec

import aiohttp

import collector
from collector.components.kit.api import ArgumentError, BuildContext, Component, MetricsReceiverRef, Placement, Service
from collector.components.kit import prometheus_metrics as m
from collector.components.kit.http_client import ClientSettings, TokenError, describe_error
from collector.components.kit.prometheus_client import HTTPClientConfig, validate_client, validate_headers
from collector.components.kit.registry import register
from collector.components.kit.tasks import cancel_and_wait
from collector.components.kit.types import ByteSize, Duration, Secret, Targets
from collector.config.redact import redact_url
from collector.config.units import format_duration
from collector.protocols.prometheus.series import SampleBatch
from collector.components.prometheus.scrape.targets import ScrapeState, Target, owns, populate, stable_hash
from collector.protocols.prometheus.textparse import ParseError, parse
from collector.protocols.wire import format_f
from collector.signals import Signal

USER_AGENT = f"collector/{collector.__version__}"
ACCEPT = "text/plain;version=0.0.4;q=1,*/*;q=0.1"

SCRAPE_PROTOCOLS = ("PrometheusProto", "OpenMetricsText0.0.1", "OpenMetricsText1.0.0", "PrometheusText0.0.4",
                    "PrometheusText1.0.0")
DEFAULT_SCRAPE_PROTOCOLS = ["OpenMetricsText1.0.0", "OpenMetricsText0.0.1", "PrometheusText1.0.0",
                            "PrometheusText0.0.4"]


class Clustering(msgspec.Struct, frozen=True, kw_only=True):
    enabled: bool = False


_TEXT_ONLY = "this collector scrapes the Prometheus text format only (no protobuf or OpenMetrics negotiation)"
_NO_NATIVE = "this collector has no native histograms"


class Arguments(HTTPClientConfig, frozen=True, kw_only=True):
    NOT_APPLIED: ClassVar[dict[str, str]] = {
        "enable_http2": "the HTTP client speaks HTTP/1.1 only",
        "enable_protobuf_negotiation": _TEXT_ONLY,
        "scrape_protocols": _TEXT_ONLY,
        "scrape_fallback_protocol": _TEXT_ONLY,
        "scrape_classic_histograms": "the text format always carries classic histograms, which are kept",
        "scrape_native_histograms": _NO_NATIVE,
        "native_histogram_bucket_limit": _NO_NATIVE,
        "native_histogram_min_bucket_factor": _NO_NATIVE,
        "metric_name_validation_scheme": "metric and label names are sanitised to the legacy character set",
        "metric_name_escaping_scheme": "metric and label names are sanitised to the legacy character set",
        "clustering": "this collector does not cluster: every instance scrapes all of its targets",
    }

    targets: Targets
    forward_to: list[MetricsReceiverRef]
    job_name: str = ""
    extra_metrics: bool = False
    enable_protobuf_negotiation: bool = False
    honor_labels: bool = False
    honor_timestamps: bool = True
    track_timestamps_staleness: bool = False
    params: dict[str, list[str]] = msgspec.field(default_factory=dict)
    scrape_classic_histograms: bool = False
    scrape_native_histograms: bool = False
    scrape_interval: Duration = 60.0
    scrape_timeout: Duration = 10.0
    scrape_protocols: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_SCRAPE_PROTOCOLS))
    scrape_fallback_protocol: str = "PrometheusText0_0_4"
    metrics_path: str = "/metrics"
    scheme: str = "http"
    body_size_limit: ByteSize = 0
    sample_limit: int = 0
    target_limit: int = 0
    label_limit: int = 0
    label_name_length_limit: int = 0
    label_value_length_limit: int = 0
    native_histogram_bucket_limit: int = 0
    native_histogram_min_bucket_factor: float = 0.0
    enable_compression: bool = True
    metric_name_validation_scheme: str = "legacy"
    metric_name_escaping_scheme: str = "underscores"
    http_headers: dict[str, list[Secret]] = msgspec.field(default_factory=dict)
    clustering: Clustering = msgspec.field(default_factory=Clustering)

    def validate(self) -> None:
        if self.scrape_interval <= 0:
            raise ArgumentError("scrape_interval must be greater than 0", "scrape_interval")
        if self.scrape_timeout > self.scrape_interval:
            raise ArgumentError(
                f"scrape_timeout ({format_duration(self.scrape_timeout)}) greater than scrape_interval "
                f"({format_duration(self.scrape_interval)}) for scrape config with job name "
                f'"{self.job_name}"',
                "scrape_timeout",
            )
        if self.scheme not in ("http", "https"):
            raise ArgumentError(f"invalid scheme {self.scheme!r}: must be http or https", "scheme")
        if not self.scrape_protocols:
            raise ArgumentError("scrape_protocols cannot be empty", "scrape_protocols")
        seen: set[str] = set()
        for proto in self.scrape_protocols:
            if proto not in SCRAPE_PROTOCOLS:
                raise ArgumentError(f"unknown scrape protocol {proto}, supported: {', '.join(SCRAPE_PROTOCOLS)}",
                                    "scrape_protocols")
            if proto in seen:
                raise ArgumentError(f"duplicated protocol in scrape_protocols, got {self.scrape_protocols}",
                                    "scrape_protocols")
            seen.add(proto)
        if self.scrape_fallback_protocol.replace("_", ".") not in SCRAPE_PROTOCOLS:
            raise ArgumentError(f"invalid fallback protocol {self.scrape_fallback_protocol!r}",
                                "scrape_fallback_protocol")
        if self.metric_name_validation_scheme not in ("legacy", "utf8"):
            raise ArgumentError("metric_name_validation_scheme must be legacy or utf8",
                                "metric_name_validation_scheme")
        if self.metric_name_escaping_scheme not in ("underscores", "dots", "values", "allow-utf-8"):
            raise ArgumentError("invalid metric_name_escaping_scheme", "metric_name_escaping_scheme")
        for name in ("sample_limit", "target_limit", "label_limit", "label_name_length_limit",
                     "label_value_length_limit", "body_size_limit"):
            if getattr(self, name) < 0:
                raise ArgumentError(f"{name} must not be negative", name)
        validate_client("", self)
        validate_headers("http_headers", {name: "".join(map(str, values)) for name, values in self.http_headers.items()})


# component ID -> the instance of it that started last in this process. A reload starts the new
# instance before it stops the one it replaces, so the old one can tell which of its targets the
# new one no longer scrapes and write their staleness markers, as Prometheus does for targets that
# leave a scrape pool; targets both scrape continue without a gap.
_LATEST: dict[str, Scrape] = {}


@register("prometheus.scrape", arguments=Arguments, emits=(Signal.METRICS,), placement=Placement.WORKER)
class Scrape(Component[Arguments]):
    needs = frozenset({Service.WORKER_COUNT})

    def __init__(self, ctx: BuildContext, args: Arguments) -> None:
        super().__init__(ctx, args)
        self._loops: dict[str, asyncio.Task[None]] = {}
        self._states: dict[str, ScrapeState] = {}
        self._session: aiohttp.ClientSession | None = None
        self._client = ClientSettings(args)
        self._receivers = ctx.forward_to(args.forward_to)
        self.last_status: dict[str, str] = {}

    def owned_targets(self, args: Arguments) -> dict[str, Target]:
        job = args.job_name or self.ctx.component_id
        workers = self.ctx.workers_for_signal
        out: dict[str, Target] = {}
        for raw in args.targets:
            target = populate(raw, job_name=job, scheme=args.scheme, metrics_path=args.metrics_path,
                              params=args.params, interval=args.scrape_interval, timeout=args.scrape_timeout)
            if target is None:
                self.ctx.logger.warning("target without __address__ skipped: %s", raw)
                continue
            if owns(target, self.ctx.worker_index, workers):
                out[target.key] = target
        return out

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(auto_decompress=True, skip_auto_headers=("User-Agent",))
        args = self.args
        wanted = self.owned_targets(args)
        for key, target in wanted.items():
            state = ScrapeState(target)
            state.honor_labels = args.honor_labels
            state.honor_timestamps = args.honor_timestamps
            state.label_limit = args.label_limit
            state.label_name_length_limit = args.label_name_length_limit
            state.label_value_length_limit = args.label_value_length_limit
            state.extra_metrics = (args.sample_limit,) if args.extra_metrics else None
            state.track_timestamps_staleness = args.track_timestamps_staleness
            self._states[key] = state
            self._loops[key] = asyncio.create_task(self._loop(state, args), name=f"scrape {target.url}")
        m.SCRAPE_TARGETS.labels(self.ctx.component_id, "/").set(len(wanted))
        _LATEST[self.ctx.component_id] = self
        await super().start()

    async def _mark_dropped_targets(self, kept: set[str]) -> None:
        """Staleness markers for every series of the targets a reload removed (the fan-out already
        points at the new downstream instances when a replaced component shuts down)."""
        now_ms = int(time.time() * 1000)
        for key, state in list(self._states.items()):
            if key not in kept:
                await self._forward(state.ended(now_ms))
                del self._states[key]

    async def _forward(self, batch: SampleBatch) -> None:
        for receiver in self._receivers:
            await receiver.append(batch)
        if self._receivers:
            m.FORWARDED.labels(self.ctx.component_id, "/").inc(len(batch) * len(self._receivers))

    def _headers(self, args: Arguments, target: Target) -> dict[str, str]:
        headers = {"Accept": ACCEPT, "User-Agent": USER_AGENT,
                   "X-Prometheus-Scrape-Timeout-Seconds": format_f(target.timeout)}
        if not args.enable_compression:
            headers["Accept-Encoding"] = "identity"
        for name, values in args.http_headers.items():
            if values:
                headers[name] = str(values[0])
        headers.update(self._client.static_headers)
        return headers

    async def _loop(self, state: ScrapeState, args: Arguments) -> None:
        target = state.target
        interval = target.interval
        offset = (stable_hash(target.key) % 1_000_000) / 1_000_000 * interval
        next_at = time.time() - (time.time() % interval) + offset
        if next_at < time.time():
            next_at += interval
        headers = self._headers(args, target)
        while True:
            await asyncio.sleep(max(0.0, next_at - time.time()))
            next_at += interval
            await self.scrape_once(state, args, headers)

    async def scrape_once(self, state: ScrapeState, args: Arguments, headers: dict[str, str] | None = None) -> None:
        """One scrape of one target, forwarded downstream."""
        assert self._session is not None
        target = state.target
        started = time.time()
        scrape_ms = int(started * 1000)
        headers = headers or self._headers(args, target)
        try:
            if args.target_limit and len(args.targets) > args.target_limit:
                # Prometheus fails every target of a pool that has more than target_limit
                raise RuntimeError(f"target_limit exceeded (number of targets: {len(args.targets)}, "
                                   f"limit: {args.target_limit})")
            if self._client.oauth2 is not None:
                headers = {**headers, **await self._client.auth_headers(self._session)}
            async with self._session.get(target.url, headers=headers,
                                         timeout=aiohttp.ClientTimeout(total=target.timeout),
                                         **self._client.request_kwargs(target.url)) as resp:
                if resp.status != 200:
                    raise RuntimeError(f"server returned HTTP status {resp.status} {resp.reason}")
                body = await resp.read()
                state.body_size = len(body)
                if args.body_size_limit and len(body) > args.body_size_limit:
                    raise RuntimeError(f"body size limit exceeded: {len(body)} > {args.body_size_limit}")
            exposition = parse(body.decode("utf-8", "replace"))
            if args.sample_limit and len(exposition.samples) > args.sample_limit:
                raise RuntimeError(f"sample limit exceeded: {len(exposition.samples)} > {args.sample_limit}")
            batch = state.success(exposition, scrape_ms, time.time() - started)
            self.last_status[target.url] = "up"
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, TokenError) as err:
            reason, message = describe_error(err)
            m.HTTP_CLIENT_ERRORS.labels(self.ctx.component_id, "/", redact_url(target.url), reason).inc()
            self._scrape_failed(state, message)
            batch = state.failure(scrape_ms, time.time() - started)
        except (RuntimeError, ParseError) as err:
            self._scrape_failed(state, str(err) or type(err).__name__)
            batch = state.failure(scrape_ms, time.time() - started)
        await self._forward(batch)

    def _scrape_failed(self, state: ScrapeState, message: str) -> None:
        url = redact_url(state.target.url)
        self.ctx.logger.warning("scrape of %s failed: %s", url, message)
        self.last_status[state.target.url] = f"down: {message}"

    async def shutdown(self, deadline: float | None = None) -> None:
        for key in list(self._loops):
            await cancel_and_wait(self._loops.pop(key))
        successor = _LATEST.get(self.ctx.component_id)
        if successor is self:
            del _LATEST[self.ctx.component_id]  # a stop, not a replacement: nothing to mark
        elif successor is not None:
            await self._mark_dropped_targets(set(successor._states))
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        await super().shutdown(deadline)
