"""ComponentHost: build-time wiring, runtime services, and reloads that re-point fan-outs in place."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import ClassVar

import msgspec
import pytest

from collector.components.kit.api import (
    Component, Health, HealthState, MissingServiceError, Placement, Retirement, RuntimeServices, Service,
)
from collector.components.kit.processorhelper import Processor
from collector.components.kit.registry import ComponentInfo, register
from collector.components.kit.types import Output
from collector.config.diag import Sources
from collector.pipeline.loader import load_sources
from collector.pipeline.model import Pipeline
from collector.pipeline.plan import receiver_components, worker_components
from collector.runtime.host import ComponentHost
from collector.signals import Payload, Signal
from tests.transport import payloads

TABLE: dict[str, ComponentInfo] = {}


class OutputArgs(msgspec.Struct, frozen=True, kw_only=True):
    output: Output


class SinkArgs(msgspec.Struct, frozen=True, kw_only=True):
    tag: str = "a"


@register("test.receiver", arguments=OutputArgs, emits=tuple(Signal), placement=Placement.RECEIVER, table=TABLE)
class Receiver(Component[OutputArgs]):
    needs = frozenset({Service.ADMISSION})


@register("test.pass", arguments=OutputArgs, accepts=tuple(Signal), emits=tuple(Signal), table=TABLE)
class Pass(Processor[OutputArgs]):
    def process(self, payload: Payload) -> Payload:
        return payload


@register("test.sink", arguments=SinkArgs, accepts=tuple(Signal), table=TABLE)
class Sink(Component[SinkArgs]):
    seen: ClassVar[list[tuple[str, int]]] = []

    async def consume(self, payload: Payload) -> None:
        Sink.seen.append((self.args.tag, id(self)))
        payload.settle()


def _config(tag: str, receivers: tuple[str, ...] = ("in",)) -> Pipeline:
    text = "".join(f'test.receiver "{r}" {{\n  output {{ logs = [test.pass.p.input] }}\n}}\n' for r in receivers)
    text += 'test.pass "p" {\n  output { logs = [test.sink.s.input] }\n}\n'
    text += f'test.sink "s" {{\n  tag = "{tag}"\n}}\n'
    return load_sources(Sources({"main.alloy": text.encode()}), components=TABLE)


def _worker_host(pipeline: Pipeline) -> ComponentHost:
    return ComponentHost(pipeline, worker_components(pipeline, Signal.LOGS), process_role="worker logs/0",
                         storage_path=Path("data-test"), http_listen_addr="127.0.0.1:0",
                         worker_signal=Signal.LOGS, services=RuntimeServices(workers_for_signal=1))


def _logs() -> Payload:
    return Payload(Signal.LOGS, data=payloads.logs(2).SerializeToString())


def test_reload_repoints_the_same_fanouts_at_the_replacements() -> None:
    async def scenario() -> None:
        Sink.seen.clear()
        host = _worker_host(_config("a"))
        host.build()
        await host.start()
        entries = host.entry_points(receiver_components(host.pipeline))
        entry = entries["test.receiver.in"][Signal.LOGS]
        kept = host.instances["test.pass.p"]
        fanout = kept.output[Signal.LOGS]
        await entry.consume(_logs())

        new = _config("b")
        report = await host.apply(new, worker_components(new, Signal.LOGS), 1.0)
        assert report.kept == ["test.pass.p"] and report.replaced == ["test.sink.s"]
        assert host.instances["test.pass.p"] is kept and kept.output[Signal.LOGS] is fanout
        assert fanout.consumers == [host.instances["test.sink.s"]]
        # the receiver's output did not change: its entry fan-out is the same object, still wired
        assert host.entry_points(receiver_components(new))["test.receiver.in"][Signal.LOGS] is entry
        await entry.consume(_logs())
        assert [tag for tag, _ in Sink.seen] == ["a", "b"]
        await host.shutdown(1.0)

    asyncio.run(scenario())


def test_entry_points_of_removed_receivers_live_one_more_reload() -> None:
    async def scenario() -> None:
        host = _worker_host(_config("a", ("in", "old")))
        host.build()
        await host.start()
        assert set(host.entry_points(receiver_components(host.pipeline))) == {"test.receiver.in", "test.receiver.old"}
        new = _config("a", ("in",))
        await host.apply(new, worker_components(new, Signal.LOGS), 1.0)
        # records of "old" may still be in the rings: they still reach what its output named
        after = host.entry_points(receiver_components(new))
        assert set(after) == {"test.receiver.in", "test.receiver.old"}
        assert after["test.receiver.old"][Signal.LOGS].consumers == [host.instances["test.pass.p"]]
        assert set(host.entry_points(receiver_components(new))) == {"test.receiver.in"}
        await host.shutdown(1.0)

    asyncio.run(scenario())


def test_a_component_needing_a_service_the_process_lacks_fails_to_build() -> None:
    pipeline = _config("a")
    host = ComponentHost(pipeline, ["test.receiver.in"], process_role="worker logs/0",
                         storage_path=Path("data-test"), http_listen_addr="127.0.0.1:0",
                         services=RuntimeServices(workers_for_signal=1))
    with pytest.raises(MissingServiceError, match=r"test.receiver.in needs admission .* 'worker logs/0'"):
        host.build()


def test_wires_of_retired_instances_are_forgotten() -> None:
    async def scenario() -> None:
        host = _worker_host(_config("a"))
        host.build()
        await host.start()
        before = len(host._wires)
        for tag in ("b", "c", "d"):
            new = _config(tag)
            await host.apply(new, worker_components(new, Signal.LOGS), 1.0)
        assert len(host._wires) == before  # a reload does not accumulate stale fan-outs
        await host.shutdown(1.0)

    asyncio.run(scenario())


def test_retired_instances_learn_why_and_who_takes_over() -> None:
    """A reload marks a replaced instance REPLACED with its successor, a removed one REMOVED; a
    process stop leaves every instance EXIT (held payloads stay in the rings for the next start)."""
    async def scenario() -> None:
        host = _worker_host(_config("a"))
        host.build()
        await host.start()
        old_sink = host.instances["test.sink.s"]
        new = _config("b")
        await host.apply(new, worker_components(new, Signal.LOGS), 1.0)
        assert old_sink.retirement is Retirement.REPLACED and old_sink.successor is host.instances["test.sink.s"]
        current = list(host.instances.values())
        await host.shutdown(1.0)
        assert all(i.retirement is Retirement.EXIT and i.successor is None for i in current)

    asyncio.run(scenario())


def test_a_health_change_while_running_is_reported() -> None:
    """A component that turns unhealthy by itself (a full disk, a failing sender) is reported within
    a poll, not only at start and shutdown."""
    async def scenario() -> list[dict[str, object]]:
        events: list[dict[str, object]] = []
        pipeline = _config("a")
        host = ComponentHost(pipeline, worker_components(pipeline, Signal.LOGS), process_role="worker logs/0",
                             storage_path=Path("data-test"), http_listen_addr="127.0.0.1:0",
                             worker_signal=Signal.LOGS, services=RuntimeServices(workers_for_signal=1),
                             report=events.append)
        host.build()
        await host.start()
        host.instances["test.sink.s"].health = Health(HealthState.UNHEALTHY, "WAL append failed: disk full")
        deadline = time.monotonic() + 5
        while not any(e.get("state") == "unhealthy" for e in events) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await host.shutdown(1.0)
        return events

    events = asyncio.run(scenario())
    unhealthy = [e for e in events if e.get("state") == "unhealthy"]
    assert unhealthy == [{"event": "health", "component": "test.sink.s", "state": "unhealthy",
                          "message": "WAL append failed: disk full"}]
