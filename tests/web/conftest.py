"""Collectors for the web tests: the tutorial configurations with free ports and no real backends."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from collector.testing.process import CollectorProcess, free_port

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example_config(name: str) -> str:
    """An example with its fixed OTLP ports replaced by free ones (tests run in parallel)."""
    text = (EXAMPLES / name).read_text()
    return text.replace("127.0.0.1:4317", f"127.0.0.1:{free_port()}").replace(
        "127.0.0.1:4318", f"127.0.0.1:{free_port()}")


def backends_down() -> dict[str, str]:
    """Backend URLs on ports nobody listens on: exporters just retry."""
    return {
        "LOKI_OTLP_URL": f"http://127.0.0.1:{free_port()}/otlp",
        "TEMPO_OTLP_URL": f"http://127.0.0.1:{free_port()}",
        "PROMETHEUS_URL": f"http://127.0.0.1:{free_port()}/api/v1/write",
    }


@pytest.fixture(scope="session")
def otel_collector() -> Iterator[CollectorProcess]:
    with CollectorProcess(example_config("opentelemetry.alloy"), env=backends_down(), shutdown_timeout="2s") as proc:
        yield proc


@pytest.fixture(scope="session")
def self_monitoring_collector() -> Iterator[CollectorProcess]:
    env = {**backends_down(), "SCRAPE_INTERVAL": "10s"}
    with CollectorProcess(example_config("self-monitoring.alloy"), env=env, shutdown_timeout="2s") as proc:
        yield proc
