from __future__ import annotations

import pytest

from collector.runtime.acks import RingAcks
from collector.signals import AckToken, Payload, Signal


class FakeRing:
    def __init__(self) -> None:
        self.released_to: list[int] = []

    def release_to(self, end: int) -> None:
        self.released_to.append(end)


def test_out_of_order_settles_release_only_the_settled_prefix() -> None:
    ring = FakeRing()
    acks = RingAcks(ring)
    tokens = [acks.track(seq, end) for seq, end in ((0, 10), (1, 20), (2, 30))]
    tokens[1].release()
    assert ring.released_to == []  # record 0 still held
    tokens[0].release()
    assert ring.released_to == [20]
    tokens[2].release()
    assert ring.released_to == [20, 30]
    assert acks.outstanding == 0


def test_shared_payload_releases_after_every_copy_settles() -> None:
    ring = FakeRing()
    acks = RingAcks(ring)
    payload = Payload(Signal.TRACES, data=b"", acks=[acks.track(0, 8)])
    copies = payload.share(3, independent=False)
    for copy in copies[:2]:
        copy.settle()
    assert ring.released_to == []
    copies[2].settle()
    assert ring.released_to == [8]


def test_merged_payload_carries_every_claim() -> None:
    ring = FakeRing()
    acks = RingAcks(ring)
    parts = [Payload(Signal.LOGS, data=b"", item_count=1, acks=[acks.track(i, (i + 1) * 8)]) for i in range(3)]
    merged = Payload.merge(Signal.LOGS, parts)
    assert merged.item_count == 3
    for part in parts:
        part.settle()  # parts gave their claims to the merge
    assert ring.released_to == []
    merged.settle()
    assert ring.released_to[-1] == 24


def test_abandoned_record_is_released_once_and_late_holders_are_ignored() -> None:
    ring = FakeRing()
    acks = RingAcks(ring)
    token = acks.track(0, 8)
    token.retain(2)
    token.abandon()
    assert ring.released_to == [8]
    token.release()
    token.release()
    assert ring.released_to == [8]


def test_releasing_more_than_retained_is_a_bug_that_is_reported() -> None:
    token = AckToken(5)
    token.release()
    with pytest.raises(RuntimeError):
        token.release()


def test_a_record_the_pipeline_fails_on_is_counted_dropped_and_released() -> None:
    import asyncio

    from collector.runtime.worker import deliver
    from collector.selfmetrics.otelcol import PIPELINE_DROPPED

    class Exploding:
        mutates_data = False

        async def consume(self, payload: Payload) -> None:
            raise ValueError("boom")

    ring = FakeRing()
    acks = RingAcks(ring)
    token = acks.track(0, 16)
    counter = PIPELINE_DROPPED[Signal.TRACES].labels("worker", "/", "processing error")
    before = counter._value.get()
    ok = asyncio.run(deliver(Exploding(), Payload(Signal.TRACES, data=b"", item_count=7, acks=[token]), token))
    assert ok is False
    assert ring.released_to == [16]
    assert counter._value.get() - before == 7
