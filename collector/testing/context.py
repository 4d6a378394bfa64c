"""A `BuildContext` for tests: `next_consumer` resolves references to consumer objects the test gives.

    sink = CollectingConsumer()
    ctx = build_context(BatchProcessor, "otelcol.processor.batch.default", consumers={"sink": sink})
    processor = BatchProcessor(ctx, args)   # args.output.traces = [ConsumerRef("sink", ...)]

References are resolved through the runtime's `Fanout`, so tests see the same copy/settle rules as a
worker (an empty output list settles and counts the data as dropped).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

from collector.components.kit.api import BuildContext, Component, Consumer, ConsumerRef
from collector.components.kit.fanout import Fanout
from collector.signals import Payload, Signal


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


def ref(component_id: str, *signals: Signal) -> ConsumerRef:
    """The `input` export of `component_id` (all signals unless some are named)."""
    return ConsumerRef(component_id, frozenset(signals or tuple(Signal)))


def build_context(
    factory: type[Component],
    component_id: str,
    *,
    consumers: Mapping[str, Consumer] | None = None,
    logger: logging.Logger | None = None,
    worker_signal: Signal | None = None,
    storage_path: Path = Path("data-collector"),
    extras: dict[str, Any] | None = None,
) -> BuildContext:
    known = dict(consumers or {})

    def next_consumer(refs: Sequence[ConsumerRef], signal: Signal) -> Fanout:
        return Fanout(component_id, signal, [known[r.component_id] for r in refs])

    return BuildContext(
        component_id=component_id,
        info=factory.info,
        storage_path=storage_path,
        http_listen_addr="127.0.0.1:0",
        process_role=f"worker {worker_signal.value}/0" if worker_signal else "test",
        worker_signal=worker_signal,
        worker_index=0,
        logger=logger or logging.getLogger(f"component.{component_id}"),
        next_consumer=next_consumer,
        metrics_receivers=lambda refs: [known[r.component_id] for r in refs],
        extras=dict(extras or {}),
    )
