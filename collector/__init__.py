"""collector: a multiprocess OpenTelemetry gateway that runs Grafana Alloy configurations."""

__version__ = "0.1.0"
