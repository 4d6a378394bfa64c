from __future__ import annotations

import asyncio
from typing import Sequence

import pytest
from aiohttp import web

from collector.components.kit.api import ArgumentError, MetricsReceiverRef, RuntimeServices
from collector.components.prometheus.scrape import Arguments, Scrape
from collector.protocols.prometheus.series import SampleBatch
from collector.testing.context import build_context

EXPOSITION = "# TYPE reqs_total counter\nreqs_total{code=\"200\"} 5\nmem_bytes 100\n"


class Collect:
    def __init__(self) -> None:
        self.batches: list[SampleBatch] = []
        self.arrived = asyncio.Event()

    async def append(self, batch: SampleBatch) -> None:
        self.batches.append(batch)
        self.arrived.set()


async def serve(status: int = 200) -> tuple[web.AppRunner, str, list[dict[str, str]]]:
    seen: list[dict[str, str]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.Response(status=status, text=EXPOSITION, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"127.0.0.1:{runner.addresses[0][1]}", seen


def make(address: str, sink: Collect, more_targets: Sequence[dict[str, str]] = (), **kw: object) -> Scrape:
    interval = float(kw.pop("scrape_interval", 60.0))  # type: ignore[arg-type]
    args = Arguments(targets=[{"__address__": address, "team": "a"}, *more_targets],
                     forward_to=[MetricsReceiverRef("sink")], scrape_interval=interval,
                     scrape_timeout=min(5.0, interval), **kw)  # type: ignore[arg-type]
    args.validate()
    ctx = build_context(Scrape, "prometheus.scrape.t", consumers={"sink": sink})
    return Scrape(ctx, args)


def scrape_once(status: int = 200, more_targets: Sequence[dict[str, str]] = (),
                **kw: object) -> tuple[SampleBatch, str]:
    """Serve EXPOSITION with `status`, scrape it once with a `make(...)` scrape; the last batch it
    forwarded and the target's status (`up` or `down: <reason>`)."""
    async def scenario() -> tuple[SampleBatch, str]:
        runner, address, _ = await serve(status)
        sink = Collect()
        scrape = make(address, sink, more_targets, **kw)
        await scrape.start()
        try:
            state = next(s for s in scrape._states.values() if s.target.url.startswith(f"http://{address}"))
            await scrape.scrape_once(state, scrape.args)
        finally:
            await scrape.shutdown()
            await runner.cleanup()
        return sink.batches[-1], next(v for k, v in scrape.last_status.items() if address in k)

    return asyncio.run(scenario())


def names_and_values(batch: SampleBatch) -> dict[str, float]:
    return {s.name: v for s, v, _ in batch.rows()}


def test_scrape_forwards_samples_with_target_labels_and_up() -> None:
    async def scenario() -> None:
        runner, address, seen = await serve()
        sink = Collect()
        scrape = make(address, sink, scrape_interval=0.2)
        await scrape.start()
        try:
            await asyncio.wait_for(sink.arrived.wait(), 10)
        finally:
            await scrape.shutdown()
            await scrape.shutdown()
            await runner.cleanup()
        rows = {(dict(s.labels)["__name__"], s.labels): v for s, v, _ in sink.batches[0].rows()}
        assert rows[("reqs_total", (("__name__", "reqs_total"), ("code", "200"), ("instance", address),
                                    ("job", "prometheus.scrape.t"), ("team", "a")))] == 5.0
        assert rows[("up", (("__name__", "up"), ("instance", address), ("job", "prometheus.scrape.t"),
                            ("team", "a")))] == 1.0
        assert seen[0]["User-Agent"].startswith("collector/")
        assert "X-Prometheus-Scrape-Timeout-Seconds" in seen[0]

    asyncio.run(scenario())


def test_failed_scrape_reports_up_zero() -> None:
    batch, _ = scrape_once(status=500)
    assert [v for s, v, _ in batch.rows() if s.name == "up"] == [0.0]


def test_only_the_owning_worker_scrapes() -> None:
    targets = [{"__address__": f"h{i}:1"} for i in range(20)]
    args = Arguments(targets=targets, forward_to=[])
    owned = []
    for index in range(2):
        ctx = build_context(Scrape, "prometheus.scrape.o", services=RuntimeServices(workers_for_signal=2))
        ctx.worker_index = index
        owned.append(set(Scrape(ctx, args).owned_targets(args)))
    assert owned[0].isdisjoint(owned[1]) and len(owned[0] | owned[1]) == 20


def test_validation() -> None:
    with pytest.raises(ArgumentError) as err:
        Arguments(targets=[], forward_to=[], scrape_interval=5.0).validate()
    assert str(err.value) == 'scrape_timeout (10s) greater than scrape_interval (5s) for scrape config with job name ""'
    assert err.value.attribute == "scrape_timeout"
    with pytest.raises(ArgumentError):
        Arguments(targets=[], forward_to=[], bearer_token="x", basic_auth=None,  # type: ignore[arg-type]
                  bearer_token_file="f").validate()


def test_reload_writes_staleness_markers_for_removed_targets_only() -> None:
    """A reload replaces the component: the old instance marks the series of the targets the new one
    no longer scrapes as stale (Prometheus's StaleNaN), and leaves the kept target alone."""
    from collector.protocols.prometheus.series import is_stale_nan

    async def scenario() -> None:
        runner, address, _ = await serve()
        sink = Collect()
        ctx = build_context(Scrape, "prometheus.scrape.r", consumers={"sink": sink})
        both = Arguments(targets=[{"__address__": address}, {"__address__": address, "team": "b"}],
                         forward_to=[MetricsReceiverRef("sink")])
        old = Scrape(ctx, both)
        await old.start()
        try:
            for state in list(old._states.values()):
                await old.scrape_once(state, both)
            sink.batches.clear()
            one = Arguments(targets=[{"__address__": address}], forward_to=[MetricsReceiverRef("sink")])
            new = Scrape(build_context(Scrape, "prometheus.scrape.r", consumers={"sink": sink}), one)
            await new.start()
            await old.shutdown()
            await new.shutdown()
        finally:
            await runner.cleanup()
        stale = [(s, v) for batch in sink.batches for s, v, _ in batch.rows()]
        assert stale and all(is_stale_nan(v) for _, v in stale)
        assert {dict(s.labels).get("team") for s, _ in stale} == {"b"}
        assert {s.name for s, _ in stale} >= {"reqs_total", "mem_bytes", "up"}

    asyncio.run(scenario())


@pytest.mark.parametrize("limits,reason", [
    (dict(label_limit=3), "label_limit exceeded"),
    (dict(label_name_length_limit=4), "label_name_length_limit exceeded"),
    (dict(label_value_length_limit=2), "label_value_length_limit exceeded"),
    (dict(target_limit=1), "target_limit exceeded"),
])
def test_label_and_target_limits_fail_the_scrape(limits: dict[str, int], reason: str) -> None:
    """Prometheus's limits: a scrape over any of them is a failed scrape (`up` 0, nothing else)."""
    more_targets = [{"__address__": "127.0.0.1:9", "team": "b"}] if "target_limit" in limits else []
    batch, status = scrape_once(more_targets=more_targets, **limits)
    rows = names_and_values(batch)
    assert rows["up"] == 0.0 and "reqs_total" not in rows
    assert reason in status


def test_within_the_limits_the_scrape_succeeds() -> None:
    batch, _ = scrape_once(label_limit=5, label_name_length_limit=20, label_value_length_limit=64, target_limit=1)
    rows = names_and_values(batch)
    assert rows["up"] == 1.0 and rows["reqs_total"] == 5.0


@pytest.mark.parametrize("extra", [True, False])
def test_extra_metrics(extra: bool) -> None:
    batch, _ = scrape_once(sample_limit=100, extra_metrics=extra)
    rows = names_and_values(batch)
    if extra:
        assert rows["scrape_timeout_seconds"] == 5.0 and rows["scrape_sample_limit"] == 100.0
        assert rows["scrape_body_size_bytes"] == float(len(EXPOSITION))
    else:
        assert not {"scrape_timeout_seconds", "scrape_sample_limit", "scrape_body_size_bytes"} & set(rows)


@pytest.mark.parametrize("track", [False, True])
def test_track_timestamps_staleness(track: bool) -> None:
    """A series exposed with its own timestamp gets a staleness marker when it vanishes only with
    `track_timestamps_staleness = true` (Prometheus's rule); one without a timestamp always does."""
    from collector.components.prometheus.scrape.targets import ScrapeState, Target
    from collector.protocols.prometheus.series import is_stale_nan
    from collector.protocols.prometheus.textparse import parse

    state = ScrapeState(Target("http://h/metrics", (("job", "j"),), 60.0, 10.0, "k"),
                        track_timestamps_staleness=track)
    state.success(parse("stamped 1 1700000000000\nplain 2\n"), 1_700_000_060_000, 0.01)
    batch = state.success(parse("other 3\n"), 1_700_000_120_000, 0.01)
    stale = sorted(s.name for s, v, _ in batch.rows() if is_stale_nan(v))
    assert stale == (["plain", "stamped"] if track else ["plain"])
