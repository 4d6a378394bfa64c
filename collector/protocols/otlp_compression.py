"""Request-body decompression with a hard limit on the decompressed size (zip-bomb safe).

Every decoder produces at most `limit + 1` bytes however small its input is, so a 10 KiB gzip bomb
costs at most `limit` bytes of memory and the time to inflate them; one more byte than the limit
means "too large" (413). The work happens in C (zlib, zstd, snappy); Python only loops over gzip
members and snappy frames.

Accepted names follow the OpenTelemetry Collector's confighttp: "" / identity, gzip, x-gzip,
deflate and zlib (both zlib-wrapped, raw deflate accepted too, as browsers disagree), zstd, snappy,
x-snappy-framed. The collector's "snappy" switched from the framing format to the block format;
clients of either era exist, so "snappy" accepts both (a framed stream starts with its stream
identifier chunk, which is never a valid block header for a small body).
"""

from __future__ import annotations

import zlib
from typing import Callable, Final

import snappy
import zstandard

from collector.protocols.wire import WireError, read_varint

__all__ = [
    "DecompressError",
    "TooLarge",
    "UnsupportedEncoding",
    "KNOWN_ENCODINGS",
    "decompress",
    "normalize_encoding",
]


class DecompressError(ValueError):
    """The body is not a valid stream of its declared encoding (400)."""


class TooLarge(ValueError):
    """The decompressed body exceeds the limit (413)."""


class UnsupportedEncoding(ValueError):
    """Unknown or disabled Content-Encoding (400)."""


_SNAPPY_STREAM_ID: Final = b"\xff\x06\x00\x00sNaPpY"
_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS
_ZLIB_WBITS: Final = zlib.MAX_WBITS
_RAW_DEFLATE_WBITS: Final = -zlib.MAX_WBITS


def _inflate(data: bytes, limit: int, wbits: int, multi_member: bool) -> bytes:
    parts: list[bytes] = []
    produced = 0
    rest = data
    while True:
        d = zlib.decompressobj(wbits)
        try:
            out = d.decompress(rest, limit + 1 - produced)
        except zlib.error as exc:
            raise DecompressError(f"invalid compressed body: {exc}") from None
        produced += len(out)
        parts.append(out)
        if produced > limit:
            raise TooLarge(f"decompressed body exceeds {limit} bytes")
        if not d.eof:
            if d.unconsumed_tail:  # output capped before the input was used up
                raise TooLarge(f"decompressed body exceeds {limit} bytes")
            raise DecompressError("invalid compressed body: unexpected end of stream")
        rest = d.unused_data
        if not rest or not multi_member:
            break
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _gzip(data: bytes, limit: int) -> bytes:
    return _inflate(data, limit, _GZIP_WBITS, multi_member=True)


def _deflate(data: bytes, limit: int) -> bytes:
    # HTTP "deflate" means zlib-wrapped, but some clients send raw deflate: the first byte tells.
    if data and (data[0] & 0x0F) == 8 and ((data[0] << 8) | (data[1] if len(data) > 1 else 0)) % 31 == 0:
        return _inflate(data, limit, _ZLIB_WBITS, multi_member=False)
    return _inflate(data, limit, _RAW_DEFLATE_WBITS, multi_member=False)


def _zstd(data: bytes, limit: int) -> bytes:
    try:
        with zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True) as reader:
            out = reader.read(limit + 1)
            if len(out) > limit:
                raise TooLarge(f"decompressed body exceeds {limit} bytes")
            # Short reads can happen at frame boundaries: drain until EOF, still bounded.
            chunks = [out]
            produced = len(out)
            while True:
                more = reader.read(limit + 1 - produced)
                if not more:
                    break
                produced += len(more)
                if produced > limit:
                    raise TooLarge(f"decompressed body exceeds {limit} bytes")
                chunks.append(more)
    except zstandard.ZstdError as exc:
        raise DecompressError(f"invalid zstd body: {exc}") from None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _snappy_block(data: bytes, limit: int) -> bytes:
    try:  # the block format states its decompressed size up front, as a varint
        length = read_varint(data, 0)[0]
    except (WireError, IndexError):
        raise DecompressError("invalid snappy body: bad length header") from None
    if length > limit:
        raise TooLarge(f"decompressed body exceeds {limit} bytes")
    try:
        out: bytes = snappy.uncompress(data)
    except Exception as exc:  # python-snappy raises several types depending on its backend
        raise DecompressError(f"invalid snappy body: {exc}") from None
    return out


def _snappy_framed(data: bytes, limit: int) -> bytes:
    """Snappy framing format: chunks of [type:1][len:3 LE][payload]; CRCs are not verified."""
    parts: list[bytes] = []
    produced = 0
    pos = 0
    end = len(data)
    while pos < end:
        if pos + 4 > end:
            raise DecompressError("invalid snappy stream: truncated chunk header")
        kind = data[pos]
        size = int.from_bytes(data[pos + 1:pos + 4], "little")
        body = data[pos + 4:pos + 4 + size]
        if len(body) != size:
            raise DecompressError("invalid snappy stream: truncated chunk")
        pos += 4 + size
        if kind == 0x00:
            chunk = _snappy_block(body[4:], 65536)
        elif kind == 0x01:
            chunk = body[4:]
        elif kind == 0xFF or 0x80 <= kind <= 0xFE:
            continue  # stream identifier / padding / skippable
        else:
            raise DecompressError(f"invalid snappy stream: reserved chunk type {kind:#x}")
        produced += len(chunk)
        if produced > limit:
            raise TooLarge(f"decompressed body exceeds {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def _snappy(data: bytes, limit: int) -> bytes:
    if data.startswith(_SNAPPY_STREAM_ID):
        return _snappy_framed(data, limit)
    return _snappy_block(data, limit)


def _identity(data: bytes, limit: int) -> bytes:
    if len(data) > limit:
        raise TooLarge(f"body exceeds {limit} bytes")
    return data


_DECODERS: Final[dict[str, Callable[[bytes, int], bytes]]] = {
    "": _identity,
    "gzip": _gzip,
    "deflate": _deflate,
    "zlib": _deflate,
    "zstd": _zstd,
    "snappy": _snappy,
    "x-snappy-framed": _snappy_framed,
}
_ALIASES: Final = {"identity": "", "x-gzip": "gzip", "none": ""}
KNOWN_ENCODINGS: Final = frozenset(_DECODERS)


def normalize_encoding(name: str) -> str:
    name = name.strip().lower()
    return _ALIASES.get(name, name)


def decompress(data: bytes, encoding: str, limit: int, allowed: frozenset[str] = KNOWN_ENCODINGS) -> bytes:
    """Decode `data` per a (normalized) Content-Encoding, producing at most `limit` bytes."""
    decoder = _DECODERS.get(encoding) if encoding in allowed or encoding == "" else None
    if decoder is None:
        raise UnsupportedEncoding(f"unsupported Content-Encoding {encoding!r}")
    return decoder(data, limit)


def allowed_encodings(names: list[str]) -> frozenset[str]:
    """Map a `compression_algorithms` list onto the decoders we have (x-gzip etc. follow their base)."""
    out = {normalize_encoding(n) for n in names}
    if "snappy" in out:
        out.add("x-snappy-framed")
    return frozenset(out & KNOWN_ENCODINGS)
