"""An on-disk FIFO of export requests: the persistent `sending_queue` of the OTLP exporters.

Theory of operation: records are appended to numbered segment files `<dir>/00000000.q`,
`00000001.q`, ... (a new one once the current one reaches `segment_bytes`). Every record carries a
sequence number; consumers take records in order but may finish them out of order (`num_consumers`
concurrent senders), so `ack(seq)` marks one record done and the *consumed position* is the lowest
sequence number not yet done: every record below it was delivered or counted as dropped. The
position is written to `<dir>/consumed` (temporary file, then rename: a crash leaves the old or the
new value, never half of one) at most every `save_interval` seconds and on close. A segment whose
records are all below the position is deleted. A restarted process re-reads every record at or
after the saved position: records can be delivered twice, never lost.

Record framing (little endian), see `frame()` / `scan()`:

    header (32 bytes): magic "CQR1" | u32 body length | u64 seq | u32 items | u8 signal | u8 flags
                       | u16 reserved | u32 crc32(body) | u32 crc32(the 28 header bytes before it)
    body: the Export request, snappy-compressed when flags & 1

The header has its own checksum so a record whose body is damaged but whose header is intact is
skipped exactly (its item count is known and counted), and the magic lets a reader resynchronise
after a damaged header: it scans forward for the next offset where a whole record checks out.

Damage on open: bytes at the end of the *last* segment after which no intact record follows are a
torn write (the process died inside `write`): they are cut. Anything else that does not check out
is corruption: it is skipped, and reported (`Recovery.corrupt`) so the owner can count and log it.

Durability: `append()` writes each framed record with `os.write`: once it returns, the record is in
the page cache, which survives the death of the process (and a "reboot" that keeps the page cache);
with `fsync=True` each append (and each position save) is also fsynced, as Alloy's `fsync` does.
A failed append (ENOSPC, EIO) truncates what it wrote, so the segment stays a sequence of whole
records, and raises: the caller keeps its data and tries again later.

Single writer: one process owns a queue directory; `lock()` takes an exclusive `flock` on
`<dir>/lock` so a second owner (a reload's replacement, another collector) waits instead of
interleaving writes.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Final, Iterator, NamedTuple

import snappy

MAGIC: Final = b"CQR1"
HEADER: Final = struct.Struct("<4sIQIBBHI")  # magic, length, seq, items, signal, flags, reserved, body crc
HEADER_SIZE: Final = HEADER.size + 4  # + crc32 of the header
MAX_RECORD_BYTES: Final = 1 << 30
FLAG_SNAPPY: Final = 1
SUFFIX: Final = ".q"


class Frame(NamedTuple):
    seq: int
    items: int
    signal: int
    offset: int  # of the header in its segment
    end: int  # offset after the record
    body: bytes  # as stored (maybe compressed)
    flags: int


class Damage(NamedTuple):
    """Bytes that are not intact records. `seq`, `items` and `signal` are known (>= 0) when the
    record's header survived, else -1."""

    segment: int
    offset: int
    length: int
    seq: int
    items: int
    signal: int


# --- sans-IO framing ---------------------------------------------------------------------------
def frame(body: bytes, *, seq: int, items: int, signal: int, compress: bool = True) -> bytes:
    flags = 0
    if compress:
        body = snappy.compress(body)
        flags |= FLAG_SNAPPY
    header = HEADER.pack(MAGIC, len(body), seq, items, signal, flags, 0, zlib.crc32(body))
    return header + struct.pack("<I", zlib.crc32(header)) + body


def _header_at(data: bytes | memoryview, offset: int) -> tuple[int, int, int, int, int, int] | None:
    """(length, seq, items, signal, flags, body crc) of an intact header at `offset`, or None."""
    if len(data) - offset < HEADER_SIZE or bytes(data[offset:offset + 4]) != MAGIC:
        return None
    header = bytes(data[offset:offset + HEADER.size])
    (crc,) = struct.unpack_from("<I", data, offset + HEADER.size)
    if zlib.crc32(header) != crc:
        return None
    _, length, seq, items, signal, flags, _, body_crc = HEADER.unpack(header)
    if length > MAX_RECORD_BYTES:
        return None
    return length, seq, items, signal, flags, body_crc


