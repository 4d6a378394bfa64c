"""Fixtures for tests against a real Prometheus server and node exporter (Debian packages).

Without the binaries these tests skip with a loud reason: install them with
scripts/install-system-deps.sh (CI does).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from collector.testing.prometheus import NodeExporter, PrometheusServer, node_exporter_binary, prometheus_binary

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: a long-running test (deselect with -m 'not slow'); part of make test")


def _require(binary: str | None, package: str) -> str:
    if binary is None:
        pytest.skip(f"!!! NOT TESTED: the {package} binary is missing: real-backend tests need Debian's "
                    f"'{package}' package (scripts/install-system-deps.sh installs it) !!!")
    return binary


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[PrometheusServer]:
    server = PrometheusServer(tmp_path / "prometheus", binary=_require(prometheus_binary(), "prometheus"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def node_exporter(tmp_path: Path) -> Iterator[NodeExporter]:
    exporter = NodeExporter(tmp_path, binary=_require(node_exporter_binary(), "prometheus-node-exporter"))
    try:
        yield exporter.start()
    finally:
        exporter.stop()
