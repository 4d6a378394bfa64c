"""OpenTelemetry Collector authenticator extensions and `auth:` settings become `otelcol.auth.*`
components and `auth = <handler>` attributes, and run like the Alloy form."""

from __future__ import annotations

from pathlib import Path

from collector.components.kit.auth import AuthHandler
from collector.otelcolconfig import load_yaml_config

CONFIG = """
extensions:
  basicauth/server:
    htpasswd:
      inline: |
        alice:s3cret-value
  bearertokenauth/out:
    token: abc
  headers_setter/tenant:
    headers:
      - key: X-Scope-OrgID
        from_context: x-scope-orgid
        action: upsert
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:4317
        auth:
          authenticator: basicauth/server
      http:
        endpoint: 127.0.0.1:4318
        include_metadata: true
        auth:
          authenticator: basicauth/server
processors:
  batch:
    metadata_keys: [x-scope-orgid]
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:9999
    auth:
      authenticator: headers_setter/tenant
  otlp:
    endpoint: 127.0.0.1:9998
    tls:
      insecure: true
    auth:
      authenticator: bearertokenauth/out
service:
  extensions: [basicauth/server, bearertokenauth/out, headers_setter/tenant]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlphttp, otlp]
"""


def test_authenticators_and_auth_settings_are_converted(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    pipeline = load_yaml_config(path, http_listen_addr="127.0.0.1:12345", storage_path=tmp_path)
    receiver = pipeline.nodes["otelcol.receiver.otlp.default"].args
    assert str(receiver.grpc.auth) == str(receiver.http.auth) == "otelcol.auth.basic.server.handler"
    assert receiver.http.include_metadata
    otlphttp = pipeline.nodes["otelcol.exporter.otlphttp.default"].args
    otlp = pipeline.nodes["otelcol.exporter.otlp.default"].args
    assert str(otlphttp.client.auth) == "otelcol.auth.headers.tenant.handler"
    assert str(otlp.client.auth) == "otelcol.auth.bearer.out.handler"
    assert isinstance(receiver.http.auth, AuthHandler) and receiver.http.auth.server
    headers: dict[str, str] = {}
    otlphttp.client.auth.apply(headers, (("x-scope-orgid", "t1"),))
    assert headers == {"X-Scope-OrgID": "t1"}
    assert pipeline.nodes["otelcol.processor.batch.default_traces"].args.metadata_keys == ["x-scope-orgid"]
