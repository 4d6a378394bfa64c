"""WAL damage: a corrupt record is skipped alone (the framing resynchronises), a torn tail is cut,
an unreadable position replays from the oldest segment."""

from __future__ import annotations

import os
from pathlib import Path

from collector.storage.wal import WAL, Position


def write(directory: Path, count: int, segment_bytes: int = 1 << 20) -> list[Position]:
    wal = WAL(directory, segment_bytes=segment_bytes).open()
    wal.set_readers(["a"])
    ends = [wal.append(bytes([i]) * 50 + os.urandom(100), 1) for i in range(count)]
    wal.close()
    return ends


def test_a_flipped_byte_mid_segment_skips_only_that_record(tmp_path: Path) -> None:
    directory = tmp_path / "wal"
    ends = write(directory, 10)
    segment = directory / "00000000"
    data = bytearray(segment.read_bytes())
    middle = (ends[3].offset + ends[4].offset) // 2  # inside record 4's body
    data[middle] ^= 0xFF
    segment.write_bytes(bytes(data))

    seen: list[tuple[int, int]] = []
    wal = WAL(directory, on_corrupt=lambda seg, offset, size: seen.append((seg, offset))).open()
    assert wal.torn_bytes == 0, "damage followed by intact records is corruption, not a torn tail"
    assert segment.stat().st_size == len(data)
    wal.set_readers(["a"])
    assert [r.body[0] for r in wal.read(Position(0, 0))] == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    assert seen == [(0, ends[3].offset)]
    assert wal.corrupt_records == 1
    wal.append(b"\x0a" * 50, 1)  # the writer goes on after the damage
    assert [r.body[0] for r in wal.read(Position(0, 0))][-2:] == [9, 10]
    wal.close()


def test_a_damaged_header_mid_segment_resynchronises_on_the_next_record(tmp_path: Path) -> None:
    directory = tmp_path / "wal"
    ends = write(directory, 6)
    segment = directory / "00000000"
    data = bytearray(segment.read_bytes())
    data[ends[1].offset:ends[1].offset + 12] = os.urandom(12)  # record 2's magic, crc and length
    segment.write_bytes(bytes(data))
    wal = WAL(directory).open()
    wal.set_readers(["a"])
    assert [r.body[0] for r in wal.read(Position(0, 0))] == [0, 1, 3, 4, 5]
    wal.close()


def test_a_torn_tail_is_still_cut(tmp_path: Path) -> None:
    directory = tmp_path / "wal"
    ends = write(directory, 3)
    segment = directory / "00000000"
    with open(segment, "r+b") as fh:
        fh.truncate(ends[2].offset - 7)
    wal = WAL(directory).open()
    assert wal.torn_bytes == ends[2].offset - 7 - ends[1].offset
    assert wal.corrupt_records == 0
    wal.close()


def test_an_unreadable_position_replays_from_the_oldest_segment(tmp_path: Path) -> None:
    directory = tmp_path / "wal"
    write(directory, 8, segment_bytes=400)
    wal = WAL(directory, segment_bytes=400).open()
    wal.set_readers(["a"])
    wal.ack("a", wal.head)
    wal.close()
    (directory / "positions" / "a").write_bytes(b"\x00\xffgarbage")
    wal = WAL(directory, segment_bytes=400).open()
    wal.set_readers(["a", "new"])
    oldest = min(wal.segments())
    assert wal.positions["a"] == Position(oldest, 0)  # duplicates over loss
    assert wal.positions["new"] == wal.head  # a reader without a file starts at the head
    assert "a" in wal.unreadable_positions
    wal.close()


def test_segments_written_before_the_magic_marker_still_read(tmp_path: Path) -> None:
    from tests.storage.test_wal_legacy import legacy_record
    directory = tmp_path / "wal"
    directory.mkdir()
    (directory / "00000000").write_bytes(b"".join(legacy_record(bytes([i]) * 40, 1) for i in range(3)))
    wal = WAL(directory).open()
    wal.set_readers(["a"])
    wal.positions["a"] = Position(0, 0)
    wal.append(b"\x03" * 40, 1)
    assert [r.body[0] for r in wal.read(Position(0, 0))] == [0, 1, 2, 3]
    wal.close()
    wal = WAL(directory).open()
    wal.set_readers(["a"])
    assert [r.body[0] for r in wal.read(Position(0, 0))] == [0, 1, 2, 3]
    wal.close()
