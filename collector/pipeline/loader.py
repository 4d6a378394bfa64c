"""Configuration path -> `Pipeline` (reference A.7), or a `DiagnosticError` with every mistake.

Theory of operation. Every process runs this same function on the same files, so each ends up with
the same graph and can pick its own share of it (`collector.pipeline.plan`):

1. read and parse every file; syntax errors stop here (later stages would only add noise);
2. sort top-level blocks into config blocks (`logging`, `http`, ...) and components; reject
   top-level attributes, unknown component names, missing labels and duplicate IDs;
3. resolve every reference chain in every component body to a component (A.5) and build the
   dependency graph; reject unresolvable chains, self references and cycles;
4. evaluate components in topological order: evaluate the body with the standard library and the
   exports of the components evaluated so far in scope, decode it into the component's `Arguments`
   (`collector.pipeline.decode`), then compute its exports. A component that depends on a failed
   one is still decoded, but errors at its references to failed components are dropped: they
   would not be independent;
5. derive the data-flow edges (A.7 rule 7) from the references and the exported values.

Problems are collected, never raised one by one, so a single run reports all independent errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from collector.components.kit.api import ConsumerRef, EvalContext, MetricsReceiverRef, Placement, export_values
from collector.components.kit.registry import ComponentInfo, all_components
from collector.config import ast
from collector.config.diag import Diagnostic, DiagnosticError, Severity, Sources, Span, has_errors
from collector.pipeline.configblocks import CONFIG_BLOCKS, UNSUPPORTED_BLOCKS, Logging
from collector.pipeline.dag import Graph
from collector.pipeline.decode import decode_block
from collector.pipeline.model import Edge, EdgeKind, LoggingSettings, Node, Pipeline, hash_sources
from collector.pipeline.plan import ReceiverCodeCollision, code_collisions
from collector.pipeline.references import (
    ComponentTable,
    Reference,
    UnresolvedReference,
    attribute_expressions,
)
from collector.signals import Signal

__all__ = ["DEFAULT_HTTP_LISTEN_ADDR", "DEFAULT_STORAGE_PATH", "Edge", "Node", "Pipeline", "load", "load_sources"]

DEFAULT_HTTP_LISTEN_ADDR = "127.0.0.1:12345"
DEFAULT_STORAGE_PATH = Path("data-collector")

_SIGNAL_NAMES = {s.value: s for s in Signal}
# Every process (supervisor, receivers, workers) loads the whole configuration, on start and on
# each reload; past this many components that takes longer than a reload may, and no real
# configuration comes near it. Loading is linear in the components below the cap.
MAX_COMPONENTS = 10_000


def load(
    path: str | Path,
    *,
    http_listen_addr: str = DEFAULT_HTTP_LISTEN_ADDR,
    storage_path: Path = DEFAULT_STORAGE_PATH,
    components: Mapping[str, ComponentInfo] | None = None,
    config_format: str | None = None,
) -> Pipeline:
    """Load a configuration file or directory. `components` replaces the registry (tests).
    `config_format` ("alloy" or "otelcol") overrides the choice by extension (`.yaml`/`.yml` is
    an OpenTelemetry Collector configuration, converted by `collector.otelcolconfig`)."""
    from collector.config.files import read_config
    from collector.otelcolconfig import config_format as detect_format

    if detect_format(path, config_format) == "otelcol" and not Path(path).is_dir():
        from collector.otelcolconfig import load_yaml_config

        return load_yaml_config(path, http_listen_addr=http_listen_addr, storage_path=Path(storage_path))

    sources = read_config(Path(path))
    return load_sources(
        sources, http_listen_addr=http_listen_addr, storage_path=storage_path, components=components
    )


def load_sources(
    sources: Sources,
    *,
    http_listen_addr: str = DEFAULT_HTTP_LISTEN_ADDR,
    storage_path: Path = DEFAULT_STORAGE_PATH,
    components: Mapping[str, ComponentInfo] | None = None,
) -> Pipeline:
    loader = _Loader(
        sources,
        components if components is not None else all_components(),
        EvalContext("", http_listen_addr, Path(storage_path)),
    )
    return loader.run()


class _Loader:
    def __init__(
        self, sources: Sources, components: Mapping[str, ComponentInfo], context: EvalContext
    ) -> None:
        from collector.config.stdlib import STDLIB

        self.sources = sources
        self.registry = components
        self.context = context
        self.stdlib: Mapping[str, Any] = STDLIB
        self.diags: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []
        self.blocks: dict[str, tuple[ast.Block, ComponentInfo]] = {}  # component ID -> block
        self.config_blocks: dict[str, ast.Block] = {}

    def error(self, span: Any, message: str) -> None:
        self.diags.append(Diagnostic.error(span, message))

    def fail(self) -> DiagnosticError:
        ordered = sorted(self.diags + self.warnings, key=lambda d: (d.span.file, d.span.start, d.span.end))
        return DiagnosticError(ordered, self.sources)

    # -- steps ----------------------------------------------------------------------------------
    def run(self) -> Pipeline:
        files = self._parse()
        if has_errors(self.diags):
            raise self.fail()
        for file in files:
            self._sort_top_level(file)
        if len(self.blocks) > MAX_COMPONENTS:
            extra = list(self.blocks.values())[MAX_COMPONENTS][0]
            self.error(extra.name_span, f"too many components: a configuration may declare at most {MAX_COMPONENTS} "
                                        f"(this one declares {len(self.blocks)})")
            raise self.fail()
        references, failed, bad = self._resolve()
        graph = Graph(self.blocks)
        for ref in references:
            graph.add_edge(ref.source, ref.target)
        for cycle in graph.cycles():
            text = Graph.describe_cycle(cycle)
            for member in cycle:
                self.error(self.blocks[member][0].name_span, f"cycle detected: {text}")
                failed.add(member)
        order = graph.topological_order()
        ordered = set(order)
        blocked = [cid for cid in self.blocks if cid not in ordered]  # on or behind a cycle
        failed.update(blocked)
        nodes = self._evaluate(order + blocked, references, failed, bad)
        self._check_ring_codes()
        settings = self._config_blocks()
        if has_errors(self.diags):
            raise self.fail()
        edges = _data_flow(references, nodes)
        for ref in references:
            _add_unique(nodes[ref.source].references_to, ref.target)
            _add_unique(nodes[ref.target].referenced_by, ref.source)
        for node in nodes.values():
            node.references_to.sort()
            node.referenced_by.sort()
        logging = settings.get("logging")
        return Pipeline(
            sources=self.sources,
            nodes={i: nodes[i] for i in order},
            order=order,
            edges=edges,
            logging=LoggingSettings(logging.level, logging.format)
            if isinstance(logging, Logging)
            else LoggingSettings(),
            config_blocks=settings,
            config_hash=hash_sources(self.sources),
            warnings=self.warnings,
        )

    def _parse(self) -> list[ast.File]:
        from collector.config.parser import parse

        files = []
        for name, source in self.sources.items():
            tree, diags = parse(source, name)
            self.diags.extend(diags)
            files.append(tree)
        return files

    def _sort_top_level(self, file: ast.File) -> None:
        for stmt in file.body:
            if isinstance(stmt, ast.Attribute):
                self.error(stmt.name_span, f"unrecognized attribute {stmt.name}")
                continue
            name = stmt.full_name
            if name in CONFIG_BLOCKS:
                if stmt.label is not None:
                    self.error(stmt.name_span, f'block "{name}" does not support specifying labels')
                elif self._not_declared_yet(name, stmt, self.config_blocks):
                    self.config_blocks[name] = stmt
                continue
            if name in UNSUPPORTED_BLOCKS:
                self.error(stmt.name_span, f"{name} blocks are not supported by this collector")
                continue
            info = self.registry.get(name)
            if info is None:
                self.error(stmt.name_span, f'cannot find the definition of component name "{name}"')
            elif not stmt.label:
                self.error(stmt.name_span, f'component "{name}" must have a label')
            elif self._not_declared_yet(stmt.id, stmt, self.blocks):
                self.blocks[stmt.id] = (stmt, info)

    def _not_declared_yet(self, key: str, stmt: ast.Block, seen: Mapping[str, Any]) -> bool:
        first = seen.get(key)
        if first is None:
            return True
        first_block = first[0] if isinstance(first, tuple) else first
        where = self.sources.position(first_block.span)
        self.error(stmt.name_span, f"block {key} already declared at {where}")
        return False

    def _resolve(self) -> tuple[list[Reference], set[str], dict[str, list[Span]]]:
        """References between components, the components with a bad reference, and per component
        the spans of its bad references (errors the evaluator raises there are already reported)."""
        from collector.config.evaluator import references

        table = ComponentTable(list(self.blocks), self.stdlib)
        found: list[Reference] = []
        failed: set[str] = set()
        bad: dict[str, list[Span]] = {cid: [] for cid in self.blocks}
        for cid, (block, _) in self.blocks.items():
            for path, expr in attribute_expressions(block.body):
                for chain, span in references(expr):
                    try:
                        resolved = table.resolve(tuple(chain), span)
                    except UnresolvedReference as exc:
                        self.error(exc.span, str(exc))
                        failed.add(cid)
                        bad[cid].append(span)
                        continue
                    if resolved is None:
                        continue
                    target, export = resolved
                    if target == cid:
                        self.error(span, "cannot reference self")
                        failed.add(cid)
                        bad[cid].append(span)
                        continue
                    found.append(Reference(cid, target, export, path, span))
        return found, failed, bad

    def _evaluate(
        self,
        order: list[str],
        references: list[Reference],
        failed: set[str],
        bad: dict[str, list[Span]],
    ) -> dict[str, Node]:
        """Evaluate `order`; components that cannot be evaluated properly (they are on a cycle, or
        depend on a failed component) still are, with the errors at their references to failed
        components dropped, so their own independent mistakes are reported too."""
        from collector.config.evaluator import Evaluator

        scope = _Scope()
        nodes: dict[str, Node] = {}
        outgoing: dict[str, list[Reference]] = {}
        for ref in references:
            outgoing.setdefault(ref.source, []).append(ref)
        for cid in order:
            block, info = self.blocks[cid]
            blocked = list(bad[cid])
            blocked += [r.span for r in outgoing.get(cid, ()) if r.target in failed]
            evaluator = Evaluator(scope.tree)
            args, diags = decode_block(block.body, info.arguments, evaluator, block.name_span)
            self.diags.extend(d for d in diags if d.severity is Severity.ERROR
                              and not any(_inside(d.span, b) for b in blocked))
            self.warnings.extend(d for d in diags if d.severity is not Severity.ERROR)
            self.warnings.extend(evaluator.warnings)
            if args is None or blocked or cid in failed:
                failed.add(cid)
                continue
            context = EvalContext(cid, self.context.http_listen_addr, self.context.storage_path)
            try:
                exports = info.evaluate_exports(context, args)
            except (ValueError, TypeError) as exc:
                self.error(block.name_span, f"Failed to build component: {exc}")
                failed.add(cid)
                continue
            values = export_values(exports)
            scope.insert(cid, values)
            nodes[cid] = Node(
                id=cid,
                name=block.full_name,
                label=block.label or "",
                info=info,
                args=args,
                exports=exports,
                export_values=values,
                span=block.span,
                block=block,
            )
        return nodes

    def _check_ring_codes(self) -> None:
        receivers = [cid for cid, (_, info) in self.blocks.items() if info.placement is Placement.RECEIVER]
        for first, second, code in code_collisions(receivers):
            self.error(self.blocks[second][0].name_span, str(ReceiverCodeCollision(first, second, code)))

    def _config_blocks(self) -> dict[str, msgspec.Struct]:
        from collector.config.evaluator import Evaluator

        decoded: dict[str, msgspec.Struct] = {}
        for name, block in self.config_blocks.items():
            evaluator = Evaluator({})
            value, diags = decode_block(block.body, CONFIG_BLOCKS[name], evaluator, block.name_span)
            self.diags.extend(d for d in diags if d.severity is Severity.ERROR)
            self.warnings.extend(d for d in diags if d.severity is not Severity.ERROR)
            self.warnings.extend(evaluator.warnings)
            if value is not None:
                decoded[name] = value
        return decoded


class _Scope:
    """Component exports as one nested dict (`otelcol.processor.batch.default.input`); the
    evaluator falls back to the standard library for names that are not here."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def insert(self, component_id: str, exports: dict[str, Any]) -> None:
        node = self.tree
        *parents, leaf = component_id.split(".")
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[leaf] = exports


