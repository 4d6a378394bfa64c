"""The warm region and early wrap (ring.py point 8): at light load records cycle through the first
pages of the data area behind skip markers, which the consumer steps over and releases with what
comes before them; under pressure the producer writes linearly and the whole capacity stays usable;
format-2 rings (no markers) are still read and never get one."""

from __future__ import annotations

import mmap
from collections import deque
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.runtime.adoption import find_rings, plan_rings, ring_name
from collector.runtime.ring import (
    CONTROL_SIZE,
    RECORD_HEADER_SIZE,
    RECORD_SKIP,
    WARM_BYTES,
    Record,
    RecordHeader,
    Ring,
    RingCorruptError,
    record_size,
    warm_bytes,
)
from collector.runtime.settings import Topology
from tests.runtime.ring_model import ConsumerModel, allocated, payload_for
from collector.signals import Signal

HEADER = RecordHeader(signal=1, component=3, arrival_ns=1, items=1)
PAGE = mmap.PAGESIZE
_MAGIC_WORD = 0
_WRITE_WORD = 8


def write_pos(ring: Ring) -> int:
    return ring.used_bytes() + ring.committed_position


@pytest.fixture(params=[False, True], ids=["plain", "checksum"])
def ends(request: pytest.FixtureRequest) -> Iterator[tuple[Ring, Ring, Ring]]:
    """(owner, producer, consumer) of one 4 MiB ring."""
    owner = Ring.create(4 << 20, checksum=request.param)
    producer, consumer = Ring.attach(owner.name), Ring.attach(owner.name)
    yield owner, producer, consumer
    for ring in (producer, consumer, owner):
        ring.close()
    owner.unlink()


def light_load(producer: Ring, consumer: Ring, records: int, size: int, lag: int, first_seq: int = 0) -> list[Record]:
    """Put `records` records, the consumer reading each at once and releasing it `lag` records later
    (a worker whose batch holds `lag` records): what was read and not released."""
    held: deque[Record] = deque()
    for seq in range(first_seq, first_seq + records):
        assert producer.try_put(HEADER, payload_for(seq, size))
        record = consumer.next_record()
        assert record is not None and record.seq == seq and record.data == payload_for(seq, size)
        held.append(record)
        if len(held) > lag:
            consumer.release_to(held.popleft().end)
    return list(held)


def test_the_warm_region_fits_small_rings_and_ends_on_a_page() -> None:
    assert warm_bytes(64 << 20) == WARM_BYTES - CONTROL_SIZE
    assert warm_bytes(1 << 20) == (1 << 17) - CONTROL_SIZE  # an eighth of the smallest COLLECTOR_RING_BYTES
    assert warm_bytes(4 * PAGE) == 0  # too small for a page: no early wrap
    for capacity in (1 << 20, 5 << 20, 64 << 20):
        assert (CONTROL_SIZE + warm_bytes(capacity)) % PAGE == 0


def test_light_load_cycles_through_the_warm_region(ends: tuple[Ring, Ring, Ring]) -> None:
    owner, producer, consumer = ends
    warm = producer.warm_bytes
    size = 20_000
    held = light_load(producer, consumer, 2000, size, lag=8)  # ~40 MB: ten laps of a 4 MiB ring
    assert write_pos(owner) > 9 * owner.capacity
    # every record ended inside the warm region, and so did every marker: no page past it was written
    assert all(record.end % owner.capacity <= warm for record in held)
    assert allocated(owner) <= CONTROL_SIZE + warm
    assert owner.pending_records() == len(held)
    consumer.release_to(held[-1].end)
    assert owner.used_bytes() == 0  # no skipped bytes left in use


def test_warm_pages_are_not_punched_while_the_producer_writes(ends: tuple[Ring, Ring, Ring]) -> None:
    owner, producer, consumer = ends
    seq = 0
    for _ in range(20):  # twenty timer ticks at light load
        light_load(producer, consumer, 100, 20_000, lag=0, first_seq=seq)
        seq += 100
        producer.trim()
        # the pages the producer cycles through stay: nothing is faulted in again on the next lap
        assert allocated(owner) >= producer.warm_bytes * 9 // 10
    assert producer.trim() > 0  # idle for a tick and empty: the warm region goes too
    assert allocated(owner) <= 3 * PAGE


