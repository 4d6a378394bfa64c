"""Every component this collector knows: one line per component, its Alloy name.

The module is the name as a path under `collector.components` (`otelcol.processor.batch` ->
`collector/components/otelcol/processor/batch.py`) and is imported the first time a configuration
uses the component, so a process pays in memory only for the components (and their libraries, such as
grpc or aiohttp) that its configuration runs.
"""

from __future__ import annotations

COMPONENTS: tuple[str, ...] = (
    "discovery.relabel",
    "otelcol.auth.basic",
    "otelcol.auth.bearer",
    "otelcol.auth.headers",
    "otelcol.connector.host_info",
    "otelcol.exporter.debug",
    "otelcol.exporter.loadbalancing",
    "otelcol.exporter.otlp",
    "otelcol.exporter.otlphttp",
    "otelcol.exporter.prometheus",
    "otelcol.processor.attributes",
    "otelcol.processor.batch",
    "otelcol.processor.filter",
    "otelcol.processor.memory_limiter",
    "otelcol.processor.resourcedetection",
    "otelcol.processor.transform",
    "otelcol.receiver.otlp",
    "otelcol.storage.file",
    "prometheus.exporter.self",
    "prometheus.relabel",
    "prometheus.remote_write",
    "prometheus.scrape",
)


def module_of(name: str) -> str:
    return f"collector.components.{name}"
