"""Rings give pages back (`Ring.trim`): memory is freed in the /dev/shm file and in every mapping, and
a hole never covers a byte the consumer has not released (property test with random record sizes).
The warm region (ring.py point 8) keeps its pages while the producer writes and gives them back once
the ring is empty and the producer idle."""

from __future__ import annotations

import mmap
from collections import deque
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.runtime.ring import Record, RecordHeader, Ring, record_size
from tests.runtime.ring_model import ConsumerModel, allocated, payload_for

HEADER = RecordHeader(signal=1, component=3, arrival_ns=1, items=1)
PAGE = mmap.PAGESIZE


def mapped_rss(ring: Ring) -> int:
    """Resident bytes of this process's mappings of the ring (/proc/self/smaps)."""
    total, inside = 0, False
    with open("/proc/self/smaps") as handle:
        for line in handle:
            head = line.split(None, 1)[0]
            if "-" in head and not head.endswith(":"):
                inside = line.rstrip().endswith(f"/dev/shm/{ring.name}")
            elif inside and head == "Rss:":
                total += int(line.split()[1]) * 1024
    return total


@pytest.fixture
def ends() -> Iterator[tuple[Ring, Ring, Ring]]:
    """(owner, producer, consumer) of one 4 MiB ring, as the supervisor, a receiver and a worker hold it."""
    owner = Ring.create(4 << 20, checksum=False)
    producer, consumer = Ring.attach(owner.name), Ring.attach(owner.name)
    yield owner, producer, consumer
    for ring in (producer, consumer, owner):
        ring.close()
    owner.unlink()


def pump(producer: Ring, consumer: Ring, count: int, size: int) -> None:
    """Push `count` records through, consumer releasing as it goes (a burst that goes round the ring)."""
    data = b"x" * size
    for _ in range(count):
        while not producer.try_put(HEADER, data):
            while (record := consumer.next_record()) is not None:
                consumer.release_to(record.end)


def drain(consumer: Ring) -> list[Record]:
    out = []
    while (record := consumer.next_record()) is not None:
        out.append(record)
        consumer.release_to(record.end)
    return out


def test_a_ring_that_went_through_a_burst_gives_its_pages_back(ends: tuple[Ring, Ring, Ring]) -> None:
    owner, producer, consumer = ends
    pump(producer, consumer, 1000, 10_000)  # ~10 MB through a 4 MiB ring: (nearly) every page touched
    drain(consumer)
    warm = producer.warm_bytes
    assert warm > 0
    assert allocated(owner) >= (4 << 20) * 9 // 10
    assert mapped_rss(owner) >= (4 << 20) * 9 // 10  # producer's and consumer's mappings (owner maps only the control block)
    freed = producer.trim()  # the producer wrote since the last trim: its warm region stays
    assert freed >= (4 << 20) - warm - 2 * PAGE
    assert allocated(owner) <= warm + 3 * PAGE
    freed = producer.trim()  # nothing written since, and the ring is empty: the warm pages go too
    assert freed >= warm - PAGE
    # kept: page 0 (control block), the page holding read_pos, and the data area's last, partial page
    assert allocated(owner) <= 3 * PAGE
    assert mapped_rss(owner) <= 9 * PAGE  # the same few pages in each of the three mappings: the punch unmapped the rest
    # the ring still works: new records land in re-faulted (zeroed, then written) pages
    pump(producer, consumer, 10, 1000)
    assert [r.data for r in drain(consumer)] == [b"x" * 1000] * 10


def test_trim_keeps_unreleased_records_and_waits_for_a_megabyte(ends: tuple[Ring, Ring, Ring]) -> None:
    owner, producer, consumer = ends
    pump(producer, consumer, 300, 10_000)  # ~3 MB in the ring, nothing read
    assert producer.trim() == 0  # nothing released: nothing to give back
    records = [consumer.next_record() for _ in range(30)]
    assert records[-1] is not None
    consumer.release_to(records[-1].end)  # ~300 kB released: less than TRIM_BYTES
    assert producer.trim() == 0
    for _ in range(100):
        record = consumer.next_record()
        assert record is not None
        consumer.release_to(record.end)
    before = allocated(owner)
    # 130 records released: all their whole pages past the warm region go (the warm region stays
    # while the ring is not empty)
    assert producer.trim() >= 130 * record_size(10_000) - producer.warm_bytes - 2 * PAGE
    assert allocated(owner) < before
    rest = drain(consumer)
    assert len(rest) == 170 and all(r.data == b"x" * 10_000 for r in rest)


def test_an_empty_ring_is_trimmed_whatever_it_held(ends: tuple[Ring, Ring, Ring]) -> None:
    owner, producer, consumer = ends
    pump(producer, consumer, 20, 3000)
    drain(consumer)
    assert producer.trim() == 0  # empty, but all of it in the warm region and the producer just wrote
    assert allocated(owner) > 3 * PAGE
    assert producer.trim() > 0  # less than TRIM_BYTES, but the ring is empty and the producer idle
    assert allocated(owner) <= 3 * PAGE