def _inside(span: Span, outer: Span) -> bool:
    return span.file == outer.file and outer.start <= span.start < max(outer.end, outer.start + 1)


def _add_unique(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)


def _data_flow(references: list[Reference], nodes: Mapping[str, Node]) -> list[Edge]:
    """A.7 rule 7: data flows into sink exports (`input`, `receiver`) and out of the others."""
    edges: list[Edge] = []
    seen: set[Edge] = set()
    for ref in references:
        target = nodes[ref.target]
        value: Any = target.export_values.get(ref.export) if ref.export else target.export_values
        kind: EdgeKind
        signal: Signal | None = None
        if isinstance(value, (list, tuple)) and value and isinstance(value[0], (ConsumerRef, MetricsReceiverRef)):
            value = value[0]
        if isinstance(value, ConsumerRef):
            kind = "otlp"
            signal = _SIGNAL_NAMES.get(ref.attribute[-1])
            if signal is None and len(value.signals) == 1:
                (signal,) = value.signals
        elif isinstance(value, MetricsReceiverRef):
            kind, signal = "samples", Signal.METRICS
        elif isinstance(value, list):
            kind = "targets"
        else:
            kind = "value"
        if ref.export is not None and ref.export in target.info.sink_exports:
            edge = Edge(ref.source, ref.target, signal, kind)
        else:
            edge = Edge(ref.target, ref.source, signal, kind)
        if edge not in seen:
            seen.add(edge)
            edges.append(edge)
    return edges
