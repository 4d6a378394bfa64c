"""prometheus.remote_write under faults: endpoint down (the WAL absorbs the outage), full disk,
senders that fail unexpectedly, WAL directories of workers that no longer exist."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from collector.components.kit.api import ArgumentError, HealthState, RuntimeServices
from collector.components.kit.prometheus_client import BasicAuth
from collector.components.kit.types import Secret
from collector.components.prometheus.remote_write import Arguments, Endpoint, QueueConfig, RemoteWrite, WALConfig
from collector.signals import Signal
from collector.testing.context import build_context
from tests.components.prometheus.rwsink import RemoteWriteSink
from tests.components.prometheus.test_remote_write_wal import DOWN, T, args, batches, component, received


CID = "prometheus.remote_write.durable"


def wal_samples(rw: RemoteWrite) -> int:
    assert rw.wal is not None
    return sum(record.samples for record in rw.wal.read(rw.wal.positions["ep"]))


# --- defect 1: an endpoint outage must not hold appends once shards are full ---------------------------
def test_appends_go_to_the_wal_while_the_endpoint_is_down_however_small_the_queue(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with RemoteWriteSink(responses=list(DOWN)) as sink:
            rw = component(tmp_path, args(sink.url, capacity=10, min_shards=1, max_shards=1), CID)
            await rw.start()
            for batch in batches(200):  # 1,000 samples, 100 times the queue's capacity
                await asyncio.wait_for(rw.append(batch), 1.0)
            assert wal_samples(rw) == 1_000  # every sample is in the WAL: the ring can be released
            sink.responses.clear()
            await sink.wait_for(lambda s: s.sample_count() >= 1_000, timeout=20)
            await rw.shutdown(time.monotonic() + 2)
        got = received(sink)
        assert sorted(set(got)) == sorted((str(s), T + b * 1000) for s in range(5) for b in range(200))
        for series in map(str, range(5)):
            stamps = [ts for name, ts in got if name == series]
            assert stamps == sorted(stamps)

    asyncio.run(scenario())


# --- defect 2: a full disk holds appends (retryable upstream) and makes the component unhealthy --------
@contextlib.contextmanager
def tiny_filesystem(path: Path, size: str = "2m") -> Iterator[Path]:
    path.mkdir()
    if os.geteuid() != 0:
        pytest.skip("FULL-DISK TEST NOT RUN: mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"FULL-DISK TEST NOT RUN: cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path: Path) -> Path:
    filler = path / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_holds_appends_reports_unhealthy_and_recovers(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    with tiny_filesystem(tmp_path / "disk") as disk:
        async def scenario() -> None:
            async with RemoteWriteSink(responses=list(DOWN)) as sink:
                rw = component(disk, args(sink.url), CID)
                await rw.start()
                for batch in batches(5):
                    await rw.append(batch)
                filler = fill(disk)
                blocked = None
                for b in range(5, 2_000):  # the segment's last page may still hold a few records
                    task = asyncio.create_task(rw.append(batches(1, start=b)[0]))
                    done, _ = await asyncio.wait({task}, timeout=1.0)
                    if not done:
                        blocked = task
                        break
                    task.result()
                # refused upstream: the append neither returned (which settles the ring) nor raised (which drops)
                assert blocked is not None, "the disk never filled"
                assert rw.health.state is HealthState.UNHEALTHY, rw.health
                assert "no space" in rw.health.message.lower(), rw.health.message
                filler.unlink()
                await asyncio.wait_for(blocked, 10)
                assert rw.health.state is HealthState.HEALTHY
                for batch in batches(3, start=b + 1):
                    await rw.append(batch)
                sink.responses.clear()
                total = b + 4
                await sink.wait_for(lambda s: len(set(received(s))) >= 5 * total, timeout=30)
                await rw.shutdown(time.monotonic() + 2)
            assert sorted(set(received(sink))) == sorted((str(s), T + i * 1000) for s in range(5) for i in range(total))

        with caplog.at_level(logging.ERROR):
            asyncio.run(scenario())
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors and not any(r.exc_info for r in errors), "full disk: an error log without a traceback"
        assert len(errors) <= 3, "the full-disk error log is rate limited"


# --- defect 3: configurations a sender cannot use fail validation; senders survive any exception ------
@pytest.mark.parametrize("endpoint, attribute", [
    (dict(url="http://user:pw@127.0.0.1:9/api/v1/write", basic_auth=BasicAuth(username="u", password=Secret("p"))),
     "endpoint.url"),
    (dict(url="http://127.0.0.1:9/api/v1/write", headers={"X-Scope-OrgID": Secret("a\r\nInjected: 1")}),
     "endpoint.headers"),
    (dict(url="http://127.0.0.1:9/api/v1/write", headers={"Bad Name": Secret("v")}), "endpoint.headers"),
])
def test_configurations_a_sender_cannot_use_fail_validation(endpoint: dict[str, Any], attribute: str) -> None:
    with pytest.raises(ArgumentError) as raised:
        Arguments(endpoint=[Endpoint(**endpoint)]).validate()
    assert raised.value.attribute == attribute


def test_an_unexpected_exception_in_a_sender_is_logged_retried_and_reported(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        async with RemoteWriteSink() as sink:
            rw = component(tmp_path, args(sink.url, min_shards=1, max_shards=1), CID)
            await rw.start()
            queue = rw._queues[0]
            real_post = queue._post
            failures = 3

            async def flaky(body: bytes) -> Any:
                nonlocal failures
                if failures:
                    failures -= 1
                    raise ValueError("Newline or carriage return character detected in HTTP status message")
                return await real_post(body)

            queue._post = flaky  # type: ignore[method-assign]
            await rw.append(batches(1)[0])
            await asyncio.sleep(0.05)
            assert failures < 3
            await sink.wait_for(lambda s: s.sample_count() == 5, timeout=10)
            assert rw.health.state is HealthState.HEALTHY  # recovered
            await rw.append(batches(1, start=1)[0])
            await sink.wait_for(lambda s: s.sample_count() == 10, timeout=10)  # the shard still runs
            await rw.shutdown(time.monotonic() + 2)

    with caplog.at_level(logging.WARNING):
        asyncio.run(scenario())
    assert any("ValueError" in r.getMessage() or (r.exc_info and r.exc_info[0] is ValueError)
               for r in caplog.records)


def test_a_failing_sender_makes_the_component_unhealthy(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with RemoteWriteSink() as sink:
            rw = component(tmp_path, args(sink.url, min_shards=1, max_shards=1), CID)
            await rw.start()

            async def broken(body: bytes) -> Any:
                raise ValueError("boom")

            rw._queues[0]._post = broken  # type: ignore[method-assign]
            await rw.append(batches(1)[0])
            for _ in range(100):
                if rw.health.state is HealthState.UNHEALTHY:
                    break
                await asyncio.sleep(0.02)
            assert rw.health.state is HealthState.UNHEALTHY
            assert "boom" in rw.health.message
            await rw.shutdown(time.monotonic())

    asyncio.run(scenario())


# --- item 3: WAL directories of workers that no longer exist are replayed, then removed ---------------
def test_wal_of_a_worker_that_no_longer_exists_is_replayed_then_removed(tmp_path: Path) -> None:
    cid = "prometheus.remote_write.orphans"

    def worker(index: int, count: int, arguments: Arguments) -> RemoteWrite:
        ctx = build_context(RemoteWrite, cid, storage_path=tmp_path, worker_signal=Signal.METRICS,
                            worker_index=index,
                            services=RuntimeServices(run_dir=Path("run-test"), workers_for_signal=count))
        return RemoteWrite(ctx, arguments)

    async def scenario() -> None:
        async with RemoteWriteSink(responses=list(DOWN)) as sink:
            old = [worker(i, 3, args(sink.url)) for i in range(3)]
            for i, rw in enumerate(old):
                await rw.start()
                for batch in batches(2, start=2 * i):
                    await rw.append(batch)
            for rw in old:
                await rw.shutdown(time.monotonic())
            assert sorted(p.name for p in (tmp_path / cid).iterdir()) == [
                "wal-metrics-0", "wal-metrics-1", "wal-metrics-2"]
            sink.responses.clear()
            new = worker(0, 1, args(sink.url))
            await new.start()
            await sink.wait_for(lambda s: s.sample_count() >= 30, timeout=20)
            for _ in range(200):
                if sorted(p.name for p in (tmp_path / cid).iterdir()) == ["wal-metrics-0"]:
                    break
                await asyncio.sleep(0.05)
            assert sorted(p.name for p in (tmp_path / cid).iterdir()) == ["wal-metrics-0"]
            await new.shutdown(time.monotonic() + 2)
        assert sorted(set(received(sink))) == sorted((str(s), T + b * 1000) for s in range(5) for b in range(6))

    asyncio.run(scenario())


def test_orphans_are_shared_between_the_remaining_workers(tmp_path: Path) -> None:
    from collector.components.prometheus.remote_write import orphan_indices
    assert orphan_indices([0, 1, 2, 3, 4], index=0, count=2) == [2, 4]
    assert orphan_indices([0, 1, 2, 3, 4], index=1, count=2) == [3]
    assert orphan_indices([0, 1], index=0, count=2) == []


def test_disk_budget_is_the_only_pushback(tmp_path: Path) -> None:
    """Past its byte budget (and nothing old enough to drop) the WAL holds appends instead of growing."""
    async def scenario() -> None:
        async with RemoteWriteSink(responses=list(DOWN)) as sink:
            rw = component(tmp_path, cid=CID, arguments=Arguments(endpoint=[Endpoint(url=sink.url, name="ep", queue_config=QueueConfig(
                batch_send_deadline=0.05, min_backoff=0.01, max_backoff=0.05))],
                wal=WALConfig(min_keepalive_time=3600.0, max_keepalive_time=7200.0)))
            rw.segment_bytes = 300
            rw.max_bytes = 1_000
            await rw.start()
            appended = 0
            with pytest.raises(TimeoutError):
                for batch in batches(100):
                    await asyncio.wait_for(rw.append(batch), 0.5)
                    appended += 1
            assert 0 < appended < 100
            assert rw.wal is not None and rw.wal.size_bytes <= rw.max_bytes + 300
            await rw.shutdown(time.monotonic())

    asyncio.run(scenario())
