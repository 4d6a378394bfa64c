"""What both transports do with a decoded Export request: offer it to admission, count the outcome.

Self-metric children are resolved once per (signal, transport) so a request costs two dict lookups
and one counter increment, not a label resolution.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Final

from collector.protocols.otlp_request import DecodedExport
from collector.protocols.status import ExportError, GrpcCode
from collector.selfmetrics.otelcol import (
    RECEIVER_ACCEPTED, RECEIVER_REFUSED, RECEIVER_REFUSED_REQUESTS, RECEIVER_REQUESTS,
)
from collector.signals import Signal
from collector.signals.metadata import Metadata
from collector.transport.admission import Admission, AdmitOutcome, AdmitResult

__all__ = ["ADMIT_WAIT", "Ingest"]

# How long a request that finds the pipeline's queue full waits for room (`Ingest.offer_until_room`)
# before it is refused: as long as the Retry-After (1 s) its refusal would tell the client to wait.
ADMIT_WAIT: Final = 1.0
ADMIT_RETRY_FIRST: Final = 0.005
ADMIT_RETRY_MAX: Final = 0.05


class Ingest:
    def __init__(self, admission: Admission, component_id: str, transport: str, component_path: str = "/") -> None:
        self.admission = admission
        self.component_id = component_id
        self.transport = transport
        labels = (component_id, component_path, transport)
        self._accepted: dict[Signal, Any] = {s: RECEIVER_ACCEPTED[s].labels(*labels) for s in Signal}
        self._refused: dict[Signal, Any] = {s: RECEIVER_REFUSED[s].labels(*labels) for s in Signal}
        self._requests = {o: RECEIVER_REQUESTS.labels(*labels, o) for o in ("success", "refused", "failure")}
        self._labels = labels

    def offer(self, decoded: DecodedExport, metadata: Metadata = ()) -> AdmitResult:
        """One attempt at admission, not yet counted: a shell that may wait for room offers again
        (`offer_until_room`), and `settle`s once with the outcome it answers. `metadata`: the client
        metadata kept by `include_metadata` (nothing is passed without it)."""
        if metadata:
            return self.admission.admit(decoded.signal, decoded.data, decoded.message, decoded.item_count,
                                        self.component_id, metadata=metadata)
        return self.admission.admit(decoded.signal, decoded.data, decoded.message, decoded.item_count,
                                    self.component_id)

    async def offer_until_room(self, decoded: DecodedExport, metadata: Metadata = (),
                               gone: Callable[[], bool] = lambda: False) -> AdmitResult:
        """After an offer found the pipeline's queue full: offer again as the workers free room, for at
        most ADMIT_WAIT (every ADMIT_RETRY_FIRST, doubling up to ADMIT_RETRY_MAX), and return the last
        outcome. An overload thus first slows its clients down (their requests take longer), as the
        OpenTelemetry Collector's blocking pipeline does, and is refused (retryably) only when it
        lasts: refusing at once idles a client for its whole Retry-After even when room appears
        milliseconds later. Stops early, unadmitted, once `gone()` says the client left."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ADMIT_WAIT
        delay = ADMIT_RETRY_FIRST
        while True:
            await asyncio.sleep(delay)
            if gone():
                return AdmitResult(AdmitOutcome.FULL, message="the client left while the queue was full")
            result = self.offer(decoded, metadata)
            if result.outcome is not AdmitOutcome.FULL or loop.time() + delay > deadline:
                return result
            delay = min(2 * delay, ADMIT_RETRY_MAX)

    def settle(self, decoded: DecodedExport, result: AdmitResult) -> ExportError | None:
        """Count the final outcome of a request; the refusal to answer, or None once accepted."""
        signal = decoded.signal
        if result.outcome is AdmitOutcome.ACCEPTED:
            self._accepted[signal].inc(decoded.item_count)
            self._requests["success"].inc()
            return None
        self._refused[signal].inc(decoded.item_count)
        self._requests["refused"].inc()
        reason = result.message or ("pipeline queue is full" if result.outcome is AdmitOutcome.FULL
                                    else "pipeline is unavailable")
        return ExportError(GrpcCode.UNAVAILABLE, f"data refused: {reason}", retry_after=result.retry_after)

    def invalid(self, reason: str = "malformed") -> None:
        """A request refused before admission (malformed, over a limit, ...): its items cannot be
        counted, so the request is, with the reason."""
        self._requests["failure"].inc()
        self.refuse(reason)

    def refuse(self, reason: str) -> None:
        """A refusal that was not an Export request at all (wrong path, unparsable HTTP): counted by
        reason only."""
        RECEIVER_REFUSED_REQUESTS.labels(*self._labels, reason).inc()
