"""Per component type: how an OpenTelemetry Collector component's YAML becomes Alloy block bodies.

Most settings carry the same names in both worlds (Alloy's `otelcol.*` components mirror the OTel
Collector's), so `Translator.body` walks a YAML map against the target component's `Arguments`
schema (a nested struct is a block, a list of structs repeated blocks, anything else an
attribute) and reports keys the schema does not know in the OTel Collector's words (`'protocols'
has invalid keys: foo`), at the key. What differs is regrouped or renamed here before that walk:
the OTLP exporters' client settings move into a `client` block, `*_mib` sizes become byte sizes,
the attributes processor's plural lists become repeated blocks, and so on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import msgspec

from collector.config.diag import Diagnostic, Span
from collector.otelcolconfig.alloytext import Attribute, Block, Expr, Literal
from collector.otelcolconfig.yamlsource import YNode, type_word
from collector.pipeline.schema import FieldKind, schema_of

Statement = Attribute | Block


def sanitize(text: str) -> str:
    """An Alloy identifier for `text` (`otlp/2` names -> `_2`, `traces/tempo` -> `traces_tempo`)."""
    out = re.sub(r"[^A-Za-z0-9_]", "_", text)
    if not out or out[0].isdigit():
        out = "_" + out
    return out


class Translator:
    """Generic YAML map -> Alloy body walk, collecting diagnostics."""

    def __init__(self, diags: list[Diagnostic], storage: Callable[[YNode], Expr | None],
                 auth: Callable[[YNode], Expr | None] | None = None) -> None:
        self.diags = diags
        self.storage = storage  # resolves `storage: file_storage/x` to the handler reference
        self.auth = auth  # resolves `auth: {authenticator: basicauth/x}` to the handler reference

    def error(self, span: Span, message: str) -> None:
        self.diags.append(Diagnostic.error(span, message))

    def warn(self, span: Span, message: str) -> None:
        self.diags.append(Diagnostic.warning(span, message))

    def expect_map(self, node: YNode, what: str) -> bool:
        if node.value is None or node.is_map:
            return True
        self.error(node.span, f"'{what}' expected a map, got '{type_word(node.value)}'")
        return False

    def body(self, node: YNode, struct: type[msgspec.Struct], where: str,
             renames: Mapping[str, str] | None = None, skip: frozenset[str] = frozenset()) -> list[Statement]:
        out: list[Statement] = []
        if not self.expect_map(node, where):
            return out
        schema = schema_of(struct)
        for key, child in node.items():
            if key in skip:
                continue
            name = (renames or {}).get(key, key)
            spec = schema.fields.get(name)
            if spec is None or name == "output":
                self.error(child.key_span, f"'{where}' has invalid keys: {key}")
                continue
            if name == "auth":
                expr = self.auth(child) if self.auth is not None else None
                if self.auth is None:
                    self.error(child.key_span, f"'{where}.auth' is not supported here")
                if expr is not None:
                    out.append(Attribute(name, expr, child.key_span))
                continue
            if spec.kind is FieldKind.ATTRIBUTE:
                if name == "storage":
                    expr = self.storage(child)
                    if expr is not None:
                        out.append(Attribute(name, expr, child.key_span))
                    continue
                out.append(Attribute(name, child, child.key_span))
            elif spec.kind is FieldKind.BLOCK:
                assert spec.block_type is not None
                if self.expect_map(child, key):
                    out.append(Block(name, None, self.body(child, spec.block_type, key), child.key_span))
            else:
                assert spec.block_type is not None
                items = child.value if isinstance(child.value, list) else None
                if items is None:
                    self.error(child.span, f"'{key}' expected a list, got '{type_word(child.value)}'")
                    continue
                for item in items:
                    if self.expect_map(item, key):
                        out.append(Block(name, None, self.body(item, spec.block_type, key), item.span))
        return out


def regroup(node: YNode, keys: frozenset[str], into: str) -> YNode:
    """Move `keys` of the map `node` into a new child map `into` (the OTLP exporters' `client`)."""
    if not node.is_map:
        return node
    inner = {k: v for k, v in node.value.items() if k in keys}
    outer = {k: v for k, v in node.value.items() if k not in keys}
    outer[into] = YNode(inner, node.span, node.key_span, into)
    return YNode(outer, node.span, node.key_span, node.key)


def mib(node: YNode, translator: Translator) -> YNode | Literal:
    """`*_mib: 4` -> `"4MiB"` (a byte size)."""
    if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
        translator.error(node.span, f"'{node.key}' expected a number, got '{type_word(node.value)}'")
        return node
    return Literal(f"{node.value}MiB", node.span)


def rename_mib(node: YNode, translator: Translator, names: Mapping[str, str]) -> list[Statement]:
    """Pull `*_mib` keys of `node` out as byte-size attributes; the caller skips them."""
    out: list[Statement] = []
    for key, child in node.items():
        if key in names:
            out.append(Attribute(names[key], mib(child, translator), child.key_span))
    return out


@dataclass(frozen=True, slots=True)
class Target:
    """Where an OTel component lands: its Alloy component name, and the export other components
    send data to (None for receivers)."""

    alloy: str
    input: str | None = "input"


RECEIVERS: dict[str, Target] = {
    "otlp": Target("otelcol.receiver.otlp", None),
    "prometheus": Target("prometheus.scrape", None),
}
PROCESSORS: dict[str, Target] = {
    "batch": Target("otelcol.processor.batch"),
    "memory_limiter": Target("otelcol.processor.memory_limiter"),
    "resourcedetection": Target("otelcol.processor.resourcedetection"),
    "transform": Target("otelcol.processor.transform"),
    "filter": Target("otelcol.processor.filter"),
    "attributes": Target("otelcol.processor.attributes"),
}
EXPORTERS: dict[str, Target] = {
    "otlp": Target("otelcol.exporter.otlp"),
    "otlphttp": Target("otelcol.exporter.otlphttp"),
    "debug": Target("otelcol.exporter.debug"),
    "prometheusremotewrite": Target("otelcol.exporter.prometheus"),
    "loadbalancing": Target("otelcol.exporter.loadbalancing"),
}
CONNECTORS: dict[str, Target] = {
    "grafanacloud": Target("otelcol.connector.host_info"),
}
EXTENSIONS: dict[str, Target] = {
    "file_storage": Target("otelcol.storage.file", None),
    "basicauth": Target("otelcol.auth.basic", None),
    "bearertokenauth": Target("otelcol.auth.bearer", None),
    "headers_setter": Target("otelcol.auth.headers", None),
}
# Authenticator extensions: what `auth: {authenticator: <id>}` may name, and the Alloy component.
AUTHENTICATORS: dict[str, str] = {
    "basicauth": "otelcol.auth.basic",
    "bearertokenauth": "otelcol.auth.bearer",
    "headers_setter": "otelcol.auth.headers",
}
# Types the OTel Collector has that we know of but do not run (yet): a clearer message than "unknown".
NOT_YET: dict[str, str] = {
    "oauth2client": "the OAuth2 client authenticator is not supported by this collector (there is no "
                    "otelcol.auth.oauth2); use bearertokenauth with a token, or basicauth",
    "logging": "the logging exporter was removed from the OpenTelemetry Collector; use debug",
}

_OTLP_GRPC_CLIENT = frozenset({"endpoint", "tls", "headers", "compression", "keepalive", "balancer_name",
                               "authority", "wait_for_ready", "read_buffer_size", "write_buffer_size", "auth"})
_OTLP_HTTP_CLIENT = frozenset({"endpoint", "tls", "headers", "compression", "timeout", "read_buffer_size",
                               "write_buffer_size", "max_idle_conns", "max_idle_conns_per_host",
                               "max_conns_per_host", "idle_conn_timeout", "disable_keep_alives",
                               "force_attempt_http2", "http2_read_idle_timeout", "http2_ping_timeout",
                               "proxy_url", "cookies", "compression_params", "auth"})


def component_body(kind: str, type_: str, yid: str, node: YNode, arguments: type[msgspec.Struct],
                   t: Translator) -> list[Statement]:
    """The body of the Alloy block for OTel component `yid` (without `output`, added by wiring)."""
    if kind == "receivers" and type_ == "otlp":
        return _otlp_receiver(yid, node, arguments, t)
    if kind == "exporters" and type_ == "otlp":
        return t.body(regroup(node, _OTLP_GRPC_CLIENT, "client"), arguments, yid)
    if kind == "exporters" and type_ == "loadbalancing":
        return t.body(_loadbalancing(node), arguments, yid)
    if kind == "exporters" and type_ == "otlphttp":
        return t.body(regroup(node, _OTLP_HTTP_CLIENT, "client"), arguments, yid)
    if kind == "processors" and type_ == "memory_limiter":
        names = {"limit_mib": "limit", "spike_limit_mib": "spike_limit"}
        return rename_mib(node, t, names) + t.body(node, arguments, yid, skip=frozenset(names))
    if kind == "processors" and type_ == "attributes":
        return _attributes(yid, node, arguments, t)
    if kind == "processors" and type_ == "transform":
        return _transform(yid, node, arguments, t)
    if kind == "extensions" and type_ == "headers_setter":
        return t.body(node, arguments, yid, renames={"headers": "header"})
    return t.body(node, arguments, yid)


def _renamed(node: YNode, names: Mapping[str, str]) -> YNode:
    """`node` with some keys of its map renamed (positions kept)."""
    if not node.is_map:
        return node
    value = {names.get(k, k): YNode(v.value, v.span, v.key_span, names.get(k, k)) for k, v in node.value.items()}
    return YNode(value, node.span, node.key_span, node.key)


def _loadbalancing(node: YNode) -> YNode:
    """The loadbalancing exporter in Alloy's shape: `protocol.otlp`'s flat gRPC client settings go
    into `client` (its `sending_queue`/`retry_on_failure` are Alloy's `queue`/`retry`), and the
    `k8s` resolver is Alloy's `kubernetes` (refused later, with the reason, at this key)."""
    protocol, resolver = node.get("protocol"), node.get("resolver")
    value = dict(node.value) if node.is_map else {}
    if protocol is not None and protocol.is_map:
        otlp = protocol.get("otlp")
        if otlp is not None and otlp.is_map:
            otlp = _renamed(regroup(otlp, _OTLP_GRPC_CLIENT, "client"),
                            {"sending_queue": "queue", "retry_on_failure": "retry"})
            value["protocol"] = YNode({**protocol.value, "otlp": otlp}, protocol.span, protocol.key_span, "protocol")
    if resolver is not None:
        value["resolver"] = _renamed(resolver, {"k8s": "kubernetes"})
    return YNode(value, node.span, node.key_span, node.key) if node.is_map else node


def _otlp_receiver(yid: str, node: YNode, arguments: type[msgspec.Struct], t: Translator) -> list[Statement]:
    if not t.expect_map(node, yid):
        return []
    out: list[Statement] = []
    schema = schema_of(arguments)
    protocols = node.get("protocols")
    for key, child in node.items():
        if key != "protocols":
            t.error(child.key_span, f"'{yid}' has invalid keys: {key}")
    if protocols is None or not protocols.value:
        t.error(node.key_span, f"'{yid}': must specify at least one protocol when using the OTLP receiver")
        return out
    if not t.expect_map(protocols, "protocols"):
        return out
    for proto, settings in protocols.items():
        spec = schema.fields.get(proto)
        if proto not in ("grpc", "http") or spec is None or spec.block_type is None:
            t.error(settings.key_span, f"'protocols' has invalid keys: {proto}")
            continue
        if not t.expect_map(settings, proto):
            continue
        mib_names = {"max_recv_msg_size_mib": "max_recv_msg_size"} if proto == "grpc" else {}
        body = rename_mib(settings, t, mib_names) + t.body(settings, spec.block_type, proto,
                                                            skip=frozenset(mib_names))
        out.append(Block(proto, None, body, settings.key_span))
    return out


_ATTRIBUTE_MATCH = {"attributes": "attribute", "resources": "resource", "libraries": "library",
                    "log_severity_number": "log_severity"}


def _attributes(yid: str, node: YNode, arguments: type[msgspec.Struct], t: Translator) -> list[Statement]:
    if not t.expect_map(node, yid):
        return []
    schema = schema_of(arguments)
    out: list[Statement] = []
    for key, child in node.items():
        if key == "actions":
            out += t.body(YNode({"action": child}, node.span, node.key_span), arguments, yid)
        elif key in ("include", "exclude"):
            spec = schema.fields[key]
            assert spec.block_type is not None
            if t.expect_map(child, key):
                out.append(Block(key, None, t.body(child, spec.block_type, key, renames=_ATTRIBUTE_MATCH),
                                 child.key_span))
        elif key in ("action", "output"):
            t.error(child.key_span, f"'{yid}' has invalid keys: {key}")
        else:
            out += t.body(YNode({key: child}, node.span, node.key_span), arguments, yid)
    return out


def _transform(yid: str, node: YNode, arguments: type[msgspec.Struct], t: Translator) -> list[Statement]:
    for key in ("trace_statements", "metric_statements", "log_statements"):
        child = node.get(key)
        if child is None or not isinstance(child.value, list):
            continue
        for item in child.value:
            if isinstance(item.value, str):
                t.error(item.span, f"'{key}': statements without a context are not supported; use the "
                                   "form with `context` and `statements` (for example context: span)")
                return []
    return t.body(node, arguments, yid)
