"""Throw-away components for loader, decoder and plan tests.

They live in their own table (`TEST_COMPONENTS`), handed to `load_sources(components=...)`, so
tests never touch the shared registry. `declare` is `@register` into that table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from collector.components.kit.api import (
    ArgumentError,
    Component,
    EvalContext,
    MetricsReceiverRef,
    Placement,
    ReceiverExports,
)
from collector.components.kit.registry import ComponentInfo, register
from collector.components.kit.types import ByteSize, Duration, Output, Secret, Targets, TargetsExports
from collector.config.diag import Sources
from collector.pipeline.loader import load_sources
from collector.pipeline.model import Pipeline
from collector.signals import Signal

TEST_COMPONENTS: dict[str, ComponentInfo] = {}

C = TypeVar("C", bound=type[Component[Any]])
ALL = (Signal.TRACES, Signal.METRICS, Signal.LOGS)


def load_text(text: str, name: str = "main.alloy") -> Pipeline:
    """Load one configuration file against the test table."""
    return load_sources(Sources({name: text.encode()}), components=TEST_COMPONENTS)


def declare(name: str, **declaration: Any) -> Callable[[C], C]:
    """`@register` into `TEST_COMPONENTS` instead of the shared registry."""
    return register(name, table=TEST_COMPONENTS, **declaration)


class ReceiverArgs(msgspec.Struct, frozen=True, kw_only=True):
    output: Output


@declare("test.receiver", arguments=ReceiverArgs, emits=ALL, placement=Placement.RECEIVER)
class Receiver(Component):
    pass


class Rule(msgspec.Struct, frozen=True, kw_only=True):
    action: str = "replace"
    target_label: str = ""

    def validate(self) -> None:
        if self.action == "replace" and not self.target_label:
            raise ArgumentError(
                "relabel configuration for replace action requires 'target_label' value", "rule.action"
            )


class Client(msgspec.Struct, frozen=True, kw_only=True):
    endpoint: str
    password: Secret = Secret("")
    max_size: ByteSize = 4 << 20


class ProcessorArgs(msgspec.Struct, frozen=True, kw_only=True):
    output: Output
    timeout: Duration = 0.2
    size: int = 10
    ratio: float = 0.5
    enabled: bool = True
    name: str = "x"
    names: list[str] = msgspec.field(default_factory=list)
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    rule: list[Rule] = msgspec.field(default_factory=list)
    client: Client | None = None

    def validate(self) -> None:
        for rule in self.rule:
            rule.validate()
        if self.size < 0:
            raise ArgumentError("size must not be negative", "size")
        if self.client is not None and not self.client.endpoint.startswith("http"):
            raise ArgumentError("endpoint must be an http URL", "client.endpoint")


@declare("test.processor", arguments=ProcessorArgs, accepts=ALL, emits=ALL)
class Processor(Component):
    pass


class ConnectorArgs(msgspec.Struct, frozen=True, kw_only=True):
    output: Output


@declare("test.connector", arguments=ConnectorArgs, accepts=[Signal.TRACES], emits=[Signal.METRICS])
class Connector(Component):
    pass


class ExporterArgs(msgspec.Struct, frozen=True, kw_only=True):
    endpoint: str = "http://127.0.0.1:1"


@declare("test.exporter", arguments=ExporterArgs, accepts=ALL)
class Exporter(Component):
    pass


class MetricsExporterArgs(msgspec.Struct, frozen=True, kw_only=True):
    forward_to: list[MetricsReceiverRef]


@declare("test.metrics_exporter", arguments=MetricsExporterArgs, accepts=[Signal.METRICS])
class MetricsExporter(Component):
    pass


class SinkArgs(msgspec.Struct, frozen=True, kw_only=True):
    url: str = "http://127.0.0.1:1/api/v1/write"


@declare("test.sink", arguments=SinkArgs, exports=ReceiverExports, accepts=[Signal.METRICS])
class Sink(Component[SinkArgs]):
    @classmethod
    def exports(cls, ctx: EvalContext, args: SinkArgs) -> ReceiverExports:
        return ReceiverExports(MetricsReceiverRef(ctx.component_id))


class TargetsArgs(msgspec.Struct, frozen=True, kw_only=True):
    address: str = "127.0.0.1:9"


@declare("test.targets", arguments=TargetsArgs, exports=TargetsExports, placement=Placement.SUPERVISOR)
class TargetsSource(Component[TargetsArgs]):
    @classmethod
    def exports(cls, ctx: EvalContext, args: TargetsArgs) -> TargetsExports:
        return TargetsExports([{"__address__": args.address, "listen": ctx.http_listen_addr}])


class RelabelArgs(msgspec.Struct, frozen=True, kw_only=True):
    targets: Targets
    rule: list[Rule] = msgspec.field(default_factory=list)


class RelabelExports(msgspec.Struct, frozen=True):
    output: Targets


@declare("test.relabel", arguments=RelabelArgs, exports=RelabelExports, placement=Placement.NOWHERE)
class Relabel(Component[RelabelArgs]):
    @classmethod
    def exports(cls, ctx: EvalContext, args: RelabelArgs) -> RelabelExports:
        return RelabelExports([dict(t, relabelled="yes") for t in args.targets])


class ScrapeArgs(msgspec.Struct, frozen=True, kw_only=True):
    targets: Targets
    forward_to: list[MetricsReceiverRef]
    scrape_interval: Duration = 60.0


@declare("test.scrape", arguments=ScrapeArgs, emits=[Signal.METRICS])
class Scrape(Component):
    pass


class ChainArgs(msgspec.Struct, frozen=True, kw_only=True):
    value: Any = None


class ChainExports(msgspec.Struct, frozen=True):
    value: Any


@declare("test.chain", arguments=ChainArgs, exports=ChainExports, placement=Placement.NOWHERE)
class Chain(Component[ChainArgs]):
    """Exports its argument, for reference and cycle tests."""

    @classmethod
    def exports(cls, ctx: EvalContext, args: ChainArgs) -> ChainExports:
        return ChainExports(args.value)
