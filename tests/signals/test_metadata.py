"""Client metadata on its way through the collector: the block codec, a ring record (flag + block
before the payload, split metrics included), the worker's unpacking, the persistent sending queue
across a restart, and the batch processor's partitioning."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from collector.components.kit.exporterhelper.config import QueueArgs, RetryArgs
from collector.components.kit.exporterhelper.errors import RetryableError
from collector.components.kit.exporterhelper.persistent import FileStorageHandler
from collector.components.kit.exporterhelper.sender import ExportSender
from collector.components.otelcol.processor.batch.batcher import Batcher
from collector.runtime.admission import RingAdmission
from collector.runtime.ring import RECORD_METADATA, Ring
from collector.signals import AckToken, Payload, Signal
from collector.signals.metadata import MAX_BYTES, MetadataTooLarge, from_request, pack, unpack
from tests.signals import otlp_data as data

TENANT_A = (("x-scope-orgid", "a"), ("user-agent", "sdk"))


class Bell:
    def ring(self) -> None:
        pass


def test_block_round_trip_and_bounds() -> None:
    metadata = (("x-scope-orgid", "a"), ("x-multi", "1"), ("x-multi", "2"), ("x-bytes", "caf\udce9"))
    assert unpack(pack(metadata, b"payload")) == (metadata, b"payload")
    assert unpack(pack((), b"p")) == ((), b"p")
    with pytest.raises(ValueError):
        unpack(pack(metadata, b"")[:-3])
    kept = from_request([("X-Scope-OrgID", "a"), (":authority", "h"), ("trace-bin", b"\x00"), ("k-bin", "x")])
    assert kept == (("x-scope-orgid", "a"),)
    with pytest.raises(MetadataTooLarge):
        from_request([(f"h{i}", "v" * 1000) for i in range(MAX_BYTES // 1000 + 1)])


def test_ring_records_carry_metadata_only_when_there_is_some() -> None:
    request = data.traces([[2]])
    with Ring.create(1 << 16) as ring:
        admission = RingAdmission({Signal.TRACES: [ring]}, {Signal.TRACES: [Bell()]})  # type: ignore[list-item]
        admission.admit(Signal.TRACES, request.SerializeToString(), request, 2, "otelcol.receiver.otlp.in",
                        metadata=TENANT_A)
        admission.admit(Signal.TRACES, request.SerializeToString(), request, 2, "otelcol.receiver.otlp.in")
        with_metadata, without = ring.next_record(), ring.next_record()
    assert with_metadata is not None and without is not None
    assert with_metadata.header.flags & RECORD_METADATA
    assert unpack(with_metadata.data) == (TENANT_A, request.SerializeToString())
    assert without.header.flags == 0 and without.data == request.SerializeToString()


def test_split_metrics_records_each_carry_the_metadata() -> None:
    request = data.metrics([[[1]], [[1]], [[1]], [[1]]])
    rings = [Ring.create(1 << 16), Ring.create(1 << 16)]
    try:
        admission = RingAdmission({Signal.METRICS: rings}, {Signal.METRICS: [Bell(), Bell()]})  # type: ignore[list-item]
        assert admission.admit(Signal.METRICS, request.SerializeToString(), request, 4, "otelcol.receiver.otlp.in",
                               metadata=TENANT_A).accepted
        records = [r for ring in rings if (r := ring.next_record()) is not None]
        assert records
        for record in records:
            assert record.header.flags & RECORD_METADATA
            assert unpack(record.data)[0] == TENANT_A
    finally:
        for ring in rings:
            ring.close()
            ring.unlink()


def test_persistent_queue_keeps_a_batchs_metadata_across_a_restart(tmp_path: Path) -> None:
    delivered: list[tuple[tuple[str, str], ...]] = []

    def sender(push: object) -> ExportSender:
        return ExportSender(component_id="otelcol.exporter.otlphttp.t", logger=logging.getLogger("t"),
                            push=push, timeout=0,  # type: ignore[arg-type]
                            queue=QueueArgs(storage=FileStorageHandler("otelcol.storage.file.t", tmp_path)),
                            retry=RetryArgs(initial_interval=0.01, max_interval=0.02, max_elapsed_time=0),
                            worker_signal=Signal.TRACES, worker_index=0, on_health=lambda h: None)

    async def down(payload: Payload) -> None:
        raise RetryableError("HTTP 503")

    async def up(payload: Payload) -> None:
        delivered.append(payload.metadata)

    async def first() -> None:
        s = sender(down)
        await s.start()
        await s.consume(data.payload(Signal.TRACES, data.traces([[1]]), token=AckToken(1), metadata=TENANT_A))
        await s.consume(data.payload(Signal.TRACES, data.traces([[1]]), token=AckToken(2)))
        await s.shutdown(time.monotonic() + 0.2)

    async def second() -> None:
        s = sender(up)
        await s.start()
        deadline = time.monotonic() + 10
        while len(delivered) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await s.shutdown(time.monotonic() + 1)

    asyncio.run(first())
    asyncio.run(second())
    assert sorted(delivered) == sorted([TENANT_A, ()])


def test_batches_are_partitioned_by_metadata_keys_and_carry_only_those_values() -> None:
    batcher = Batcher(send_batch_size=100, send_batch_max_size=0, timeout=1.0, clock=lambda: 0.0,
                      metadata_keys=("X-Scope-OrgID",))
    for tenant in ("a", "b", "a", "b", "a"):
        batcher.add(data.payload(Signal.TRACES, data.traces([[2]]),
                                 metadata=(("x-scope-orgid", tenant), ("user-agent", f"client-{tenant}"))))
    batcher.add(data.payload(Signal.TRACES, data.traces([[1]])))  # no tenant: a partition of its own
    batches = batcher.flush_all()
    found = sorted((b.payload.metadata, b.payload.item_count) for b in batches)
    assert found == [((), 1), ((("x-scope-orgid", "a"),), 6), ((("x-scope-orgid", "b"),), 4)]


def test_without_metadata_keys_batches_carry_no_client_metadata() -> None:
    batcher = Batcher(send_batch_size=100, send_batch_max_size=0, timeout=1.0, clock=lambda: 0.0)
    batcher.add(data.payload(Signal.TRACES, data.traces([[2]]), metadata=TENANT_A))
    [batch] = batcher.flush_all()
    assert batch.payload.metadata == ()
