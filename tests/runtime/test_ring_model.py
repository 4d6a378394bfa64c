"""Model-based test: random puts, gets, releases, rewinds and re-attaches against a plain queue.

The model knows only the documented framing rule (`record_size`) and FIFO semantics; every
payload is derived from its seq so a misplaced or torn copy cannot pass for the right one.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from collector.runtime.ring import RECORD_HEADER_SIZE, RecordHeader, Ring, record_size


def payload_for(seq: int, size: int) -> bytes:
    return random.Random(seq).randbytes(size)


@dataclass(frozen=True)
class Expected:
    seq: int
    header: RecordHeader
    size: int


class RingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.owner: Ring | None = None
        self.published: deque[Expected] = deque()  # not yet released, in order
        self.read = 0  # how many of `published` the consumer has read since the last rewind
        self.ends: list[int] = []  # `end` of each read record, parallel to published[:read]
        self.next_seq = 0

    @initialize(capacity=st.integers(64, 2048), checksum=st.booleans())
    def create(self, capacity: int, checksum: bool) -> None:
        self.owner = Ring.create(capacity, checksum=checksum)
        self.producer = Ring.attach(self.owner.name)
        self.consumer = Ring.attach(self.owner.name)

    @property
    def capacity(self) -> int:
        assert self.owner is not None
        return self.owner.capacity

    def used(self) -> int:
        return sum(record_size(e.size) for e in self.published)

    @rule(data=st.data())
    def put(self, data: st.DataObject) -> None:
        most = self.capacity - RECORD_HEADER_SIZE
        size = data.draw(
            st.one_of(
                st.sampled_from([0, 1, 7, 8, 9]),
                st.integers(0, most),
                st.integers(max(0, most - 16), most + 16),  # near (and past) a full ring
            )
        )
        header = RecordHeader(data.draw(st.integers(0, 255)), data.draw(st.integers(0, 65535)), self.next_seq * 1000)
        body = payload_for(self.next_seq, size)
        if record_size(size) > self.capacity:
            with pytest.raises(ValueError):
                self.producer.try_put(header, body)
            return
        fits = self.used() + record_size(size) <= self.capacity
        assert self.producer.try_put(header, body) is fits
        if fits:
            self.published.append(Expected(self.next_seq, header, size))
            self.next_seq += 1

    @rule()
    def get(self) -> None:
        record = self.consumer.next_record()
        if self.read == len(self.published):
            assert record is None
            return
        expected = self.published[self.read]
        assert record is not None
        assert (record.seq, record.header) == (expected.seq, expected.header)
        assert record.data == payload_for(expected.seq, expected.size)
        self.read += 1
        self.ends.append(record.end)

    @precondition(lambda self: self.read > 0)
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        count = data.draw(st.integers(1, self.read))
        self.consumer.release_to(self.ends[count - 1])
        for _ in range(count):
            self.published.popleft()
        del self.ends[:count]
        self.read -= count

    def unread(self) -> None:
        """The consumer starts again at the oldest unreleased record (what it read is read again)."""
        self.read = 0
        self.ends.clear()

    @rule()
    def rewind(self) -> None:
        self.consumer.rewind()
        self.unread()

    @rule()
    def restart_consumer(self) -> None:
        self.consumer.close()
        self.consumer = Ring.attach(self.producer.name)
        self.unread()

    @rule()
    def restart_producer(self) -> None:
        self.producer.close()
        self.producer = Ring.attach(self.consumer.name)
        assert self.producer.next_seq == self.next_seq

    @invariant()
    def accounting(self) -> None:
        if self.owner is not None:
            assert self.owner.used_bytes() == self.used()
            assert self.owner.pending_records() == len(self.published)

    def teardown(self) -> None:
        if self.owner is not None:
            self.producer.close()
            self.consumer.close()
            self.owner.close()
            self.owner.unlink()


RingMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestRingModel = RingMachine.TestCase
