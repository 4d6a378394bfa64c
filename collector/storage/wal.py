"""A segmented write-ahead log with named, persisted read positions.

Theory of operation: records are appended to numbered segment files `<dir>/00000000`, `00000001`, ...
and a new segment is started once the current one reaches `segment_bytes`. Each reader (one per
remote-write endpoint) has a position, "everything before segment S, offset O has been taken care
of", kept in memory by `ack()` and written to `<dir>/positions/<reader>` by `save_positions()`
(write to a temporary file, then rename, so a crash leaves the old or the new position, never half
of one). A restarted process reads every record after a reader's position again: records may be
delivered twice, never lost.

Record framing (little endian), see `frame()` / `parse()`:

    u32 crc32 (of everything after this field) | u32 body length | u32 samples | i64 written (unix ms)
    body: snappy-compressed, opaque to the WAL

A crash can leave a torn record at the end of the last segment (the process died inside `write`).
`open()` scans the last segment and truncates it after the last record whose length and CRC check
out. A bad record found while reading an older segment ends that segment for the reader.

Durability: `append()` is one `os.write` of the framed record: once it returns, the record is in the
OS page cache, which survives the death of the process (SIGKILL, OOM kill). `sync()` (fsync) is
called by the owner at a batch deadline and on segment rotation, so a power loss costs at most one
deadline's worth of records, while appends never wait for the disk. An fsync per append would bound
throughput by disk latency for a failure (machine crash) that the process cannot prevent anyway.

Single writer: one process owns a WAL directory (remote write: one per metrics worker), so there is
no locking.
"""

from __future__ import annotations

import os
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

import snappy

HEADER = struct.Struct("<IIIq")
_CHECKED = struct.Struct("<IIq")  # the header fields the CRC covers, followed by the body
MAX_RECORD_BYTES = 1 << 30


@dataclass(frozen=True, order=True, slots=True)
class Position:
    segment: int
    offset: int

    def __str__(self) -> str:
        return f"{self.segment}:{self.offset}"


class Record(NamedTuple):
    end: Position
    samples: int
    written_ms: int
    body: bytes  # uncompressed


# --- sans-IO framing -----------------------------------------------------------------------------
def frame(body: bytes, samples: int, written_ms: int) -> bytes:
    """One framed record holding `body` (compressed here) that accounts for `samples` samples."""
    compressed = snappy.compress(body)
    checked = _CHECKED.pack(len(compressed), samples, written_ms)
    crc = zlib.crc32(compressed, zlib.crc32(checked))
    return HEADER.pack(crc, len(compressed), samples, written_ms) + compressed


def parse(data: bytes | memoryview, offset: int = 0) -> tuple[int, int, int, bytes] | None:
    """The record at `offset`: (end offset, samples, written ms, compressed body), or None if the
    bytes there are not a whole, intact record (end of data, torn write, corruption)."""
    if len(data) - offset < HEADER.size:
        return None
    crc, length, samples, written_ms = HEADER.unpack_from(data, offset)
    start = offset + HEADER.size
    end = start + length
    if length > MAX_RECORD_BYTES or end > len(data):
        return None
    body = bytes(data[start:end])
    if zlib.crc32(body, zlib.crc32(_CHECKED.pack(length, samples, written_ms))) != crc:
        return None
    return end, samples, written_ms, body


def valid_prefix(data: bytes) -> int:
    """Length of the longest prefix of `data` made of intact records."""
    offset = 0
    while True:
        parsed = parse(data, offset)
        if parsed is None:
            return offset
        offset = parsed[0]


