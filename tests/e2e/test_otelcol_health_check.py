"""The OpenTelemetry Collector's `health_check` extension in a YAML configuration: its own endpoint,
answered by the supervisor as the extension answers (200 `Server available` / 503)."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collector.otelcolconfig import convert_yaml
from collector.testing.process import CollectorProcess, free_port
from collector.web.healthcheck import health_document

CONFIG = """\
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{otlp}
extensions:
  health_check:
    endpoint: 127.0.0.1:{health}
    path: /health/status
exporters:
  debug:
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
"""


def test_health_check_endpoint_answers_like_the_extension() -> None:
    health = free_port()
    with CollectorProcess(CONFIG.format(otlp=free_port(), health=health), config_name="config.yaml") as proc:
        assert proc.get("/-/ready")[0] == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{health}/health/status", timeout=10) as response:
            status, body = response.status, json.loads(response.read())
    assert status == 200
    assert body["status"] == "Server available"
    assert body["upSince"].endswith("Z") and body["uptime"].endswith("s")


def test_converting_notes_that_health_check_has_no_alloy_equivalent(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(otlp=4318, health=13133))
    converted = convert_yaml(path)
    assert converted.conversion.health_check is not None
    assert converted.conversion.health_check.path == "/health/status"
    assert b"health_check" not in converted.conversion.alloy


@dataclass
class _View:
    ready: bool
    health: dict[str, dict[str, Any]] = field(default_factory=dict)
    started_at: float = 1_700_000_000.0

    def component_health(self) -> dict[str, dict[str, Any]]:
        return self.health


def test_not_available_while_not_ready_or_a_component_is_unhealthy() -> None:
    now = 1_700_000_090.5
    assert health_document(_View(ready=True), now)[0] == 200  # type: ignore[arg-type]
    status, body = health_document(_View(ready=False), now)  # type: ignore[arg-type]
    assert status == 503 and json.loads(body)["status"] == "Server not available"
    sick = _View(ready=True, health={"otelcol.exporter.otlphttp.x": {"state": "unhealthy"}})
    assert health_document(sick, now)[0] == 503  # type: ignore[arg-type]
    assert json.loads(health_document(_View(ready=True), now)[1])["uptime"] == "1m30.5s"
