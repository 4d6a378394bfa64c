"""The receiver side of the rings: turns "a client sent this request" into records in worker rings.

Runs inside a receiver process, on its event loop or the gRPC serving thread (one lock keeps a single
writer per ring, see `RingAdmission`), so it must never block: a ring with no room refuses at
once, and the receiver's shell decides what follows (offer again as the workers free room, for up to
a second, then answer the client with a retryable status: `Ingest.offer_until_room`). A request is admitted
whole or not at all — a metrics request split across several workers is only written once every
target ring has room (in a single-producer ring the free space can only grow between the check and
the write, since this process is the only writer).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Mapping, Sequence

from google.protobuf.message import Message

from collector.pipeline.plan import ring_code
from collector.runtime.ring import RECORD_METADATA, Doorbell, RecordHeader, Ring
from collector.runtime.routing import RoundRobin, split_by_resource
from collector.signals import Signal
from collector.signals.metadata import pack
from collector.transport.admission import AdmitOutcome, AdmitResult

log = logging.getLogger(__name__)

SIGNAL_CODES: dict[Signal, int] = {Signal.TRACES: 1, Signal.METRICS: 2, Signal.LOGS: 3}
SIGNALS_BY_CODE: dict[int, Signal] = {code: signal for signal, code in SIGNAL_CODES.items()}

# Record framing and wrap-around padding never cost more than this on top of the payload.
_RECORD_SLACK = 4096

RETRY_AFTER_FULL = 1.0


class RingAdmission:
    # `admit` may be called from any thread of the receiver process (the gRPC serving thread admits
    # without a hop to the event loop): every put and every trim holds `_lock`, so each ring still
    # has one producer at a time, as ring.py's single-producer discipline requires.
    thread_safe = True

    def __init__(
        self,
        rings: Mapping[Signal, Sequence[Ring]],
        doorbells: Mapping[Signal, Sequence[Doorbell]],
    ) -> None:
        self._rings = rings
        self._doorbells = doorbells
        self._rotation = {signal: RoundRobin(len(rings[signal])) for signal in rings if rings[signal]}
        self._lock = threading.Lock()

    def admit(self, signal: Signal, data: bytes, message: Message, item_count: int, receiver_id: str,
              metadata: Sequence[tuple[str, str]] = ()) -> AdmitResult:
        """`metadata` (the receiver's `include_metadata`) goes in front of the bytes of each record,
        flagged in its header; without it records are the Export request alone."""
        with self._lock:
            return self._admit(signal, data, item_count, receiver_id, metadata)

    def _admit(self, signal: Signal, data: bytes, item_count: int, receiver_id: str,
               metadata: Sequence[tuple[str, str]]) -> AdmitResult:
        rings = self._rings.get(signal)
        if not rings:
            return AdmitResult(AdmitOutcome.UNAVAILABLE, message=f"no {signal.value} workers are configured")
        code, now = ring_code(receiver_id), time.time_ns()
        flags = RECORD_METADATA if metadata else 0
        if signal is Signal.METRICS and len(rings) > 1:
            # parts of a split request carry no count (0): their worker counts them if it must
            return self._admit_split(signal, data, RecordHeader(SIGNAL_CODES[signal], code, now, 0, flags), metadata)
        header = RecordHeader(SIGNAL_CODES[signal], code, now, min(item_count, 0xFFFFFFFF), flags)
        if metadata:
            data = pack(metadata, data)  # bounded by the receiver (signals.metadata.MAX_BYTES)
        for worker in self._rotation[signal].order():
            if self._put(signal, worker, header, data):
                return AdmitResult(AdmitOutcome.ACCEPTED)
        return AdmitResult(AdmitOutcome.FULL, retry_after=RETRY_AFTER_FULL,
                           message=f"{signal.value} queues are full")

    def _admit_split(self, signal: Signal, data: bytes, header: RecordHeader,
                     metadata: Sequence[tuple[str, str]] = ()) -> AdmitResult:
        rings = self._rings[signal]
        parts = split_by_resource(data, len(rings))
        if metadata:
            parts = {worker: pack(metadata, part) for worker, part in parts.items()}
        for worker, part in parts.items():
            ring = rings[worker]
            if ring.free_bytes() < len(part) + _RECORD_SLACK:
                return AdmitResult(AdmitOutcome.FULL, retry_after=RETRY_AFTER_FULL,
                                   message=f"{signal.value} queue of worker {worker} is full")
        for worker, part in parts.items():
            if not self._put(signal, worker, header, part):  # cannot happen: space was checked above
                log.error("ring of %s worker %d refused a record after its space was checked", signal.value, worker)
                return AdmitResult(AdmitOutcome.UNAVAILABLE, retry_after=RETRY_AFTER_FULL,
                                   message="internal queue error")
        return AdmitResult(AdmitOutcome.ACCEPTED)

    def trim(self, busy: int) -> int:
        """Give the kernel back the ring pages the workers have passed (`Ring.trim`): run from a timer
        on this process's event loop, between puts, never on the request path. A ring that took
        more than `busy` bytes since the previous call keeps its pages for now. Bytes freed."""
        with self._lock:
            return sum(ring.trim(busy=busy) for rings in self._rings.values() for ring in rings)

    def _put(self, signal: Signal, worker: int, header: RecordHeader, data: bytes) -> bool:
        try:
            stored = self._rings[signal][worker].try_put(header, data)
        except ValueError:
            return False  # larger than a ring can ever hold: the receiver's size limits should prevent it
        if stored:
            self._doorbells[signal][worker].ring()
        return stored
