"""OpenTelemetry Collector configuration (YAML) -> Alloy text with a source map.

Theory of operation. The OTel Collector builds one instance of each receiver and exporter used
by any pipeline, one instance of each processor *per pipeline* that lists it, and wires them in
pipeline order: a receiver sends to the first processor of every pipeline it appears in, each
processor to the next, the last to every exporter of the pipeline; a connector is an exporter of
one pipeline and a receiver of another. We build exactly that graph out of Alloy blocks:

- `type/name` -> label `name` (`otlp` alone -> `default`), sanitised to an Alloy identifier;
  processors get `<name>_<pipeline>` (`batch` in `traces/tempo` -> `default_traces_tempo`);
- the block bodies come from `collector.otelcolconfig.components` (names mapped onto the
  component's `Arguments`); `output` blocks and `forward_to` lists come from the wiring;
- the `prometheus` receiver (there is no Prometheus -> OTLP receiver here) becomes
  `prometheus.scrape` (+ `discovery.relabel` for `relabel_configs`, `prometheus.relabel` for
  `metric_relabel_configs`) sending samples straight to the remote write of every
  `prometheusremotewrite` exporter of its pipelines; any other exporter there is an error;
- `prometheusremotewrite` becomes `otelcol.exporter.prometheus` + `prometheus.remote_write`.

Everything generated is recorded against the YAML node it came from (`alloytext.SourceMap`), so
`collector.otelcolconfig.load` can re-point the Alloy loader's diagnostics at the YAML.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace


from collector.components.kit.registry import ComponentInfo
from collector.config.diag import Diagnostic, Span
from collector.otelcolconfig import components as comp
from collector.otelcolconfig.alloytext import Attribute, Block, Expr, Literal, SourceMap, Value, render
from collector.otelcolconfig.yamlsource import YNode, type_word
from collector.signals import Signal

KINDS = ("receivers", "processors", "exporters", "connectors", "extensions")
_TOP = (*KINDS, "service")
_TABLES: dict[str, dict[str, comp.Target]] = {
    "receivers": comp.RECEIVERS, "processors": comp.PROCESSORS, "exporters": comp.EXPORTERS,
    "connectors": comp.CONNECTORS, "extensions": comp.EXTENSIONS,
}
_SIGNALS = {"traces": Signal.TRACES, "metrics": Signal.METRICS, "logs": Signal.LOGS}
_LOG_LEVELS = {"debug": "debug", "info": "info", "warn": "warn", "error": "error",
               "dpanic": "error", "panic": "error", "fatal": "error"}


@dataclass
class Conversion:
    alloy: bytes  # generated Alloy text (not yet formatted)
    source_map: SourceMap
    diagnostics: list[Diagnostic]  # errors and warnings, located in the YAML
    yaml_ids: dict[str, str] = field(default_factory=dict)  # Alloy component ID -> OTel ID
    admin_address: tuple[str, Span] | None = None  # service.telemetry.metrics address
    health_check: HealthCheck | None = None  # the health_check extension, when service.extensions runs it


@dataclass(frozen=True)
class HealthCheck:
    """The `health_check` extension: an HTTP endpoint of its own that answers 200 while the
    collector is ready and healthy, 503 otherwise (served by the supervisor; Alloy has no such
    component, so a converted configuration relies on the admin server's /-/healthy instead)."""

    endpoint: str = "localhost:13133"
    path: str = "/"
    span: Span | None = field(default=None, compare=False)


@dataclass
class _Component:
    kind: str
    yid: str
    type: str
    name: str
    node: YNode  # the value (settings)
    key_span: Span
    target: comp.Target
    info: ComponentInfo

    @property
    def label(self) -> str:
        return comp.sanitize(self.name) if self.name else "default"


@dataclass
class _Pipeline:
    pid: str
    signal: Signal
    node: YNode
    receivers: list[tuple[str, YNode]] = field(default_factory=list)
    processors: list[tuple[str, YNode]] = field(default_factory=list)
    exporters: list[tuple[str, YNode]] = field(default_factory=list)


def convert(file: str, root: YNode, registry: Mapping[str, ComponentInfo]) -> Conversion:
    return _Converter(file, root, registry).run()


class _Converter:
    def __init__(self, file: str, root: YNode, registry: Mapping[str, ComponentInfo]) -> None:
        self.file = file
        self.root = root
        self.registry = registry
        self.diags: list[Diagnostic] = []
        self.defined: dict[str, dict[str, _Component]] = {k: {} for k in KINDS}
        self.pipelines: list[_Pipeline] = []
        self.used_extensions: set[str] = set()
        self.rejected: set[str] = set()  # IDs whose definition already has an error
        self.rejected_kinds: set[str] = set()  # sections that are not maps (every reference would fail)
        self.blocks: list[Block] = []
        self.yaml_ids: dict[str, str] = {}
        self.admin: tuple[str, Span] | None = None
        self.health_checks: dict[str, tuple[HealthCheck, YNode]] = {}  # health_check extensions by ID
        self.health_check: HealthCheck | None = None
        self.logging: Block | None = None
        self.translator = comp.Translator(self.diags, self._storage, self._authenticator)

    def error(self, span: Span, message: str) -> None:
        self.diags.append(Diagnostic.error(span, message))

    def warn(self, span: Span, message: str) -> None:
        self.diags.append(Diagnostic.warning(span, message))

    # -- top level ------------------------------------------------------------------------------
    def run(self) -> Conversion:
        root = self.root
        if root.value is None:
            self.error(root.span, "the configuration is empty: it needs receivers, exporters and service.pipelines")
        elif not root.is_map:
            self.error(root.span, f"the configuration must be a map, got '{type_word(root.value)}'")
        else:
            for key, child in root.items():
                if key not in _TOP:
                    self.error(child.key_span, f"'' has invalid keys: {key}")
            for kind in KINDS:
                section = root.get(kind)
                if section is not None:
                    self._define(kind, section)
            service = root.get("service")
            if service is None:
                self.error(root.span, "missing the 'service' section (service.pipelines names what runs)")
            else:
                self._service(service)
            if not any(d.severity.value == "Error" for d in self.diags):
                self._build()
        header = "// Converted from an OpenTelemetry Collector configuration by `collector convert`.\n"
        blocks = ([self.logging] if self.logging else []) + self.blocks
        text, source_map = render(blocks, header)
        self.diags.sort(key=lambda d: (d.span.start, d.span.end))
        return Conversion(text, source_map, self.diags, self.yaml_ids, self.admin, self.health_check)

    def _define(self, kind: str, section: YNode) -> None:
        if section.value is None:
            return
        if not section.is_map:
            self.error(section.span, f"'{kind}' expected a map, got '{type_word(section.value)}'")
            self.rejected_kinds.add(kind)
            return
        table = _TABLES[kind]
        for yid, node in section.items():
            type_, slash, name = yid.partition("/")
            if not type_ or (slash and not name) or not all(c.isalnum() or c in "_-." for c in type_):
                self.error(node.key_span, f'invalid component ID "{yid}": expected "type" or "type/name"')
                self.rejected.add(yid)
                continue
            if kind == "extensions" and type_ == "health_check":
                self._define_health_check(yid, node)
                continue
            target = table.get(type_)
            if target is None:
                known = ", ".join(sorted(table))
                if type_ in comp.NOT_YET:
                    self.error(node.key_span, f'{kind} type "{type_}" ({yid}): {comp.NOT_YET[type_]} '
                                              f"(supported {kind}: {known})")
                else:
                    self.error(node.key_span, f'unknown type: "{type_}" for id: "{yid}" '
                                              f"(this collector implements {kind}: {known})")
                self.rejected.add(yid)
                continue
            info = self.registry[target.alloy]
            self.defined[kind][yid] = _Component(kind, yid, type_, name, node, node.key_span, target, info)

    def _service(self, service: YNode) -> None:
        if not self.translator.expect_map(service, "service"):
            return
        for key, child in service.items():
            if key == "extensions":
                self._service_extensions(child)
            elif key == "pipelines":
                self._pipelines(child)
            elif key == "telemetry":
                self._telemetry(child)
            else:
                self.error(child.key_span, f"'service' has invalid keys: {key}")
        if service.get("pipelines") is None:
            self.error(service.key_span, "service must have at least one pipeline")

    def _service_extensions(self, node: YNode) -> None:
        items = node.value if isinstance(node.value, list) else None
        if items is None:
            if node.value is not None:
                self.error(node.span, f"'service.extensions' expected a list, got '{type_word(node.value)}'")
            return
        for item in items:
            if item.value in self.rejected or "extensions" in self.rejected_kinds:
                continue  # its definition is already reported
            if item.value in self.health_checks:
                if self.health_check is not None:
                    self.error(item.span, "only one health_check extension can run")
                else:
                    self.health_check = self.health_checks[str(item.value)][0]
                continue
            if item.value not in self.defined["extensions"]:
                self.error(item.span, f'service::extensions: references extension "{item.value}" which is not configured')
            else:
                self.used_extensions.add(str(item.value))

    def _map_section(self, section: str, node: YNode, renames: Mapping[str, str], into: list[Attribute | Block], *,
                     skip: Collection[str] = (), notes: Mapping[str, str] | None = None) -> None:
        """A YAML section whose settings map one to one onto Alloy attributes (`renames`); `skip`
        keys have nothing to convert, `notes` keys are reported as not converted (with why), and
        anything else is an unknown key, located."""
        for sub, val in node.items():
            if sub in renames:
                into.append(Attribute(renames[sub], val, val.key_span))
            elif notes is not None and sub in notes:
                self.warn(val.key_span, f"{section}.{sub} is not converted: {notes[sub]}")
            elif sub not in skip:
                self.error(val.key_span, f"'{section}' has invalid keys: {sub}")

    def _define_health_check(self, yid: str, node: YNode) -> None:
        settings = HealthCheck(span=node.key_span)
        if node.value is not None and not node.is_map:
            self.error(node.span, f"'{yid}' expected a map, got '{type_word(node.value)}'")
            return
        for key, child in node.items():
            if key in ("endpoint", "path") and isinstance(child.value, str) and child.value:
                if key == "path" and not child.value.startswith("/"):
                    self.error(child.span, f"'{yid}.path' must start with '/'")
                settings = (replace(settings, endpoint=child.value) if key == "endpoint"
                            else replace(settings, path=child.value))
            elif key in ("endpoint", "path"):
                self.error(child.span, f"'{yid}.{key}' expected a non-empty string, got '{type_word(child.value)}'")
            elif key == "check_collector_pipeline" and not _enabled(child):
                continue  # deprecated and disabled: nothing to apply
            elif key in ("check_collector_pipeline", "response_body", "tls", "auth", "cors", "include_metadata",
                         "max_request_body_size", "http", "grpc"):
                self.error(child.key_span, f"'{yid}.{key}' is not supported by this collector")
            else:
                self.error(child.key_span, f"'{yid}' has invalid keys: {key}")
        self.health_checks[yid] = (settings, node)

    def _telemetry(self, node: YNode) -> None:
        if not self.translator.expect_map(node, "telemetry"):
            return
        for key, child in node.items():
            if key == "logs" and self.translator.expect_map(child, "logs"):
                body: list[Attribute | Block] = []
                for lkey, lval in child.items():
                    if lkey == "level":
                        level = _LOG_LEVELS.get(str(lval.value).lower())
                        if level is None:
                            self.error(lval.span, f'unrecognized level: "{lval.value}"')
                        else:
                            body.append(Attribute("level", Literal(level, lval.span), lval.key_span))
                    elif lkey == "encoding":
                        fmt = {"json": "json", "console": "logfmt"}.get(str(lval.value))
                        if fmt is None:
                            self.error(lval.span, f'unrecognized encoding: "{lval.value}" (json or console)')
                        else:
                            body.append(Attribute("format", Literal(fmt, lval.span), lval.key_span))
                    else:
                        self.warn(lval.key_span, f"service.telemetry.logs.{lkey} is not converted "
                                                 "(this collector logs to stderr; level and encoding are mapped)")
                self.logging = Block("logging", None, body, child.key_span)
            elif key == "metrics" and self.translator.expect_map(child, "metrics"):
                self._telemetry_metrics(child)
            else:
                self.warn(child.key_span, f"service.telemetry.{key} is not converted "
                                          "(self-telemetry is served by the admin server's /metrics)")

    def _telemetry_metrics(self, node: YNode) -> None:
        for key, child in node.items():
            if key == "address" and isinstance(child.value, str):
                self.admin = (child.value, child.span)
            elif key == "level":
                if str(child.value).lower() == "none":
                    self.warn(child.span, "service.telemetry.metrics.level none is not converted: /metrics is always served")
            elif key == "readers" and isinstance(child.value, list):
                for reader in child.value:
                    prom = _dig(reader, "pull", "exporter", "prometheus")
                    if prom is not None and prom.is_map:
                        host = prom.get("host")
                        port = prom.get("port")
                        if port is not None:
                            self.admin = (f"{host.value if host is not None else '127.0.0.1'}:{port.value}", port.span)
                            continue
                    self.warn(reader.span, "only a pull/prometheus metrics reader is converted "
                                           "(to the admin server's listen address)")
            else:
                self.warn(child.key_span, f"service.telemetry.metrics.{key} is not converted")

    def _pipelines(self, node: YNode) -> None:
        if not self.translator.expect_map(node, "pipelines"):
            return
        if not node.value:
            self.error(node.key_span, "service must have at least one pipeline")
        for pid, pnode in node.items():
            signal_name, _, _ = pid.partition("/")
            signal = _SIGNALS.get(signal_name)
            if signal is None:
                self.error(pnode.key_span, f'pipeline "{pid}": unknown signal "{signal_name}" (traces, metrics or logs)')
                continue
            if not self.translator.expect_map(pnode, pid):
                continue
            pipe = _Pipeline(pid, signal, pnode)
            for key, child in pnode.items():
                if key not in ("receivers", "processors", "exporters"):
                    self.error(child.key_span, f"'service.pipelines.{pid}' has invalid keys: {key}")
                    continue
                items = child.value if isinstance(child.value, list) else None
                if items is None:
                    self.error(child.span, f"'{key}' expected a list, got '{type_word(child.value)}'")
                    continue
                seen: set[str] = set()
                for item in items:
                    name = str(item.value)
                    if name in seen:
                        self.error(item.span, f'pipeline "{pid}": references {key[:-1]} "{name}" more than once')
                        continue
                    seen.add(name)
                    kinds = ("receivers", "connectors") if key == "receivers" else \
                        ("exporters", "connectors") if key == "exporters" else ("processors",)
                    if not any(name in self.defined[k] for k in kinds):
                        if name in self.rejected or any(k in self.rejected_kinds for k in kinds):
                            continue  # its definition is already reported
                        self.error(item.span, f'service::pipelines::{pid}: references {key[:-1]} "{name}" '
                                              "which is not configured")
                        continue
                    getattr(pipe, key).append((name, item))
            for key in ("receivers", "exporters"):
                listed = pnode.get(key)
                if listed is None:
                    self.error(pnode.key_span, f'pipeline "{pid}": must have at least one {key[:-1]}')
                elif isinstance(listed.value, list) and not listed.value:
                    self.error(listed.span, f'pipeline "{pid}": must have at least one {key[:-1]}')
            self.pipelines.append(pipe)

    # -- graph ----------------------------------------------------------------------------------
    def _lookup(self, name: str, kinds: tuple[str, ...]) -> _Component:
        for kind in kinds:
            found = self.defined[kind].get(name)
            if found is not None:
                return found
        raise KeyError(name)

    def _build(self) -> None:
        used: dict[str, set[str]] = {k: set() for k in KINDS}
        outputs: dict[str, dict[Signal, list[Value]]] = {}  # receiver/connector yid -> signal -> inputs
        prom_forward: dict[str, list[Value]] = {}  # prometheus receiver yid -> remote_write receivers
        processor_blocks: list[Block] = []
        for pipe in self.pipelines:
            pipe_blocks: list[Block] = []
            exporters = [(self._lookup(n, ("exporters", "connectors")), item) for n, item in pipe.exporters]
            receivers = [(self._lookup(n, ("receivers", "connectors")), item) for n, item in pipe.receivers]
            for c, item in exporters:
                used[c.kind].add(c.yid)
                accepts = c.info.accepts if c.kind == "connectors" else c.info.accepts
                if pipe.signal not in accepts:
                    self.error(item.span, f'pipeline "{pipe.pid}": {c.kind[:-1]} "{c.yid}" does not support {pipe.signal.value}')
            inputs: list[Value] = [Expr(self._input(c), item.span) for c, item in exporters]
            # processors, last first, so each knows its successor
            chain = inputs
            procs = [(self._lookup(n, ("processors",)), item) for n, item in pipe.processors]
            for c, item in reversed(procs):
                used["processors"].add(c.yid)
                if pipe.signal not in c.info.accepts:
                    self.error(item.span, f'pipeline "{pipe.pid}": processor "{c.yid}" does not support {pipe.signal.value}')
                label = comp.sanitize(f"{c.name or 'default'}_{pipe.pid}")
                body = comp.component_body("processors", c.type, c.yid, c.node, c.info.arguments, self.translator)
                body.append(_output(pipe.signal, chain, item.span))
                block = Block(c.target.alloy, label, body, c.key_span,
                              comment=f"{c.yid} (processors) in pipeline {pipe.pid}")
                pipe_blocks.insert(0, block)
                self.yaml_ids[f"{c.target.alloy}.{label}"] = c.yid
                chain = [Expr(f"{c.target.alloy}.{label}.input", item.span)]
            processor_blocks.extend(pipe_blocks)
            for c, item in receivers:
                used[c.kind].add(c.yid)
                if c.kind == "receivers" and c.type == "prometheus":
                    self._prometheus_route(c, item, pipe, procs, exporters, prom_forward)
                    continue
                if pipe.signal not in c.info.emits:
                    self.error(item.span, f'pipeline "{pipe.pid}": {c.kind[:-1]} "{c.yid}" does not support {pipe.signal.value}')
                outputs.setdefault(c.yid, {}).setdefault(pipe.signal, []).extend(chain)
        for kind in KINDS:
            for yid, c in self.defined[kind].items():
                if kind == "extensions":
                    if yid in self.used_extensions:
                        continue
                    self.warn(c.key_span, f'extension "{yid}" is configured but not listed in service.extensions; it does not run')
                elif yid not in used[kind] and yid not in used["exporters" if kind == "connectors" else kind]:
                    self.warn(c.key_span, f'{kind[:-1]} "{yid}" is configured but not used in any pipeline; it does not run')
                else:
                    continue
                # not run, but its settings are still checked, as the OTel Collector unmarshals every
                # configured component: unknown keys and misshapen sections (values are typed by the
                # Alloy loader, which only sees what runs)
                if c.type not in ("prometheus", "prometheusremotewrite"):
                    comp.component_body(kind, c.type, yid, c.node, c.info.arguments, self.translator)
        for yid, (_hc, hc_node) in self.health_checks.items():
            if self.health_check is None or self.health_check is not _hc:
                self.warn(hc_node.key_span, f'extension "{yid}" is configured but not listed in service.extensions; '
                                            "it does not run")
        # blocks in dependency order of reading: extensions, receivers, processors, exporters, connectors
        for yid in sorted(self.used_extensions):
            c = self.defined["extensions"][yid]
            self._emit(c, comp.component_body("extensions", c.type, yid, c.node, c.info.arguments, self.translator))
        for yid, c in self.defined["receivers"].items():
            if yid not in used["receivers"]:
                continue
            if c.type == "prometheus":
                self._prometheus(c, prom_forward.get(yid, []))
                continue
            body = comp.component_body("receivers", c.type, yid, c.node, c.info.arguments, self.translator)
            body.append(_output_all(outputs.get(yid, {}), c.key_span))
            self._emit(c, body)
        self.blocks.extend(processor_blocks)
        for yid, c in self.defined["exporters"].items():
            if yid in used["exporters"]:
                if c.type == "prometheusremotewrite":
                    self._remote_write(c)
                else:
                    self._emit(c, comp.component_body("exporters", c.type, yid, c.node, c.info.arguments, self.translator))
        for yid, c in self.defined["connectors"].items():
            if yid in used["connectors"]:
                body = comp.component_body("connectors", c.type, yid, c.node, c.info.arguments, self.translator)
                body.append(_output_all(outputs.get(yid, {}), c.key_span))
                self._emit(c, body)

    def _emit(self, c: _Component, body: list[Attribute | Block], alloy: str | None = None, label: str | None = None) -> None:
        name = alloy or c.target.alloy
        label = label or c.label
        cid = f"{name}.{label}"
        if cid in self.yaml_ids:
            self.error(c.key_span, f'"{c.yid}" and "{self.yaml_ids[cid]}" both become {cid}; rename one')
            return
        self.yaml_ids[cid] = c.yid
        self.blocks.append(Block(name, label, body, c.key_span, comment=f"{c.yid} ({c.kind})"))

    def _input(self, c: _Component) -> str:
        return f"{c.target.alloy}.{c.label}.{c.target.input}"

    def _storage(self, node: YNode) -> Expr | None:
        yid = str(node.value)
        c = self.defined["extensions"].get(yid)
        if c is None or c.type != "file_storage":
            self.error(node.span, f'storage "{yid}" is not a configured file_storage extension')
            return None
        if yid not in self.used_extensions:
            self.error(node.span, f'storage extension "{yid}" is not listed in service.extensions')
            return None
        return Expr(f"otelcol.storage.file.{c.label}.handler", node.span)

    def _authenticator(self, node: YNode) -> Expr | None:
        """`auth: {authenticator: basicauth/x}` -> `otelcol.auth.basic.x.handler`."""
        if not node.is_map:
            self.error(node.span, f"'auth' expected a map, got '{type_word(node.value)}'")
            return None
        ref: YNode | None = None
        for key, child in node.items():
            if key == "authenticator":
                ref = child
            else:
                self.error(child.key_span, f"'auth' has invalid keys: {key}")
        if ref is None:
            self.error(node.key_span, "'auth' needs an authenticator")
            return None
        yid = str(ref.value)
        c = self.defined["extensions"].get(yid)
        if c is None or c.type not in comp.AUTHENTICATORS:
            if yid.partition("/")[0] == "oauth2client":
                self.error(ref.span, f'authenticator "{yid}": {comp.NOT_YET["oauth2client"]}')
            elif yid not in self.rejected:
                self.error(ref.span, f'failed to resolve authenticator "{yid}": not a configured authenticator '
                                     f"extension ({', '.join(sorted(comp.AUTHENTICATORS))})")
            return None
        if yid not in self.used_extensions:
            self.error(ref.span, f'authenticator extension "{yid}" is not listed in service.extensions')
            return None
        return Expr(f"{comp.AUTHENTICATORS[c.type]}.{c.label}.handler", ref.span)

    # -- Prometheus -----------------------------------------------------------------------------
    def _prometheus_route(self, c: _Component, item: YNode, pipe: _Pipeline,
                          procs: list[tuple[_Component, YNode]],
                          exporters: list[tuple[_Component, YNode]], forward: dict[str, list[Value]]) -> None:
        if pipe.signal is not Signal.METRICS:
            self.error(item.span, f'pipeline "{pipe.pid}": receiver "{c.yid}" does not support {pipe.signal.value}')
            return
        for p, pitem in procs:
            if p.type in ("batch", "memory_limiter"):
                self.warn(pitem.span, f'processor "{p.yid}" does not apply to what receiver "{c.yid}" scrapes: '
                                      "scraped samples go straight to remote write (batched there)")
            else:
                self.error(pitem.span, f'processor "{p.yid}" cannot process what receiver "{c.yid}" scrapes: this '
                                       "collector sends scraped samples straight to prometheusremotewrite exporters")
        for e, eitem in exporters:
            if e.type != "prometheusremotewrite":
                self.error(eitem.span, f'receiver "{c.yid}" can only send to prometheusremotewrite exporters here '
                                       f'(there is no Prometheus -> OTLP receiver yet), not to "{e.yid}"')
                continue
            ref = Expr(f"prometheus.remote_write.{e.label}.receiver", eitem.span)
            if all(not (isinstance(v, Expr) and v.text == ref.text) for v in forward.setdefault(c.yid, [])):
                forward[c.yid].append(ref)

    def _prometheus(self, c: _Component, forward_to: list[Value]) -> None:
        t = self.translator
        if not t.expect_map(c.node, c.yid):
            return
        config = None
        for key, child in c.node.items():
            if key == "config":
                config = child
            else:
                self.error(child.key_span, f"'{c.yid}' has invalid keys: {key}")
        if config is None or not t.expect_map(config, "config"):
            self.error(c.key_span, f"'{c.yid}': the prometheus receiver needs config.scrape_configs")
            return
        defaults: dict[str, YNode] = {}
        scrape_configs = None
        for key, child in config.items():
            if key == "scrape_configs":
                scrape_configs = child
            elif key == "global" and t.expect_map(child, "global"):
                for gkey, gval in child.items():
                    if gkey in ("scrape_interval", "scrape_timeout"):
                        defaults[gkey] = gval
                    else:
                        self.error(gval.key_span, f"'global' has invalid keys: {gkey} (scrape_interval and scrape_timeout are supported)")
            else:
                self.error(child.key_span, f"'config' has invalid keys: {key}")
        if scrape_configs is None or not isinstance(scrape_configs.value, list) or not scrape_configs.value:
            self.error((scrape_configs or config).key_span, "'config' needs a non-empty scrape_configs list")
            return
        scrape_args = self.registry["prometheus.scrape"].arguments
        for job in scrape_configs.value:
            if not t.expect_map(job, "scrape_configs"):
                continue
            job_name = job.get("job_name")
            if job_name is None:
                self.error(job.span, "scrape config needs a job_name")
                continue
            label = comp.sanitize(f"{c.name or 'default'}_{job_name.value}")
            targets: list[Value] = []
            skip = {"static_configs", "relabel_configs", "metric_relabel_configs"}
            for static in _items(job.get("static_configs")):
                if not t.expect_map(static, "static_configs"):
                    continue
                labels = static.get("labels")
                for key, child in static.items():
                    if key not in ("targets", "labels"):
                        self.error(child.key_span, f"'static_configs' has invalid keys: {key}")
                extra = labels.plain() if labels is not None and labels.is_map else {}
                for target in _items(static.get("targets")):
                    targets.append(Literal({"__address__": target.value, **extra}, target.span))
            if not targets:
                self.error(job.span, f'scrape config "{job_name.value}" needs static_configs with targets '
                                     "(service discovery is not converted)")
                continue
            target_value: Value = targets
            relabel = job.get("relabel_configs")
            if relabel is not None:
                rules = t.body(YNode({"rule": relabel}, job.span, job.key_span), self.registry["discovery.relabel"].arguments, "relabel_configs")
                self.blocks.append(Block("discovery.relabel", label, [Attribute("targets", targets, relabel.key_span), *rules],
                                         relabel.key_span, comment=f"{c.yid} (receivers) job {job_name.value}: relabel_configs"))
                self.yaml_ids[f"discovery.relabel.{label}"] = c.yid
                target_value = Expr(f"discovery.relabel.{label}.output", relabel.key_span)
            forward: Value = list(forward_to)
            metric_relabel = job.get("metric_relabel_configs")
            if metric_relabel is not None:
                rules = t.body(YNode({"rule": metric_relabel}, job.span, job.key_span), self.registry["prometheus.relabel"].arguments,
                               "metric_relabel_configs")
                self.blocks.append(Block("prometheus.relabel", label,
                                         [Attribute("forward_to", list(forward_to), metric_relabel.key_span), *rules],
                                         metric_relabel.key_span, comment=f"{c.yid} (receivers) job {job_name.value}: metric_relabel_configs"))
                self.yaml_ids[f"prometheus.relabel.{label}"] = c.yid
                forward = [Expr(f"prometheus.relabel.{label}.receiver", metric_relabel.key_span)]
            merged = dict(defaults)
            merged.update(job.value)
            body = t.body(YNode(merged, job.span, job.key_span), scrape_args, "scrape_configs", skip=frozenset(skip))
            body.insert(0, Attribute("targets", target_value, job.span))
            body.append(Attribute("forward_to", forward, c.key_span))
            block = Block("prometheus.scrape", label, body, job.span, comment=f"{c.yid} (receivers) job {job_name.value}")
            self.blocks.append(block)
            self.yaml_ids[f"prometheus.scrape.{label}"] = c.yid

    def _remote_write(self, c: _Component) -> None:
        t = self.translator
        node = c.node
        if not t.expect_map(node, c.yid):
            return
        exporter: list[Attribute | Block] = [
            Attribute("forward_to", [Expr(f"prometheus.remote_write.{c.label}.receiver", c.key_span)], c.key_span)]
        rw: list[Attribute | Block] = []
        endpoint: list[Attribute | Block] = []
        queue: list[Attribute | Block] = []
        wal: list[Attribute | Block] = []
        has_url = False
        for key, child in node.items():
            if key == "endpoint":
                endpoint.append(Attribute("url", child, child.key_span))
                has_url = True
            elif key == "headers":
                endpoint.append(Attribute("headers", child, child.key_span))
            elif key == "timeout":
                endpoint.append(Attribute("remote_timeout", child, child.key_span))
            elif key == "external_labels":
                rw.append(Attribute("external_labels", child, child.key_span))
            elif key in ("resource_to_telemetry_conversion", "target_info"):
                for sub, val in child.items():
                    if sub == "enabled":
                        name = "resource_to_telemetry_conversion" if key != "target_info" else "include_target_info"
                        exporter.append(Attribute(name, val, val.key_span))
                    else:
                        self.error(val.key_span, f"'{key}' has invalid keys: {sub}")
            elif key == "add_metric_suffixes":
                exporter.append(Attribute("add_metric_suffixes", child, child.key_span))
            elif key == "tls" and t.expect_map(child, "tls"):
                tls: list[Attribute | Block] = []
                # `insecure`: plain http or https is chosen by the endpoint's scheme
                self._map_section("tls", child, _RW_TLS, tls, skip={"insecure"})
                endpoint.append(Block("tls_config", None, tls, child.key_span))
            elif key == "remote_write_queue" and t.expect_map(child, "remote_write_queue"):
                enabled = child.get("enabled")
                if enabled is not None and enabled.value is False:
                    self.warn(enabled.span, "remote_write_queue.enabled: false is not converted: remote write always "
                                            "queues (behind its WAL)")
                self._map_section("remote_write_queue", child, {"queue_size": "capacity", "num_consumers": "max_shards"},
                                  queue, skip={"enabled"})
            elif key == "retry_on_failure" and t.expect_map(child, "retry_on_failure"):
                self._map_section("retry_on_failure", child, {"initial_interval": "min_backoff",
                                                              "max_interval": "max_backoff"}, queue,
                                  notes=_RW_RETRY_NOTES)
            elif key == "wal" and t.expect_map(child, "wal"):
                for sub, val in child.items():
                    if sub == "truncate_frequency":
                        wal.append(Attribute("truncate_frequency", val, val.key_span))
                    elif sub in ("directory", "buffer_size"):
                        self.warn(val.key_span, f"wal.{sub} is not converted: the WAL lives under --storage.path "
                                                "and is always on")
                    else:
                        self.error(val.key_span, f"'wal' has invalid keys: {sub}")
            elif key == "compression":
                if str(child.value).lower() != "snappy":
                    self.error(child.span, "prometheusremotewrite: only snappy compression is supported")
            elif key in ("namespace", "send_metadata", "max_batch_size_bytes", "export_created_metric",
                         "sending_queue", "auth", "proxy_url", "write_buffer_size", "read_buffer_size",
                         "max_batch_request_parallelism"):
                self.error(child.key_span, f"prometheusremotewrite setting '{key}' is not supported by this collector")
            else:
                self.error(child.key_span, f"'{c.yid}' has invalid keys: {key}")
        if not has_url:
            self.error(c.key_span, f"'{c.yid}': endpoint is required")
        if queue:
            endpoint.append(Block("queue_config", None, queue, c.key_span))
        rw.append(Block("endpoint", None, endpoint, c.key_span))
        if wal:
            rw.append(Block("wal", None, wal, c.key_span))
        self._emit(c, exporter)
        self._emit(c, rw, alloy="prometheus.remote_write")


def _output(signal: Signal, targets: list[Value], src: Span) -> Block:
    return Block("output", None, [Attribute(signal.value, list(targets), src)], src)


def _output_all(by_signal: dict[Signal, list[Value]], src: Span) -> Block:
    body: list[Attribute | Block] = [Attribute(s.value, list(v), src) for s, v in by_signal.items()]
    return Block("output", None, body, src)


def _items(node: YNode | None) -> list[YNode]:
    return list(node.value) if node is not None and isinstance(node.value, list) else []


def _dig(node: YNode, *keys: str) -> YNode | None:
    for key in keys:
        if not node.is_map:
            return None
        child = node.get(key)
        if child is None:
            return None
        node = child
    return node


def _enabled(node: YNode) -> bool:
    """`enabled: true` inside a settings map (a map without it is disabled)."""
    flag = node.get("enabled")
    return bool(flag is not None and flag.value)


# prometheusremotewrite's `tls` settings -> prometheus.remote_write's `tls_config`
_RW_TLS: Mapping[str, str] = {
    **{name: name for name in ("ca_file", "ca_pem", "cert_file", "cert_pem", "key_file", "key_pem",
                               "insecure_skip_verify", "min_version")},
    "server_name_override": "server_name",
}
_RW_RETRY_NOTES: Mapping[str, str] = dict.fromkeys(
    ("enabled", "max_elapsed_time", "multiplier", "randomization_factor"),
    "remote write retries recoverable errors with backoff until the sample age limit")
