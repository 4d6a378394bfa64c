"""The contract between a receiver and the runtime that hosts it.

A receiver decodes an Export request once to validate and count it, then offers the serialized bytes
(plus the decoded message, for in-process consumers that want it) to `Admission.admit`. The runtime
implements it by writing the bytes into a shared-memory ring read by the workers. Only once `admit`
answers ACCEPTED does the receiver tell the client "OK" (house rule: success means the data sits where
a crash cannot lose it). FULL is back-pressure: the client is told to retry after `retry_after`
seconds. UNAVAILABLE means the pipeline cannot take data at all right now (shutting down, no worker
for the signal); it is answered like FULL but logged differently.

`admit` is synchronous and never blocks: a receiver calls it on the event loop, once per request.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol, Sequence

from google.protobuf.message import Message

from collector.signals import Signal

__all__ = ["AdmitOutcome", "AdmitResult", "Admission", "ACCEPTED"]


class AdmitOutcome(enum.Enum):
    ACCEPTED = "accepted"
    FULL = "full"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class AdmitResult:
    outcome: AdmitOutcome
    retry_after: float = 1.0  # seconds the client should wait before retrying (FULL / UNAVAILABLE)
    message: str = ""

    @property
    def accepted(self) -> bool:
        return self.outcome is AdmitOutcome.ACCEPTED


ACCEPTED: AdmitResult = AdmitResult(AdmitOutcome.ACCEPTED)


class Admission(Protocol):
    def admit(self, signal: Signal, data: bytes, message: Message, item_count: int, receiver_id: str,
              metadata: Sequence[tuple[str, str]] = ()) -> AdmitResult:
        """Take ownership of one serialized Export request, or refuse it without blocking.
        `metadata` is the request's client metadata when the receiver keeps it (`include_metadata`):
        it must reach the payload the workers build from this request."""
        ...
