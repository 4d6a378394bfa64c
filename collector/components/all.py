"""Imports every component module so that its `@register` runs. One line per component."""
import collector.components.otelcol.processor.transform  # noqa: F401
import collector.components.otelcol.processor.filter  # noqa: F401
