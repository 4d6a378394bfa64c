"""Turns acknowledgements that arrive in any order into in-order `Ring.release_to` calls.

A worker reads records in ring order but its pipelines finish with them in any order (a batch
flushes late, one exporter is slower than another). The ring can only free a prefix, so the window
remembers, in read order, each record's end and whether it is settled, and releases up to the end
of the longest settled prefix. The consumer of a ring does:

    window = ReleaseWindow(ring)
    record = ring.next_record()
    payload = Payload(signal, data=record.data, acks=[window.token(record)])

and `payload.settle()` eventually releases the record's space.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

from collector.runtime.ring import Record
from collector.signals.payload import AckToken


class _Releasable(Protocol):
    def release_to(self, end: int) -> None: ...


class ReleaseWindow:
    __slots__ = ("_ring", "_order", "_settled", "released_records")

    def __init__(self, ring: _Releasable) -> None:
        self._ring = ring
        self._order: deque[tuple[int, int]] = deque()  # (seq, end) in read order
        self._settled: set[int] = set()  # settled seqs not yet at the head of the window
        self.released_records = 0

    def token(self, record: Record) -> AckToken:
        """A claim on `record`; its space is freed once this and every earlier claim is released."""
        self._order.append((record.seq, record.end))
        return AckToken(record.seq, self._on_released)

    def _on_released(self, token: AckToken) -> None:
        order = self._order
        if not order or token.seq != order[0][0]:
            self._settled.add(token.seq)
            return
        end = order.popleft()[1]
        released = 1
        settled = self._settled
        while order and order[0][0] in settled:
            seq, end = order.popleft()
            settled.discard(seq)
            released += 1
        self.released_records += released
        self._ring.release_to(end)

    @property
    def outstanding(self) -> int:
        """Records read through this window and not yet released."""
        return len(self._order)

    def clear(self) -> None:
        """Forget every claim (after `Ring.rewind`: the records will be read, and claimed, again)."""
        self._order.clear()
        self._settled.clear()
