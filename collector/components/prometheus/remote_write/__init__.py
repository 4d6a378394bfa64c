"""`prometheus.remote_write`: send appended samples to remote-write endpoints.

Theory of operation: `append()` writes the batch to this worker's WAL
(`<storage.path>/prometheus.remote_write.<label>/wal-<signal>-<worker index>`, see `collector.storage.wal`)
and returns only then, so the caller settles its ring records once the samples are on disk (page
cache: they survive the process). Every endpoint has a reader position in the WAL that its queue
advances when a batch was accepted (2xx) or dropped for good (counted). At start (and after a
reload) an endpoint whose position is behind the WAL's head replays the records from there, reading
the WAL until it catches up; only then does it take batches from `append()` directly, so samples of
one series are sent in order (Prometheus rejects out-of-order samples).

The WAL is the buffer: `append()` never waits for an endpoint. A live endpoint whose shards are full
(endpoint slow or down) stops being live: it is fed from the WAL by a replay task (which waits for
shard space) until it catches up, then takes batches from `append()` again. Only the WAL's own
limits push back on the caller (who then leaves its ring records unsettled, so the rings fill and
receivers answer retryable refusals): a WAL over `max_bytes` whose oldest segments are younger than
`min_keepalive_time`, and a failed append (full disk, I/O error), which is retried with backoff,
logged at most once a minute and reported as unhealthy until an append succeeds. An unexpected
error in a sender is logged, counted and retried, and the component is unhealthy meanwhile.

Workers that no longer exist: when the metrics worker count is lowered, the WAL directories
`wal-<signal>-<j>` with `j >= count` are replayed by worker `j % count` (a queue per endpoint of
its own, acking into that WAL's positions) and removed once every endpoint has passed their head.

Truncation: on segment rotation and every `wal.truncate_frequency`, segments every endpoint has
passed are deleted; every `truncate_frequency`, closed segments last written more than
`max_keepalive_time` ago are deleted even if unsent; and when the WAL is larger than `WAL_MAX_BYTES`
closed segments older than `min_keepalive_time` are deleted, oldest first. Unsent samples removed
this way are counted (`prometheus_remote_storage_samples_dropped_total` of the endpoint,
`prometheus_remote_write_wal_samples_dropped_total{reason}`) and logged.

Differences from Alloy: our WAL holds whole encoded samples (not series + sample references), and
data unsent at a restart *is* resent (Alloy skips samples older than its start); a fixed number of
shards per endpoint (no auto-scaling), remote write 1.0 only; `sigv4` and `azuread` are refused at validation
(oauth2 client credentials, TLS and proxies are applied: `collector/components/kit/http_client.py`).
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import time
from pathlib import Path
from typing import Callable, ClassVar, Final

import msgspec

from collector.components.kit.api import (
    ArgumentError, BuildContext, Component, EvalContext, Health, HealthState, MetricsReceiverRef, Placement,
    ReceiverExports,
)
from collector.components.discovery.relabel import validate_rules
from collector.components.kit.prometheus_client import (
    HTTPClientConfig, validate_client, validate_headers, validate_url_auth,
)
from collector.components.kit.registry import register
from collector.components.kit.types import Duration, Secret
from collector.components.kit import prometheus_metrics as m
from collector.components.kit.tasks import cancel_and_wait
from collector.components.prometheus.remote_write.queue import EndpointQueue, endpoint_name
from collector.protocols.prometheus import walrecord
from collector.protocols.prometheus.expiry import GENERATION
from collector.protocols.prometheus.relabel import Rule
from collector.protocols.prometheus.series import SampleBatch
from collector.storage.wal import WAL, Position

WAL_SEGMENT_BYTES: Final = 32 << 20
WAL_MAX_BYTES: Final = 1 << 30  # per worker process; past it, appends wait (data younger than min_keepalive_time)
_LOG_EVERY: Final = 60.0  # seconds between two logs of a persisting WAL fault


def orphan_indices(indices: list[int], *, index: int, count: int) -> list[int]:
    """The WAL directories (by worker index) worker `index` of `count` adopts: those of workers
    that no longer exist, shared out so that each is adopted by exactly one worker."""
    return sorted(j for j in indices if j >= count and j % count == index)


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


class SigV4(msgspec.Struct, frozen=True, kw_only=True):
    region: str = ""
    access_key: str = ""
    secret_key: Secret | None = None
    profile: str = ""
    role_arn: str = ""


class AzureManagedIdentity(msgspec.Struct, frozen=True, kw_only=True):
    client_id: str = ""


class AzureOAuth(msgspec.Struct, frozen=True, kw_only=True):
    client_id: str = ""
    client_secret: Secret | None = None
    tenant_id: str = ""


class AzureSDK(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: str = ""


class AzureAD(msgspec.Struct, frozen=True, kw_only=True):
    cloud: str = "AzurePublic"
    managed_identity: AzureManagedIdentity | None = None
    oauth: AzureOAuth | None = None
    sdk: AzureSDK | None = None


class Endpoint(HTTPClientConfig, frozen=True, kw_only=True):
    NOT_APPLIED: ClassVar[dict[str, str]] = {
        "enable_http2": "the HTTP client speaks HTTP/1.1 only",
        "send_native_histograms": "this collector has no native histograms",
        "round_robin_dns": "the HTTP client connects to the first address the name resolves to",
    }

    url: str
    name: str = ""
    remote_timeout: Duration = 30.0
    headers: dict[str, Secret] = msgspec.field(default_factory=dict)
    send_exemplars: bool = True
    send_native_histograms: bool = False
    round_robin_dns: bool = False
    protobuf_message: str = "prometheus.WriteRequest"
    enable_http2: bool = False
    queue_config: QueueConfig = msgspec.field(default_factory=QueueConfig)
    metadata_config: MetadataConfig = msgspec.field(default_factory=MetadataConfig)
    write_relabel_config: list[Rule] = msgspec.field(default_factory=list)
    sigv4: SigV4 | None = None
    azuread: AzureAD | None = None

    def validate(self, path: str) -> None:
        # Both sign or fetch credentials with their vendor's SDK (AWS request signing, Azure AD
        # tokens); neither is implemented, so a configuration that needs them must not start and
        # send unauthenticated requests.
        if self.sigv4 is not None:
            raise ArgumentError("sigv4 (AWS Signature Version 4) is not supported by this collector; "
                                "use basic_auth, authorization, oauth2 or a signing proxy (proxy_url)",
                                f"{path}.sigv4")
        if self.azuread is not None:
            raise ArgumentError("azuread is not supported by this collector; use oauth2 with the Azure AD "
                                "token endpoint (client credentials) instead", f"{path}.azuread")
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
        validate_client(path, self)
        validate_url_auth(f"{path}.url", self.url, self, self.headers)
        validate_headers(f"{path}.headers", self.headers)
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


@register("prometheus.remote_write", arguments=Arguments, exports=ReceiverExports, placement=Placement.WORKER)
class RemoteWrite(Component[Arguments]):
    """A `MetricsReceiver`: `append()` logs a batch to the WAL, then queues it on every live endpoint."""

    segment_bytes: int = WAL_SEGMENT_BYTES
    max_bytes: int = WAL_MAX_BYTES

    def __init__(self, ctx: BuildContext, args: Arguments) -> None:
        super().__init__(ctx, args)
        self._queues: list[EndpointQueue] = []
        self._replays: dict[str, asyncio.Task[None]] = {}
        self._orphans: list[asyncio.Task[None]] = []
        self._disk_error: str | None = None
        self._fault_logged = -1e9
        self._cursors: dict[str, Position] = {}  # replaying endpoint -> end of the last record it loaded
        # replaying endpoint -> (where it fell behind, a decoder that knows the refs of that point)
        self._seeds: dict[str, tuple[Position, walrecord.Decoder]] = {}
        self._wal: WAL | None = None
        self._housekeeping: asyncio.Task[None] | None = None
        self._records = walrecord.Encoder()
        self._started = False
        cid = ctx.component_id
        self._m_appended = m.WAL_APPENDED.labels(cid, "/")
        self._m_size = m.WAL_SIZE.labels(cid, "/")
        self._m_segments = m.WAL_SEGMENTS.labels(cid, "/")
        self._m_corrupt = m.WAL_CORRUPT.labels(cid, "/")
        self._m_append_failures = m.WAL_APPEND_FAILURES.labels(cid, "/")

    @classmethod
    def exports(cls, ctx: EvalContext, args: Arguments) -> ReceiverExports:
        return ReceiverExports(MetricsReceiverRef(ctx.component_id))

    @property
    def wal(self) -> WAL | None:
        return self._wal

    # --- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        assert isinstance(self.args, Arguments)
        # One WAL per hosting process: the same component also runs in traces workers when a
        # connector (host_info) feeds it, and each process must be the only writer of its WAL.
        process = self.ctx.worker_signal.value if self.ctx.worker_signal is not None else "main"
        directory = self.ctx.component_storage / f"wal-{process}-{self.ctx.worker_index}"
        self._wal = self._open_wal(directory)
        await self._start_queues(self.args)
        self._housekeeping = asyncio.create_task(self._run_housekeeping(), name=f"{self.ctx.component_id} wal")
        self._started = True
        await super().start()
        self._adopt_orphans(process)

    def _open_wal(self, directory: Path) -> WAL:
        def corrupt(segment: int, offset: int, size: int) -> None:
            self._m_corrupt.inc()
            self.ctx.logger.error("WAL %s: skipped %d damaged bytes at %d:%d (a corrupt record; its samples "
                                  "are lost, the records after it are read)", directory, size, segment, offset)

        wal = WAL(directory, segment_bytes=self.segment_bytes, on_corrupt=corrupt).open()
        if wal.torn_bytes:
            self.ctx.logger.warning("WAL %s: cut %d bytes of a torn record at its end (crash while writing)",
                                    directory, wal.torn_bytes)
        return wal

    def _set_readers(self, wal: WAL, names: list[str]) -> None:
        wal.set_readers(names)
        for name, reason in wal.unreadable_positions.items():
            self.ctx.logger.error("WAL %s: the position of endpoint %s is unreadable (%s); replaying from the "
                                  "oldest segment (samples may be sent twice)", wal.directory, name, reason)

    async def _start_queues(self, args: Arguments) -> None:
        wal = self._wal
        assert wal is not None
        self._set_readers(wal, [endpoint_name(endpoint) for endpoint in args.endpoint])
        queues = [EndpointQueue(self.ctx.component_id, endpoint, args.external_labels, self.ctx.logger,
                                on_ack=functools.partial(wal.ack, endpoint_name(endpoint)),
                                on_fault=self._update_health)
                  for endpoint in args.endpoint]
        for queue in queues:
            await queue.start()
            if wal.positions[queue.name] < wal.head:
                self._start_replay(queue, wal.positions[queue.name])
        self._queues = queues

    def _start_replay(self, queue: EndpointQueue, cursor: Position, seed: walrecord.Decoder | None = None) -> None:
        """Feed `queue` from the WAL after `cursor` (the end of the last record it holds). A live
        endpoint that falls behind passes the writer's `seed`, so its catch-up reads only what was
        written after it fell behind instead of re-reading its segment from the start."""
        queue.live = False
        self._cursors[queue.name] = cursor
        if seed is not None:
            self._seeds[queue.name] = (cursor, seed)
        self._replays[queue.name] = asyncio.create_task(self._replay(queue), name=f"{queue.name} replay")

    async def _stop_queues(self, deadline: float | None) -> None:
        replays, self._replays = list(self._replays.values()), {}
        for task in replays:
            task.cancel()
        await asyncio.gather(*replays, return_exceptions=True)
        queues, self._queues = self._queues, []
        await asyncio.gather(*(queue.stop(deadline) for queue in queues))
        self._cursors.clear()
        self._seeds.clear()
        if self._wal is not None:
            self._wal.save_positions()

    async def _replay(self, queue: EndpointQueue) -> None:
        """Feed `queue` from the WAL until it has caught up with the head, then make it live. The
        WAL generator checks for the head without awaiting, so no `append()` can slip in between."""
        wal = self._wal
        assert wal is not None
        decoder = walrecord.Decoder()
        replayed = m.WAL_REPLAYED.labels(self.ctx.component_id, "/", queue.name, queue.url)
        start = self._cursors[queue.name]
        seeded = self._seeds.pop(queue.name, None)
        mid_segment = seeded is not None and seeded[0] == start
        if seeded is not None and mid_segment:
            decoder = seeded[1]
        self.ctx.logger.info("endpoint %s: replaying the WAL from %s to %s", queue.name, start, wal.head)
        total = 0
        while True:
            try:
                total += await self._feed(wal, queue, self._cursors[queue.name], decoder, replayed,
                                          lambda end: self._cursors.__setitem__(queue.name, end),
                                          from_segment_start=not mid_segment)
                break
            except Exception as err:  # noqa: BLE001 - an I/O error: the endpoint must not stop for good
                self.ctx.logger.error("endpoint %s: reading the WAL failed (%s); retrying in 1s", queue.name, err)
                decoder, mid_segment = walrecord.Decoder(), False
                await asyncio.sleep(1.0)
        queue.live = True
        self._cursors.pop(queue.name, None)
        self._replays.pop(queue.name, None)
        self.ctx.logger.info("endpoint %s: WAL replay done (%d samples), sending live", queue.name, total)

    async def _feed(self, wal: WAL, queue: EndpointQueue, start: Position, decoder: walrecord.Decoder,
                    replayed: m.Counter, loaded: Callable[[Position], None], *,
                    from_segment_start: bool = True) -> int:
        """Append the records of `wal` after `start` to `queue` (waiting for its shards) up to the
        head; returns the samples appended. A record that cannot be decoded is skipped and logged.
        Series refs are defined per segment, so reading starts at the segment's start unless the
        decoder was seeded with the refs known at `start`."""
        total = 0
        for record in wal.read(Position(start.segment, 0) if from_segment_start else start):
            try:
                if record.end <= start:
                    decoder.skip(record.body, record.end.segment)
                    continue
                batch = decoder.decode(record.body, record.end.segment)
            except Exception as err:  # noqa: BLE001 - a damaged record must not stop the replay
                self._m_corrupt.inc()
                self.ctx.logger.error("WAL %s: skipping an undecodable record ending at %s: %s",
                                      wal.directory, record.end, err)
                continue
            await queue.append(batch, record.end)
            loaded(record.end)
            total += len(batch)
            replayed.inc(len(batch))
        return total

    # --- the receiver --------------------------------------------------------------------------------
    async def append(self, batch: SampleBatch) -> None:
        """Write `batch` to the WAL, then queue it on every live endpoint that has room; an endpoint
        without room catches up from the WAL. Returns once the batch is in the WAL; waits only while
        the WAL is over its budget or cannot be written (full disk)."""
        assert isinstance(self.args, Arguments)
        if not self.args.endpoint or self._wal is None:
            self.ctx.logger.debug("no endpoint configured: %d samples dropped", len(batch))
            return
        if not len(batch):
            for queue in self._queues:
                queue.put(batch)  # metadata only
            return
        wal = self._wal
        if wal.size_bytes >= self.max_bytes:
            await self._wait_for_budget(wal)
        before, position = await self._write(wal, batch)
        self._m_appended.inc(len(batch))
        if wal.head.segment != before.segment:
            self._truncate(full=False)
        for queue in self._queues:  # no await from the write to here: the live set is consistent
            if not queue.live:
                continue
            if queue.has_space:
                queue.put(batch, position)
            else:
                self._start_replay(queue, before, seed=self._records.decoder() if before.segment == position.segment
                                   else None)

    async def _write(self, wal: WAL, batch: SampleBatch) -> tuple[Position, Position]:
        """Append one record (retrying while the disk refuses it); (its start, its end)."""
        delay = 0.05
        while True:
            before = wal.head
            try:
                position = wal.append(self._records.encode(batch, before.segment), len(batch))
            except OSError as err:
                self._records.reset()  # the record's series definitions are not on disk
                self._m_append_failures.inc()
                self._wal_fault(f"WAL append failed: {err.strerror or err}", wal)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                if self._wal is not wal:
                    raise asyncio.CancelledError("the component shut down while its WAL could not be written")
                continue
            except BaseException:
                self._records.reset()
                raise
            if self._disk_error is not None:
                self.ctx.logger.warning("WAL %s: appends succeed again", wal.directory)
                self._disk_error = None
                self._update_health()
            return before, position

    async def _wait_for_budget(self, wal: WAL) -> None:
        """Hold the caller while the WAL is over `max_bytes` and truncation cannot free space."""
        while self._wal is wal:
            self._truncate(full=False)
            if wal.size_bytes < self.max_bytes:
                return
            now = time.monotonic()
            if now - self._fault_logged >= _LOG_EVERY:
                self._fault_logged = now
                self.ctx.logger.warning("WAL %s holds %d bytes, over its budget of %d: holding new samples until "
                                        "endpoints catch up", wal.directory, wal.size_bytes, self.max_bytes)
            await asyncio.sleep(0.2)

    def _wal_fault(self, message: str, wal: WAL) -> None:
        first = self._disk_error is None
        self._disk_error = message
        now = time.monotonic()
        if first or now - self._fault_logged >= _LOG_EVERY:
            self._fault_logged = now
            self.ctx.logger.error("WAL %s: %s; holding new samples (clients get retryable refusals) and retrying",
                                  wal.directory, message)
        if first:
            self._update_health()

    def _update_health(self) -> None:
        if not self._started:
            return
        faults = [f"endpoint {q.name}: {q.fault}" for q in self._queues if q.fault is not None]
        if self._disk_error is not None:
            faults.insert(0, self._disk_error)
        if faults:
            self.health = Health(HealthState.UNHEALTHY, "; ".join(faults))
        else:
            self.health = Health(HealthState.HEALTHY, "started component")

    # --- WAL directories of workers that no longer exist ---------------------------------------------
    def _adopt_orphans(self, process: str) -> None:
        services = self.ctx.services
        if self.ctx.worker_signal is None or services.workers_for_signal is None:
            return
        prefix = f"wal-{process}-"
        try:
            entries = list(self.ctx.component_storage.iterdir())
        except OSError:
            return
        indices = [int(e.name[len(prefix):]) for e in entries
                   if e.name.startswith(prefix) and e.name[len(prefix):].isdigit() and e.is_dir()]
        for j in orphan_indices(indices, index=self.ctx.worker_index, count=services.workers_for_signal):
            directory = self.ctx.component_storage / f"{prefix}{j}"
            self._orphans.append(asyncio.create_task(self._drain_orphan(directory), name=f"{directory.name} drain"))

    async def _drain_orphan(self, directory: Path) -> None:
        """Send what the WAL of a worker that no longer exists holds, then remove it."""
        assert isinstance(self.args, Arguments)
        args = self.args
        try:
            wal = self._open_wal(directory)
        except OSError as err:
            self.ctx.logger.error("WAL %s of a former worker cannot be opened: %s", directory, err)
            return
        queues: list[EndpointQueue] = []
        try:
            self._set_readers(wal, [endpoint_name(endpoint) for endpoint in args.endpoint])
            pending = {name: position for name, position in wal.positions.items() if position < wal.head}
            self.ctx.logger.info("WAL %s of a former worker: replaying it for %d endpoints, then removing it",
                                 directory, len(pending))
            queues = [EndpointQueue(self.ctx.component_id, endpoint, args.external_labels, self.ctx.logger,
                                    on_ack=functools.partial(wal.ack, endpoint_name(endpoint)),
                                    on_fault=self._update_health)
                      for endpoint in args.endpoint if endpoint_name(endpoint) in pending]
            for queue in queues:
                await queue.start()
                replayed = m.WAL_REPLAYED.labels(self.ctx.component_id, "/", queue.name, queue.url)
                await self._feed(wal, queue, pending[queue.name], walrecord.Decoder(), replayed, lambda end: None)
            while any(wal.positions[q.name] < wal.head for q in queues):
                wal.save_positions()
                await asyncio.sleep(0.1)
            for queue in queues:
                await queue.stop(time.monotonic())
            queues = []
            wal.close()
            shutil.rmtree(directory, ignore_errors=True)
            self.ctx.logger.info("WAL %s of a former worker: delivered and removed", directory)
        finally:
            for queue in queues:
                await queue.stop(time.monotonic())
            wal.close()

    # --- WAL housekeeping ----------------------------------------------------------------------------
    async def _run_housekeeping(self) -> None:
        """fsync and save positions at the batch deadline; truncate every `truncate_frequency`; start
        a new generation of the per-series caches every `expiry.GENERATION` seconds (the endpoint
        queues' label and routing caches, the WAL encoder's series refs once unused), so a worker's
        memory shrinks soon after a burst of series."""
        last_truncate = last_expire = time.monotonic()
        while True:
            assert isinstance(self.args, Arguments)
            deadlines = [e.queue_config.batch_send_deadline for e in self.args.endpoint]
            await asyncio.sleep(min(min(deadlines, default=5.0), GENERATION))
            wal = self._wal
            if wal is None:
                return
            if time.monotonic() - last_expire >= GENERATION:
                last_expire = time.monotonic()
                self._expire_caches()
            try:
                wal.sync()
                wal.save_positions()
                if time.monotonic() - last_truncate >= self.args.wal.truncate_frequency:
                    last_truncate = time.monotonic()
                    self._truncate(full=True)
                else:
                    self._report_size()
            except OSError as err:  # a full disk: positions are saved again at the next round
                now = time.monotonic()
                if now - self._fault_logged >= _LOG_EVERY:
                    self._fault_logged = now
                    self.ctx.logger.error("WAL %s: housekeeping failed: %s", wal.directory, err)

    def _expire_caches(self) -> None:
        for queue in self._queues:
            queue.expire()
        self._records.expire()

    def _truncate(self, *, full: bool) -> None:
        wal = self._wal
        assert wal is not None and isinstance(self.args, Arguments)
        wal.remove_consumed()
        now = time.time()
        for segment in sorted(wal.segments())[:-1]:
            age = now - wal.segment_written(segment)
            if full and age > self.args.wal.max_keepalive_time:
                reason = "max_keepalive_time"
            elif wal.size_bytes > self.max_bytes and age > self.args.wal.min_keepalive_time:
                reason = "size_limit"
            else:
                break
            self._drop_segment(segment, reason)
        self._report_size()

    def _drop_segment(self, segment: int, reason: str) -> None:
        wal = self._wal
        assert wal is not None
        for queue in self._queues:
            cursor = self._cursors.get(queue.name)
            if cursor is None:
                continue  # live: everything it has not sent is in memory and will still be sent
            lost = wal.samples_after(cursor, segment)
            if lost:
                queue.count_dropped(lost)
                m.WAL_DROPPED.labels(self.ctx.component_id, "/", reason).inc(lost)
                self.ctx.logger.warning("WAL truncation (%s) dropped %d unsent samples of endpoint %s",
                                        reason, lost, queue.name)
        wal.remove_segment(segment)
        for name, cursor in list(self._cursors.items()):
            if cursor.segment <= segment:
                self._cursors[name] = wal.positions[name]

    def _report_size(self) -> None:
        if self._wal is not None:
            self._m_size.set(self._wal.size_bytes)
            self._m_segments.set(len(self._wal.segments()))

    async def shutdown(self, deadline: float | None = None) -> None:
        self._started = False
        orphans, self._orphans = self._orphans, []
        for orphan in orphans:
            orphan.cancel()
        await asyncio.gather(*orphans, return_exceptions=True)
        task, self._housekeeping = self._housekeeping, None
        await cancel_and_wait(task)
        await self._stop_queues(deadline)
        wal, self._wal = self._wal, None
        if wal is not None:
            wal.close()
        await super().shutdown(deadline)
