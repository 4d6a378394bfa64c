"""The support bundle's configuration redaction on an OpenTelemetry Collector YAML file: the schema
walk reads Alloy only, so the secret values the loaded pipeline holds are blanked verbatim."""

from __future__ import annotations

from pathlib import Path

from collector.pipeline.loader import load
from collector.support.redaction import redacted_lines, redacted_sources

YAML = """
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{port}
exporters:
  prometheusremotewrite:
    endpoint: http://metrics-user:yaml-url-pass-88@127.0.0.1:9/api/v1/write
    headers:
      X-Scope-OrgID: yaml-tenant-secret-42
service:
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [prometheusremotewrite]
"""


def test_yaml_configuration_secrets_are_blanked(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(YAML.format(port=4999))
    pipeline = load(path, storage_path=tmp_path / "data")
    sources = redacted_sources(pipeline)
    assert sources
    text = "\n".join(sources.values())
    assert "yaml-tenant-secret-42" not in text and "yaml-url-pass-88" not in text
    assert "X-Scope-OrgID" in text and "metrics-user" in text
    line = redacted_lines("sending with header yaml-tenant-secret-42 to http://a:b-pass@host/x?token=abc", pipeline)
    assert "yaml-tenant-secret-42" not in line and "b-pass" not in line and "token=abc" not in line
