"""`otelcol.exporter.loadbalancing`: route each item by a key to one of several OTLP/gRPC backends.

The first tier of a two-tier fleet. Where the second tier needs all spans of a trace (tail sampling,
`otelcol.connector.host_info`) or all points of a series in one place, this exporter keeps each
key on one backend: a consistent-hash ring (`ring.py`, the OpenTelemetry Collector's geometry)
over the backends a resolver names (`resolver.py`: static list or DNS), and a wire-level split of
each request by key (`split.py`) so a batch fans out without a decode. Each backend is an OTLP/gRPC
exporter with its own queue and retries (`backend.py`).

Membership changes lose nothing. A new ring is built and swapped in one step, so each request is
split against one ring. A backend that leaves gives back what waits in its queue at once, and what
it is sending gets `protocol.otlp.timeout` (at least a second) to finish; whatever it still holds
then is routed again over the new ring (`collector_loadbalancer_rerouted_items_total`). A backend
that is down stays in the ring: its share is retried and queued like any exporter's (never sent to
another backend, which would split its traces), and a full queue holds the pipeline.

Differences from Alloy, each refused where it would otherwise be silently ignored:
* `resolver > kubernetes` and `resolver > aws_cloud_map` are refused: this collector has no Kubernetes
  or AWS API client (use `dns` with a headless service's name).
* Two resolvers at once are refused (Alloy lets `dns` win over `static`).
* The top-level `sending_queue` and `retry_on_failure` (a queue in front of the routing) are refused
  when enabled: every backend has its own (`protocol > otlp > queue`/`retry`), and the pipeline's
  backpressure stands in for the front queue. `timeout` bounds the wait for a backend's queue room;
  when it passes, the part is routed again over the current ring (so it moves only if its backend
  left the ring) instead of being dropped. It needs the backends' queues.
* A persistent backend queue (`queue { storage = ... }`) is refused: the queues of a changing set
  of backends have no stable directory to live in.
* Metrics routing keys (`resource`, `metric`, `streamID`, and metrics under `service`) are
  available without Alloy's `--stability.level=experimental`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final, Sequence

import msgspec

from collector.components.kit.api import (
    ArgumentError,
    BuildContext,
    Component,
    ConsumerRef,
    EvalContext,
    Health,
    HealthState,
    InputExports,
    Placement,
)
from collector.components.kit.exporterhelper.config import QueueArgs, RetryArgs
from collector.components.kit.otelcol_client import GRPCClientSettings
from collector.components.kit.registry import register
from collector.components.kit.tasks import cancel_and_wait
from collector.components.kit.types import DebugMetrics, Duration
from collector.components.otelcol.exporter.loadbalancing.backend import Backend, sum_stats
from collector.components.otelcol.exporter.loadbalancing.resolver import (
    DNSResolver,
    Lookup,
    StaticResolver,
    system_lookup,
)
from collector.components.otelcol.exporter.loadbalancing.ring import HashRing
from collector.components.otelcol.exporter.loadbalancing.split import ROUTING_KEYS, Splitter
from collector.selfmetrics.loadbalancer import BACKEND_MEMBER, BACKEND_UPDATES, BACKENDS, REROUTED
from collector.selfmetrics.otelcol import (
    EXPORTER_QUEUE_BYTES,
    EXPORTER_QUEUE_CAPACITY,
    EXPORTER_QUEUE_CAPACITY_UNITS,
    EXPORTER_QUEUE_ITEMS,
    EXPORTER_QUEUE_OLDEST_AGE,
    EXPORTER_QUEUE_REQUESTS,
    EXPORTER_QUEUE_SIZE,
)
from collector.signals import Payload, Signal

MIN_REMOVAL_DRAIN: Final = 1.0  # seconds a leaving backend may finish what it is sending
STATS_INTERVAL: Final = 1.0


class StaticArgs(msgspec.Struct, frozen=True, kw_only=True):
    hostnames: list[str]


class DNSArgs(msgspec.Struct, frozen=True, kw_only=True):
    hostname: str
    port: str = "4317"
    interval: Duration = 5.0
    timeout: Duration = 1.0


class KubernetesArgs(msgspec.Struct, frozen=True, kw_only=True):
    service: str
    ports: list[int] = msgspec.field(default_factory=lambda: [4317])
    timeout: Duration = 1.0
    return_hostnames: bool = False


class AWSCloudMapArgs(msgspec.Struct, frozen=True, kw_only=True):
    namespace: str
    service_name: str
    health_status: str = "HEALTHY"
    interval: Duration = 30.0
    timeout: Duration = 5.0
    port: int | None = None


class ResolverArgs(msgspec.Struct, frozen=True, kw_only=True):
    static: StaticArgs | None = None
    dns: DNSArgs | None = None
    kubernetes: KubernetesArgs | None = None
    aws_cloud_map: AWSCloudMapArgs | None = None

    def validate(self) -> None:
        if self.kubernetes is not None:
            raise ArgumentError("the kubernetes resolver is not supported by this collector (it has no Kubernetes "
                                "API client); use dns { hostname = \"<headless service>\" } instead",
                                "resolver.kubernetes")
        if self.aws_cloud_map is not None:
            raise ArgumentError("the aws_cloud_map resolver is not supported by this collector (it has no AWS API "
                                "client); use static or dns", "resolver.aws_cloud_map")
        if self.static is not None and self.dns is not None:
            raise ArgumentError("set one resolver: static or dns, not both", "resolver.dns")
        if self.static is None and self.dns is None:
            raise ArgumentError("a resolver is required: static { hostnames = [...] } or dns { hostname = ... }",
                                "resolver")
        if self.static is not None:
            if not self.static.hostnames:
                raise ArgumentError("hostnames must list at least one backend", "resolver.static.hostnames")
            for hostname in self.static.hostnames:
                if not hostname or "://" in hostname or "/" in hostname:
                    raise ArgumentError(f"backend {hostname!r} must be host:port (the port defaults to 4317)",
                                        "resolver.static.hostnames")
        if self.dns is not None:
            if not self.dns.hostname:
                raise ArgumentError("hostname must not be empty", "resolver.dns.hostname")
            if not self.dns.port.isdigit() or not 0 < int(self.dns.port) < 65536:
                raise ArgumentError(f"port {self.dns.port!r} is not a port number", "resolver.dns.port")
            if self.dns.interval <= 0:
                raise ArgumentError("interval must be positive", "resolver.dns.interval")
            if self.dns.timeout < 0:
                raise ArgumentError("timeout must not be negative", "resolver.dns.timeout")


class OTLPArgs(msgspec.Struct, frozen=True, kw_only=True):
    client: GRPCClientSettings  # the resolver names the endpoints
    timeout: Duration = 5.0
    queue: QueueArgs = msgspec.field(default_factory=QueueArgs)
    retry: RetryArgs = msgspec.field(default_factory=RetryArgs)


class ProtocolArgs(msgspec.Struct, frozen=True, kw_only=True):
    otlp: OTLPArgs


def _relocated(error: ArgumentError, old: str, new: str) -> ArgumentError:
    """The same error with its attribute path moved from the otlp exporter's block names to ours."""
    attribute = error.attribute or old.rstrip(".")
    if attribute.startswith(old):
        attribute = new + attribute[len(old):]
    return ArgumentError(str(error), attribute)