def test_resident_size_is_bounded_at_light_load_and_drops_after_a_burst() -> None:
    owner = Ring.create(16 << 20, checksum=False)
    producer, consumer = Ring.attach(owner.name), Ring.attach(owner.name)
    try:
        # the warm pages, plus the page of a marker written where a burst left the producer and the
        # page holding read_pos, which `trim` keeps while it is not whole
        bound = CONTROL_SIZE + producer.warm_bytes + 2 * PAGE
        seq = 0
        for _ in range(10):
            held = light_load(producer, consumer, 200, 20_000, lag=10, first_seq=seq)
            consumer.release_to(held[-1].end)
            seq += 200
            producer.trim()
            assert allocated(owner) <= bound
        # a burst: the consumer falls behind by most of the ring
        for _ in range(700):
            assert producer.try_put(HEADER, payload_for(seq, 20_000))
            seq += 1
        assert allocated(owner) >= 13 << 20
        drained = 0
        while (record := consumer.next_record()) is not None:
            consumer.release_to(record.end)
            drained += 1
        assert drained == 700
        producer.trim()
        assert allocated(owner) <= bound  # past the warm region: given back at the first tick
        producer.trim()
        assert allocated(owner) <= 3 * PAGE  # idle and empty: all of it
        # and light load goes on in the warm region, with no record lost
        light_load(producer, consumer, 300, 20_000, lag=10, first_seq=seq)
        assert allocated(owner) <= bound
    finally:
        for ring in (producer, consumer, owner):
            ring.close()
        owner.unlink()


def test_a_skip_marker_is_stepped_over_and_released_with_the_record_before_it(
        ends: tuple[Ring, Ring, Ring]) -> None:
    owner, producer, consumer = ends
    cap, warm = owner.capacity, producer.warm_bytes
    size = 30_000
    count = (warm - RECORD_HEADER_SIZE) // record_size(size)  # as many as the warm region holds
    for seq in range(count):
        assert producer.try_put(HEADER, payload_for(seq, size))
    records = [record for _ in range(count) if (record := consumer.next_record()) is not None]
    assert len(records) == count
    before = records[-1]
    assert before.end + record_size(size) + RECORD_HEADER_SIZE > warm
    consumer.release_to(records[-3].end)  # a light load: two records held
    assert producer.try_put(HEADER, payload_for(count, size))  # leaves the warm region: starts the next lap
    after = consumer.next_record()
    assert after is not None and (after.seq, after.data) == (count, payload_for(count, size))
    assert after.end == cap + record_size(size)  # at the start of the second lap
    # the marker at `before.end` says how far it skips, and nothing else reads as a record there
    marker = consumer._data[before.end : before.end + RECORD_HEADER_SIZE]
    assert marker[31] == RECORD_SKIP and int.from_bytes(marker[:8], "little") == before.end
    assert owner.free_bytes() < cap // 2  # the skipped bytes are in use, behind two held records
    assert owner.used_bytes() == 3 * record_size(size)  # but they are no record: the fill shows the records
    consumer.release_to(before.end)  # stepped over already: the skipped bytes go with it
    assert owner.committed_position == cap
    assert owner.used_bytes() == record_size(size) and owner.pending_records() == 1
    consumer.release_to(after.end)
    assert owner.used_bytes() == 0 and owner.pending_records() == 0


def test_a_marker_at_the_released_position_is_released_as_it_is_stepped_over(
        ends: tuple[Ring, Ring, Ring]) -> None:
    owner, producer, consumer = ends
    size = 30_000
    count = (producer.warm_bytes - RECORD_HEADER_SIZE) // record_size(size)
    for seq in range(count):
        assert producer.try_put(HEADER, payload_for(seq, size))
    records = [record for _ in range(count) if (record := consumer.next_record()) is not None]
    assert len(records) == count
    consumer.release_to(records[-1].end)  # everything read is released: read_pos is where the marker will be
    assert producer.try_put(HEADER, payload_for(count, size))  # early wrap
    assert owner.free_bytes() < owner.capacity // 2  # the skipped bytes are in use until released
    record = consumer.next_record()
    assert record is not None and record.seq == count and record.data == payload_for(count, size)
    assert owner.used_bytes() == record_size(size)  # stepping over released them: nothing else would


