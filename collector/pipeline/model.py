"""The loaded configuration as plain data: what the runtime instantiates and the web UI shows."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from collector.components.kit.api import ConsumerRef, MetricsReceiverRef
from collector.signals import Signal

if TYPE_CHECKING:
    from collector.components.kit.registry import ComponentInfo
    from collector.config.ast import Block
    from collector.config.diag import Diagnostic, Span

EdgeKind = Literal["otlp", "samples", "targets", "value"]


@dataclass(slots=True)
class Node:
    id: str
    name: str
    label: str
    info: ComponentInfo
    args: msgspec.Struct
    exports: msgspec.Struct  # the component's typed Exports
    export_values: dict[str, Any]  # the same as the configuration sees them: Alloy name -> value
    span: Span
    block: Block
    references_to: list[str] = field(default_factory=list)
    referenced_by: list[str] = field(default_factory=list)
    yaml_id: str = ""  # the OpenTelemetry Collector ID this block was converted from (YAML configs)


@dataclass(frozen=True, slots=True)
class Edge:
    """Data flows from `source` to `target` (reference A.7 rule 7)."""

    source: str
    target: str
    signal: Signal | None
    kind: EdgeKind


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    level: str = "info"
    format: str = "logfmt"


@dataclass(slots=True)
class Pipeline:
    sources: Any  # collector.config.diag.Sources: file name -> bytes
    nodes: dict[str, Node]
    order: list[str]  # dependencies first
    edges: list[Edge]
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    config_blocks: dict[str, msgspec.Struct] = field(default_factory=dict)
    config_hash: str = ""
    warnings: list[Diagnostic] = field(default_factory=list)
    # an OpenTelemetry Collector YAML's health_check extension (collector.otelcolconfig.convert.HealthCheck)
    health_check: Any = None

    @property
    def livedebugging_enabled(self) -> bool:
        block = self.config_blocks.get("livedebugging")
        return bool(getattr(block, "enabled", False))

    # (edge count when built, edges by source, edges by target): planning asks for every node's
    # edges, and scanning the whole list each time made a 10,000-component chain quadratic
    _edge_index: tuple[int, dict[str, list[Edge]], dict[str, list[Edge]]] | None = field(
        default=None, init=False, repr=False, compare=False)

    def _edges_by(self) -> tuple[dict[str, list[Edge]], dict[str, list[Edge]]]:
        index = self._edge_index
        if index is None or index[0] != len(self.edges):
            by_source: dict[str, list[Edge]] = {}
            by_target: dict[str, list[Edge]] = {}
            for edge in self.edges:
                by_source.setdefault(edge.source, []).append(edge)
                by_target.setdefault(edge.target, []).append(edge)
            index = self._edge_index = (len(self.edges), by_source, by_target)
        return index[1], index[2]

    def edges_from(self, node_id: str) -> list[Edge]:
        return list(self._edges_by()[0].get(node_id, ()))

    def edges_to(self, node_id: str) -> list[Edge]:
        return list(self._edges_by()[1].get(node_id, ()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "config_hash": self.config_hash,
            "order": list(self.order),
            "nodes": [_node_dict(self.nodes[i], self.edges_from(i)) for i in self.order],
            "edges": [
                {
                    "source": e.source,
                    "target": e.target,
                    "signal": e.signal.value if e.signal else None,
                    "kind": e.kind,
                }
                for e in self.edges
            ],
            "logging": {"level": self.logging.level, "format": self.logging.format},
        }


def hash_sources(sources: Any) -> str:
    """sha256 over every file in name order, so a reload of identical text is recognisable."""
    digest = hashlib.sha256()
    for name in sorted(sources):
        digest.update(bytes(sources[name]))
    return digest.hexdigest()


def _node_dict(node: Node, out_edges: list[Edge]) -> dict[str, Any]:
    return {
        "id": node.id,
        "kind": component_kind(node.name),
        "name": node.name,
        "label": node.label,
        "placement": node.info.placement.value,
        "references_to": list(node.references_to),
        "referenced_by": list(node.referenced_by),
        "data_flow_edges_to": sorted({e.target for e in out_edges}),
        "arguments": plain(node.args),
        "exports": plain(node.exports),
    }


def component_kind(name: str) -> str:
    """The component family shown in summaries: receiver, processor, exporter, connector, ..."""
    parts = name.split(".")
    return parts[1] if parts[0] == "otelcol" and len(parts) > 2 else parts[0]


def plain(value: Any) -> Any:
    """A JSON-ready copy of a value: structs become objects, capsules and secrets strings."""
    from collector.config.values import Function, Secret

    if isinstance(value, Secret):
        return "(secret)"
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, msgspec.Struct):
        return {
            f.encode_name: plain(getattr(value, f.name)) for f in msgspec.structs.fields(type(value))
        }
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if isinstance(value, (ConsumerRef, MetricsReceiverRef)):
        return str(value)
    if isinstance(value, Function):
        return f"function({value.name})"
    return f'capsule("{value}")'
