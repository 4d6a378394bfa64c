"""Out-of-order settles become in-order releases of ring space."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from collector.runtime.ring import RecordHeader, Ring
from collector.runtime.ring_acks import ReleaseWindow
from collector.signals.payload import Payload
from collector.signals.signal import Signal


@pytest.fixture
def ring() -> Iterator[Ring]:
    r = Ring.create(4096)
    yield r
    r.close()
    r.unlink()


def test_release_waits_for_the_oldest_claim(ring: Ring) -> None:
    window = ReleaseWindow(ring)
    for i in range(4):
        assert ring.try_put(RecordHeader(0, 0, i), b"r%d" % i)
    records = [ring.next_record() for _ in range(4)]
    assert all(r is not None for r in records)
    tokens = [window.token(r) for r in records if r is not None]
    tokens[2].release()
    tokens[1].release()
    assert ring.committed_position == 0, "record 0 is still held"
    tokens[0].release()
    assert records[2] is not None and ring.committed_position == records[2].end
    assert window.outstanding == 1 and window.released_records == 3
    tokens[3].release()
    assert ring.used_bytes() == 0 and window.outstanding == 0


def test_payload_fan_out_releases_after_every_copy_settles(ring: Ring) -> None:
    window = ReleaseWindow(ring)
    assert ring.try_put(RecordHeader(0, 0, 0), b"\x0a\x00")
    record = ring.next_record()
    assert record is not None
    payload = Payload(Signal.TRACES, data=record.data, acks=[window.token(record)])
    first, second = payload.share(2, independent=False)
    first.settle()
    assert ring.used_bytes() > 0
    second.settle()
    assert ring.used_bytes() == 0
