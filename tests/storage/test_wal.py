from __future__ import annotations

import os
from pathlib import Path

import pytest

from collector.storage.wal import HEADER, SEGMENT_MAGIC, WAL, Position, frame, parse, valid_prefix


def bodies(wal: WAL, start: Position = Position(0, 0)) -> list[bytes]:
    return [record.body for record in wal.read(start)]


def test_frame_round_trip_and_corruption_is_detected() -> None:
    record = frame(b"hello" * 20, 3, 1234)
    parsed = parse(record)
    assert parsed is not None and parsed[:3] == (len(record), 3, 1234)
    for cut in (1, HEADER.size - 1, HEADER.size, len(record) - 1):
        assert parse(record[:cut]) is None
    flipped = bytearray(record)
    flipped[-1] ^= 0xFF
    assert parse(bytes(flipped)) is None
    flipped = bytearray(record)
    flipped[8] ^= 0x01  # sample count is covered by the CRC too
    assert parse(bytes(flipped)) is None
    assert valid_prefix(record + record + record[:7]) == 2 * len(record)


def test_append_read_reopen_and_positions(tmp_path: Path) -> None:
    wal = WAL(tmp_path / "wal").open()
    wal.set_readers(["a", "b"])
    ends = [wal.append(f"record {i}".encode(), i) for i in range(5)]
    assert bodies(wal) == [f"record {i}".encode() for i in range(5)]
    assert [r.samples for r in wal.read(Position(0, 0))] == [0, 1, 2, 3, 4]
    wal.ack("a", ends[2])
    wal.ack("a", ends[1])  # never backwards
    wal.close()

    wal = WAL(tmp_path / "wal").open()
    wal.set_readers(["a", "b", "c"])
    assert wal.positions["a"] == ends[2]
    assert wal.positions["b"] == Position(0, len(SEGMENT_MAGIC))  # persisted at registration, before any ack
    assert wal.positions["c"] == wal.head
    assert bodies(wal, wal.positions["a"]) == [b"record 3", b"record 4"]
    wal.set_readers(["a"])
    assert sorted(p.name for p in (tmp_path / "wal" / "positions").iterdir()) == ["a"]
    wal.close()


def test_torn_tail_is_cut_and_appending_continues(tmp_path: Path) -> None:
    wal = WAL(tmp_path / "wal").open()
    wal.set_readers(["a"])
    for i in range(3):
        wal.append(b"x" * 100 + bytes([i]), 1)
    wal.close()
    segment = tmp_path / "wal" / "00000000"
    intact = segment.stat().st_size
    torn = frame(b"half written", 1, 0)
    with open(segment, "ab") as fh:
        fh.write(torn[: len(torn) // 2])

    wal = WAL(tmp_path / "wal").open()
    assert wal.torn_bytes == len(torn) // 2
    assert segment.stat().st_size == intact
    wal.set_readers(["a"])
    wal.append(b"after the crash", 1)
    assert bodies(wal) == [b"x" * 100 + bytes([i]) for i in range(3)] + [b"after the crash"]
    wal.close()


def test_rotation_truncation_and_forced_removal(tmp_path: Path) -> None:
    wal = WAL(tmp_path / "wal", segment_bytes=100).open()
    wal.set_readers(["fast", "slow"])
    ends = [wal.append(os.urandom(150), 10) for _ in range(6)]  # incompressible: one record per segment
    assert sorted(wal.segments()) == list(range(7))
    assert [e.segment for e in ends] == list(range(6))
    wal.ack("fast", ends[-1])
    wal.ack("slow", ends[1])
    assert wal.remove_consumed() == [0]
    assert wal.samples_after(wal.positions["slow"], 2) == 10
    assert wal.samples_after(Position(2, ends[2].offset), 2) == 0
    wal.remove_segment(2)
    assert wal.positions["slow"] == Position(3, 0)
    assert wal.positions["fast"] == ends[-1]
    assert wal.remove_consumed() == [1]
    assert sorted(wal.segments()) == [3, 4, 5, 6]
    assert len(list(wal.read(wal.positions["slow"]))) == 3
    with pytest.raises(ValueError):
        wal.remove_segment(6)
    wal.close()


def test_reader_sees_records_appended_and_segments_rotated_while_reading(tmp_path: Path) -> None:
    wal = WAL(tmp_path / "wal", segment_bytes=300).open()
    wal.set_readers(["a"])
    wal.append(b"first", 1)
    seen = []
    for record in wal.read(Position(0, 0)):
        seen.append(record.body)
        if len(seen) < 5:
            wal.append(os.urandom(120), 1)
    assert len(seen) == 5 and seen[0] == b"first"
    assert len(wal.segments()) > 1
    wal.close()


def test_corrupt_record_in_a_closed_segment_ends_that_segment(tmp_path: Path) -> None:
    size = 2 * len(frame(bytes(150), 1, 0))
    wal = WAL(tmp_path / "wal", segment_bytes=size).open()
    wal.set_readers(["a"])
    for i in range(4):
        wal.append(bytes([i]) * 150, 1)  # compressible: two records per segment
    wal.close()
    first = tmp_path / "wal" / "00000000"
    data = bytearray(first.read_bytes())
    data[-1] ^= 0xFF
    first.write_bytes(bytes(data))
    wal = WAL(tmp_path / "wal", segment_bytes=size).open()
    assert wal.torn_bytes == 0  # the damage is in a closed segment, not a torn tail
    wal.set_readers(["a"])
    assert [r.body[0] for r in wal.read(Position(0, 0))] == [0, 2, 3]
    wal.close()
