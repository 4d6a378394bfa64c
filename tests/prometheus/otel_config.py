"""A copy of examples/opentelemetry.alloy with its OTLP listeners on free loopback ports."""

from __future__ import annotations

from collector.testing.process import free_port
from tests.prometheus.conftest import EXAMPLES


def opentelemetry_config() -> tuple[str, int]:
    """(configuration text, OTLP/gRPC port)."""
    config = (EXAMPLES / "opentelemetry.alloy").read_text()
    grpc, http = free_port(), free_port()
    assert '"127.0.0.1:4317"' in config and '"127.0.0.1:4318"' in config
    config = config.replace('"127.0.0.1:4317"', f'"127.0.0.1:{grpc}"').replace('"127.0.0.1:4318"', f'"127.0.0.1:{http}"')
    return config, grpc
