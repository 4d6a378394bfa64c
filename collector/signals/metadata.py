"""Client metadata: the request headers (HTTP) or metadata (gRPC) of the request a payload came in.

With `include_metadata = true` on `otelcol.receiver.otlp` the receiver keeps them (`from_request`)
and they travel with the data: through the ring, in the record's payload behind a metadata block
(`pack`/`unpack`; the record header's `flags` says the block is there, `collector/runtime/ring.py`),
into `Payload.metadata` in the worker, where the batch processor partitions by `metadata_keys`,
the attributes processor reads them with `from_context`, and `otelcol.auth.headers` turns them
into outgoing headers; and into the persistent sending queue, packed the same way. Without
`include_metadata` nothing is kept and nothing is packed: no cost.

Bounds: keys are lower-cased (HTTP header names are case-insensitive, gRPC keys are lower-case
already), pseudo-headers (":authority") and binary gRPC values ("-bin" keys) are left out, and the
whole set may take at most `MAX_BYTES`; a request with more is refused (`MetadataTooLarge`), since
cutting it short could silently put data under the wrong tenant.

Block layout (little-endian): u32 block length, then per pair u16 key length, key, u16 value
length, value (UTF-8; undecodable header bytes survive via surrogateescape).
"""

from __future__ import annotations

import struct
from typing import Final, Iterable, Sequence

Metadata = tuple[tuple[str, str], ...]

MAX_BYTES: Final = 32 * 1024  # keys and values together, as packed
_U32: Final = struct.Struct("<I")
_U16: Final = struct.Struct("<H")


class MetadataTooLarge(ValueError):
    pass


def from_request(items: Iterable[tuple[str, str | bytes]]) -> Metadata:
    """The metadata to keep from a request's headers or gRPC metadata, in order, keys lower-cased."""
    out: list[tuple[str, str]] = []
    total = 0
    for key, value in items:
        if key.startswith(":") or not isinstance(value, str):
            continue
        key = key.lower()
        if key.endswith("-bin"):
            continue
        total += len(key) + len(value) + 4
        if total > MAX_BYTES:
            raise MetadataTooLarge(f"request metadata exceeds {MAX_BYTES} bytes")
        out.append((key, value))
    return tuple(out)


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def pack(metadata: Sequence[tuple[str, str]], data: bytes) -> bytes:
    """`data` preceded by the metadata block."""
    parts: list[bytes] = []
    for key, value in metadata:
        k, v = _encode(key), _encode(value)
        if len(k) > 0xFFFF or len(v) > 0xFFFF:
            raise MetadataTooLarge("a metadata key or value is longer than 65535 bytes")
        parts += (_U16.pack(len(k)), k, _U16.pack(len(v)), v)
    block = b"".join(parts)
    return b"".join((_U32.pack(len(block)), block, data))


def unpack(data: bytes) -> tuple[Metadata, bytes]:
    """(metadata, the data behind it) of a packed record; ValueError if the block is damaged."""
    view = memoryview(data)
    if len(view) < 4:
        raise ValueError("metadata block truncated")
    (length,) = _U32.unpack_from(view, 0)
    end = 4 + length
    if end > len(view):
        raise ValueError("metadata block longer than the record")
    out: list[tuple[str, str]] = []
    at = 4
    while at < end:
        pair: list[str] = []
        for _ in range(2):
            if at + 2 > end:
                raise ValueError("metadata block truncated")
            (n,) = _U16.unpack_from(view, at)
            at += 2
            if at + n > end:
                raise ValueError("metadata block truncated")
            pair.append(bytes(view[at:at + n]).decode("utf-8", "surrogateescape"))
            at += n
        out.append((pair[0], pair[1]))
    return tuple(out), bytes(view[end:])


def values(metadata: Metadata, key: str) -> list[str]:
    """Every value of `key` (lower-case), in order."""
    return [value for name, value in metadata if name == key]
