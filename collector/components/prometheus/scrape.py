"""`prometheus.scrape`: scrape Prometheus text-format targets and forward the samples."""

from __future__ import annotations

from typing import Any, Mapping

import msgspec

from collector.components.api import ArgumentError, Component, EvalContext, MetricsReceiverRef, Placement
from collector.components.prometheus.client import OAuth2, Authorization, BasicAuth, TLSConfig, validate_client
from collector.components.registry import register
from collector.components.types import ByteSize, Duration, Secret, Targets
from collector.signals import Signal

SCRAPE_PROTOCOLS = ("PrometheusProto", "OpenMetricsText0.0.1", "OpenMetricsText1.0.0", "PrometheusText0.0.4",
                    "PrometheusText1.0.0")
DEFAULT_SCRAPE_PROTOCOLS = ["OpenMetricsText1.0.0", "OpenMetricsText0.0.1", "PrometheusText1.0.0",
                            "PrometheusText0.0.4"]


def format_go_duration(seconds: float) -> str:
    """Go's `time.Duration.String()` (`1m0s`, `15s`, `200ms`), for messages that quote durations."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _trim(ns / size) + unit
    hours, rest = divmod(ns, 3_600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    text = _trim(rest / 1e9) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text


def _trim(value: float) -> str:
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text or "0"


class Clustering(msgspec.Struct, frozen=True, kw_only=True):
    enabled: bool = False


class Arguments(msgspec.Struct, frozen=True, kw_only=True):
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
    # HTTP client
    bearer_token: Secret | None = None
    bearer_token_file: str = ""
    proxy_url: str = ""
    no_proxy: str = ""
    proxy_from_environment: bool = False
    proxy_connect_header: dict[str, list[Secret]] = msgspec.field(default_factory=dict)
    follow_redirects: bool = True
    enable_http2: bool = True
    http_headers: dict[str, list[Secret]] = msgspec.field(default_factory=dict)
    basic_auth: BasicAuth | None = None
    authorization: Authorization | None = None
    oauth2: OAuth2 | None = None
    tls_config: TLSConfig | None = None
    clustering: Clustering = msgspec.field(default_factory=Clustering)

    def validate(self) -> None:
        if self.scrape_interval <= 0:
            raise ArgumentError("scrape_interval must be greater than 0", "scrape_interval")
        if self.scrape_timeout > self.scrape_interval:
            raise ArgumentError(
                f"scrape_timeout ({format_go_duration(self.scrape_timeout)}) greater than scrape_interval "
                f"({format_go_duration(self.scrape_interval)}) for scrape config with job name "
                f"{self.job_name!r}".replace("'", '"'),
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
        if self.proxy_from_environment and self.proxy_url:
            raise ArgumentError("if proxy_from_environment is configured, proxy_url must not be configured",
                                "proxy_url")
        validate_client("", bearer_token=self.bearer_token, bearer_token_file=self.bearer_token_file,
                        basic_auth=self.basic_auth, authorization=self.authorization, oauth2=self.oauth2,
                        tls_config=self.tls_config)


@register("prometheus.scrape", arguments=Arguments, emits=(Signal.METRICS,), placement=Placement.WORKER)
class Scrape(Component):
    @classmethod
    def exports(cls, ctx: EvalContext, args: msgspec.Struct) -> Mapping[str, Any]:
        return {}
