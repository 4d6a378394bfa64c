"""What the ring property tests share: deterministic payloads, the resident size of a ring, and a
model of what a consumer must read (published records not yet released, those read since)."""

from __future__ import annotations

import os
import random
from collections import deque

from collector.runtime.ring import Record, Ring


def payload_for(seq: int, size: int) -> bytes:
    return random.Random(seq).randbytes(size)


def allocated(ring: Ring) -> int:
    """Bytes of the ring's /dev/shm file that hold pages (what the kernel really keeps)."""
    return os.stat(f"/dev/shm/{ring.name}").st_blocks * 512


class ConsumerModel:
    def __init__(self) -> None:
        self.published: deque[tuple[int, int]] = deque()  # (seq, size) put and not yet released
        self.read: list[Record] = []  # read since the last release or rewind

    def read_one(self, consumer: Ring) -> None:
        """The next record is the next one published, byte for byte, or there is none."""
        record = consumer.next_record()
        if len(self.read) < len(self.published):
            assert record is not None
            expected_seq, size = self.published[len(self.read)]
            assert (record.seq, record.data) == (expected_seq, payload_for(expected_seq, size))
            self.read.append(record)
        else:
            assert record is None

    def release(self, consumer: Ring, count: int) -> None:
        """Release the first `count` records read (at least one is)."""
        consumer.release_to(self.read[count - 1].end)
        for _ in range(count):
            self.published.popleft()
        self.read = self.read[count:]

    def forget_reads(self) -> None:
        """The consumer rewound or restarted: it reads again from its committed position."""
        self.read = []

    def check_intact(self, consumer: Ring, release: bool = False) -> None:
        """Everything unreleased is still there, in order (released as it is read, if asked)."""
        consumer.rewind()
        for expected_seq, size in self.published:
            record = consumer.next_record()
            assert record is not None and (record.seq, record.data) == (expected_seq, payload_for(expected_seq, size))
            if release:
                consumer.release_to(record.end)
        assert consumer.next_record() is None
