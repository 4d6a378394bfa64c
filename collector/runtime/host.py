"""Builds and runs the components one process hosts, in dependency order.

Start-up is downstream first (a component's consumers exist and run before it can send to them);
shutdown is upstream first, each component draining into consumers that are still running.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from collector.components.api import BuildContext, Component, ConsumerRef, MetricsReceiverRef
from collector.components.fanout import Fanout
from collector.pipeline.loader import Pipeline
from collector.signals import Signal

log = logging.getLogger(__name__)

StatusReporter = Callable[[dict[str, Any]], None]


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
        wanted = set(component_ids)
        self.order = [cid for cid in pipeline.order if cid in wanted]  # dependencies first
        self.process_role = process_role
        self.storage_path = storage_path
        self.http_listen_addr = http_listen_addr
        self.worker_signal = worker_signal
        self.worker_index = worker_index
        self.extras = extras or {}
        self.instances: dict[str, Component] = {}
        self._report = report or (lambda _event: None)
        self._fanouts: dict[tuple[str, Signal, tuple[str, ...]], Fanout] = {}

    # --- wiring --------------------------------------------------------------------------------
    def next_consumer_for(self, owner: str) -> Callable[[Sequence[ConsumerRef], Signal], Fanout]:
        def resolve(refs: Sequence[ConsumerRef], signal: Signal) -> Fanout:
            key = (owner, signal, tuple(ref.component_id for ref in refs))
            fanout = self._fanouts.get(key)
            if fanout is None:
                consumers = [self._instance(ref.component_id, owner) for ref in refs]
                fanout = Fanout(owner, signal, consumers)  # type: ignore[arg-type]
                self._fanouts[key] = fanout
            return fanout

        return resolve

    def metrics_receivers_for(self, owner: str) -> Callable[[Sequence[MetricsReceiverRef]], list[Any]]:
        def resolve(refs: Sequence[MetricsReceiverRef]) -> list[Any]:
            return [self._instance(ref.component_id, owner) for ref in refs]

        return resolve

    def _instance(self, component_id: str, owner: str) -> Component:
        instance = self.instances.get(component_id)
        if instance is None:
            raise RuntimeError(f"{owner} sends to {component_id}, which does not run in {self.process_role}")
        return instance

    # --- lifecycle -----------------------------------------------------------------------------
    def build(self) -> None:
        # `order` lists dependencies first, and a component depends on the consumers it references
        # (`output`, `forward_to`), so walking it forward builds consumers before their producers.
        for cid in self.order:
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
            self.instances[cid] = node.info.factory(ctx, node.args)

    async def start(self) -> None:
        for cid in self.order:
            instance = self.instances[cid]
            try:
                await instance.start()
            except Exception as exc:
                self._report({"event": "health", "component": cid, "state": "unhealthy",
                              "message": f"failed to start: {exc}"})
                raise
            self._report({"event": "health", "component": cid, "state": instance.health.state.value,
                          "message": instance.health.message})

    async def shutdown(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        # Producers come after their consumers in `order`: stopping from the end stops upstream first.
        for cid in reversed(self.order):
            instance = self.instances.get(cid)
            if instance is None:
                continue
            try:
                await instance.shutdown(deadline)
            except Exception:
                log.exception("component %s failed to shut down cleanly", cid)
            self._report({"event": "health", "component": cid, "state": instance.health.state.value,
                          "message": instance.health.message})
