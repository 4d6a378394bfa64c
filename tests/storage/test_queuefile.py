"""The on-disk queue of the persistent sending queue: framing, recovery, damage, acknowledgement."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from collector.storage.queuefile import HEADER_SIZE, Damage, Frame, QueueFile, frame, scan


def _open(directory: Path, **kwargs: object) -> QueueFile:
    directory.mkdir(parents=True, exist_ok=True)
    queue = QueueFile(directory, save_interval=0.0, **kwargs)  # type: ignore[arg-type]
    assert queue.lock()
    queue.open()
    return queue


def _drain(queue: QueueFile) -> list[bytes]:
    bodies = []
    while (taken := queue.take()) is not None:
        entry, body = taken
        bodies.append(body)
        queue.ack(entry.seq)
    return bodies


def _segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.q"))


def test_frame_roundtrip_and_scan() -> None:
    data = frame(b"hello" * 10, seq=7, items=3, signal=2) + frame(b"x", seq=8, items=1, signal=0, compress=False)
    found = list(scan(data))
    assert [(f.seq, f.items, f.signal) for f in found if isinstance(f, Frame)] == [(7, 3, 2), (8, 1, 0)]


def test_append_take_ack_and_restart_delivers_only_the_rest(tmp_path: Path) -> None:
    queue = _open(tmp_path)
    for i in range(5):
        queue.append(f"body{i}".encode(), items=i + 1, signal=0)
    assert (queue.live_records, queue.live_items) == (5, 15)
    first, _ = queue.take() or (None, b"")
    second, body = queue.take() or (None, b"")
    assert body == b"body1"
    assert first is not None and second is not None
    queue.ack(second.seq)  # out of order: the position stays before the first
    assert queue.consumed == 0
    queue.ack(first.seq)
    assert queue.consumed == 2
    queue.close()
    again = _open(tmp_path)
    assert _drain(again) == [b"body2", b"body3", b"body4"]
    again.close()
    assert _drain(_open(tmp_path)) == []


def test_records_taken_but_not_acked_come_back_after_restart(tmp_path: Path) -> None:
    queue = _open(tmp_path)
    queue.append(b"a", items=1, signal=0)
    queue.append(b"b", items=1, signal=0)
    entry, _ = queue.take() or (None, b"")
    queue.take()
    assert entry is not None
    queue.ack(entry.seq)
    queue.close()
    assert _drain(_open(tmp_path)) == [b"b"]


def test_delivered_segments_are_deleted(tmp_path: Path) -> None:
    queue = _open(tmp_path, segment_bytes=200)
    for i in range(20):
        queue.append(os.urandom(100), items=1, signal=0)
    assert len(_segments(tmp_path)) >= 10
    _drain(queue)
    assert len(_segments(tmp_path)) == 1  # only the one being written
    queue.close()


def test_bodies_beyond_the_resident_budget_are_read_back_from_disk(tmp_path: Path) -> None:
    queue = _open(tmp_path, resident_bytes=1000)
    bodies = [os.urandom(300) for _ in range(10)]
    for body in bodies:
        queue.append(body, items=1, signal=0)
    assert _drain(queue) == bodies
    queue.close()


def test_torn_tail_is_cut_and_later_appends_follow_intact_records(tmp_path: Path) -> None:
    queue = _open(tmp_path)
    queue.append(b"one", items=1, signal=0)
    queue.append(b"two" * 100, items=2, signal=0)
    queue.close()
    [segment] = _segments(tmp_path)
    size = segment.stat().st_size
    os.truncate(segment, size - 50)  # the process died inside the second write
    again = QueueFile(tmp_path)
    assert again.lock()
    recovery = again.open()
    assert recovery.torn_bytes > 0 and recovery.corrupt == []
    again.append(b"three", items=1, signal=0)
    again.close()
    assert _drain(_open(tmp_path)) == [b"one", b"three"]


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("where", ["body", "header"])
def test_corrupt_record_in_the_middle_is_skipped_and_reported(tmp_path: Path, where: str) -> None:
    queue = _open(tmp_path, compress=False)
    entries = [queue.append(f"record-{i}".encode() * 20, items=10 + i, signal=1) for i in range(5)]
    queue.close()
    [segment] = _segments(tmp_path)
    victim = entries[2]
    _flip(segment, victim.offset + (HEADER_SIZE + 5 if where == "body" else 6))
    again = QueueFile(tmp_path)
    assert again.lock()
    recovery = again.open()
    assert recovery.torn_bytes == 0
    [damage] = recovery.corrupt
    assert isinstance(damage, Damage)
    if where == "body":
        assert (damage.items, damage.signal, damage.seq) == (12, 1, 2)  # header intact: counted exactly
    else:
        assert damage.items == -1  # header damaged: resynchronised on the next record's magic
    assert recovery.records == 4
    assert _drain(again) == [f"record-{i}".encode() * 20 for i in (0, 1, 3, 4)]
    again.close()


def test_corrupt_tail_of_an_older_segment_is_corruption_not_a_torn_write(tmp_path: Path) -> None:
    queue = _open(tmp_path, segment_bytes=300, compress=False)
    for i in range(6):
        queue.append(bytes([65 + i]) * 200, items=1, signal=0)
    queue.close()
    first = _segments(tmp_path)[0]
    os.truncate(first, first.stat().st_size - 10)
    again = QueueFile(tmp_path)
    assert again.lock()
    recovery = again.open()
    assert recovery.torn_bytes == 0 and len(recovery.corrupt) == 1
    assert len(_drain(again)) == 5
    again.close()


def test_unreadable_consumed_position_replays_from_the_oldest_record(tmp_path: Path) -> None:
    queue = _open(tmp_path, segment_bytes=1 << 20)
    for i in range(3):
        queue.append(bytes([i]), items=1, signal=0)
    entry, _ = queue.take() or (None, b"")
    assert entry is not None
    queue.ack(entry.seq)
    queue.close()
    (tmp_path / "consumed").write_text("garbage")
    again = QueueFile(tmp_path)
    assert again.lock()
    recovery = again.open()
    assert recovery.consumed_unreadable
    assert _drain(again) == [b"\x00", b"\x01", b"\x02"]  # duplicates over loss
    again.close()


def test_compaction_on_open_rewrites_only_undelivered_records(tmp_path: Path) -> None:
    queue = _open(tmp_path, segment_bytes=1 << 20)
    for i in range(10):
        queue.append(os.urandom(1000), items=1, signal=0)
    for _ in range(8):
        entry, _ = queue.take() or (None, b"")
        assert entry is not None
        queue.ack(entry.seq)
    rest = [queue.take() for _ in range(2)]
    queue.close()
    before = sum(p.stat().st_size for p in _segments(tmp_path))
    again = QueueFile(tmp_path, compact_on_open=True, compaction_chunk=100, save_interval=0.0)
    assert again.lock()
    assert again.open().records == 2
    after = sum(p.stat().st_size for p in _segments(tmp_path))
    assert after < before / 3 and again.compacted_bytes == before - after
    assert _drain(again) == [body for _, body in (r for r in rest if r is not None)]
    again.close()


def test_interrupted_compaction_leaves_each_record_once(tmp_path: Path) -> None:
    queue = _open(tmp_path)
    for i in range(3):
        queue.append(bytes([i]) * 10, items=1, signal=0)
    queue.close()
    [segment] = _segments(tmp_path)
    # a crash after the copy was written and before the original was deleted: two copies
    (tmp_path / "00000001.q").write_bytes(segment.read_bytes())
    assert _drain(_open(tmp_path)) == [bytes([i]) * 10 for i in range(3)]


def test_second_owner_cannot_lock_until_the_first_closes(tmp_path: Path) -> None:
    first = _open(tmp_path)
    second = QueueFile(tmp_path)
    assert not second.lock()
    first.close()
    assert second.lock()
    second.open()
    second.close()


def test_failed_append_leaves_the_segment_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    queue = _open(tmp_path)
    queue.append(b"kept", items=1, signal=0)
    real_write = os.write
    calls = {"n": 0}

    def failing_write(fd: int, data: bytes | memoryview) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            return real_write(fd, bytes(data)[:10])  # a short write, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", failing_write)
    with pytest.raises(OSError):
        queue.append(b"lost-attempt" * 10, items=1, signal=0)
    monkeypatch.setattr(os, "write", real_write)
    queue.append(b"after", items=1, signal=0)
    queue.close()
    again = QueueFile(tmp_path)
    assert again.lock()
    recovery = again.open()
    assert recovery.corrupt == [] and recovery.torn_bytes == 0
    assert _drain(again) == [b"kept", b"after"]
    again.close()


def test_failed_append_frees_a_drained_segment_being_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A disk smaller than `segment_bytes`: once the backlog is delivered, a failed append must let go
    of the segment being written (all consumed), or the disk stays full and appends fail forever."""
    queue = _open(tmp_path)
    for n in range(3):
        queue.append(b"old-%d" % n, items=1, signal=0)
    [full] = _segments(tmp_path)
    real_write = os.write

    def no_space(fd: int, data: bytes | memoryview) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", no_space)
    with pytest.raises(OSError):  # records still undelivered: their segment must stay
        queue.append(b"new", items=1, signal=0)
    assert _segments(tmp_path) == [full]
    assert _drain(queue) == [b"old-0", b"old-1", b"old-2"]
    assert _segments(tmp_path) == [full]  # delivered, but it is the segment being written
    with pytest.raises(OSError):
        queue.append(b"new", items=1, signal=0)
    assert full not in _segments(tmp_path)  # freed: the next append can find room
    monkeypatch.setattr(os, "write", real_write)
    queue.append(b"new", items=1, signal=0)
    queue.close()
    again = QueueFile(tmp_path)
    assert again.lock()
    again.open()
    assert _drain(again) == [b"new"]
    again.close()
