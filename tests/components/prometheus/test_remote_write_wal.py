"""prometheus.remote_write with its WAL: replay after a restart or crash, ack positions, truncation."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path

from prometheus_client import REGISTRY

from collector.components.prometheus.remote_write.queue import endpoint_name
from collector.components.prometheus.remote_write import Arguments, Endpoint, QueueConfig, RemoteWrite, WALConfig
from collector.protocols.prometheus.series import SampleBatch, Series
from collector.testing.context import build_context
from tests.components.prometheus.rwsink import RemoteWriteSink

T = 1_700_000_000_000
DOWN = [(503, {})] * 10_000


def batches(count: int, start: int = 0) -> list[SampleBatch]:
    out = []
    for b in range(start, start + count):
        batch = SampleBatch()
        for s in range(5):
            batch.append(Series({"__name__": "m", "series": str(s)}), float(b), T + b * 1000)
        out.append(batch)
    return out


async def append_all(rw: RemoteWrite, samples: list[SampleBatch]) -> None:
    """Append batch by batch, as a worker does: each returns once it is in the WAL."""
    for batch in samples:
        await rw.append(batch)


def args(url: str, **queue: object) -> Arguments:
    config = dict(batch_send_deadline=0.05, min_backoff=0.01, max_backoff=0.05)
    config.update(queue)
    return Arguments(endpoint=[Endpoint(url=url, name="ep", queue_config=QueueConfig(**config))],  # type: ignore
                     wal=WALConfig(min_keepalive_time=1.0, max_keepalive_time=60.0))


def component(storage: Path, arguments: Arguments, cid: str = "prometheus.remote_write.wal") -> RemoteWrite:
    return RemoteWrite(build_context(RemoteWrite, cid, storage_path=storage), arguments)


async def started(storage: Path, arguments: Arguments) -> RemoteWrite:
    rw = component(storage, arguments)
    await rw.start()
    return rw


async def deliver(storage: Path, sink: RemoteWriteSink, count: int) -> None:
    """Run a component until the sink holds all of `count` batches, then stop it."""
    rw = await started(storage, args(sink.url))
    await append_all(rw, batches(count))
    await sink.wait_for(lambda s: s.sample_count() == 5 * count)
    await rw.shutdown(time.monotonic() + 2)


def received(sink: RemoteWriteSink) -> list[tuple[str, int]]:
    return [(dict(labels)["series"], ts) for labels, _, ts in sink.samples]


def test_wal_files_live_under_component_storage_per_worker(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with RemoteWriteSink() as sink:
            await deliver(tmp_path, sink, 2)
        wal_dir = tmp_path / "prometheus.remote_write.wal" / "wal-main-0"
        assert (wal_dir / "00000000").stat().st_size > 0
        assert (wal_dir / "positions" / "ep").read_text().strip() == f"0:{(wal_dir / '00000000').stat().st_size}"
        assert REGISTRY.get_sample_value("prometheus_remote_write_wal_samples_appended_total",
                                         {"component_id": "prometheus.remote_write.wal", "component_path": "/"}) == 10

    asyncio.run(scenario())


def test_crash_copy_of_the_wal_replays_everything_unsent_in_order(tmp_path: Path) -> None:
    """The WAL directory copied while the component runs is what a SIGKILL leaves on disk."""
    async def scenario() -> None:
        async with RemoteWriteSink(responses=list(DOWN)) as sink:
            first = await started(tmp_path / "a", args(sink.url))
            await append_all(first, batches(4))
            await sink.wait_for(lambda s: s.attempts >= 2)
            shutil.copytree(tmp_path / "a", tmp_path / "b")  # the crash
            await first.shutdown(time.monotonic())
            sink.responses.clear()
            attempts = sink.attempts

            second = await started(tmp_path / "b", args(sink.url))
            await append_all(second, batches(2, start=4))  # live data after the restart: must come after the replay
            await sink.wait_for(lambda s: s.sample_count() == 30)
            await second.shutdown(time.monotonic() + 2)
        assert sink.attempts > attempts
        got = received(sink)
        assert sorted(set(got)) == sorted((str(s), T + b * 1000) for s in range(5) for b in range(6))
        for series in map(str, range(5)):
            stamps = [ts for name, ts in got if name == series]
            assert stamps == sorted(stamps)
        replayed = REGISTRY.get_sample_value("prometheus_remote_write_wal_samples_replayed_total", {
            "component_id": "prometheus.remote_write.wal", "component_path": "/", "remote_name": "ep",
            "url": sink.url})
        assert replayed is not None and replayed >= 20

    asyncio.run(scenario())


def test_acknowledged_samples_are_not_sent_again(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with RemoteWriteSink() as sink:
            await deliver(tmp_path, sink, 3)

            again = await started(tmp_path, args(sink.url))
            assert again.wal is not None and again.wal.positions["ep"] == again.wal.head
            await append_all(again, batches(1, start=3))
            await sink.wait_for(lambda s: s.sample_count() >= 20)
            await again.shutdown(time.monotonic() + 2)
        assert sorted(received(sink)) == sorted((str(s), T + b * 1000) for s in range(5) for b in range(4))

    asyncio.run(scenario())


def test_truncation_drops_old_unsent_segments_and_counts_them(tmp_path: Path) -> None:
    cid = "prometheus.remote_write.trunc"

    async def scenario() -> None:
        async with RemoteWriteSink(responses=list(DOWN)) as sink:
            writer = component(tmp_path, args(sink.url), cid)
            writer.segment_bytes = 150  # about one record per segment
            await writer.start()
            await append_all(writer, batches(6))
            await writer.shutdown(time.monotonic())
            wal_dir = tmp_path / cid / "wal-main-0"
            old = time.time() - 3600
            for segment in wal_dir.iterdir():
                if segment.name.isdigit():
                    os.utime(segment, (old, old))

            # one shard holding one sample: the replay loads one record and waits for the endpoint
            tight = args(sink.url, capacity=1, min_shards=1, max_shards=1)
            reader = component(tmp_path, tight, cid)
            reader.segment_bytes = 150
            await reader.start()
            attempts = sink.attempts
            await sink.wait_for(lambda s: s.attempts > attempts)
            assert reader.wal is not None
            segments_before = len(reader.wal.segments())
            reader._truncate(full=True)
            assert len(reader.wal.segments()) < segments_before
            name = "ep"
            dropped = REGISTRY.get_sample_value("prometheus_remote_storage_samples_dropped_total", {
                "component_id": cid, "component_path": "/", "remote_name": name, "url": sink.url})
            by_reason = REGISTRY.get_sample_value("prometheus_remote_write_wal_samples_dropped_total", {
                "component_id": cid, "component_path": "/", "reason": "max_keepalive_time"})
            # the replay had loaded one 5-sample record; the other five records were still on disk
            assert dropped == by_reason == 25
            await reader.shutdown(time.monotonic())

    assert endpoint_name(Endpoint(url="http://x", name="ep")) == "ep"
    asyncio.run(scenario())
