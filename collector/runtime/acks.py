"""In-order release of ring records whose payloads were settled out of order.

A worker reads records, wraps each in a payload holding one `AckToken`, and hands it down the
pipeline. Tokens come back (reach zero references) in any order: one batch may be exported before an
older one that is still being retried. The ring can only free a prefix, so the tracker advances the
committed read position over the longest run of released tokens at the head. This is what keeps
"advance a read position only once what it covers is safely handed on" true.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

from collector.signals import AckToken


class Releasable(Protocol):
    def release_to(self, end: int) -> None: ...


class RingAcks:
    __slots__ = ("_ring", "_pending", "released_records")

    def __init__(self, ring: Releasable) -> None:
        self._ring = ring
        self._pending: deque[tuple[AckToken, int]] = deque()
        self.released_records = 0

    def track(self, seq: int, end: int) -> AckToken:
        token = AckToken(seq, self._on_released)
        self._pending.append((token, end))
        return token

    @property
    def outstanding(self) -> int:
        return len(self._pending)

    def _on_released(self, _token: AckToken) -> None:
        pending = self._pending
        end = -1
        while pending and pending[0][0].released:
            end = pending.popleft()[1]
            self.released_records += 1
        if end >= 0:
            self._ring.release_to(end)
