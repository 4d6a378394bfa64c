"""Unit tests of the shared-memory ring: framing, space accounting, cursors, attach by name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from collector.runtime.ring import RECORD_HEADER_SIZE, Record, RecordHeader, Ring, RingCorruptError, record_size

HEADER = RecordHeader(signal=2, component=7, arrival_ns=123_456_789_012)


@pytest.fixture(params=[False, True], ids=["plain", "crc"])
def ring(request: pytest.FixtureRequest) -> Iterator[Ring]:
    r = Ring.create(1024, checksum=request.param)
    yield r
    r.close()
    r.unlink()


def drain(ring: Ring) -> list[Record]:
    out = []
    while (rec := ring.next_record()) is not None:
        out.append(rec)
    return out


def test_empty_ring_has_nothing(ring: Ring) -> None:
    assert ring.next_record() is None
    assert ring.used_bytes() == 0
    assert ring.pending_records() == 0


def test_put_get_keeps_header_data_and_seq(ring: Ring) -> None:
    assert ring.try_put(HEADER, b"hello")
    assert ring.try_put(RecordHeader(0, 65535, 2**64 - 1), bytearray(b""))
    assert ring.try_put(HEADER, memoryview(b"abcdef")[1:4])
    first, second, third = drain(ring)
    assert (first.seq, first.header, first.data) == (0, HEADER, b"hello")
    assert (second.seq, second.header, second.data) == (1, RecordHeader(0, 65535, 2**64 - 1), b"")
    assert (third.seq, third.data) == (2, b"bcd")
    assert first.end == record_size(5)
    assert third.end == record_size(5) + record_size(0) + record_size(3)
    assert ring.used_bytes() == third.end
    assert ring.pending_records() == 3


def test_full_ring_refuses_until_released(ring: Ring) -> None:
    payload = b"x" * (256 - RECORD_HEADER_SIZE)  # four records fill 1024 bytes exactly
    for _ in range(4):
        assert ring.try_put(HEADER, payload)
    assert ring.used_bytes() == ring.capacity
    assert not ring.try_put(HEADER, b"")
    first = ring.next_record()
    assert first is not None
    assert not ring.try_put(HEADER, b""), "reading alone frees nothing"
    ring.release_to(first.end)
    assert ring.free_bytes() == 256
    assert ring.try_put(HEADER, payload)
    assert not ring.try_put(HEADER, b"")


def test_exact_fit_record_uses_the_whole_ring(ring: Ring) -> None:
    payload = bytes(range(256)) * 3 + b"\x01" * (1024 - RECORD_HEADER_SIZE - 768)
    assert record_size(len(payload)) == ring.capacity
    for round_ in range(3):  # start at offset 0, then at other offsets once the cursor has moved
        assert ring.try_put(HEADER, payload)
        assert not ring.try_put(HEADER, b"")
        rec = ring.next_record()
        assert rec is not None and rec.data == payload
        ring.release_to(rec.end)
        assert ring.try_put(HEADER, b"z" * (8 * round_ + 1))
        small = ring.next_record()
        assert small is not None
        ring.release_to(small.end)


def test_record_larger_than_capacity_is_an_error(ring: Ring) -> None:
    with pytest.raises(ValueError, match="can never fit"):
        ring.try_put(HEADER, b"x" * (ring.capacity - RECORD_HEADER_SIZE + 1))
    assert ring.used_bytes() == 0
    assert ring.try_put(HEADER, b"x" * (ring.capacity - RECORD_HEADER_SIZE))


@pytest.mark.parametrize("lead", [0, 8, 16, 24, 32, 40, 48, 56, 64])
def test_wrap_splits_header_or_payload(ring: Ring, lead: int) -> None:
    """Leave `lead` bytes before the end so the next record splits at every possible point."""
    filler = ring.capacity - record_size(128) - lead - RECORD_HEADER_SIZE
    assert ring.try_put(HEADER, b"f" * 128)
    assert ring.try_put(HEADER, b"g" * filler)
    for rec in drain(ring):
        ring.release_to(rec.end)
    assert ring.used_bytes() == 0 and ring.committed_position % ring.capacity == (ring.capacity - lead) % ring.capacity
    payload = bytes(range(200))
    assert ring.try_put(RecordHeader(9, 513, 42), payload)
    rec = ring.next_record()
    assert rec is not None
    assert (rec.header, rec.data) == (RecordHeader(9, 513, 42), payload)
    ring.release_to(rec.end)
    assert ring.used_bytes() == 0


def test_release_to_is_monotonic_and_bounded(ring: Ring) -> None:
    for i in range(3):
        assert ring.try_put(HEADER, bytes([i]) * 10)
    a, b, c = drain(ring)
    with pytest.raises(ValueError):
        ring.release_to(c.end + 8)  # beyond what was read
    ring.release_to(b.end)
    assert ring.committed_position == b.end
    assert ring.pending_records() == 1
    ring.release_to(b.end)  # idempotent
    with pytest.raises(ValueError):
        ring.release_to(a.end)  # backwards
    with pytest.raises(ValueError, match="record boundary"):
        ring.release_to(b.end + 8)  # inside record c
    ring.release_to(c.end)
    assert ring.used_bytes() == 0 and ring.pending_records() == 0


def test_rewind_replays_read_but_unreleased(ring: Ring) -> None:
    for i in range(4):
        assert ring.try_put(HEADER, str(i).encode())
    records = drain(ring)
    ring.release_to(records[1].end)
    ring.rewind()
    again = drain(ring)
    assert [r.data for r in again] == [b"2", b"3"]
    assert [r.seq for r in again] == [2, 3]
    ring.rewind()
    ring.rewind()
    assert ring.read_position == records[1].end


def test_attach_by_name_sees_the_same_ring(ring: Ring) -> None:
    producer = Ring.attach(ring.name)
    consumer = Ring.attach(ring.name)
    try:
        assert (producer.capacity, producer.checksum) == (ring.capacity, ring.checksum)
        assert producer.try_put(HEADER, b"over shm")
        rec = consumer.next_record()
        assert rec is not None and rec.data == b"over shm"
        consumer.release_to(rec.end)
        assert ring.used_bytes() == 0
    finally:
        producer.close()
        consumer.close()


@pytest.mark.parametrize("size", [4096, 100])
def test_attach_refuses_foreign_segment(size: int) -> None:
    from multiprocessing.shared_memory import SharedMemory

    shm = SharedMemory(create=True, size=size)
    try:
        with pytest.raises(ValueError, match="not a ring"):
            Ring.attach(shm.name)
    finally:
        shm.close()
        shm.unlink()


def test_seq_and_positions_continue_across_reattached_ends(ring: Ring) -> None:
    producer, consumer = Ring.attach(ring.name), Ring.attach(ring.name)
    for i in range(5):
        assert producer.try_put(HEADER, b"a" * i)
    read = [consumer.next_record() for _ in range(3)]
    assert read[1] is not None
    consumer.release_to(read[1].end)
    producer.close()
    consumer.close()  # a consumer that dies here had read record 2 but not released it

    producer, consumer = Ring.attach(ring.name), Ring.attach(ring.name)
    try:
        assert producer.next_seq == 5
        assert producer.try_put(HEADER, b"after restart")
        records = drain(consumer)
        assert [r.seq for r in records] == [2, 3, 4, 5]
        assert records[-1].data == b"after restart"
        assert ring.pending_records() == 4
    finally:
        producer.close()
        consumer.close()


def test_corruption_is_reported_without_checksums() -> None:
    with Ring.create(256, checksum=False) as ring:
        assert ring.try_put(HEADER, b"abc")
        ring._mm[256:264] = b"\xff" * 8  # clobber the record's own position (test-only poke)
        with pytest.raises(RingCorruptError):
            ring.next_record()


@pytest.mark.parametrize(
    "at", [0, 8, 24, RECORD_HEADER_SIZE], ids=["stale-position", "seq", "length", "payload"]
)
def test_not_yet_visible_record_is_held_back_with_checksums(at: int) -> None:
    """What a weakly ordered CPU may show: new write_pos, old or half-written record bytes."""
    with Ring.create(256, checksum=True) as ring:
        assert ring.try_put(HEADER, b"abcdef")
        at += 256  # the data area follows the control block
        good = ring._mm[at : at + 1]
        ring._mm[at : at + 1] = bytes([good[0] ^ 0x40])
        assert ring.next_record() is None
        assert ring.unsettled_reads == 1
        ring._mm[at : at + 1] = good  # the store becomes visible
        rec = ring.next_record()
        assert rec is not None and rec.data == b"abcdef"


def test_capacity_is_rounded_and_bounded() -> None:
    with Ring.create(1001) as ring:
        assert ring.capacity == 1008
    with pytest.raises(ValueError):
        Ring.create(8)


def test_item_count_travels_in_the_header() -> None:
    with Ring.create(4096) as ring:
        assert ring.try_put(RecordHeader(1, 2, 3, items=4_000_000_000), b"payload")
        record = ring.next_record()
        assert record is not None and record.header.items == 4_000_000_000
