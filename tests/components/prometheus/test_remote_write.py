from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from collector.components.prometheus.remote_write.queue import endpoint_name
from collector.components.prometheus.remote_write import Arguments, Endpoint, QueueConfig, RemoteWrite
from collector.components.kit.api import ArgumentError
from collector.protocols.prometheus.relabel import Rule
from collector.protocols.prometheus.series import SampleBatch, Series
from collector.testing.context import build_context
from tests.components.prometheus.rwsink import RemoteWriteSink

T = 1_700_000_000_000
STORAGE: list[Path] = []


@pytest.fixture(autouse=True)
def storage(tmp_path: Path) -> Path:
    """Every component of a test keeps its WAL under the test's own directory."""
    STORAGE[:] = [tmp_path]
    return tmp_path


def context(cid: str) -> Any:
    return build_context(RemoteWrite, cid, storage_path=STORAGE[0])


def fast_queue(**kw: Any) -> QueueConfig:
    base = dict(batch_send_deadline=0.05, min_backoff=0.01, max_backoff=0.05)
    base.update(kw)
    return QueueConfig(**base)  # type: ignore[arg-type]


async def run(sink: RemoteWriteSink, args: Arguments, batches: list[SampleBatch], cid: str,
              until: Any) -> RemoteWrite:
    component = RemoteWrite(context(cid), args)
    await component.start()
    try:
        for batch in batches:
            await component.append(batch)
        await sink.wait_for(until)
    finally:
        await component.shutdown(time.monotonic() + 2)
        await component.shutdown(time.monotonic() + 2)  # idempotent
    return component


def metric(name: str, cid: str, url: str, endpoint: str) -> float:
    value = REGISTRY.get_sample_value(name, {"component_id": cid, "component_path": "/", "remote_name": endpoint,
                                             "url": url})
    return value or 0.0


def test_sends_exact_series_with_external_labels_and_headers() -> None:
    """`__`-prefixed labels are sent as they are: Prometheus's remote-write queue only adds external
    labels and applies write_relabel_config (target `__` labels are dropped by the scrape, earlier)."""
    async def scenario() -> None:
        async with RemoteWriteSink() as sink:
            up = Series({"__name__": "up", "job": "a", "__meta_x": "hidden", "__address__": "h:1"})
            mem = Series({"__name__": "mem", "job": "a", "cluster": "mine"})
            batch = SampleBatch()
            batch.append(up, 1.0, T)
            batch.append(mem, 5.5, T)
            batch.append(up, 0.0, T + 1000)
            args = Arguments(external_labels={"cluster": "prod", "region": "eu"},
                             endpoint=[Endpoint(url=sink.url, queue_config=fast_queue())])
            await run(sink, args, [batch], "prometheus.remote_write.basic", lambda s: s.sample_count() >= 3)
            assert sorted(sink.samples) == sorted([
                ((("__address__", "h:1"), ("__meta_x", "hidden"), ("__name__", "up"), ("cluster", "prod"), ("job", "a"),
                  ("region", "eu")), 1.0, T),
                ((("__name__", "mem"), ("cluster", "mine"), ("job", "a"), ("region", "eu")), 5.5, T),
                ((("__address__", "h:1"), ("__meta_x", "hidden"), ("__name__", "up"), ("cluster", "prod"), ("job", "a"),
                  ("region", "eu")), 0.0, T + 1000),
            ])
            headers = sink.received[0].headers
            assert headers["Content-Encoding"] == "snappy"
            assert headers["Content-Type"] == "application/x-protobuf"
            assert headers["X-Prometheus-Remote-Write-Version"] == "0.1.0"
            assert headers["User-Agent"].startswith("collector/")

    asyncio.run(scenario())


def test_retries_5xx_and_429_with_retry_after_then_delivers_once() -> None:
    async def scenario() -> None:
        async with RemoteWriteSink(responses=[(503, {}), (429, {"Retry-After": "0"}), (500, {})]) as sink:
            batch = SampleBatch()
            batch.append(Series({"__name__": "x"}), 1.0, T)
            cid = "prometheus.remote_write.retry"
            await run(sink, Arguments(endpoint=[Endpoint(url=sink.url, queue_config=fast_queue())]), [batch], cid,
                      lambda s: s.sample_count() >= 1)
            assert sink.attempts == 4 and sink.sample_count() == 1
            name = endpoint_name(Endpoint(url=sink.url))
            assert metric("prometheus_remote_storage_samples_retried_total", cid, sink.url, name) == 3
            assert metric("prometheus_remote_storage_samples_failed_total", cid, sink.url, name) == 0

    asyncio.run(scenario())


@pytest.mark.parametrize("status", [400, 401, 404, 413, 429])
def test_other_4xx_dropped_without_retry(status: int) -> None:
    async def scenario() -> None:
        async with RemoteWriteSink(responses=[(status, {})]) as sink:
            first, second = SampleBatch(), SampleBatch()
            first.append(Series({"__name__": "x"}), 1.0, T)
            second.append(Series({"__name__": "x"}), 2.0, T + 1)
            cid = f"prometheus.remote_write.drop{status}"
            queue = fast_queue(retry_on_http_429=False, max_samples_per_send=1)
            await run(sink, Arguments(endpoint=[Endpoint(url=sink.url, name="ep", queue_config=queue)]),
                      [first, second], cid, lambda s: s.sample_count() >= 1)
            assert sink.attempts == 2
            assert [v for _, v, _ in sink.samples] == [2.0]
            assert metric("prometheus_remote_storage_samples_failed_total", cid, sink.url, "ep") == 1

    asyncio.run(scenario())