def scan(data: bytes, segment: int = 0) -> Iterator[Frame | Damage]:
    """Every intact record of a segment's bytes, and every damaged span between them, in order.

    A damaged span at the very end (no intact record after it) is yielded as `Damage` too; whether
    it is a torn tail or corruption is the caller's call (it depends on which segment this is).
    """
    offset = 0
    size = len(data)
    while offset < size:
        header = _header_at(data, offset)
        if header is not None:
            length, seq, items, signal, flags, body_crc = header
            start = offset + HEADER_SIZE
            end = start + length
            if end <= size:
                body = data[start:end]
                if zlib.crc32(body) == body_crc:
                    yield Frame(seq, items, signal, offset, end, body, flags)
                    offset = end
                    continue
                # intact header, damaged body: skip exactly this record
                yield Damage(segment, offset, end - offset, seq, items, signal)
                offset = end
                continue
        # no intact record here: resynchronise on the next magic that starts an intact record
        resume = _resync(data, offset + 1)
        yield Damage(segment, offset, resume - offset, -1, -1, -1)
        offset = resume


def _resync(data: bytes, start: int) -> int:
    """The offset of the next intact record (header and body) at or after `start`, else len(data)."""
    position = start
    while True:
        position = data.find(MAGIC, position)
        if position < 0:
            return len(data)
        header = _header_at(data, position)
        if header is not None:
            end = position + HEADER_SIZE + header[0]
            if end <= len(data) and zlib.crc32(data[position + HEADER_SIZE:end]) == header[5]:
                return position
        position += 1


def decode_body(body: bytes, flags: int) -> bytes:
    return snappy.uncompress(body) if flags & FLAG_SNAPPY else body


# --- the queue ---------------------------------------------------------------------------------
class Entry(NamedTuple):
    """A record waiting to be taken: where it is, what it holds, and its bytes if still in memory."""

    seq: int
    items: int
    signal: int
    size: int  # bytes of the framed record on disk
    segment: int
    offset: int
    data: bytes | None  # uncompressed body, or None to read it from the segment


@dataclass
class Recovery:
    """What `open()` found."""

    records: int = 0  # undelivered records recovered
    items: int = 0
    torn_bytes: int = 0  # cut from the tail of the last segment
    corrupt: list[Damage] = field(default_factory=list)
    consumed_unreadable: bool = False  # the position file was damaged: replayed from the oldest record


@dataclass
class _Segment:
    index: int
    size: int = 0
    last_seq: int = -1  # highest seq stored in it (-1: none)