class Arguments(msgspec.Struct, frozen=True, kw_only=True):
    resolver: ResolverArgs
    protocol: ProtocolArgs
    routing_key: str = "traceID"
    timeout: Duration = 0.0
    sending_queue: QueueArgs | None = None
    retry_on_failure: RetryArgs | None = None
    debug_metrics: DebugMetrics | None = None

    def validate(self) -> None:
        if self.routing_key not in ROUTING_KEYS:
            raise ArgumentError(f"invalid routing key {self.routing_key!r}: one of "
                                f"{', '.join(repr(k) for k in ROUTING_KEYS)}", "routing_key")
        if self.timeout < 0:
            raise ArgumentError("timeout must not be negative", "timeout")
        self.resolver.validate()
        otlp = self.protocol.otlp
        if otlp.timeout < 0:
            raise ArgumentError("timeout must not be negative", "protocol.otlp.timeout")
        try:
            otlp.client.for_endpoint("backend:4317").validate()
        except ArgumentError as error:
            raise _relocated(error, "client.", "protocol.otlp.client.") from None
        try:
            otlp.queue.validate()
        except ArgumentError as error:
            raise _relocated(error, "sending_queue", "protocol.otlp.queue") from None
        try:
            otlp.retry.validate()
        except ArgumentError as error:
            raise _relocated(error, "retry_on_failure", "protocol.otlp.retry") from None
        if otlp.queue.storage is not None:
            raise ArgumentError("a persistent queue per backend is not supported here (backends come and go); "
                                "remove storage", "protocol.otlp.queue.storage")
        if self.sending_queue is not None and self.sending_queue.enabled:
            raise ArgumentError("a queue in front of the routing is not supported here: every backend has its own "
                                "(protocol > otlp > queue); set enabled = false or remove the block", "sending_queue")
        if self.retry_on_failure is not None and self.retry_on_failure.enabled:
            raise ArgumentError("retries in front of the routing are not supported here: every backend retries "
                                "(protocol > otlp > retry); set enabled = false or remove the block",
                                "retry_on_failure")
        if self.timeout > 0 and not otlp.queue.enabled:
            raise ArgumentError("timeout bounds the wait for a backend's queue, so it needs protocol > otlp > queue "
                                "enabled", "timeout")


