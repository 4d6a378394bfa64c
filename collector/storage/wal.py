"""A segmented write-ahead log with named, persisted read positions.

Theory of operation: records are appended to numbered segment files `<dir>/00000000`, `00000001`, ...
and a new segment is started once the current one reaches `segment_bytes`. Each reader (one per
remote-write endpoint) has a position, "everything before segment S, offset O has been taken care
of", kept in memory by `ack()` and written to `<dir>/positions/<reader>` by `save_positions()`
(write to a temporary file, then rename, so a crash leaves the old or the new position, never half
of one). A restarted process reads every record after a reader's position again: records may be
delivered twice, never lost.

Segment and record framing (little endian), see `frame()` / `scan()`: a segment starts with the
8-byte `SEGMENT_MAGIC`, then records

    u32 RECORD_MAGIC | u32 crc32 (of everything after this field) | u32 body length | u32 samples |
    i64 written (unix ms) | body: snappy-compressed, opaque to the WAL

Segments written before the magic markers (no `SEGMENT_MAGIC`) hold records without `RECORD_MAGIC`;
they are still read, and a WAL whose last segment is such a segment continues in a new one, so each
segment has one framing.

Damage: a crash can leave a torn record at the end of the last segment (the process died inside
`write`): `open()` cuts the segment after the last intact record when no intact record follows.
Bytes that fail their check *between* intact records are corruption (a flipped bit, a bad sector):
the reader resynchronises on the next `RECORD_MAGIC` that starts an intact record, so only the
damaged record is lost; each such span is reported once through `on_corrupt` and counted in
`corrupt_records`. (A segment of the old framing cannot resynchronise: its damage ends the segment.)

Durability: `append()` is one `os.write` of the framed record: once it returns, the record is in the
OS page cache, which survives the death of the process (SIGKILL, OOM kill). `sync()` (fsync) is
called by the owner at a batch deadline and on segment rotation, so a power loss costs at most one
deadline's worth of records, while appends never wait for the disk. An fsync per append would bound
throughput by disk latency for a failure (machine crash) that the process cannot prevent anyway.

Single writer: one process owns a WAL directory (remote write: one per metrics worker), so there is
no locking.
"""

from __future__ import annotations

import errno
import os
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Final, Iterator, NamedTuple

import snappy

RECORD_MAGIC: Final = 0xC011EC7A
SEGMENT_MAGIC: Final = b"\x89CWAL\r\n\x02"
HEADER = struct.Struct("<IIIIq")  # magic, crc, length, samples, written
LEGACY_HEADER = struct.Struct("<IIIq")  # crc, length, samples, written
_CHECKED = struct.Struct("<IIq")  # the header fields the CRC covers, followed by the body
_MAGIC_BYTES: Final = struct.pack("<I", RECORD_MAGIC)
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
    return HEADER.pack(RECORD_MAGIC, crc, len(compressed), samples, written_ms) + compressed


def parse(data: bytes | memoryview, offset: int = 0, *, framed: bool = True) -> tuple[int, int, int, bytes] | None:
    """The record at `offset`: (end offset, samples, written ms, compressed body), or None if the
    bytes there are not a whole, intact record (end of data, torn write, corruption). `framed`:
    the record format with `RECORD_MAGIC` (False: segments written before it)."""
    if framed:
        if len(data) - offset < HEADER.size:
            return None
        magic, crc, length, samples, written_ms = HEADER.unpack_from(data, offset)
        if magic != RECORD_MAGIC:
            return None
        start = offset + HEADER.size
    else:
        if len(data) - offset < LEGACY_HEADER.size:
            return None
        crc, length, samples, written_ms = LEGACY_HEADER.unpack_from(data, offset)
        start = offset + LEGACY_HEADER.size
    end = start + length
    if length > MAX_RECORD_BYTES or end > len(data):
        return None
    body = bytes(data[start:end])
    if zlib.crc32(body, zlib.crc32(_CHECKED.pack(length, samples, written_ms))) != crc:
        return None
    return end, samples, written_ms, body


class Span(NamedTuple):
    """A stretch of a segment: an intact record (`body` is its compressed body) or, with `body`
    None, damaged bytes between intact records."""

    start: int
    end: int
    samples: int
    written_ms: int
    body: bytes | None