class QueueFile:
    def __init__(self, directory: Path, *, segment_bytes: int = 16 << 20, fsync: bool = False,
                 compress: bool = True, resident_bytes: int = 32 << 20, save_interval: float = 1.0,
                 compact_on_open: bool = False, compaction_chunk: int = 65536,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        self.compress = compress
        self.resident_limit = resident_bytes  # bodies kept in memory for the senders, beyond: read back
        self.save_interval = save_interval
        self.clock = clock
        self.compact_on_open = compact_on_open
        self.compaction_chunk = compaction_chunk
        self.compacted_bytes = 0  # reclaimed by the last open()'s compaction
        self.live_bytes = 0  # framed bytes of records not yet acked
        self.live_items = 0
        self.live_records = 0
        self._resident = 0
        self._segments: deque[_Segment] = deque()
        self._fd = -1
        self._lock_fd = -1
        self._next_seq = 0
        self._waiting: deque[Entry] = deque()  # appended or recovered, not yet taken
        self._open_seqs: deque[int] = deque()  # not yet acked, in seq order
        self._acked: set[int] = set()  # acked out of order, above the consumed position
        self._sizes: dict[int, tuple[int, int]] = {}  # seq -> (framed size, items) of live records
        self._consumed = 0
        self._saved_consumed = -1
        self._last_save = float("-inf")

    # --- lifecycle -----------------------------------------------------------------------------
    def lock(self) -> bool:
        """Take the directory's single-writer lock without waiting; False if another owner has it."""
        if self._lock_fd >= 0:
            return True
        fd = os.open(self.directory / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(fd)
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return False
            raise
        self._lock_fd = fd
        return True

    def open(self) -> Recovery:
        """Recover the undelivered records (in order), cut a torn tail, open the last segment."""
        recovery = Recovery()
        self._consumed, recovery.consumed_unreadable = self._read_consumed()
        indexes = sorted(int(p.name[:-len(SUFFIX)]) for p in self.directory.iterdir()
                         if p.name.endswith(SUFFIX) and p.name[:-len(SUFFIX)].isdigit())
        max_seq = self._consumed - 1
        for position, index in enumerate(indexes):
            path = self._path(index)
            data = path.read_bytes()
            segment = _Segment(index, len(data))
            last = position == len(indexes) - 1
            for found in scan(data, index):
                if isinstance(found, Damage):
                    if last and found.offset + found.length == len(data) and found.items < 0:
                        recovery.torn_bytes = found.length  # torn write: cut below
                        segment.size = found.offset
                    elif found.seq < 0 or found.seq >= self._consumed:  # not one already delivered
                        recovery.corrupt.append(found)
                    continue
                segment.last_seq = max(segment.last_seq, found.seq)
                max_seq = max(max_seq, found.seq)
                if found.seq < self._consumed or found.seq in self._sizes:
                    continue  # delivered, or a second copy left by an interrupted compaction
                self._track(found.seq, found.end - found.offset, found.items)
                self._waiting.append(Entry(found.seq, found.items, found.signal, found.end - found.offset,
                                           index, found.offset, None))
                recovery.records += 1
                recovery.items += found.items
            self._segments.append(segment)
        self._next_seq = max_seq + 1
        self._consumed = self._open_seqs[0] if self._open_seqs else self._next_seq
        if not self._segments:
            self._segments.append(_Segment(0))
        current = self._segments[-1]
        self._fd = os.open(self._path(current.index), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        if recovery.torn_bytes:
            os.ftruncate(self._fd, current.size)
        self._collect()
        if self.compact_on_open and self.disk_bytes > self.live_bytes:
            self._compact()
        return recovery

    def _compact(self) -> None:
        """Copy the undelivered records into fresh segments, then delete the old ones.

        Crash-safe without a scratch directory: until the old segments are gone, every record exists
        twice with the same sequence number, and `open()` keeps the first copy it reads.
        """
        before = self.disk_bytes
        old = list(self._segments)
        entries = list(self._waiting)
        self._waiting.clear()
        first = old[-1].index + 1
        self._segments.append(_Segment(first))
        self._rotate_to(first)
        for entry in entries:
            data = entry.data if entry.data is not None else self._read(entry)
            record = frame(data, seq=entry.seq, items=entry.items, signal=entry.signal, compress=self.compress)
            current = self._segments[-1]
            if current.size and current.size + len(record) > self.segment_bytes:
                self._segments.append(_Segment(current.index + 1))
                self._rotate_to(current.index + 1)
                current = self._segments[-1]
            offset = current.size
            self._write_chunked(record)
            current.size += len(record)
            current.last_seq = entry.seq
            self._waiting.append(entry._replace(segment=current.index, offset=offset, data=None))
        os.fsync(self._fd)
        _fsync_dir(self.directory)
        for segment in old:
            self._segments.remove(segment)
            self._path(segment.index).unlink(missing_ok=True)
        self.compacted_bytes = before - self.disk_bytes

    def _write_chunked(self, data: bytes | bytearray) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view[:self.compaction_chunk or len(view)]):]

    def _rotate_to(self, index: int) -> None:
        fd = os.open(self._path(index), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.close(self._fd)
        self._fd = fd

    def close(self) -> None:
        if self._fd >= 0:
            try:
                self._save_consumed(force=True)
            except OSError:
                pass  # duplicates on the next start, never loss
            if self.fsync:
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = -1

    # --- writing ---------------------------------------------------------------------------------
    def append(self, body: bytes, *, items: int, signal: int) -> Entry:
        """Write one record; raises OSError (ENOSPC, EIO, ...) with the segment left unchanged."""
        seq = self._next_seq
        record = frame(body, seq=seq, items=items, signal=signal, compress=self.compress)
        current = self._segments[-1]
        if current.size and current.size + len(record) > self.segment_bytes:
            self._rotate()
            current = self._segments[-1]
        offset = current.size
        try:
            view = memoryview(record)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            if self.fsync:
                os.fsync(self._fd)
        except OSError:
            try:
                os.ftruncate(self._fd, offset)
            except OSError:
                self._rotate()  # cannot repair this segment's tail: later records go to a fresh one
                raise
            self._release_written_segment()
            raise
        current.size += len(record)
        current.last_seq = seq
        self._next_seq = seq + 1
        self._track(seq, len(record), items)
        keep = self._resident + len(body) <= self.resident_limit
        if keep:
            self._resident += len(body)
        entry = Entry(seq, items, signal, len(record), current.index, offset, body if keep else None)
        self._waiting.append(entry)
        return entry

    def _rotate(self) -> None:
        index = self._segments[-1].index + 1
        fd = os.open(self._path(index), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        if self.fsync:
            os.fsync(self._fd)
            _fsync_dir(self.directory)
        os.close(self._fd)
        self._fd = fd
        self._segments.append(_Segment(index))

    def _release_written_segment(self) -> None:
        """After a failed append (a full disk): if every record of the segment being written is
        consumed, start a fresh segment so that one can be deleted. `_collect` never deletes the
        segment being written, and a segment rotates only at `segment_bytes`, so on a disk smaller
        than that a drained queue would otherwise keep the disk full and appends would fail forever."""
        current = self._segments[-1]
        if not current.size or current.last_seq >= self._consumed:
            return  # empty, or it still holds undelivered records: they must be delivered first
        try:
            self._rotate()
        except OSError:
            return  # retried at the next failed append
        self._collect()

    def _track(self, seq: int, size: int, items: int) -> None:
        self._open_seqs.append(seq)
        self._sizes[seq] = (size, items)
        self.live_bytes += size
        self.live_items += items
        self.live_records += 1

    # --- reading -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        """Records waiting to be taken."""
        return len(self._waiting)

    def take(self) -> tuple[Entry, bytes] | None:
        """The oldest record not yet taken and its body, or None. Raises OSError if it cannot be read
        back; the record then stays first in line."""
        if not self._waiting:
            return None
        entry = self._waiting[0]
        data = entry.data if entry.data is not None else self._read(entry)
        self._waiting.popleft()
        if entry.data is not None:
            self._resident -= len(entry.data)
        return entry, data

    def drop_head(self) -> Entry | None:
        """Give up on the oldest waiting record (it could not be read back): it counts as done."""
        if not self._waiting:
            return None
        entry = self._waiting.popleft()
        if entry.data is not None:
            self._resident -= len(entry.data)
        self.ack(entry.seq)
        return entry

    def _read(self, entry: Entry) -> bytes:
        with open(self._path(entry.segment), "rb") as file:
            file.seek(entry.offset)
            raw = file.read(entry.size)
        for found in scan(raw, entry.segment):
            if isinstance(found, Frame) and found.seq == entry.seq:
                return decode_body(found.body, found.flags)
        raise OSError(errno.EIO, f"record {entry.seq} changed on disk since it was written", str(self._path(entry.segment)))

    def ack(self, seq: int) -> None:
        """The record was delivered or counted as dropped: it may be forgotten."""
        if self._fd < 0:
            return  # closed (another owner may have the directory now): it will be delivered again
        size, items = self._sizes.pop(seq)
        self.live_bytes -= size
        self.live_items -= items
        self.live_records -= 1
        self._acked.add(seq)
        advanced = False
        while self._open_seqs and self._open_seqs[0] in self._acked:
            self._acked.discard(self._open_seqs.popleft())
            advanced = True
        if advanced:
            self._consumed = self._open_seqs[0] if self._open_seqs else self._next_seq
            self._collect()
            try:
                self._save_consumed()
            except OSError:
                pass  # a full disk: the old position means duplicates, never loss; retried next ack

    def _collect(self) -> None:
        """Delete segments whose records are all consumed (never the one being written)."""
        while len(self._segments) > 1 and self._segments[0].last_seq < self._consumed:
            segment = self._segments.popleft()
            try:
                self._path(segment.index).unlink()
            except FileNotFoundError:
                pass

    # --- the consumed position ---------------------------------------------------------------------
    def _read_consumed(self) -> tuple[int, bool]:
        path = self.directory / "consumed"
        try:
            text = path.read_text()
        except FileNotFoundError:
            return 0, False
        except (OSError, UnicodeDecodeError):
            return 0, True
        try:
            value, check = text.split()
            if zlib.crc32(value.encode()) != int(check, 16):
                return 0, True
            return int(value), False
        except ValueError:
            return 0, True

    def _save_consumed(self, force: bool = False) -> None:
        if self._consumed == self._saved_consumed:
            return
        now = self.clock()
        if not force and now - self._last_save < self.save_interval:
            return
        self._last_save = now
        path = self.directory / "consumed"
        temporary = path.with_suffix(".tmp")
        value = str(self._consumed)
        with open(temporary, "w") as file:
            file.write(f"{value} {zlib.crc32(value.encode()):08x}\n")
            if self.fsync:
                file.flush()
                os.fsync(file.fileno())
        os.replace(temporary, path)
        if self.fsync:
            _fsync_dir(self.directory)
        self._saved_consumed = self._consumed

    # --- facts -------------------------------------------------------------------------------------
    @property
    def consumed(self) -> int:
        return self._consumed

    @property
    def disk_bytes(self) -> int:
        return sum(segment.size for segment in self._segments)

    def oldest_live(self) -> tuple[int, Path] | None:
        """The sequence number of the oldest record not yet acked and the segment file holding it
        (read-only; for the queue's age statistic), or None when every record was acked."""
        if not self._open_seqs:
            return None
        seq = self._open_seqs[0]
        for segment in self._segments:
            if segment.last_seq >= seq:
                return seq, self._path(segment.index)
        return seq, self._path(self._segments[-1].index)

    def _path(self, index: int) -> Path:
        return self.directory / f"{index:08d}{SUFFIX}"


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
