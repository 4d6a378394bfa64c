"""Imports every component module so that its `@register` runs. One line per component."""
import collector.components.otelcol.processor.transform  # noqa: F401
import collector.components.otelcol.processor.filter  # noqa: F401
import collector.components.otelcol.processor.batch  # noqa: F401
import collector.components.otelcol.exporter.otlphttp  # noqa: F401
import collector.components.otelcol.exporter.otlp  # noqa: F401
import collector.components.otelcol.exporter.debug  # noqa: F401
import collector.components.discovery.relabel  # noqa: F401
import collector.components.otelcol.exporter.prometheus  # noqa: F401
import collector.components.prometheus.exporter.self  # noqa: F401
import collector.components.prometheus.relabel  # noqa: F401
import collector.components.prometheus.remote_write  # noqa: F401
import collector.components.prometheus.scrape  # noqa: F401
import collector.components.otelcol.processor.resourcedetection  # noqa: F401
import collector.components.otelcol.connector.host_info  # noqa: F401
import collector.components.otelcol.processor.attributes  # noqa: F401
import collector.components.otelcol.processor.memory_limiter  # noqa: F401
import collector.components.otelcol.receiver.otlp  # noqa: F401
