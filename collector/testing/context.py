"""A `BuildContext` for tests: references resolve to consumer objects the test gives.

    sink = CollectingConsumer()
    ctx = build_context(BatchProcessor, "otelcol.processor.batch.default", consumers={"sink": sink})
    processor = BatchProcessor(ctx, args)   # args.output.traces = [ref("sink")]

References are resolved through the runtime's `Fanout`, so tests see the same copy/settle rules as a
worker (an empty output list settles and counts the data as dropped). The runtime services default
to what a single worker offers (one worker per signal, a run directory nobody creates unless used);
pass `services=` to play a receiver process or several workers.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

from collector.components.kit.api import (
    BuildContext, Component, Consumer, ConsumerRef, MetricsReceiver, MetricsReceiverRef, RuntimeServices,
)
from collector.components.kit.fanout import Fanout
from collector.signals import Payload, Signal

WORKER_SERVICES = RuntimeServices(run_dir=Path("run-test"), workers_for_signal=1)


class CollectingConsumer:
    """Keeps every payload it is given (settling it unless `settle=False`)."""

    mutates_data = False

    def __init__(self, *, settle: bool = True) -> None:
        self.payloads: list[Payload] = []
        self._settle = settle

    async def consume(self, payload: Payload) -> None:
        self.payloads.append(payload)
        if self._settle:
            payload.settle()

    @property
    def items(self) -> int:
        return sum(payload.item_count for payload in self.payloads)


class StaticWiring:
    """`Wiring` over a fixed table of consumers; an unknown reference is a test mistake (KeyError)."""

    def __init__(self, known: Mapping[str, Any]) -> None:
        self.known = dict(known)

    def fanout(self, owner: str, signal: Signal, refs: Sequence[ConsumerRef]) -> Fanout:
        return Fanout(owner, signal, [self.known[r.component_id] for r in refs])

    def receivers(self, owner: str, refs: Sequence[MetricsReceiverRef]) -> list[MetricsReceiver]:
        return [self.known[r.component_id] for r in refs]


def ref(component_id: str, *signals: Signal) -> ConsumerRef:
    """The `input` export of `component_id` (all signals unless some are named)."""
    return ConsumerRef(component_id, frozenset(signals or tuple(Signal)))


def build_context(
    factory: type[Component[Any]],
    component_id: str,
    *,
    consumers: Mapping[str, Consumer | MetricsReceiver] | None = None,
    logger: logging.Logger | None = None,
    worker_signal: Signal | None = None,
    worker_index: int = 0,
    storage_path: Path = Path("data-collector"),
    services: RuntimeServices = WORKER_SERVICES,
) -> BuildContext:
    return BuildContext(
        component_id=component_id,
        info=factory.info,
        storage_path=storage_path,
        http_listen_addr="127.0.0.1:0",
        process_role=f"worker {worker_signal.value}/{worker_index}" if worker_signal else "test",
        worker_signal=worker_signal,
        worker_index=worker_index,
        logger=logger or logging.getLogger(f"component.{component_id}"),
        wiring=StaticWiring(consumers or {}),
        services=services,
    )
