"""Adopting a dead predecessor's rings: reopen when the geometry matches, drain when it does not."""

from __future__ import annotations

import os
import secrets

from collector.runtime.adoption import find_rings, parse_ring_name, plan_rings, ring_name
from collector.runtime.ring import Ring, RecordHeader
from collector.runtime.settings import Topology
from collector.signals import Signal

RING = 1 << 16


def topology(traces: int = 1, logs: int = 1, metrics: int = 1, receivers: int = 1, ring: int = RING) -> Topology:
    return Topology({Signal.TRACES: traces, Signal.METRICS: metrics, Signal.LOGS: logs}, receivers, ring)


def put(ring: Ring, n: int, signal: Signal = Signal.TRACES) -> None:
    for i in range(n):
        assert ring.try_put(RecordHeader(1, 7, i, 1), b"record-%d" % i)


def test_names_round_trip() -> None:
    name = ring_name("0a1b2c", 3, 1, Signal.LOGS, 2)
    parsed = parse_ring_name(name)
    assert parsed is not None and parsed.name == name and parsed.key == (1, Signal.LOGS, 2)
    assert parse_ring_name("collector-ring-1234-0-traces-0") is None  # the old pid naming


def test_a_fresh_instance_creates_every_ring(ident: str) -> None:
    plan = plan_rings(ident, topology(traces=2), find_rings(ident))
    assert len(plan.live) == 4 and not plan.reopened and not plan.draining
    assert {n.key for n in find_rings(ident)} == set(plan.live)
    for ring in plan.live.values():
        ring.close()


def test_matching_geometry_is_reopened_with_its_records(ident: str) -> None:
    first = plan_rings(ident, topology(), find_rings(ident))
    put(first.live[(0, Signal.TRACES, 0)], 5)
    consumer = Ring.attach(first.live[(0, Signal.TRACES, 0)].name)
    record = consumer.next_record()
    assert record is not None
    consumer.release_to(record.end)  # one settled by the predecessor's worker
    consumer.next_record()  # one read, not settled
    consumer.close()
    for ring in first.live.values():
        ring.close()  # the predecessor dies without unlinking

    second = plan_rings(ident, topology(), find_rings(ident))
    assert second.reopened == set(second.live) and not second.draining
    assert second.adopted_records[Signal.TRACES] == 4
    assert {r.name for r in second.live.values()} == {r.name for r in first.live.values()}
    worker = Ring.attach(second.live[(0, Signal.TRACES, 0)].name)
    seen = []
    while (record := worker.next_record()) is not None:
        seen.append(record.data)
    assert seen == [b"record-%d" % i for i in range(1, 5)]
    worker.close()
    for ring in second.live.values():
        ring.close()


def test_changed_geometry_is_drained_into_new_rings(ident: str) -> None:
    first = plan_rings(ident, topology(traces=2), find_rings(ident))
    put(first.live[(0, Signal.TRACES, 1)], 3)
    for ring in first.live.values():
        ring.close()

    second = plan_rings(ident, topology(traces=1), find_rings(ident))
    draining = {a.name.key: a for a in second.draining}
    assert set(draining) == {(0, Signal.TRACES, 0), (0, Signal.TRACES, 1)}
    assert all(a.worker == 0 for a in draining.values())  # w % 1
    assert draining[(0, Signal.TRACES, 1)].records == 3
    assert second.adopted_records[Signal.TRACES] == 3
    new_trace_ring = second.live[(0, Signal.TRACES, 0)]
    assert parse_ring_name(new_trace_ring.name).epoch == 1  # type: ignore[union-attr]
    assert (0, Signal.LOGS, 0) in second.reopened  # logs kept their geometry
    for ring in [*second.live.values(), *(a.ring for a in second.draining)]:
        ring.close()


def test_a_changed_ring_size_is_drained(ident: str) -> None:
    first = plan_rings(ident, topology(), find_rings(ident))
    for ring in first.live.values():
        ring.close()
    second = plan_rings(ident, topology(ring=RING * 2), find_rings(ident))
    assert len(second.draining) == 3 and not second.reopened
    for ring in [*second.live.values(), *(a.ring for a in second.draining)]:
        ring.close()


def test_rings_that_cannot_be_attached_are_passed_over(ident: str) -> None:
    first = plan_rings(ident, topology(), find_rings(ident))
    unreadable = [ring.name for ring in first.live.values()]
    for ring in first.live.values():
        ring.close()
    for name in unreadable:  # no longer rings (or rings of a newer format)
        with open(f"/dev/shm/{name}", "r+b") as segment:
            segment.write(b"\xff" * 64)

    second = plan_rings(ident, topology(), find_rings(ident))
    try:
        # the unattachable names' epoch is taken: the new rings are named past it
        assert {parse_ring_name(r.name).epoch for r in second.live.values()} == {1}  # type: ignore[union-attr]
        assert len(second.live) == 3 and not second.reopened and not second.draining
        assert all(os.path.exists(f"/dev/shm/{name}") for name in unreadable)  # left as they were
    finally:
        for ring in second.live.values():
            ring.close()


def test_other_instances_rings_are_invisible(ident: str) -> None:
    other = secrets.token_hex(6)
    plan = plan_rings(other, topology(), find_rings(other))
    try:
        assert find_rings(ident) == []
        mine = plan_rings(ident, topology(), find_rings(ident))
        assert not mine.reopened and not set(r.name for r in mine.live.values()) & set(r.name for r in plan.live.values())
        for ring in mine.live.values():
            ring.close()
    finally:
        for ring in plan.live.values():
            ring.close()
            ring.unlink()