def scan(data: bytes | memoryview, offset: int = 0, *, framed: bool = True) -> tuple[list[Span], int]:
    """The records of `data` from `offset` and the damaged spans between them, and where the
    unparseable rest (a torn tail; `len(data)` if none) starts."""
    spans: list[Span] = []
    pos, size = offset, len(data)
    raw = data if isinstance(data, bytes) else bytes(data)
    while pos < size:
        parsed = parse(raw, pos, framed=framed)
        if parsed is not None:
            end, samples, written_ms, body = parsed
            spans.append(Span(pos, end, samples, written_ms, body))
            pos = end
            continue
        if not framed:
            return spans, pos
        nxt = raw.find(_MAGIC_BYTES, pos + 1)
        while nxt != -1 and parse(raw, nxt) is None:
            nxt = raw.find(_MAGIC_BYTES, nxt + 1)
        if nxt == -1:
            return spans, pos
        spans.append(Span(pos, nxt, 0, 0, None))
        pos = nxt
    return spans, pos


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
                 clock: Callable[[], float] = time.time,
                 on_corrupt: Callable[[int, int, int], None] | None = None) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.clock = clock
        self.positions: dict[str, Position] = {}
        self.torn_bytes = 0  # bytes cut from the tail by the last open()
        self.corrupt_records = 0  # damaged spans skipped (each counted once)
        self.unreadable_positions: dict[str, str] = {}  # reader -> why its position file was unusable
        self._on_corrupt = on_corrupt  # (segment, offset, bytes) of each damaged span, once
        self._corrupt_seen: set[tuple[int, int]] = set()
        self._segments: dict[int, int] = {}  # index -> size in bytes
        self._framed: dict[int, bool] = {}  # index -> written with the magic markers
        self._current = 0
        self._fd = -1
        self._saved: dict[str, Position] = {}

    # lifecycle
    def open(self) -> WAL:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "positions").mkdir(exist_ok=True)
        for entry in self.directory.iterdir():
            if entry.name.isdigit():
                segment = int(entry.name)
                self._segments[segment] = entry.stat().st_size
                with open(entry, "rb") as fh:
                    self._framed[segment] = fh.read(len(SEGMENT_MAGIC)) == SEGMENT_MAGIC
        if not self._segments:
            self._current = 0
            self._create(0)
            return self
        self._current = max(self._segments)
        path = self._path(self._current)
        data = path.read_bytes()
        framed = self._framed[self._current]
        if framed or not data:
            spans, keep = scan(data, len(SEGMENT_MAGIC) if framed else 0, framed=framed)
            if not framed:
                keep = 0  # an empty file of unknown framing: start it afresh
            self._note_corrupt(self._current, spans)
        else:
            spans, keep = scan(data, 0, framed=False)
        self.torn_bytes = len(data) - keep
        if not framed and keep:
            # a segment of the old framing: keep it as it is (minus a torn tail), write a new one
            if self.torn_bytes:
                os.truncate(path, keep)
            self._segments[self._current] = keep
            self._current += 1
            self._create(self._current)
            return self
        if not framed:
            path.unlink(missing_ok=True)
            del self._segments[self._current]
            self._create(self._current)
            return self
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        if self.torn_bytes:
            os.ftruncate(self._fd, keep)
        self._segments[self._current] = keep
        return self

    def _create(self, segment: int) -> None:
        """Start segment file `segment` (its magic written) as the one being appended to."""
        path = self._path(segment)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        try:
            _write_all(fd, SEGMENT_MAGIC)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = fd
        self._current = segment
        self._segments[segment] = len(SEGMENT_MAGIC)
        self._framed[segment] = True

    def close(self) -> None:
        if self._fd >= 0:
            try:
                self.save_positions()
                os.fsync(self._fd)
            finally:
                os.close(self._fd)
                self._fd = -1

    def _path(self, segment: int) -> Path:
        return self.directory / f"{segment:08d}"

    def _note_corrupt(self, segment: int, spans: list[Span]) -> None:
        for span in spans:
            if span.body is None and (segment, span.start) not in self._corrupt_seen:
                self._corrupt_seen.add((segment, span.start))
                self.corrupt_records += 1
                if self._on_corrupt is not None:
                    self._on_corrupt(segment, span.start, span.end - span.start)

    # writing
    @property
    def head(self) -> Position:
        """Where the next record will start (the end of the last one)."""
        return Position(self._current, self._segments[self._current])

    def append(self, body: bytes, samples: int) -> Position:
        """Write one record; returns its end position. The record is in the page cache on return.
        On failure (ENOSPC, EIO: an OSError) nothing of the record stays in the segment."""
        record = frame(body, samples, int(self.clock() * 1000))
        size = self._segments[self._current]
        try:
            _write_all(self._fd, record)
        except BaseException:
            try:
                os.ftruncate(self._fd, size)  # no half record for readers or the next open()
            except OSError:
                pass
            raise
        self._segments[self._current] = size + len(record)
        end = Position(self._current, self._segments[self._current])
        if self._segments[self._current] >= self.segment_bytes:
            try:
                self._rotate()
            except OSError:
                pass  # no room for a new segment: keep writing this one, rotate at the next append
        return end

    def _rotate(self) -> None:
        os.fsync(self._fd)
        self._create(self._current + 1)

    def sync(self) -> None:
        """fsync the current segment (records written so far survive a machine crash)."""
        if self._fd >= 0:
            os.fsync(self._fd)

    # readers
    def set_readers(self, names: list[str]) -> None:
        """Load the positions of `names`, start new readers at the head (persisted at once, so a
        crash before their first ack still replays from there) and forget every other reader. A
        position file that cannot be read or parsed replays from the oldest segment (duplicates
        rather than loss; listed in `unreadable_positions`)."""
        folder = self.directory / "positions"
        self.positions = {}
        self.unreadable_positions = {}
        for name in names:
            self.positions[name] = self._load(folder / name, name)
        for entry in folder.iterdir():
            if entry.name not in self.positions:
                entry.unlink(missing_ok=True)
        self._saved = {}
        self.save_positions()

    def _load(self, path: Path, name: str) -> Position:
        oldest = min(self._segments)
        try:
            text = path.read_text()
        except FileNotFoundError:
            return self.head  # a new reader
        except (OSError, ValueError) as err:
            self.unreadable_positions[name] = str(err) or type(err).__name__
            return Position(oldest, 0)
        try:
            segment, _, offset = text.strip().partition(":")
            position = Position(int(segment), int(offset))
        except ValueError:
            self.unreadable_positions[name] = f"cannot parse {text[:40]!r}"
            return Position(oldest, 0)
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
        meanwhile are read too). Segments removed while reading are skipped; damaged records are
        skipped (reported once through `on_corrupt`); an unreadable rest of a closed segment ends it."""
        segment, offset = start.segment, start.offset
        while True:
            if segment not in self._segments:
                later = [s for s in self._segments if s > segment]
                if not later:
                    return
                segment, offset = min(later), 0
            framed = self._framed.get(segment, True)
            if framed:
                offset = max(offset, len(SEGMENT_MAGIC))
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
            spans, tail = scan(data, 0, framed=framed)
            self._note_corrupt(segment, [s._replace(start=offset + s.start, end=offset + s.end) for s in spans])
            for span in spans:
                if span.body is not None:
                    yield Record(Position(segment, offset + span.end), span.samples, span.written_ms,
                                 snappy.uncompress(span.body))
                    if segment not in self._segments:
                        break
            if tail < len(data) and segment in self._segments:
                if segment >= self._current:
                    return
                segment, offset = segment + 1, 0  # unreadable rest of a closed segment
                continue
            offset += tail

    def samples_after(self, position: Position, segment: int) -> int:
        """Samples in `segment` from `position` on (the whole segment if `position` is earlier)."""
        if position.segment > segment:
            return 0
        start = position.offset if position.segment == segment else 0
        try:
            data = self._path(segment).read_bytes()
        except FileNotFoundError:
            return 0
        framed = self._framed.get(segment, True)
        spans, _ = scan(data, len(SEGMENT_MAGIC) if framed else 0, framed=framed)
        return sum(span.samples for span in spans if span.start >= start)

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
        self._framed.pop(segment, None)


def _write_all(fd: int, data: bytes) -> None:
    """`os.write` until all of `data` is written; a short write on a full disk raises ENOSPC."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]