# --- the log ---------------------------------------------------------------------------------------
class WAL:
    def __init__(self, directory: Path, *, segment_bytes: int = 32 << 20,
                 clock: Callable[[], float] = time.time) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.clock = clock
        self.positions: dict[str, Position] = {}
        self.torn_bytes = 0  # bytes cut from the tail by the last open()
        self._segments: dict[int, int] = {}  # index -> size in bytes
        self._current = 0
        self._fd = -1
        self._saved: dict[str, Position] = {}

    # lifecycle
    def open(self) -> WAL:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "positions").mkdir(exist_ok=True)
        for entry in self.directory.iterdir():
            if entry.name.isdigit():
                self._segments[int(entry.name)] = entry.stat().st_size
        if not self._segments:
            self._segments[0] = 0
        self._current = max(self._segments)
        path = self._path(self._current)
        data = path.read_bytes() if path.exists() else b""
        keep = valid_prefix(data)
        self.torn_bytes = len(data) - keep
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        if self.torn_bytes:
            os.ftruncate(self._fd, keep)
        self._segments[self._current] = keep
        return self

    def close(self) -> None:
        if self._fd >= 0:
            self.save_positions()
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1

    def _path(self, segment: int) -> Path:
        return self.directory / f"{segment:08d}"

    # writing
    @property
    def head(self) -> Position:
        """Where the next record will start (the end of the last one)."""
        return Position(self._current, self._segments[self._current])

    def append(self, body: bytes, samples: int) -> Position:
        """Write one record; returns its end position. The record is in the page cache on return."""
        record = frame(body, samples, int(self.clock() * 1000))
        os.write(self._fd, record)
        self._segments[self._current] += len(record)
        end = Position(self._current, self._segments[self._current])
        if self._segments[self._current] >= self.segment_bytes:
            self._rotate()
        return end

    def _rotate(self) -> None:
        os.fsync(self._fd)
        os.close(self._fd)
        self._current += 1
        self._segments[self._current] = 0
        self._fd = os.open(self._path(self._current), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def sync(self) -> None:
        """fsync the current segment (records written so far survive a machine crash)."""
        if self._fd >= 0:
            os.fsync(self._fd)

    # readers
    def set_readers(self, names: list[str]) -> None:
        """Load the positions of `names`, start new readers at the head (persisted at once, so a
        crash before their first ack still replays from there) and forget every other reader."""
        folder = self.directory / "positions"
        self.positions = {}
        for name in names:
            self.positions[name] = self._load(folder / name) or self.head
        for entry in folder.iterdir():
            if entry.name not in self.positions:
                entry.unlink(missing_ok=True)
        self._saved = {}
        self.save_positions()

    def _load(self, path: Path) -> Position | None:
        try:
            segment, _, offset = path.read_text().strip().partition(":")
            position = Position(int(segment), int(offset))
        except (OSError, ValueError):
            return None
        oldest = min(self._segments)
        if position.segment < oldest:
            return Position(oldest, 0)
        return min(position, self.head)

    def ack(self, name: str, position: Position) -> None:
        """Reader `name` is done with everything before `position` (never moves backwards)."""
        if position > self.positions.get(name, Position(-1, 0)):
            self.positions[name] = position

    def save_positions(self) -> None:
        folder = self.directory / "positions"
        for name, position in self.positions.items():
            if self._saved.get(name) == position:
                continue
            tmp = folder / f".{name}.tmp"
            tmp.write_text(f"{position}\n")
            os.replace(tmp, folder / name)
            self._saved[name] = position

    def read(self, start: Position) -> Iterator[Record]:
        """Records after `start` up to the head as it is when each record is read (records appended
        meanwhile are read too). Segments removed while reading are skipped; a corrupt record ends
        its segment."""
        segment, offset = start.segment, start.offset
        while True:
            if segment not in self._segments:
                later = [s for s in self._segments if s > segment]
                if not later:
                    return
                segment, offset = min(later), 0
            size = self._segments[segment]
            if offset >= size:
                if segment >= self._current:
                    return
                segment, offset = segment + 1, 0
                continue
            try:
                with open(self._path(segment), "rb") as fh:
                    fh.seek(offset)
                    data = fh.read(size - offset)
            except FileNotFoundError:
                data = b""
            pos = 0
            while (parsed := parse(data, pos)) is not None:
                pos, samples, written_ms, body = parsed
                yield Record(Position(segment, offset + pos), samples, written_ms, snappy.uncompress(body))
                if segment not in self._segments:
                    break
            if pos < len(data) and segment in self._segments:
                if segment >= self._current:
                    return
                segment, offset = segment + 1, 0  # unreadable rest of a closed segment
                continue
            offset += pos

    def samples_after(self, position: Position, segment: int) -> int:
        """Samples in `segment` from `position` on (the whole segment if `position` is earlier)."""
        if position.segment > segment:
            return 0
        start = position.offset if position.segment == segment else 0
        try:
            data = self._path(segment).read_bytes()
        except FileNotFoundError:
            return 0
        total, offset = 0, 0
        while (parsed := parse(data, offset)) is not None:
            if offset >= start:
                total += parsed[1]
            offset = parsed[0]
        return total

    # truncation
    def segments(self) -> dict[int, int]:
        return dict(self._segments)

    @property
    def size_bytes(self) -> int:
        return sum(self._segments.values())

    def segment_written(self, segment: int) -> float:
        """Unix time of the last write to `segment` (its mtime)."""
        try:
            return self._path(segment).stat().st_mtime
        except FileNotFoundError:
            return 0.0

    def remove_consumed(self) -> list[int]:
        """Delete the closed segments that every reader has passed (nothing is lost)."""
        floor = min((p.segment for p in self.positions.values()), default=self._current)
        gone = [s for s in sorted(self._segments) if s < floor and s != self._current]
        for segment in gone:
            self._remove(segment)
        return gone

    def remove_segment(self, segment: int) -> None:
        """Delete a closed segment even if readers have not passed it; they move to the next one."""
        if segment == self._current:
            raise ValueError("the segment being written cannot be removed")
        self._remove(segment)
        nxt = min(s for s in self._segments if s > segment)
        for name, position in self.positions.items():
            if position.segment <= segment:
                self.positions[name] = Position(nxt, 0)

    def _remove(self, segment: int) -> None:
        self._path(segment).unlink(missing_ok=True)
        del self._segments[segment]
