"""Imports every component module so that its `@register` runs. One line per component."""
import collector.components.otelcol.processor.transform  # noqa: F401
import collector.components.otelcol.processor.filter  # noqa: F401
import collector.components.otelcol.processor.batch  # noqa: F401
import collector.components.otelcol.exporter.otlphttp  # noqa: F401
import collector.components.otelcol.exporter.otlp  # noqa: F401
import collector.components.otelcol.exporter.debug  # noqa: F401
