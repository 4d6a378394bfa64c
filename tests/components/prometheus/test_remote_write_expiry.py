"""`prometheus.remote_write` per-series caches expire (collector/protocols/prometheus/expiry.py): after
`DEPTH + 1` generations without a sample, an endpoint queue holds no entry for a series and nothing
keeps its `Series` alive; a series that comes back is sent with the same labels (and still relabelled).
Generations are started explicitly (`_expire_caches`, what the housekeeping loop calls every
`GENERATION` seconds): no timing in the test."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
from pathlib import Path

from collector.components.prometheus.remote_write import Arguments, Endpoint, QueueConfig, RemoteWrite
from collector.protocols.prometheus.expiry import DEPTH
from collector.protocols.prometheus.relabel import Rule
from collector.protocols.prometheus.series import SampleBatch, Series
from collector.testing.context import build_context
from tests.components.prometheus.rwsink import RemoteWriteSink

T = 1_700_000_000_000


def _batch(ts: int) -> SampleBatch:
    batch = SampleBatch()
    batch.append(Series({"__name__": "kept", "job": "a"}), 1.0, ts)
    batch.append(Series({"__name__": "go_gc", "job": "a"}), 2.0, ts)  # dropped by write_relabel_config
    return batch


def test_unused_series_leave_the_queue_caches_and_come_back_the_same(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with RemoteWriteSink() as sink:
            rules = [Rule(source_labels=["__name__"], regex="go_.*", action="drop")]
            endpoint = Endpoint(url=sink.url, name="e", write_relabel_config=rules,
                                queue_config=QueueConfig(batch_send_deadline=0.05, min_backoff=0.01,
                                                         max_backoff=0.05))
            component = RemoteWrite(build_context(RemoteWrite, "prometheus.remote_write.expiry",
                                                  storage_path=tmp_path),
                                    Arguments(endpoint=[endpoint], external_labels={"dc": "x"}))
            await component.start()
            try:
                batch = _batch(T)
                series = [weakref.ref(s) for s in batch.series]
                await component.append(batch)
                await sink.wait_for(lambda s: s.sample_count() >= 1)
                queue = component._queues[0]
                assert queue.cached_series == 1  # the dropped series is not cached (its plan is)
                del batch
                for _ in range(DEPTH):
                    component._expire_caches()
                    assert queue.cached_series == 1  # the dropped series is not cached (its plan is)
                component._expire_caches()
                assert queue.cached_series == 0
                gc.collect()
                assert [ref() for ref in series] == [None, None]  # neither queue nor WAL encoder holds them
                await component.append(_batch(T + 1000))
                await sink.wait_for(lambda s: s.sample_count() >= 2)
                assert [(labels, ts) for labels, _, ts in sink.samples] == [
                    ((("__name__", "kept"), ("dc", "x"), ("job", "a")), T),
                    ((("__name__", "kept"), ("dc", "x"), ("job", "a")), T + 1000)]
            finally:
                await component.shutdown(time.monotonic() + 2)

    asyncio.run(scenario())
