"""Builds and runs the components one process hosts, in dependency order, and applies reloads.

Start-up is downstream first (a component's consumers exist and run before it can send to them);
shutdown is upstream first, each component draining into consumers that are still running. A reload
is start-up from the current state: unchanged components (same ID, same arguments) keep running;
new and changed ones are built and started against a staged table, then every fan-out is re-pointed
at once (one synchronous step on the event loop, so no payload sees a half-wired pipeline), and only
then are the replaced and removed instances shut down, draining what they hold into the new ones.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Final, Iterable, Iterator, Sequence, cast

from collector.components.kit.api import (
    BuildContext, Component, Consumer, ConsumerRef, MetricsReceiver, MetricsReceiverRef, Retirement,
    RuntimeServices,
)
from collector.components.kit.fanout import Fanout
from collector.pipeline.loader import Pipeline
from collector.signals import Signal

log = logging.getLogger(__name__)
HEALTH_POLL: Final = 1.0  # seconds between looks at the components' own health

StatusReporter = Callable[[dict[str, Any]], None]


@dataclass
class ReloadReport:
    kept: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Wire:
    """One fan-out or `forward_to` list handed out at build, and the IDs it points at."""

    owner: str
    generation: int  # the `apply` that built its owner: lets a reload forget retired owners' wires
    ids: tuple[str, ...]
    fanout: Fanout | None = None
    receivers: list[MetricsReceiver] | None = None
    entry: bool = False  # behind a receiver of another process (`entry_points`), not an instance


EntryPoints = dict[str, dict[Signal, Fanout]]


class ComponentHost:
    """Builds, wires, starts, reloads and stops the components of one process; it is their `Wiring`."""

    def __init__(
        self,
        pipeline: Pipeline,
        component_ids: Iterable[str],
        *,
        process_role: str,
        storage_path: Path,
        http_listen_addr: str,
        worker_signal: Signal | None = None,
        worker_index: int = 0,
        services: RuntimeServices | None = None,
        report: StatusReporter | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.order = _ordered(pipeline, component_ids)  # dependencies (consumers) first
        self.process_role = process_role
        self.storage_path = storage_path
        self.http_listen_addr = http_listen_addr
        self.worker_signal = worker_signal
        self.worker_index = worker_index
        self.services = services or RuntimeServices()
        self.instances: dict[str, Component[Any]] = {}
        self._staged: dict[str, Component[Any]] | None = None
        self._report = report or (lambda _event: None)
        self._reported: dict[str, tuple[str, str]] = {}  # component -> last (state, message) sent
        self._health_watch: asyncio.Task[None] | None = None
        self._wires: list[_Wire] = []
        self._generation = 0
        self._entries: dict[str, tuple[Any, dict[Signal, Fanout]]] = {}

    # --- wiring (the kit's `Wiring` protocol) ----------------------------------------------------
    def fanout(self, owner: str, signal: Signal, refs: Sequence[ConsumerRef], *, entry: bool = False) -> Fanout:
        ids = tuple(ref.component_id for ref in refs)
        fanout = Fanout(owner, signal, self._consumers(ids))
        self._wires.append(_Wire(owner, self._generation, ids, fanout=fanout, entry=entry))
        return fanout

    def receivers(self, owner: str, refs: Sequence[MetricsReceiverRef]) -> list[MetricsReceiver]:
        ids = tuple(ref.component_id for ref in refs)
        receivers = self._receivers(ids)
        self._wires.append(_Wire(owner, self._generation, ids, receivers=receivers))
        return receivers

    def entry_points(self, receiver_ids: Iterable[str]) -> EntryPoints:
        """The fan-outs behind the `output` blocks of receivers that run in other processes (a
        worker routes ring records through them), resolved like a hosted component's output.

        Receivers of the previous configuration that are gone stay in the answer for one more
        reload: their records may still sit in the rings and keep flowing to what their output
        named, as far as it still runs here.
        """
        wanted = list(receiver_ids)
        previous = self._entries
        current: dict[str, tuple[Any, dict[Signal, Fanout]]] = {}
        for rid in wanted:
            node = self.pipeline.nodes[rid]
            output = node.info.output_of(node.args)
            kept = previous.get(rid)
            if kept is not None and kept[0] == output:
                current[rid] = kept
                continue
            fanouts = {signal: self.fanout(rid, signal, output.for_signal(signal) if output else [], entry=True)
                       for signal in Signal}
            current[rid] = (output, fanouts)
        gone = {rid: entry[1] for rid, entry in previous.items() if rid not in current}
        live = {id(f) for _, fanouts in current.values() for f in fanouts.values()}
        live |= {id(f) for fanouts in gone.values() for f in fanouts.values()}
        self._wires = [w for w in self._wires if not w.entry or id(w.fanout) in live]
        self._entries = current
        result = {rid: fanouts for rid, (_, fanouts) in current.items()}
        result.update(gone)
        return result

    def fanouts(self) -> Iterator[Fanout]:
        """Every live fan-out of this process, its own components' and its entry points' (live
        debugging taps them by owner)."""
        return (wire.fanout for wire in self._wires if wire.fanout is not None)

    def _hosted(self, ids: tuple[str, ...]) -> list[Component[Any]]:
        """The instances this process runs among `ids`.

        A component may name consumers of signals that never reach this process (resource detection
        in a logs worker also lists the traces consumers); the plan guarantees data of a signal only
        flows where its consumers run, so the others are simply not wired here.
        """
        table = self._staged if self._staged is not None else self.instances
        return [table[cid] for cid in ids if cid in table]

    def _consumers(self, ids: tuple[str, ...]) -> list[Consumer]:
        return cast("list[Consumer]", self._hosted(ids))  # the plan only references components that consume

    def _receivers(self, ids: tuple[str, ...]) -> list[MetricsReceiver]:
        return cast("list[MetricsReceiver]", self._hosted(ids))  # `receiver` exports belong to appenders

    def _rewire(self) -> None:
        """Point every fan-out and receiver list at the current instances (after a reload)."""
        for wire in self._wires:
            if wire.fanout is not None:
                wire.fanout.retarget(self._consumers(wire.ids))
            elif wire.receivers is not None:
                wire.receivers[:] = self._receivers(wire.ids)

    # --- lifecycle -----------------------------------------------------------------------------
    def _build_one(self, cid: str) -> Component[Any]:
        node = self.pipeline.nodes[cid]
        ctx = BuildContext(
            component_id=cid,
            info=node.info,
            storage_path=self.storage_path,
            http_listen_addr=self.http_listen_addr,
            process_role=self.process_role,
            worker_signal=self.worker_signal,
            worker_index=self.worker_index,
            logger=logging.getLogger(f"component.{cid}"),
            wiring=self,
            services=self.services,
        )
        return node.info.factory(ctx, node.args)

    def build(self) -> None:
        # A component depends on the consumers it references (`output`, `forward_to`), so walking
        # `order` forward builds consumers before their producers.
        for cid in self.order:
            self.instances[cid] = self._build_one(cid)

    async def _start_one(self, cid: str, instance: Component[Any]) -> None:
        try:
            await instance.start()
        except Exception as exc:
            self._report({"event": "health", "component": cid, "state": "unhealthy",
                          "message": f"failed to start: {exc}"})
            raise
        self._report_health(cid, instance)

    async def start(self) -> None:
        for cid in self.order:
            await self._start_one(cid, self.instances[cid])
        if self._health_watch is None:
            self._health_watch = asyncio.create_task(self._watch_health(), name="component health watch")

    async def _watch_health(self, interval: float = HEALTH_POLL) -> None:
        """Components change their own health while running (a WAL append failing on a full disk,
        a sender failing, a queue directory locked); report every change, so `/-/healthy` and the UI
        follow within a poll interval instead of only at start and shutdown."""
        while True:
            await asyncio.sleep(interval)
            for cid, instance in list(self.instances.items()):
                health = instance.health
                if self._reported.get(cid) != (health.state.value, health.message):
                    self._report_health(cid, instance)

    async def _shutdown(self, items: list[tuple[str, Component[Any]]], deadline: float) -> None:
        for cid, instance in items:
            try:
                await instance.shutdown(deadline)
            except Exception:
                log.exception("component %s failed to shut down cleanly", cid)
            self._report_health(cid, instance)

    async def shutdown(self, timeout: float) -> None:
        # Producers come after their consumers in `order`: stopping from the end stops upstream first.
        deadline = time.monotonic() + timeout
        if self._health_watch is not None:
            self._health_watch.cancel()
            await asyncio.gather(self._health_watch, return_exceptions=True)
            self._health_watch = None
        for instance in self.instances.values():
            instance.retirement, instance.successor = Retirement.EXIT, None
        await self._shutdown([(cid, self.instances[cid]) for cid in reversed(self.order) if cid in self.instances],
                             deadline)

    async def apply(self, pipeline: Pipeline, component_ids: Iterable[str], drain_timeout: float) -> ReloadReport:
        """Move to a new configuration without dropping what running components hold."""
        report = ReloadReport()
        new_order = _ordered(pipeline, component_ids)
        old_pipeline, old_instances = self.pipeline, self.instances
        for cid in new_order:
            old_node = old_pipeline.nodes.get(cid)
            node = pipeline.nodes[cid]
            if cid in old_instances and old_node is not None and old_node.name == node.name and old_node.args == node.args:
                report.kept.append(cid)
            elif cid in old_instances:
                report.replaced.append(cid)
            else:
                report.added.append(cid)
        report.removed = [cid for cid in self.order if cid not in set(new_order)]
        fresh = set(report.replaced) | set(report.added)
        self.pipeline = pipeline
        staged = {cid: old_instances[cid] for cid in report.kept}
        self._staged = staged
        self._generation += 1
        try:
            for cid in new_order:
                if cid in fresh:
                    staged[cid] = self._build_one(cid)
            for cid in new_order:
                if cid in fresh:
                    await self._start_one(cid, staged[cid])
        except Exception:
            # keep running the old configuration: stop what was started for the new one
            self.pipeline, self._staged = old_pipeline, None
            for cid in fresh & set(staged):
                _retire(staged[cid], old_instances.get(cid))
            await self._shutdown([(cid, staged[cid]) for cid in reversed(new_order) if cid in fresh and cid in staged],
                                 time.monotonic() + drain_timeout)
            self._forget_wires(fresh, lambda generation: generation == self._generation)
            raise
        self._staged = None
        self.instances, self.order = staged, new_order
        self._rewire()
        retired = [cid for cid in reversed(list(old_instances)) if cid in fresh or cid in report.removed]
        for cid in retired:
            _retire(old_instances[cid], staged.get(cid))
        await self._shutdown([(cid, old_instances[cid]) for cid in retired], time.monotonic() + drain_timeout)
        self._forget_wires(set(retired), lambda generation: generation < self._generation)
        for cid in report.removed:
            self._report({"event": "removed", "component": cid})
        return report

    def _forget_wires(self, owners: set[str], built: Callable[[int], bool]) -> None:
        """Drop the wires of instances that are gone, so a reload re-points only live ones."""
        self._wires = [w for w in self._wires if w.entry or w.owner not in owners or not built(w.generation)]

    def _report_health(self, cid: str, instance: Component[Any]) -> None:
        self._reported[cid] = (instance.health.state.value, instance.health.message)
        self._report({"event": "health", "component": cid, "state": instance.health.state.value,
                      "message": instance.health.message})


def _ordered(pipeline: Pipeline, component_ids: Iterable[str]) -> list[str]:
    wanted = set(component_ids)
    return [cid for cid in pipeline.order if cid in wanted]


def _retire(instance: Component[Any], successor: Component[Any] | None) -> None:
    """Tell an instance a reload retires it, and who takes over what it still holds."""
    instance.retirement = Retirement.REPLACED if successor is not None else Retirement.REMOVED
    instance.successor = successor
