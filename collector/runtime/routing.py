"""Which worker gets a payload.

Traces and logs have no ordering constraint between requests, so they rotate over the workers of
their signal (skipping a worker whose ring is full). Metrics must keep one writer per series —
remote write rejects out-of-order samples — so every `ResourceMetrics` goes to the worker chosen by a
stable hash of its serialized `Resource`. The split works on the wire format: the top level of an
Export request is a run of field-1 entries, so slicing it costs a few varint reads per resource and
no decode or re-encode (each slice is itself a valid Export request).
"""

from __future__ import annotations

import zlib

from collector.protocols.wire import read_varint as _varint


def top_level_entries(data: bytes) -> list[tuple[int, int, int, int]]:
    """(entry_start, entry_end, body_start, body_end) of each length-delimited field-1 entry.

    Entries of other fields (there are none in OTLP Export requests) are skipped; malformed input
    raises ValueError (the receiver has already validated it, so this is a bug guard).
    """
    entries = []
    pos = 0
    size = len(data)
    while pos < size:
        start = pos
        tag, pos = _varint(data, pos)
        wire_type = tag & 7
        if wire_type != 2:
            raise ValueError(f"unexpected wire type {wire_type} at top level")
        length, pos = _varint(data, pos)
        end = pos + length
        if end > size:
            raise ValueError("truncated entry")
        if tag >> 3 == 1:
            entries.append((start, end, pos, end))
        pos = end
    return entries


def resource_bytes(data: bytes, body_start: int, body_end: int) -> bytes:
    """Serialized `Resource` (field 1) of one ResourceMetrics body; b"" when it has none."""
    pos = body_start
    while pos < body_end:
        tag, pos = _varint(data, pos)
        wire_type = tag & 7
        if wire_type == 2:
            length, pos = _varint(data, pos)
            if tag >> 3 == 1:
                return data[pos : pos + length]
            pos += length
        elif wire_type == 0:
            _, pos = _varint(data, pos)
        elif wire_type == 1:
            pos += 8
        elif wire_type == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire_type}")
    return b""


def split_by_resource(data: bytes, workers: int) -> dict[int, bytes]:
    """Group the ResourceMetrics of an Export request by owning worker: worker index -> request bytes."""
    if workers == 1:
        return {0: data}
    groups: dict[int, list[bytes]] = {}
    for start, end, body_start, body_end in top_level_entries(data):
        owner = zlib.crc32(resource_bytes(data, body_start, body_end)) % workers
        groups.setdefault(owner, []).append(data[start:end])
    return {owner: b"".join(parts) for owner, parts in groups.items()}


class RoundRobin:
    """Rotating start index; the caller tries workers from there and skips full ones."""

    __slots__ = ("_next", "_count")

    def __init__(self, count: int) -> None:
        self._next = 0
        self._count = count

    def order(self) -> list[int]:
        start = self._next
        self._next = (start + 1) % self._count
        return [(start + i) % self._count for i in range(self._count)]