def test_a_busy_ring_keeps_its_pages_until_it_calms_down(ends: tuple[Ring, Ring, Ring]) -> None:
    owner, producer, consumer = ends
    pump(producer, consumer, 1000, 10_000)  # ~10 MB since the ring was made: busy
    drain(consumer)
    assert producer.trim(busy=1 << 20) == 0
    assert allocated(owner) >= (4 << 20) * 9 // 10
    assert producer.trim(busy=1 << 20) >= (4 << 20) - 2 * PAGE  # nothing written since: calm (and idle)
    assert allocated(owner) <= 3 * PAGE


def test_adoption_after_trims_reads_every_unreleased_record(ends: tuple[Ring, Ring, Ring]) -> None:
    """A producer and consumer that die after trimming leave a ring their successors read intact."""
    owner, producer, consumer = ends
    pump(producer, consumer, 700, 9000)
    drain(consumer)
    producer.trim()
    for seq in range(200):
        assert producer.try_put(HEADER, payload_for(seq, 9000))
    first = [consumer.next_record() for _ in range(50)]
    assert first[-1] is not None
    consumer.release_to(first[-1].end)
    producer.trim(minimum=0)
    producer.close()
    consumer.close()  # "killed": the 50 read records were released, the rest were not
    successor_producer, successor_consumer = Ring.attach(owner.name), Ring.attach(owner.name)
    try:
        successor_producer.trim(minimum=0)  # a new producer has no memory of what was trimmed
        rest = drain(successor_consumer)
        assert [r.data for r in rest] == [payload_for(seq, 9000) for seq in range(50, 200)]
    finally:
        successor_producer.close()
        successor_consumer.close()


def test_a_restarted_producer_never_trims_the_next_lap_of_a_full_ring() -> None:
    """The released bytes just below read_pos share their pages with the newest, unreleased records
    of the next lap when the ring is nearly full: a producer that trimmed from its memory alone (a
    restarted one has none) would punch those. The bound `write_pos - capacity` keeps them."""
    owner = Ring.create(16 * PAGE - 256, checksum=False)
    producer, consumer = Ring.attach(owner.name), Ring.attach(owner.name)
    try:
        published: deque[int] = deque()
        for seq in range(40):  # round the ring more than once, releasing only when it is full
            while not producer.try_put(HEADER, payload_for(seq, 3000)):
                record = consumer.next_record()
                assert record is not None
                consumer.release_to(record.end)
                published.popleft()
            published.append(seq)
        record = consumer.next_record()
        assert record is not None
        consumer.release_to(record.end)
        published.popleft()
        producer.close()
        producer = Ring.attach(owner.name)
        producer.trim(minimum=0)
        assert [r.data for r in drain(consumer)] == [payload_for(seq, 3000) for seq in published]
    finally:
        for ring in (producer, consumer, owner):
            ring.close()
        owner.unlink()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(capacity_pages=st.integers(3, 24), checksum=st.booleans(),
       steps=st.lists(st.tuples(st.sampled_from(["put", "put", "put", "read", "release", "trim", "rewind", "restart"]),
                                st.integers(0, 3 * PAGE)), min_size=1, max_size=200))
def test_trim_never_punches_unreleased_bytes(capacity_pages: int, checksum: bool,
                                             steps: list[tuple[str, int]]) -> None:
    """Random record sizes (many span pages, some wrap) interleaved with trims at any threshold:
    every record read is the one put, byte for byte, and trim only ever frees released space, also
    when a new producer (a restarted receiver) trims a ring it did not fill."""
    owner = Ring.create(capacity_pages * PAGE - 256, checksum=checksum)  # data area ends on a page boundary
    producer, consumer = Ring.attach(owner.name), Ring.attach(owner.name)
    try:
        model = ConsumerModel()
        seq = 0
        for action, value in steps:
            if action == "put":
                size = min(value, owner.capacity - 40)
                if producer.try_put(HEADER, payload_for(seq, size)):
                    model.published.append((seq, size))
                    seq += 1
                else:
                    assert owner.free_bytes() < record_size(size)
            elif action == "read":
                model.read_one(consumer)
            elif action == "release" and model.read:
                model.release(consumer, 1 + value % len(model.read))
            elif action == "trim":
                used_before = owner.used_bytes()
                producer.trim(minimum=value)
                assert owner.used_bytes() == used_before
            elif action == "rewind":
                consumer.rewind()
                model.forget_reads()
            elif action == "restart":  # a restarted receiver: a producer that knows nothing of past trims
                producer.close()
                producer = Ring.attach(owner.name)
        model.check_intact(consumer)
    finally:
        for ring in (producer, consumer, owner):
            ring.close()
        owner.unlink()
