"""`otelcol.processor.resourcedetection`: add the collector host's identity to every resource.

Detection is done once, at `start()`, within `timeout`; the merged attributes are then upserted
into each ResourceSpans/ResourceMetrics/ResourceLogs of every payload. Cost is O(resources): items
are never visited. Detectors this build cannot run (cloud metadata services) fail like they would on
a host outside that cloud: logged and skipped.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Mapping

import msgspec

from collector.components.kit.api import ArgumentError, BuildContext
from collector.components.kit.processorhelper import Processor, register_processor
from collector.components.kit.types import DebugMetrics, Duration, Output
from collector.components.otelcol.processor.resourcedetection import detectors
from collector.components.otelcol.processor.resourcedetection.merge import ResourceAttributeMerger
from collector.signals import Payload, Signal

KNOWN_DETECTORS = frozenset({
    "env", "system", "docker", "ec2", "ecs", "eks", "elasticbeanstalk", "lambda", "azure", "aks",
    "consul", "gcp", "heroku", "openshift", "kubernetes_node", "kubeadm", "dynatrace", "akamai",
    "scaleway", "hetzner", "openstack_nova", "oraclecloud", "upcloud", "vultr", "digitalocean",
})
HOSTNAME_SOURCES = ("dns", "os", "cname", "lookup")


class Toggle(msgspec.Struct, frozen=True, kw_only=True):
    enabled: bool


def _on() -> Toggle:
    return Toggle(enabled=True)


def _off() -> Toggle:
    return Toggle(enabled=False)


class SystemResourceAttributes(msgspec.Struct, frozen=True, kw_only=True):
    """`resource_attributes { host.name { enabled = true } ... }`: one switch per attribute."""

    host_arch: Toggle = msgspec.field(default_factory=_off, name="host.arch")
    host_cpu_cache_l2_size: Toggle = msgspec.field(default_factory=_off, name="host.cpu.cache.l2.size")
    host_cpu_family: Toggle = msgspec.field(default_factory=_off, name="host.cpu.family")
    host_cpu_model_id: Toggle = msgspec.field(default_factory=_off, name="host.cpu.model.id")
    host_cpu_model_name: Toggle = msgspec.field(default_factory=_off, name="host.cpu.model.name")
    host_cpu_stepping: Toggle = msgspec.field(default_factory=_off, name="host.cpu.stepping")
    host_cpu_vendor_id: Toggle = msgspec.field(default_factory=_off, name="host.cpu.vendor.id")
    host_id: Toggle = msgspec.field(default_factory=_off, name="host.id")
    host_ip: Toggle = msgspec.field(default_factory=_off, name="host.ip")
    host_mac: Toggle = msgspec.field(default_factory=_off, name="host.mac")
    host_name: Toggle = msgspec.field(default_factory=_on, name="host.name")
    os_description: Toggle = msgspec.field(default_factory=_off, name="os.description")
    os_type: Toggle = msgspec.field(default_factory=_on, name="os.type")

    def enabled(self) -> frozenset[str]:
        """The semantic-convention names of the attributes switched on."""
        return frozenset(
            msgspec.structs.fields(self)[i].encode_name
            for i, value in enumerate(msgspec.structs.astuple(self))
            if value.enabled
        )


class SystemConfig(msgspec.Struct, frozen=True, kw_only=True):
    hostname_sources: list[str] = msgspec.field(default_factory=lambda: ["dns", "os"])
    resource_attributes: SystemResourceAttributes = msgspec.field(default_factory=SystemResourceAttributes)


class Arguments(msgspec.Struct, frozen=True, kw_only=True):
    output: Output
    detectors: list[str] = msgspec.field(default_factory=lambda: ["env"])
    override: bool = True
    timeout: Duration = 5.0
    fail_on_missing_metadata: bool = False
    system: SystemConfig = msgspec.field(default_factory=SystemConfig)
    debug_metrics: DebugMetrics | None = None

    def validate(self) -> None:
        for name in self.detectors:
            if name not in KNOWN_DETECTORS:
                raise ArgumentError(f"invalid detector {name!r}", "detectors")
        if self.timeout <= 0:
            raise ArgumentError("timeout must be greater than zero", "timeout")
        for source in self.system.hostname_sources:
            if source not in HOSTNAME_SOURCES:
                raise ArgumentError(
                    f"hostname_sources contains invalid value {source!r}; valid values are "
                    + ", ".join(HOSTNAME_SOURCES),
                    "system.hostname_sources",
                )


@register_processor("otelcol.processor.resourcedetection", arguments=Arguments)
class ResourceDetectionProcessor(Processor[Arguments]):
    mutates_data = True
    preserves_count = True

    def __init__(self, ctx: BuildContext, args: Arguments) -> None:
        super().__init__(ctx, args)
        self.detected: dict[str, Any] = {}
        self._merger = ResourceAttributeMerger((), args.override)
        self.sources = detectors.SystemSources()  # tests replace this before start()
        self.environ: Mapping[str, str] | None = None

    async def start(self) -> None:
        args = self.args
        outcome = await self._detect()
        if args.fail_on_missing_metadata and outcome.failed:
            raise RuntimeError("resource detection failed: " + "; ".join(outcome.failed))
        self.detected = outcome.attributes
        self._merger = ResourceAttributeMerger(list(self.detected.items()), args.override)
        self.ctx.logger.info("detected resource attributes: %s", self.detected)
        await super().start()

    async def _detect(self) -> detectors.Detection:
        args = self.args
        run = functools.partial(
            detectors.detect_all,
            args.detectors,
            hostname_sources=args.system.hostname_sources,
            enabled=args.system.resource_attributes.enabled(),
            sources=self.sources,
            environ=self.environ,
            logger=self.ctx.logger,
        )
        try:
            return await asyncio.wait_for(asyncio.to_thread(run), timeout=args.timeout)
        except asyncio.TimeoutError:
            self.ctx.logger.warning("resource detection did not finish within %ss; no attributes added", args.timeout)
            return detectors.Detection(failed=[f"timed out after {args.timeout}s"])

    def process(self, payload: Payload) -> Payload:
        """Edit the decoded message in place. (A pure-Python byte-level rewrite that avoids decoding was
        measured slower than upb parse + merge + serialize: see bench/resourcedetection_bench.py.)"""
        if self.detected:
            resources = getattr(payload.message, payload.signal.spec.resource_field)
            if self._merger.apply(resources):
                payload.modified(keep_count=True)
        return payload
