"""RingAdmission entered from two threads at once (the gRPC serving thread and the event loop), with
trims from a third: the lock must keep each ring to one producer at a time, so every record arrives
once, whole, in each thread's order, with consecutive sequence numbers."""

from __future__ import annotations

import sys
import threading
from typing import Iterator

import pytest

from collector.runtime.admission import RingAdmission
from collector.runtime.ring import Record, Ring
from collector.signals import Signal
from tests.signals import otlp_data as data

PER_THREAD = 2000


class Bell:
    def ring(self) -> None:
        pass


@pytest.fixture
def ends() -> Iterator[tuple[Ring, Ring]]:
    """(producer, consumer) of a ring small enough to go round many times; checksummed, so a record
    torn by two writers could not pass for a whole one."""
    owner = Ring.create(256 << 10, checksum=True)
    producer, consumer = Ring.attach(owner.name), Ring.attach(owner.name)
    yield producer, consumer
    for ring in (producer, consumer, owner):
        ring.close()
    owner.unlink()


@pytest.fixture
def tiny_switch_interval() -> Iterator[None]:
    """Let the GIL change hands as often as it can, so the threads' puts interleave."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def test_puts_from_two_threads_and_trims_keep_every_record_whole_and_in_order(
        ends: tuple[Ring, Ring], tiny_switch_interval: None) -> None:
    producer, consumer = ends
    admission = RingAdmission({Signal.TRACES: [producer]}, {Signal.TRACES: [Bell()]})  # type: ignore[list-item]
    request = data.traces([[1]])
    done = threading.Event()

    def produce(name: str) -> None:
        for i in range(PER_THREAD):
            payload = f"{name}:{i}:".encode() + b"x" * (100 + i % 900)
            while not admission.admit(Signal.TRACES, payload, request, 1, "otelcol.receiver.otlp.in").accepted:
                pass  # full: the consumer frees space

    def trim() -> None:
        while not done.is_set():
            admission.trim(busy=0)

    threads = [threading.Thread(target=produce, args=(name,)) for name in ("a", "b")]
    trimmer = threading.Thread(target=trim)
    for thread in [*threads, trimmer]:
        thread.start()
    records: list[Record] = []
    while len(records) < 2 * PER_THREAD:
        record = consumer.next_record()
        if record is None:
            continue
        records.append(record)
        consumer.release_to(record.end)
    for thread in threads:
        thread.join()
    done.set()
    trimmer.join()

    assert [r.seq for r in records] == list(range(records[0].seq, records[0].seq + 2 * PER_THREAD))
    seen: dict[str, list[int]] = {"a": [], "b": []}
    for record in records:
        name, index, filler = record.data.split(b":")
        assert filler == b"x" * (100 + int(index) % 900)
        seen[name.decode()].append(int(index))
    assert seen == {"a": list(range(PER_THREAD)), "b": list(range(PER_THREAD))}