def test_rewind_and_a_new_consumer_read_again_across_markers(ends: tuple[Ring, Ring, Ring]) -> None:
    owner, producer, consumer = ends
    held = light_load(producer, consumer, 500, 20_000, lag=10)  # 26 records a lap: a marker among the held
    assert held[0].end // owner.capacity != held[-1].end // owner.capacity
    consumer.rewind()
    again = [consumer.next_record() for _ in held]
    assert [(r.seq, r.data) for r in again if r is not None] == [(r.seq, r.data) for r in held]
    assert consumer.next_record() is None
    successor = Ring.attach(owner.name)  # a restarted worker
    try:
        again = [successor.next_record() for _ in held]
        assert [(r.seq, r.end) for r in again if r is not None] == [(r.seq, r.end) for r in held]
        assert successor.next_record() is None
    finally:
        successor.close()


def fill(producer: Ring, first_seq: int, size: int) -> int:
    """Put records until the ring refuses one; the next seq."""
    seq = first_seq
    while producer.try_put(HEADER, payload_for(seq, size)):
        seq += 1
    return seq


def test_under_pressure_the_whole_capacity_is_used(ends: tuple[Ring, Ring, Ring]) -> None:
    """A consumer that falls behind while the producer is in the warm region: the backlog passes half
    of it before the producer leaves it, so the producer writes on linearly through the capacity."""
    owner, producer, consumer = ends
    size = 9_000
    end = fill(producer, 0, size)
    assert owner.free_bytes() < record_size(size)  # refused only when it does not fit
    assert owner.used_bytes() == end * record_size(size) > owner.capacity - record_size(size)
    records = []
    while (record := consumer.next_record()) is not None:  # read, not released: a backend is down
        records.append(record)
    assert [(r.seq, r.data) for r in records] == [(s, payload_for(s, size)) for s in range(end)]
    consumer.release_to(records[-1].end)
    assert owner.used_bytes() == 0 and owner.free_bytes() == owner.capacity
    # the producer is past the warm region now, far into the ring: light load brings it back
    held = light_load(producer, consumer, 10, size, lag=3, first_seq=end)
    assert held[-1].end % owner.capacity < producer.warm_bytes


def test_a_refusal_pauses_early_wraps(ends: tuple[Ring, Ring, Ring]) -> None:
    """After a refused put the producer writes linearly for `early_wrap_pause` (point 8), so a load
    that needed the whole capacity is not held to a warm region's worth by a marker it just wrote."""
    owner, producer, consumer = ends
    size = 9_000
    end = fill(producer, 0, size)  # refused: the ring is full
    drained = []
    while (record := consumer.next_record()) is not None:
        drained.append(record)
    consumer.release_to(drained[-1].end)
    per_warm = producer.warm_bytes // record_size(size)
    held = light_load(producer, consumer, 3 * per_warm, size, lag=3, first_seq=end)
    assert held[-1].end % owner.capacity > 2 * producer.warm_bytes  # went on past the warm region
    producer.early_wrap_pause = 0.0  # the pause is over
    records = owner.capacity // record_size(size)
    held = light_load(producer, consumer, records, size, lag=3, first_seq=end + 3 * per_warm)
    assert held[-1].end % owner.capacity <= producer.warm_bytes  # back in the warm region