def test_per_series_order_kept_across_shards_batches_and_retries() -> None:
    async def scenario() -> None:
        responses = [(503, {}) for _ in range(3)]
        async with RemoteWriteSink(responses=responses) as sink:
            series = [Series({"__name__": "s", "i": str(i)}) for i in range(40)]
            batches = []
            for step in range(30):
                batch = SampleBatch()
                for s in series:
                    batch.append(s, float(step), T + step * 1000)
                batches.append(batch)
            queue = fast_queue(max_samples_per_send=37, min_shards=4, max_shards=4, capacity=100)
            await run(sink, Arguments(endpoint=[Endpoint(url=sink.url, queue_config=queue)]), batches,
                      "prometheus.remote_write.order", lambda s: s.sample_count() >= 1200)
            per_series: dict[tuple[tuple[str, str], ...], list[int]] = {}
            for labels, _, ts in sink.samples:
                per_series.setdefault(labels, []).append(ts)
            assert len(per_series) == 40
            for stamps in per_series.values():
                assert stamps == [T + step * 1000 for step in range(30)]

    asyncio.run(scenario())


def test_write_relabel_config_drops_series_and_counts() -> None:
    async def scenario() -> None:
        async with RemoteWriteSink() as sink:
            batch = SampleBatch()
            batch.append(Series({"__name__": "keep_me"}), 1.0, T)
            batch.append(Series({"__name__": "go_gc"}), 2.0, T)
            rules = [Rule(source_labels=["__name__"], regex="go_.*", action="drop")]
            cid = "prometheus.remote_write.relabel"
            await run(sink, Arguments(endpoint=[Endpoint(url=sink.url, name="r", queue_config=fast_queue(),
                                                         write_relabel_config=rules)]),
                      [batch], cid, lambda s: s.sample_count() >= 1)
            assert [labels for labels, _, _ in sink.samples] == [(("__name__", "keep_me"),)]
            assert metric("prometheus_remote_storage_samples_dropped_total", cid, sink.url, "r") == 1

    asyncio.run(scenario())


def test_two_endpoints_each_get_everything() -> None:
    async def scenario() -> None:
        async with RemoteWriteSink() as a, RemoteWriteSink() as b:
            batch = SampleBatch()
            batch.append(Series({"__name__": "x"}), 1.0, T)
            args = Arguments(endpoint=[Endpoint(url=a.url, name="a", queue_config=fast_queue()),
                                       Endpoint(url=b.url, name="b", queue_config=fast_queue())])
            component = RemoteWrite(context("prometheus.remote_write.two"), args)
            await component.start()
            await component.append(batch)
            await a.wait_for(lambda s: s.sample_count() == 1)
            await b.wait_for(lambda s: s.sample_count() == 1)
            await component.shutdown(time.monotonic() + 1)

    asyncio.run(scenario())


def test_arguments_validation() -> None:
    with pytest.raises(ArgumentError) as err:
        Arguments(endpoint=[Endpoint(url="ftp://x")]).validate()
    assert err.value.attribute == "endpoint.url"
    with pytest.raises(ArgumentError):
        Arguments(endpoint=[Endpoint(url="http://x", name="a"), Endpoint(url="http://y", name="a")]).validate()
    with pytest.raises(ArgumentError) as err:
        Arguments(endpoint=[Endpoint(url="http://x", write_relabel_config=[Rule(action="nope")])]).validate()
    assert err.value.attribute == "endpoint.write_relabel_config.action"
    assert str(err.value) == 'unrecognized action type "nope"'
    Arguments(endpoint=[Endpoint(url="http://x")]).validate()
    defaults = Endpoint(url="http://x").queue_config
    assert (defaults.capacity, defaults.max_shards, defaults.max_samples_per_send, defaults.batch_send_deadline,
            defaults.min_backoff, defaults.max_backoff, defaults.retry_on_http_429) == (10000, 50, 2000, 5.0, 0.03,
                                                                                        5.0, True)


def test_sample_age_limit_drops_and_counts_old_samples() -> None:
    async def scenario() -> None:
        async with RemoteWriteSink() as sink:
            now_ms = int(time.time() * 1000)
            batch = SampleBatch()
            batch.append(Series({"__name__": "old", "job": "a"}), 1.0, now_ms - 3_600_000)
            batch.append(Series({"__name__": "new", "job": "a"}), 2.0, now_ms)
            endpoint = Endpoint(url=sink.url, name="aged", queue_config=fast_queue(sample_age_limit=60.0))
            cid = "prometheus.remote_write.aged"
            await run(sink, Arguments(endpoint=[endpoint]), [batch], cid, lambda s: s.sample_count() >= 1)
            assert [labels for labels, _, _ in sink.samples] == [(("__name__", "new"), ("job", "a"))]
            assert metric("prometheus_remote_storage_samples_dropped_total", cid, sink.url, "aged") == 1.0

    asyncio.run(scenario())
