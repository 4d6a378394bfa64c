"""An in-memory `Admission` for tests: records what a receiver admitted, can play a full ring."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from google.protobuf.message import Message

from collector.signals import Signal
from collector.transport.admission import ACCEPTED, AdmitOutcome, AdmitResult


@dataclass(frozen=True, slots=True)
class Admitted:
    signal: Signal
    data: bytes
    message: Message
    item_count: int
    receiver_id: str
    metadata: tuple[tuple[str, str], ...] = ()


@dataclass
class CollectingAdmission:
    """Accepts everything unless `outcome` is set to FULL/UNAVAILABLE; refusals are recorded too.
    `full_for = n` plays a queue that is full for the next n offers and then has room again."""

    outcome: AdmitOutcome = AdmitOutcome.ACCEPTED
    retry_after: float = 1.0
    admitted: list[Admitted] = field(default_factory=list)
    refused: list[Admitted] = field(default_factory=list)
    full_for: int = 0
    offers: int = 0

    def admit(self, signal: Signal, data: bytes, message: Message, item_count: int, receiver_id: str,
              metadata: Sequence[tuple[str, str]] = ()) -> AdmitResult:
        self.offers += 1
        record = Admitted(signal, data, message, item_count, receiver_id, tuple(metadata))
        if self.full_for > 0:
            self.full_for -= 1
            self.refused.append(record)
            return AdmitResult(AdmitOutcome.FULL, self.retry_after, "test admission is full for now")
        if self.outcome is AdmitOutcome.ACCEPTED:
            self.admitted.append(record)
            return ACCEPTED
        self.refused.append(record)
        return AdmitResult(self.outcome, self.retry_after, f"test admission is {self.outcome.value}")

    def items(self, signal: Signal) -> int:
        return sum(r.item_count for r in self.admitted if r.signal is signal)

    def messages(self, signal: Signal) -> list[Message]:
        """Fresh decodes of the admitted bytes: what a worker would see."""
        out = []
        for record in self.admitted:
            if record.signal is signal:
                message = signal.spec.request_class()
                message.ParseFromString(record.data)
                out.append(message)
        return out


class NullAdmission:
    """Accepts and forgets: the receiver's own cost, for benchmarks."""

    def admit(self, signal: Signal, data: bytes, message: Message, item_count: int, receiver_id: str,
              metadata: Sequence[tuple[str, str]] = ()) -> AdmitResult:
        return ACCEPTED