def test_an_early_wrap_pins_the_skipped_bytes_until_the_records_before_it_are_released(
        ends: tuple[Ring, Ring, Ring]) -> None:
    """The cost of an early wrap (point 8): a consumer that stops releasing just after one (a backend
    down) leaves the skipped bytes in use, and the ring takes about a warm region's worth; once the
    records before the marker are released, the whole capacity is back."""
    owner, producer, consumer = ends
    size = 9_000
    per_lap = (producer.warm_bytes - RECORD_HEADER_SIZE) // record_size(size)
    held = light_load(producer, consumer, per_lap + 1, size, lag=3)  # the last one started the next lap
    assert held[-1].end == owner.capacity + record_size(size)
    seq = fill(producer, per_lap + 1, size)
    assert owner.free_bytes() < record_size(size)
    pinned = (seq - per_lap - 1) * record_size(size)
    assert pinned < producer.warm_bytes  # the rest of the capacity is held by the skipped bytes
    records = []
    while (record := consumer.next_record()) is not None:
        records.append(record)
    assert [r.seq for r in records] == list(range(per_lap + 1, seq))
    consumer.release_to(held[1].end)  # the records before the marker are delivered: the marker goes too
    assert owner.free_bytes() > owner.capacity - producer.warm_bytes
    more = fill(producer, seq, size)
    assert (more - held[2].seq) * record_size(size) > owner.capacity - record_size(size)


def test_a_format_2_ring_is_read_and_never_gets_a_marker() -> None:
    owner = Ring.create(4 << 20, checksum=False)
    owner._idx[_MAGIC_WORD] = int.from_bytes(b"CRING\x00\x02\x00", "little")  # as an older collector made it
    producer, consumer = Ring.attach(owner.name), Ring.attach(owner.name)
    try:
        assert producer.warm_bytes == 0
        light_load(producer, consumer, 500, 20_000, lag=4)
        # linear, as format 2: no record started a lap early, so no marker was written
        assert write_pos(owner) == 500 * record_size(20_000) > 2 * owner.capacity
    finally:
        for ring in (producer, consumer, owner):
            ring.close()
        owner.unlink()


def test_a_marker_that_does_not_end_a_lap_is_corruption() -> None:
    owner = Ring.create(1 << 20, checksum=False)
    producer, consumer = Ring.attach(owner.name), Ring.attach(owner.name)
    try:
        assert producer.try_put(HEADER, b"x" * 100)
        flags_at = CONTROL_SIZE + 31
        producer._mm[flags_at] = RECORD_SKIP  # a foreign writer's "marker" in the middle of the lap
        with pytest.raises(RingCorruptError):
            consumer.next_record()
    finally:
        for ring in (producer, consumer, owner):
            ring.close()
        owner.unlink()


def test_an_adopted_ring_with_markers_drains_every_unreleased_record(ident: str) -> None:
    old = Topology({Signal.TRACES: 1, Signal.METRICS: 1, Signal.LOGS: 1}, 1, 4 << 20)
    first = plan_rings(ident, old, find_rings(ident))
    live = first.live[(0, Signal.TRACES, 0)]
    producer, consumer = Ring.attach(live.name), Ring.attach(live.name)
    # 26 records a lap: markers behind and among the held records
    held = light_load(producer, consumer, 26 * 26 + 5, 20_000, lag=10)
    assert held[0].end // (4 << 20) != held[-1].end // (4 << 20)
    for ring in [producer, consumer, *first.live.values()]:
        ring.close()  # the predecessor dies
    new = Topology({Signal.TRACES: 2, Signal.METRICS: 1, Signal.LOGS: 1}, 1, 4 << 20)  # another geometry
    second = plan_rings(ident, new, find_rings(ident))
    try:
        draining = [a for a in second.draining if a.signal is Signal.TRACES]
        assert len(draining) == 1 and draining[0].records == len(held)
        ring = draining[0].ring
        drained = []
        while (record := ring.next_record()) is not None:
            drained.append(record)
            ring.release_to(record.end)
        assert [(r.seq, r.data) for r in drained] == [(r.seq, r.data) for r in held]
        assert ring.used_bytes() == 0  # so the supervisor unlinks it
    finally:
        for adopted in second.draining:
            adopted.ring.close()
        for ring in second.live.values():
            ring.close()


