"""Helpers writing the WAL framing of earlier versions (no magic marker)."""

from __future__ import annotations

import struct
import zlib

import snappy


def legacy_record(body: bytes, samples: int, written_ms: int = 0) -> bytes:
    """`u32 crc | u32 length | u32 samples | i64 written` then the snappy body (the pre-magic framing)."""
    compressed = snappy.compress(body)
    checked = struct.pack("<IIq", len(compressed), samples, written_ms)
    return struct.pack("<IIIq", zlib.crc32(compressed, zlib.crc32(checked)), len(compressed), samples,
                       written_ms) + compressed
