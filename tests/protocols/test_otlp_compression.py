"""Decompression table: every encoding, the size limit (incl. bombs), corrupt and unknown streams."""

from __future__ import annotations

import gzip
import os
import zlib

import pytest
import snappy
import zstandard

from collector.protocols.otlp_compression import (
    DecompressError, TooLarge, UnsupportedEncoding, allowed_encodings, decompress, normalize_encoding,
)

PLAIN = os.urandom(3000) + b"abc" * 5000


def _raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-15)
    return c.compress(data) + c.flush()


def _snappy_framed(data: bytes) -> bytes:
    return snappy.StreamCompressor().add_chunk(data)


ENCODERS = {
    "": lambda b: b,
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "zlib": zlib.compress,
    "zstd": lambda b: zstandard.ZstdCompressor().compress(b),
    "snappy": snappy.compress,
    "x-snappy-framed": _snappy_framed,
}


@pytest.mark.parametrize("encoding", sorted(ENCODERS))
def test_each_encoding_round_trips(encoding: str) -> None:
    assert decompress(ENCODERS[encoding](PLAIN), encoding, len(PLAIN)) == PLAIN


@pytest.mark.parametrize("encoding", sorted(ENCODERS))
def test_one_byte_over_the_limit_is_too_large(encoding: str) -> None:
    with pytest.raises(TooLarge):
        decompress(ENCODERS[encoding](PLAIN), encoding, len(PLAIN) - 1)


@pytest.mark.parametrize("encoding", ["gzip", "zlib", "zstd", "snappy", "x-snappy-framed"])
def test_bomb_stops_at_the_limit(encoding: str) -> None:
    bomb = ENCODERS[encoding](bytes(64 * 1024 * 1024))
    assert len(bomb) < 4 * 1024 * 1024
    with pytest.raises(TooLarge):
        decompress(bomb, encoding, 1024 * 1024)


def test_snappy_accepts_both_block_and_framed_formats() -> None:
    assert decompress(snappy.compress(PLAIN), "snappy", len(PLAIN)) == PLAIN
    assert decompress(_snappy_framed(PLAIN), "snappy", len(PLAIN)) == PLAIN


def test_deflate_accepts_raw_deflate_too() -> None:
    assert decompress(_raw_deflate(PLAIN), "deflate", len(PLAIN)) == PLAIN


def test_concatenated_gzip_members_are_one_body() -> None:
    assert decompress(gzip.compress(b"ab") + gzip.compress(b"cd"), "gzip", 10) == b"abcd"


@pytest.mark.parametrize("encoding, data", [
    ("gzip", b"\x1f\x8b\x08\x00not really gzip"),
    ("gzip", gzip.compress(PLAIN)[:-20]),  # truncated
    ("zlib", b"\x78\x9cgarbage"),
    ("zstd", b"\x28\xb5\x2f\xfd garbage"),
    ("snappy", b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"),
    ("snappy", snappy.compress(PLAIN)[:-50]),
    ("x-snappy-framed", b"\xff\x06\x00\x00sNaPpY\x05\x01\x00\x00x"),  # reserved chunk type
])
def test_corrupt_streams_are_decompress_errors(encoding: str, data: bytes) -> None:
    with pytest.raises(DecompressError):
        decompress(data, encoding, 10 * len(PLAIN))


def test_unknown_or_disabled_encodings_are_refused() -> None:
    with pytest.raises(UnsupportedEncoding):
        decompress(b"x", "br", 100)
    with pytest.raises(UnsupportedEncoding):
        decompress(gzip.compress(b"x"), "gzip", 100, allowed=frozenset({"", "zstd"}))


def test_names_are_normalized_and_lz4_is_not_available() -> None:
    assert [normalize_encoding(n) for n in ("GZIP", " identity", "x-gzip", "none")] == ["gzip", "", "gzip", ""]
    assert allowed_encodings(["", "gzip", "snappy", "lz4"]) == {"", "gzip", "snappy", "x-snappy-framed"}
