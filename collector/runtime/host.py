"""Builds and runs the components one process hosts, in dependency order, and applies reloads.

Start-up is downstream first (a component's consumers exist and run before it can send to them);
shutdown is upstream first, each component draining into consumers that are still running. A reload
is start-up from the current state: unchanged components (same ID, same arguments) keep running;
new and changed ones are built and started against a staged table, then every fan-out is re-pointed
at once (one synchronous step on the event loop, so no payload sees a half-wired pipeline), and only
then are the replaced and removed instances shut down, draining what they hold into the new ones.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from collector.components.kit.api import BuildContext, Component, ConsumerRef, MetricsReceiverRef
from collector.components.kit.fanout import Fanout
from collector.pipeline.loader import Pipeline
from collector.signals import Signal

log = logging.getLogger(__name__)

StatusReporter = Callable[[dict[str, Any]], None]


@dataclass
class ReloadReport:
    kept: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


class ComponentHost:
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
        extras: dict[str, Any] | None = None,
        report: StatusReporter | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.order = _ordered(pipeline, component_ids)  # dependencies (consumers) first
        self.process_role = process_role
        self.storage_path = storage_path
        self.http_listen_addr = http_listen_addr
        self.worker_signal = worker_signal
        self.worker_index = worker_index
        self.extras = extras or {}
        self.instances: dict[str, Component] = {}
        self._staged: dict[str, Component] | None = None
        self._report = report or (lambda _event: None)
        self._fanouts: dict[tuple[str, Signal, tuple[str, ...]], Fanout] = {}
        self._receiver_lists: dict[tuple[str, tuple[str, ...]], list[Any]] = {}

    # --- wiring --------------------------------------------------------------------------------
    def next_consumer_for(self, owner: str) -> Callable[[Sequence[ConsumerRef], Signal], Fanout]:
        def resolve(refs: Sequence[ConsumerRef], signal: Signal) -> Fanout:
            ids = tuple(ref.component_id for ref in refs)
            key = (owner, signal, ids)
            fanout = self._fanouts.get(key)
            if fanout is None:
                fanout = Fanout(owner, signal, self._hosted(ids))  # type: ignore[arg-type]
                self._fanouts[key] = fanout
            return fanout

        return resolve

    def metrics_receivers_for(self, owner: str) -> Callable[[Sequence[MetricsReceiverRef]], list[Any]]:
        def resolve(refs: Sequence[MetricsReceiverRef]) -> list[Any]:
            ids = tuple(ref.component_id for ref in refs)
            receivers = self._receiver_lists.get((owner, ids))
            if receivers is None:
                receivers = self._hosted(ids)
                self._receiver_lists[(owner, ids)] = receivers
            return receivers

        return resolve

    def _hosted(self, ids: tuple[str, ...]) -> list[Component]:
        """The instances this process runs among `ids`.

        A component may name consumers of signals that never reach this process (resource detection
        in a logs worker also lists the traces consumers); the plan guarantees data of a signal only
        flows where its consumers run, so the others are simply not wired here.
        """
        table = self._staged if self._staged is not None else self.instances
        return [table[cid] for cid in ids if cid in table]

    def _rewire(self) -> None:
        """Point every fan-out and receiver list at the current instances (after a reload)."""
        for (_owner, _signal, ids), fanout in self._fanouts.items():
            fanout.retarget(self._hosted(ids))  # type: ignore[arg-type]
        for (_owner, ids), receivers in self._receiver_lists.items():
            receivers[:] = self._hosted(ids)

    # --- lifecycle -----------------------------------------------------------------------------
    def _build_one(self, cid: str) -> Component:
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
            next_consumer=self.next_consumer_for(cid),
            metrics_receivers=self.metrics_receivers_for(cid),
            extras=dict(self.extras),
        )
        return node.info.factory(ctx, node.args)

    def build(self) -> None:
        # A component depends on the consumers it references (`output`, `forward_to`), so walking
        # `order` forward builds consumers before their producers.
        for cid in self.order:
            self.instances[cid] = self._build_one(cid)

    async def _start_one(self, cid: str, instance: Component) -> None:
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

    async def _shutdown(self, items: list[tuple[str, Component]], deadline: float) -> None:
        for cid, instance in items:
            try:
                await instance.shutdown(deadline)
            except Exception:
                log.exception("component %s failed to shut down cleanly", cid)
            self._report_health(cid, instance)

    async def shutdown(self, timeout: float) -> None:
        # Producers come after their consumers in `order`: stopping from the end stops upstream first.
        deadline = time.monotonic() + timeout
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
            await self._shutdown([(cid, staged[cid]) for cid in reversed(new_order) if cid in fresh and cid in staged],
                                 time.monotonic() + drain_timeout)
            raise
        self._staged = None
        self.instances, self.order = staged, new_order
        self._rewire()
        retired = [cid for cid in reversed(list(old_instances)) if cid in fresh or cid in report.removed]
        await self._shutdown([(cid, old_instances[cid]) for cid in retired], time.monotonic() + drain_timeout)
        for cid in report.removed:
            self._report({"event": "removed", "component": cid})
        return report

    def _report_health(self, cid: str, instance: Component) -> None:
        self._report({"event": "health", "component": cid, "state": instance.health.state.value,
                      "message": instance.health.message})


def _ordered(pipeline: Pipeline, component_ids: Iterable[str]) -> list[str]:
    wanted = set(component_ids)
    return [cid for cid in pipeline.order if cid in wanted]
