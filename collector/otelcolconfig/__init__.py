"""A second front end: OpenTelemetry Collector YAML configurations, run as Alloy.

`convert_yaml` turns the YAML into Alloy text plus a source map (`convert.py`); `load_yaml_config`
loads that text through the ordinary Alloy loader and re-points every diagnostic it reports on the
generated text at the YAML node it came from, so `collector run|validate config.yaml` reports
`config.yaml:line:col: message` with the YAML line and a caret.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from collector.config.diag import Diagnostic, DiagnosticError, Sources, has_errors

if TYPE_CHECKING:  # the converter loads only where a YAML file is converted: every process runs
    from collector.otelcolconfig.alloytext import SourceMap  # `config_format` on its configuration
    from collector.otelcolconfig.convert import Conversion
    from collector.pipeline.model import Pipeline

ConfigFormat = Literal["alloy", "otelcol"]
__all__ = ["ConfigFormat", "Converted", "config_format", "convert_yaml", "load_yaml_config"]


def config_format(path: str | os.PathLike[str], explicit: str | None = None) -> ConfigFormat:
    """`--config.format`, else the extension: `.yaml`/`.yml` is otelcol, anything else Alloy."""
    if explicit in ("alloy", "otelcol"):
        return explicit  # type: ignore[return-value]
    return "otelcol" if str(path).lower().endswith((".yaml", ".yml")) else "alloy"


@dataclass
class Converted:
    yaml_name: str
    alloy_name: str  # the name the generated text is loaded under
    sources: Sources  # the YAML only: what diagnostics print
    conversion: Conversion

    def remap(self, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
        return [_remap(d, self.alloy_name, self.conversion.source_map) for d in diagnostics]


def convert_yaml(path: str | os.PathLike[str], source: bytes | None = None,
                 env: Mapping[str, str] | None = None) -> Converted:
    """Convert the YAML file at `path`; raises `DiagnosticError` (located in the YAML) if it has
    errors. Warnings are in `.conversion.diagnostics`."""
    from collector.components.kit.registry import all_components
    from collector.otelcolconfig.convert import convert
    from collector.config.files import read_source
    from collector.otelcolconfig.yamlsource import YamlError, load_yaml

    name = os.fspath(path)
    data = read_source(path) if source is None else source  # regular files only, size-capped
    sources = Sources({name: data})
    diags: list[Diagnostic] = []
    try:
        root = load_yaml(name, data, env, diags)
    except YamlError as exc:
        raise DiagnosticError([exc.diagnostic], sources) from None
    conversion = convert(name, root, all_components())
    conversion.diagnostics = sorted(diags + conversion.diagnostics, key=lambda d: (d.span.start, d.span.end))
    if has_errors(conversion.diagnostics):
        raise DiagnosticError(conversion.diagnostics, sources)
    return Converted(name, name + ".alloy", sources, conversion)


def load_yaml_config(path: str | os.PathLike[str], *, http_listen_addr: str, storage_path: Path,
                     converted: Converted | None = None) -> Pipeline:
    """Convert and load; every diagnostic is located in the YAML. Returns the `Pipeline`, whose
    nodes carry their YAML IDs."""
    from collector.pipeline.loader import load_sources

    conv = converted or convert_yaml(path)
    generated = Sources({conv.alloy_name: conv.conversion.alloy})
    try:
        pipeline = load_sources(generated, http_listen_addr=http_listen_addr, storage_path=storage_path)
    except DiagnosticError as exc:
        raise DiagnosticError(conv.remap(exc.diagnostics) + conv.conversion.diagnostics, conv.sources) from None
    pipeline.warnings = conv.conversion.diagnostics + conv.remap(pipeline.warnings)
    pipeline.sources = conv.sources
    pipeline.health_check = conv.conversion.health_check
    for node in pipeline.nodes.values():
        node.yaml_id = conv.conversion.yaml_ids.get(node.id, "")
    return pipeline


def _remap(d: Diagnostic, alloy_name: str, source_map: SourceMap) -> Diagnostic:
    if d.span.file != alloy_name:
        return d
    span = source_map.locate(d.span.start)
    if span is None:
        return d
    return Diagnostic(d.severity, span, d.message)
