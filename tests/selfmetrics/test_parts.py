"""One value per pipeline part when the parts share a process (small-host mode)."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, Counter, Gauge, values

from collector.selfmetrics.parts import PART, PartValue


def _in_parts(*steps: tuple[str, object]) -> None:
    async def run(part: str, step: object) -> None:
        PART.set(part)
        step()  # type: ignore[operator]

    async def main() -> None:
        for part, step in steps:
            await asyncio.ensure_future(run(part, step))

    asyncio.run(main())


def test_gauges_merge_parts_as_the_multiprocess_mode_says_and_counters_add_up() -> None:
    registry = CollectorRegistry()
    saved = values.ValueClass
    values.ValueClass = PartValue
    try:
        livesum = Gauge("queue_items", "held", ["component_id"], registry=registry, multiprocess_mode="livesum")
        livemax = Gauge("oldest_age", "age", ["component_id"], registry=registry, multiprocess_mode="livemax")
        counter = Counter("sent", "sent", ["component_id"], registry=registry)
        _in_parts(("worker traces/0", lambda: livesum.labels("out").set(10)),
                  ("worker logs/0", lambda: livesum.labels("out").set(5)),
                  ("worker traces/0", lambda: livesum.labels("out").set(7)),  # a part's own value is replaced
                  ("worker traces/0", lambda: livemax.labels("out").set(3.0)),
                  ("worker logs/0", lambda: livemax.labels("out").set(9.0)),
                  ("worker traces/0", lambda: counter.labels("out").inc(2)),
                  ("worker logs/0", lambda: counter.labels("out").inc(3)))
    finally:
        values.ValueClass = saved
    assert registry.get_sample_value("queue_items", {"component_id": "out"}) == 12
    assert registry.get_sample_value("oldest_age", {"component_id": "out"}) == 9.0
    assert registry.get_sample_value("sent_total", {"component_id": "out"}) == 5
