"""The part every otelcol processor shares, so a processor is only its `process(payload)`.

Modelled on the OpenTelemetry Collector's processorhelper, in our own words: the helper is the
component's `consume`; it counts what comes in and what goes out (`otelcol_processor_incoming_items`
and `otelcol_processor_outgoing_items`, which the web UI turns into items/s), forwards the result to
the fan-out of the payload's signal, and disposes of what the processor did not hand back:

* `process()` returns the payload to forward (the same object, edited in place, or a replacement that
  took over its ring claims), or `None` when nothing is left to forward. The helper then settles the
  payload, counting any items it still holds as dropped with the class's `drop_reason`.
* an exception listed in `payload_errors` (OTTL's `error_mode = "propagate"`) drops the whole
  payload: logged at most every few seconds, counted as lost (`collector_dropped_*`, reason
  `error_reason`) and settled. Any other exception is a bug and goes up to the worker, which counts
  and abandons the ring record.
* items a processor removes from a payload it still forwards are counted through `self.dropped()`.

Cost on the hot path is two counter increments and one coroutine call per payload (one `consume`
serves sync and async processors alike). A processor that never changes the number
of items (`preserves_count = True`) has the count read once, after `process()`, so a payload whose
count is not known yet is only counted (maybe decoded) when the processor needed to decode it anyway
or when someone downstream asks; one that changes it has the count read before and after.

Processors that hold payloads across calls (`otelcol.processor.batch`) keep their own machinery and
use `ItemCounters` directly; so does the host_info connector, so every processor and connector shows
numbers in and out.
"""

from __future__ import annotations

import time
from typing import Any, Callable, ClassVar, Iterable, TypeVar

import msgspec

from collector.components.kit.api import BuildContext, Component, Placement
from collector.components.kit.errormode import ErrorReporter, drop_payload
from collector.components.kit.registry import register
from collector.selfmetrics.otelcol import PROCESSOR_DROPPED, PROCESSOR_INCOMING, PROCESSOR_OUTGOING
from collector.signals import Payload, Signal

A = TypeVar("A", bound=msgspec.Struct)
C = TypeVar("C", bound=type[Component[Any]])

ERROR_LOG_INTERVAL = 10.0  # seconds between two "dropping payload" errors of one processor


class ItemCounters:
    """A component's processor counters, their label sets resolved once per signal."""

    __slots__ = ("component_id", "incoming", "outgoing")

    def __init__(self, component_id: str, accepts: Iterable[Signal] = tuple(Signal),
                 emits: Iterable[Signal] = tuple(Signal)) -> None:
        self.component_id = component_id
        self.incoming = {s: PROCESSOR_INCOMING.labels(component_id, "/", s.value) for s in accepts}
        self.outgoing = {s: PROCESSOR_OUTGOING.labels(component_id, "/", s.value) for s in emits}

    def dropped(self, signal: Signal, count: int, reason: str) -> None:
        """Items removed on purpose (filtered, over a limit): counted, not reported as lost."""
        if count:
            PROCESSOR_DROPPED.labels(self.component_id, "/", signal.value, reason).inc(count)


def register_processor(name: str, *, arguments: type[msgspec.Struct]) -> Callable[[C], C]:
    """`@register` for an otelcol processor: any signal in, the same signal out, in the workers."""
    return register(name, arguments=arguments, accepts=tuple(Signal), emits=tuple(Signal),
                    placement=Placement.WORKER)


class _ProcessorBase(Component[A]):
    mutates_data: ClassVar[bool] = True
    preserves_count: ClassVar[bool] = False
    drop_reason: ClassVar[str] = "dropped"  # items left in a payload `process()` did not hand back
    error_reason: ClassVar[str] = "processing_error"
    payload_errors: ClassVar[tuple[type[Exception], ...]] = ()

    def __init__(self, ctx: BuildContext, args: A) -> None:
        super().__init__(ctx, args)
        self.counters = ItemCounters(ctx.component_id, self.info.accepts, self.info.emits)
        self.report = ErrorReporter(ctx.logger)  # rate-limited statement errors (error_mode=ignore)
        self._last_error_log = float("-inf")

    async def _invoke(self, payload: Payload) -> Payload | None:
        raise NotImplementedError

    async def consume(self, payload: Payload) -> None:
        if not self.preserves_count:
            self.counters.incoming[payload.signal].inc(payload.item_count)
        try:
            out = await self._invoke(payload)
        except self.payload_errors as error:
            self._fail(payload, error, counted=not self.preserves_count)
            return
        if out is None:
            self._discard(payload)
            return
        self._count_out(out)
        await self.output[out.signal].consume(out)

    def dropped(self, signal: Signal, count: int, reason: str) -> None:
        self.counters.dropped(signal, count, reason)

    def _count_out(self, out: Payload) -> None:
        count = out.item_count
        if self.preserves_count:
            self.counters.incoming[out.signal].inc(count)
        self.counters.outgoing[out.signal].inc(count)

    def _discard(self, payload: Payload) -> None:
        """`process()` handed nothing back: what the payload still holds is dropped on purpose."""
        count = payload.item_count
        if self.preserves_count:
            self.counters.incoming[payload.signal].inc(count)
        self.counters.dropped(payload.signal, count, self.drop_reason)
        payload.settle()

    def _fail(self, payload: Payload, error: Exception, counted: bool) -> None:
        count = payload.item_count
        if not counted:
            self.counters.incoming[payload.signal].inc(count)
        now = time.monotonic()
        if now - self._last_error_log >= ERROR_LOG_INTERVAL:
            self._last_error_log = now
            self.ctx.logger.error("dropping %s payload (%d items): %s", payload.signal.value, count, error)
        drop_payload(payload, self.ctx.component_id, self.error_reason, count)


class Processor(_ProcessorBase[A]):
    """A processor whose work is synchronous: override `process`."""

    def process(self, payload: Payload) -> Payload | None:
        raise NotImplementedError

    async def _invoke(self, payload: Payload) -> Payload | None:
        return self.process(payload)


class AsyncProcessor(_ProcessorBase[A]):
    """A processor that may wait (on memory, on a rate): override the coroutine `process`."""

    async def process(self, payload: Payload) -> Payload | None:
        raise NotImplementedError

    async def _invoke(self, payload: Payload) -> Payload | None:
        return await self.process(payload)


__all__ = ["AsyncProcessor", "ItemCounters", "Processor", "register_processor"]
