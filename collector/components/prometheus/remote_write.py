"""`prometheus.remote_write`: send appended samples to remote-write endpoints.

Differences from Alloy (for now): no WAL (samples are queued in memory; see `queue.py` for where the
WAL goes), a fixed number of shards per endpoint (no auto-scaling), remote write 1.0 only, no
oauth2/sigv4/azuread token flows (the blocks are accepted and validated).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Mapping

import msgspec

from collector.components.api import ArgumentError, BuildContext, Component, EvalContext, MetricsReceiverRef, Placement
from collector.components.discovery.relabel import validate_rules
from collector.components.prometheus.client import OAuth2, Authorization, BasicAuth, TLSConfig, validate_client
from collector.components.registry import register
from collector.components.types import Duration, Secret
from collector.components.prometheus.queue import EndpointQueue
from collector.protocols.prometheus.relabel import Rule
from collector.protocols.prometheus.series import SampleBatch

_RELOAD_FLUSH_SECONDS = 5.0


class QueueConfig(msgspec.Struct, frozen=True, kw_only=True):
    capacity: int = 10_000
    min_shards: int = 1
    max_shards: int = 50
    max_samples_per_send: int = 2_000
    batch_send_deadline: Duration = 5.0
    min_backoff: Duration = 0.03
    max_backoff: Duration = 5.0
    retry_on_http_429: bool = True
    sample_age_limit: Duration = 0.0

    def validate(self, path: str) -> None:
        for name in ("capacity", "min_shards", "max_shards", "max_samples_per_send"):
            if getattr(self, name) <= 0:
                raise ArgumentError(f"{name} must be greater than 0", f"{path}.{name}")
        if self.min_shards > self.max_shards:
            raise ArgumentError("min_shards must not be greater than max_shards", f"{path}.min_shards")
        if self.batch_send_deadline <= 0:
            raise ArgumentError("batch_send_deadline must be greater than 0", f"{path}.batch_send_deadline")
        if self.min_backoff < 0 or self.max_backoff < self.min_backoff:
            raise ArgumentError("max_backoff must be greater than or equal to min_backoff", f"{path}.max_backoff")
        if self.sample_age_limit < 0:
            raise ArgumentError("sample_age_limit must not be negative", f"{path}.sample_age_limit")


class MetadataConfig(msgspec.Struct, frozen=True, kw_only=True):
    send: bool = True
    send_interval: Duration = 60.0
    max_samples_per_send: int = 2_000

    def validate(self, path: str) -> None:
        if self.send_interval <= 0:
            raise ArgumentError("send_interval must be greater than 0", f"{path}.send_interval")
        if self.max_samples_per_send <= 0:
            raise ArgumentError("max_samples_per_send must be greater than 0", f"{path}.max_samples_per_send")


class Endpoint(msgspec.Struct, frozen=True, kw_only=True):
    url: str
    name: str = ""
    remote_timeout: Duration = 30.0
    headers: dict[str, Secret] = msgspec.field(default_factory=dict)
    send_exemplars: bool = True
    send_native_histograms: bool = False
    round_robin_dns: bool = False
    protobuf_message: str = "prometheus.WriteRequest"
    follow_redirects: bool = True
    enable_http2: bool = False
    bearer_token: Secret | None = None
    bearer_token_file: str = ""
    proxy_url: str = ""
    no_proxy: str = ""
    proxy_from_environment: bool = False
    proxy_connect_header: dict[str, list[Secret]] = msgspec.field(default_factory=dict)
    basic_auth: BasicAuth | None = None
    authorization: Authorization | None = None
    oauth2: OAuth2 | None = None
    tls_config: TLSConfig | None = None
    queue_config: QueueConfig = msgspec.field(default_factory=QueueConfig)
    metadata_config: MetadataConfig = msgspec.field(default_factory=MetadataConfig)
    write_relabel_config: list[Rule] = msgspec.field(default_factory=list)

    def validate(self, path: str) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ArgumentError(f"invalid url {self.url!r}: scheme must be http or https", f"{path}.url")
        if self.remote_timeout <= 0:
            raise ArgumentError("remote_timeout must be greater than 0", f"{path}.remote_timeout")
        if self.protobuf_message not in ("prometheus.WriteRequest", "io.prometheus.write.v2.Request"):
            raise ArgumentError(f"unknown remote write protobuf message {self.protobuf_message!r}",
                                f"{path}.protobuf_message")
        if self.protobuf_message != "prometheus.WriteRequest":
            raise ArgumentError("remote write 2.0 (io.prometheus.write.v2.Request) is not supported; "
                                "use prometheus.WriteRequest", f"{path}.protobuf_message")
        if self.proxy_from_environment and self.proxy_url:
            raise ArgumentError("if proxy_from_environment is configured, proxy_url must not be configured",
                                f"{path}.proxy_url")
        validate_client(path, bearer_token=self.bearer_token, bearer_token_file=self.bearer_token_file,
                        basic_auth=self.basic_auth, authorization=self.authorization, oauth2=self.oauth2,
                        tls_config=self.tls_config)
        self.queue_config.validate(f"{path}.queue_config")
        self.metadata_config.validate(f"{path}.metadata_config")
        validate_rules(self.write_relabel_config, f"{path}.write_relabel_config")


class WALConfig(msgspec.Struct, frozen=True, kw_only=True):
    truncate_frequency: Duration = 7200.0
    min_keepalive_time: Duration = 300.0
    max_keepalive_time: Duration = 28800.0

    def validate(self) -> None:
        if self.truncate_frequency <= 0:
            raise ArgumentError("truncate_frequency must be greater than 0s", "wal.truncate_frequency")
        if self.min_keepalive_time > self.max_keepalive_time:
            raise ArgumentError("min_keepalive_time must be smaller than max_keepalive_time",
                                "wal.min_keepalive_time")


class Arguments(msgspec.Struct, frozen=True, kw_only=True):
    external_labels: dict[str, str] = msgspec.field(default_factory=dict)
    endpoint: list[Endpoint] = msgspec.field(default_factory=list)
    wal: WALConfig = msgspec.field(default_factory=WALConfig)

    def validate(self) -> None:
        names: set[str] = set()
        for i, endpoint in enumerate(self.endpoint):
            endpoint.validate("endpoint")
            if endpoint.name:
                if endpoint.name in names:
                    raise ArgumentError(f"found duplicate remote write configs with name {endpoint.name!r}",
                                        "endpoint.name")
                names.add(endpoint.name)
        self.wal.validate()
        for name in self.external_labels:
            if not name or not (name[0].isascii() and (name[0].isalpha() or name[0] == "_")) or not all(
                c.isascii() and (c.isalnum() or c == "_") for c in name
            ):
                raise ArgumentError(f"{name!r} is not a valid label name", "external_labels")


@register("prometheus.remote_write", arguments=Arguments, placement=Placement.WORKER)
class RemoteWrite(Component):
    """A `MetricsReceiver`: `append()` queues a batch on every endpoint (see `queue.EndpointQueue`)."""

    def __init__(self, ctx: BuildContext, args: msgspec.Struct) -> None:
        super().__init__(ctx, args)
        self._queues: list[EndpointQueue] = []
        self._started = False

    @classmethod
    def exports(cls, ctx: EvalContext, args: msgspec.Struct) -> Mapping[str, Any]:
        return {"receiver": MetricsReceiverRef(ctx.component_id)}

    def _build_queues(self, args: Arguments) -> list[EndpointQueue]:
        return [EndpointQueue(self.ctx.component_id, endpoint, args.external_labels, self.ctx.logger)
                for endpoint in args.endpoint]

    async def start(self) -> None:
        assert isinstance(self.args, Arguments)
        self._queues = self._build_queues(self.args)
        for queue in self._queues:
            await queue.start()
        self._started = True
        await super().start()

    async def append(self, batch: SampleBatch) -> None:
        """Queue `batch` on every endpoint; returns once it is queued (later: written to the WAL)."""
        if not self._queues:
            self.ctx.logger.debug("no endpoint configured: %d samples dropped", len(batch))
            return
        for queue in self._queues:
            await queue.append(batch)

    async def update(self, args: msgspec.Struct) -> None:
        if args == self.args:
            return
        assert isinstance(args, Arguments)
        old, self.args = self._queues, args
        if self._started:
            self._queues = self._build_queues(args)
            for queue in self._queues:
                await queue.start()
            deadline = time.monotonic() + _RELOAD_FLUSH_SECONDS
            await asyncio.gather(*(queue.stop(deadline) for queue in old))

    async def shutdown(self, deadline: float | None = None) -> None:
        queues, self._queues = self._queues, []
        self._started = False
        await asyncio.gather(*(queue.stop(deadline) for queue in queues))
        await super().shutdown(deadline)
