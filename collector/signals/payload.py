"""A payload is one OTLP Export request moving through a worker's pipeline.

It stays serialized bytes until a component needs the decoded message, is parsed at most once
(upb), and is serialized again only if a component changed the message. Byte-level work such as
batching (concatenating Export requests is a valid protobuf merge of their repeated field 1) never
forces a decode.

Ownership: a component that receives a payload owns it. Passing it downstream passes ownership.
Whoever finally disposes of it — an exporter after a successful send or a counted permanent
failure, a processor that drops it, a connector that has absorbed it — calls `settle()`. Settling
releases the `AckToken`s: claims on the ring records the payload came from. The ring's read position
only advances past records whose tokens are all settled, so a worker that dies loses nothing that it
had not handed on (the next worker reads those records again).
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

from google.protobuf.message import Message

from collector.signals.signal import Signal


class AckToken:
    """Reference-counted claim on one ring record; `on_released` runs when the count reaches zero."""

    __slots__ = ("refs", "_on_released", "seq", "abandoned")

    def __init__(self, seq: int, on_released: Callable[[AckToken], None] | None = None) -> None:
        self.seq = seq
        self.refs = 1
        self._on_released = on_released
        self.abandoned = False

    def retain(self, extra: int = 1) -> None:
        self.refs += extra

    def release(self) -> None:
        if self.abandoned:
            return  # the record was already given up on; late holders settle into nothing
        self.refs -= 1
        if self.refs == 0 and self._on_released is not None:
            self._on_released(self)
        elif self.refs < 0:
            raise RuntimeError(f"ack token {self.seq} released more often than retained")

    def abandon(self) -> None:
        """Release the record now whatever still holds it (its processing failed and was counted):
        a record that crashes the pipeline must not be re-read forever, nor stall the ring."""
        if self.abandoned or self.refs <= 0:
            return
        self.abandoned = True
        self.refs = 0
        if self._on_released is not None:
            self._on_released(self)

    @property
    def released(self) -> bool:
        return self.refs <= 0


class Payload:
    __slots__ = ("signal", "_data", "_message", "_item_count", "acks", "metadata")

    def __init__(
        self,
        signal: Signal,
        *,
        data: bytes | None = None,
        message: Message | None = None,
        item_count: int | None = None,
        acks: Sequence[AckToken] = (),
        metadata: tuple[tuple[str, str], ...] = (),
    ) -> None:
        if data is None and message is None:
            raise ValueError("a payload needs bytes or a message")
        self.signal = signal
        self._data = data
        self._message = message
        self._item_count = item_count
        self.acks: list[AckToken] = list(acks)
        self.metadata = metadata

    # --- representations -------------------------------------------------------------------
    @property
    def data(self) -> bytes:
        """The serialized Export request (serialized lazily after a modification)."""
        if self._data is None:
            assert self._message is not None
            self._data = self._message.SerializeToString()
        return self._data

    @property
    def message(self) -> Message:
        """The decoded Export request, parsed once and cached."""
        if self._message is None:
            assert self._data is not None
            message = self.signal.spec.request_class()
            message.ParseFromString(self._data)
            self._message = message
        return self._message

    @property
    def is_decoded(self) -> bool:
        return self._message is not None

    def modified(self, item_count: int | None = None, *, keep_count: bool = False) -> None:
        """Call after changing `message` in place: the cached bytes are stale, and so is the item
        count unless the change kept it (`keep_count`, e.g. attribute edits) or gives it."""
        self._data = None
        if not keep_count:
            self._item_count = item_count

    @property
    def item_count(self) -> int:
        if self._item_count is None:
            self._item_count = self.signal.spec.count_items(self.message)
        return self._item_count

    @property
    def size_bytes(self) -> int:
        return len(self.data)

    # --- ownership -------------------------------------------------------------------------
    def share(self, copies: int, *, independent: bool) -> list[Payload]:
        """Split ownership for a fan-out to `copies` consumers.

        Every copy holds its own reference on each ack token. With `independent` (some consumer
        mutates data) each copy gets its own message, decoded from the shared bytes.
        """
        if copies < 1:
            raise ValueError("copies must be >= 1")
        for token in self.acks:
            token.retain(copies - 1)
        if not independent:
            return [self] + [self._alias() for _ in range(copies - 1)]
        data = self.data
        return [
            Payload(self.signal, data=data, item_count=self._item_count, acks=self.acks, metadata=self.metadata)
            for _ in range(copies)
        ]

    def _alias(self) -> Payload:
        alias = Payload(self.signal, data=self._data, message=self._message, item_count=self._item_count,
                        acks=self.acks, metadata=self.metadata)
        return alias

    def settle(self) -> None:
        """This payload has been delivered or counted as dropped: release its ring records."""
        acks, self.acks = self.acks, []
        for token in acks:
            token.release()

    @staticmethod
    def merge(signal: Signal, parts: Iterable[Payload]) -> Payload:
        """Concatenate Export requests (a valid protobuf merge of repeated field 1) and their claims."""
        parts = list(parts)
        if len(parts) == 1:
            return parts[0]
        acks: list[AckToken] = []
        count = 0
        for part in parts:
            acks.extend(part.acks)
            part.acks = []
            count += part.item_count
        data = b"".join(part.data for part in parts)
        return Payload(signal, data=data, item_count=count, acks=acks, metadata=parts[0].metadata)
