"""The consumer behind an `output { <signal> = [...] }` list or a `forward_to` list.

With several consumers, each gets its own claim on the payload's ring records; the copies share one
decoded message unless some consumer mutates data, in which case every consumer gets its own message
decoded from the shared bytes (copy-on-fan-out, only for mutators).

`tap` is live debugging's hook (`collector/runtime/livedebug.py`): None unless someone watches the
owning component, so an unwatched fan-out pays one attribute check per payload.
"""

from __future__ import annotations

import logging
from typing import Callable, Sequence

from collector.components.kit.api import Consumer
from collector.selfmetrics.otelcol import PIPELINE_DROPPED
from collector.signals import Payload, Signal

log = logging.getLogger(__name__)


class Fanout:
    __slots__ = ("component_id", "signal", "consumers", "mutates_data", "tap", "_independent")

    def __init__(self, component_id: str, signal: Signal, consumers: Sequence[Consumer]) -> None:
        self.component_id = component_id
        self.signal = signal
        self.tap: Callable[[Payload], None] | None = None
        self.retarget(consumers)

    def retarget(self, consumers: Sequence[Consumer]) -> None:
        """Replace the consumers (configuration reload); takes effect for the next payload."""
        self.consumers = list(consumers)
        self._independent = any(getattr(c, "mutates_data", False) for c in self.consumers)
        self.mutates_data = self._independent

    async def consume(self, payload: Payload) -> None:
        if self.tap is not None:
            self.tap(payload)  # before the consumers: one of them may change the payload
        consumers = self.consumers
        if len(consumers) == 1:
            await consumers[0].consume(payload)
            return
        if not consumers:
            # Alloy drops data of a signal whose output list is empty; we count it.
            PIPELINE_DROPPED[self.signal].labels(self.component_id, "/", "no consumer").inc(payload.item_count)
            payload.settle()
            return
        for consumer, part in zip(consumers, payload.share(len(consumers), independent=self._independent)):
            await consumer.consume(part)