@register("otelcol.exporter.loadbalancing", arguments=Arguments, accepts=tuple(Signal), placement=Placement.WORKER)
class LoadBalancingExporter(Component[Arguments]):
    lookup: Lookup = staticmethod(system_lookup)  # tests play a DNS server here (see the resolver tests)

    @classmethod
    def exports(cls, ctx: EvalContext, args: Arguments) -> msgspec.Struct:
        """`input` takes the signals the routing key applies to (as Alloy configures its exporters)."""
        signals = ROUTING_KEYS.get(args.routing_key, frozenset(Signal))
        return InputExports(ConsumerRef(ctx.component_id, frozenset(signals)))

    def __init__(self, ctx: BuildContext, args: Arguments) -> None:
        super().__init__(ctx, args)
        self.logger = ctx.logger
        self._splitters = {signal: Splitter(signal, args.routing_key) for signal in ROUTING_KEYS[args.routing_key]}
        self._ring = HashRing(())
        self._backends: dict[str, Backend] = {}
        self._changed = asyncio.Event()
        self._stopping = False
        self._retiring: set[asyncio.Task[None]] = set()
        self._stats_task: asyncio.Task[None] | None = None
        self._waiting_logged = False
        self._shutdown_done = False
        otlp = args.protocol.otlp
        self._removal_drain = max(otlp.timeout, MIN_REMOVAL_DRAIN)
        self.resolver: StaticResolver | DNSResolver
        resolver = args.resolver
        if resolver.dns is not None:
            dns = resolver.dns
            self.resolver = DNSResolver(ctx.component_id, dns.hostname, dns.port, dns.interval, dns.timeout,
                                        self._apply, self._on_resolver_error, self.logger, lookup=type(self).lookup)
        else:
            assert resolver.static is not None
            self.resolver = StaticResolver(ctx.component_id, resolver.static.hostnames, self._apply)

    # --- what the UI and tests read ------------------------------------------------------------
    @property
    def backends(self) -> tuple[str, ...]:
        return self._ring.endpoints

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        self.health = Health(HealthState.HEALTHY, "started component")
        await self.resolver.start()
        self._stats_task = asyncio.create_task(self._report_queue(), name=f"{self.ctx.component_id} queue stats")
        EXPORTER_QUEUE_CAPACITY.labels(self.ctx.component_id, "/").set(0)

    async def shutdown(self, deadline: float | None = None) -> None:
        if self._shutdown_done:
            return
        self._shutdown_done = True
        self._stopping = True
        self._changed.set()
        deadline = deadline if deadline is not None else time.monotonic() + 10.0
        await self.resolver.shutdown()
        backends = list(self._backends.values())
        await asyncio.gather(*(backend.shutdown(deadline) for backend in backends))
        if self._retiring:
            _, pending = await asyncio.wait(self._retiring, timeout=max(0.0, deadline - time.monotonic()))
            for retiring in pending:
                retiring.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        stats, self._stats_task = self._stats_task, None
        await cancel_and_wait(stats)
        for endpoint in self._backends:  # inc/dec, not set: a successor (reload) counts its own
            BACKEND_MEMBER.labels(self.ctx.component_id, endpoint).dec()
        self._backends.clear()
        self._report_stats(zero=True)
        self.health = Health(HealthState.EXITED, "component shut down cleanly")

    # --- membership --------------------------------------------------------------------------
    async def _apply(self, endpoints: list[str]) -> None:
        """The resolver's new list: start the new backends, swap the ring, retire the old ones."""
        ring = HashRing(endpoints)
        if ring == self._ring or self._stopping:
            return
        added = [endpoint for endpoint in ring.endpoints if endpoint not in self._backends]
        for endpoint in added:
            backend = self._new_backend(endpoint)
            await backend.start()
            self._backends[endpoint] = backend
        removed = [endpoint for endpoint in self._backends if endpoint not in ring.endpoints]
        self._ring = ring
        retiring = [self._backends.pop(endpoint) for endpoint in removed]
        component_id = self.ctx.component_id
        BACKEND_UPDATES.labels(component_id).inc()
        BACKENDS.labels(component_id).set(len(ring.endpoints))
        for endpoint in added:
            BACKEND_MEMBER.labels(component_id, endpoint).inc()
        for endpoint in removed:
            BACKEND_MEMBER.labels(component_id, endpoint).dec()
        self.logger.info("Load-balancing backends changed. component_id=%s backends=%s added=%s removed=%s",
                         component_id, ",".join(ring.endpoints) or "-", ",".join(added) or "-",
                         ",".join(removed) or "-")
        self._changed.set()
        for backend in retiring:
            task = asyncio.create_task(self._retire(backend), name=f"{component_id} retire {backend.endpoint}")
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    def _new_backend(self, endpoint: str) -> Backend:
        otlp = self.args.protocol.otlp

        async def leftovers(payloads: Sequence[Payload]) -> str:
            return await self._leftovers(payloads)

        return Backend(component_id=self.ctx.component_id, endpoint=endpoint, client=otlp.client.for_endpoint(endpoint),
                       timeout=otlp.timeout, queue=otlp.queue, retry=otlp.retry, logger=self.logger,
                       worker_signal=self.ctx.worker_signal, worker_index=self.ctx.worker_index, hand_over=leftovers)

    async def _retire(self, backend: Backend) -> None:
        """A backend left the ring: what waits in its queue is routed again now; what it is sending
        may finish within the drain time, and what it still holds then comes back the same way."""
        await self._reroute(backend.sender.take_queued())
        await backend.shutdown(time.monotonic() + self._removal_drain)

    async def _leftovers(self, payloads: Sequence[Payload]) -> str:
        """What a backend's sender still held when it stopped."""
        if self._stopping:  # the whole component stops: the host's retirement rule decides
            return await self.hand_over(payloads)
        await self._reroute(payloads)
        return "routed again over the backends now in the ring"

    async def _reroute(self, payloads: Sequence[Payload]) -> None:
        for payload in payloads:
            REROUTED.labels(self.ctx.component_id, payload.signal.value).inc(payload.item_count)
            await self._route(payload)

    def _on_resolver_error(self, message: str | None) -> None:
        if self.health.state is HealthState.EXITED:
            return
        if message is None:
            self.health = Health(HealthState.HEALTHY, "resolver answering again")
        else:
            self.health = Health(HealthState.UNHEALTHY, f"{message}; keeping {len(self._ring.endpoints)} backends")

    # --- data path ---------------------------------------------------------------------------
    async def consume(self, payload: Payload) -> None:
        await self._route(payload)

    async def _route(self, payload: Payload) -> None:
        """Split by key against the current ring and hand each part to its backend; a part whose
        backend left the ring meanwhile (or whose queue stayed full past `timeout`) is routed again."""
        pending = [payload]
        while pending:
            current = pending.pop()
            ring = await self._ring_ready()
            if ring is None:  # stopping with no backends: the retirement rule decides
                await self.hand_over([current])
                continue
            for endpoint, part in self._parts(current, ring):
                backend = self._backends.get(endpoint)
                if backend is None or not await backend.offer(part, self.args.timeout):
                    pending.append(part)

    async def _ring_ready(self) -> HashRing | None:
        while not self._ring:
            if self._stopping:
                return None
            if not self._waiting_logged:
                self._waiting_logged = True
                self.logger.warning("No backends to send to: holding data until the resolver names one. "
                                    "component_id=%s", self.ctx.component_id)
            self._changed.clear()
            await self._changed.wait()
        self._waiting_logged = False
        return self._ring

    def _parts(self, payload: Payload, ring: HashRing) -> list[tuple[str, Payload]]:
        splitter = self._splitters[payload.signal]
        parts = splitter.split(payload.data, ring.endpoint_for, payload.item_count)
        if not parts:  # nothing routable in it (no items)
            payload.settle()
            return []
        acks = payload.acks
        payload.acks = []
        for token in acks:
            token.retain(len(parts) - 1)
        return [(endpoint, Payload(payload.signal, data=part.data, item_count=part.items, acks=acks,
                                   metadata=payload.metadata))
                for endpoint, part in parts.items()]

    # --- queue figures ------------------------------------------------------------------------
    async def _report_queue(self) -> None:
        while True:
            self._report_stats()
            await asyncio.sleep(STATS_INTERVAL)

    def _report_stats(self, zero: bool = False) -> None:
        stats = None if zero else sum_stats([s for b in self._backends.values() if (s := b.stats()) is not None])
        component_id = self.ctx.component_id
        labels = (component_id, "/", "memory")
        EXPORTER_QUEUE_REQUESTS.labels(*labels).set(stats.requests if stats else 0)
        EXPORTER_QUEUE_ITEMS.labels(*labels).set(stats.items if stats else 0)
        EXPORTER_QUEUE_BYTES.labels(*labels).set(stats.bytes if stats else 0)
        EXPORTER_QUEUE_OLDEST_AGE.labels(*labels).set(stats.oldest_age if stats else 0)
        if stats is not None:
            EXPORTER_QUEUE_CAPACITY_UNITS.labels(*labels, self.args.protocol.otlp.queue.sizer).set(stats.capacity)
        EXPORTER_QUEUE_SIZE.labels(component_id, "/").set(stats.requests if stats else 0)
        EXPORTER_QUEUE_CAPACITY.labels(component_id, "/").set(stats.capacity if stats else 0)