def test_an_adopted_format_2_ring_is_reopened_as_it_was(ident: str) -> None:
    topology = Topology({Signal.TRACES: 1, Signal.METRICS: 1, Signal.LOGS: 1}, 1, 1 << 20)
    old = Ring.create(1 << 20, ring_name(ident, 0, 0, Signal.TRACES, 0), checksum=False, tracked=False)
    old._idx[_MAGIC_WORD] = int.from_bytes(b"CRING\x00\x02\x00", "little")
    for seq in range(5):
        assert old.try_put(HEADER, payload_for(seq, 100))
    old.close()
    plan = plan_rings(ident, topology, find_rings(ident))
    try:
        assert (0, Signal.TRACES, 0) in plan.reopened
        ring = plan.live[(0, Signal.TRACES, 0)]
        assert ring.warm_bytes == 0
        records = [record for _ in range(5) if (record := ring.next_record()) is not None]
        assert [r.data for r in records] == [payload_for(s, 100) for s in range(5)]
    finally:
        for ring in plan.live.values():
            ring.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(capacity_pages=st.integers(2, 24), warm_pages=st.one_of(st.integers(1, 3), st.integers(0, 12)),
       checksum=st.booleans(),
       steps=st.lists(st.tuples(st.sampled_from(["put", "put", "put", "put", "read", "release", "catch_up", "trim",
                                                 "rewind", "restart_producer", "restart_consumer"]),
                                st.one_of(st.integers(0, 700), st.integers(0, 2 * PAGE))), min_size=40, max_size=300))
def test_records_are_never_lost_or_duplicated_across_early_wraps(
        capacity_pages: int, warm_pages: int, checksum: bool, steps: list[tuple[str, int]]) -> None:
    """Any warm region (up to most of the ring), a consumer that lags and releases in any pattern,
    rewinds and restarts of both ends, trims at any threshold: every record is read in order, byte for
    byte, once per read pass; `try_put` refuses only when the record does not fit the free space; the
    accounting stays exact up to skipped bytes."""
    owner = Ring.create(capacity_pages * PAGE - CONTROL_SIZE, checksum=checksum)
    warm = min(warm_pages * PAGE, owner.capacity + CONTROL_SIZE - PAGE)
    warm = max(0, warm - CONTROL_SIZE)

    def attach() -> Ring:
        ring = Ring.attach(owner.name)
        ring.warm_bytes = warm
        ring.early_wrap_pause = 0.0  # early wraps right after refusals too: the riskiest interleavings
        return ring

    producer, consumer = attach(), Ring.attach(owner.name)
    try:
        model = ConsumerModel()
        seq = 0
        for action, value in steps:
            if action == "put":  # 1-4 records: the sizes of a few requests
                for _ in range(1 + value % 4):
                    size = min(value, owner.capacity - RECORD_HEADER_SIZE)
                    free = owner.free_bytes()
                    if producer.try_put(HEADER, payload_for(seq, size)):
                        model.published.append((seq, size))
                        seq += 1
                    else:
                        assert free < record_size(size)
            elif action == "read":
                model.read_one(consumer)
            elif action == "release" and model.read:
                model.release(consumer, 1 + value % len(model.read))
            elif action == "catch_up":  # read all but `value % 3` records, release all but `value % 2`
                while len(model.read) < len(model.published) - value % 3:
                    model.read_one(consumer)
                if len(model.read) - value % 2 > 0:
                    model.release(consumer, len(model.read) - value % 2)
            elif action == "trim":
                producer.trim(minimum=value)
            elif action == "rewind":
                consumer.rewind()
                model.forget_reads()
            elif action == "restart_producer":
                producer.close()
                producer = attach()
            elif action == "restart_consumer":
                consumer.close()
                consumer = Ring.attach(owner.name)
                model.forget_reads()
            assert owner.pending_records() == len(model.published)
            held = sum(record_size(size) for _, size in model.published)
            assert owner.used_bytes() >= held and owner.capacity - owner.free_bytes() >= owner.used_bytes()
        model.check_intact(consumer, release=True)
        assert owner.used_bytes() == 0  # no marker is left behind holding space
    finally:
        for ring in (producer, consumer, owner):
            ring.close()
        owner.unlink()
