"""The OpenTelemetry Collector's `loadbalancing` exporter maps onto `otelcol.exporter.loadbalancing`:
flat gRPC client settings into `client`, the backend queue and retries under Alloy's names, and
errors located at the YAML key."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.components.otelcol.exporter.loadbalancing import Arguments
from collector.config.diag import DiagnosticError
from collector.pipeline.loader import load

CONFIG = """\
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:14318
exporters:
  loadbalancing:
    routing_key: service
    protocol:
      otlp:
        timeout: 3s
        compression: none
        tls:
          insecure: true
        sending_queue:
          queue_size: 500
        retry_on_failure:
          initial_interval: 2s
    resolver:
{resolver}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [loadbalancing]
"""
STATIC = "      static:\n        hostnames: [127.0.0.1:4317, 127.0.0.1:4318]"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_the_yaml_exporter_becomes_the_alloy_component(tmp_path: Path) -> None:
    pipeline = load(write(tmp_path, CONFIG.format(resolver=STATIC)), storage_path=tmp_path)
    args = pipeline.nodes["otelcol.exporter.loadbalancing.default"].args
    assert isinstance(args, Arguments)
    assert args.routing_key == "service"
    assert args.resolver.static is not None and args.resolver.static.hostnames == ["127.0.0.1:4317", "127.0.0.1:4318"]
    otlp = args.protocol.otlp
    assert otlp.timeout == 3.0 and otlp.client.compression == "none" and otlp.client.tls.insecure
    assert otlp.queue.queue_size == 500 and otlp.retry.initial_interval == 2.0


def test_dns_resolver(tmp_path: Path) -> None:
    dns = "      dns:\n        hostname: tier2.example.test\n        port: \"5317\"\n        interval: 10s"
    args = load(write(tmp_path, CONFIG.format(resolver=dns)), storage_path=tmp_path).nodes[
        "otelcol.exporter.loadbalancing.default"].args
    assert args.resolver.dns is not None
    assert (args.resolver.dns.hostname, args.resolver.dns.port, args.resolver.dns.interval) == (
        "tier2.example.test", "5317", 10.0)


@pytest.mark.parametrize(("resolver", "where", "message"), [
    ("      k8s:\n        service: tier2", "20:7", "the kubernetes resolver is not supported"),
    ("      static:\n        hostnames: []", "21:20", "hostnames must list at least one backend"),
])
def test_refusals_are_located_in_the_yaml(tmp_path: Path, resolver: str, where: str, message: str) -> None:
    path = write(tmp_path, CONFIG.format(resolver=resolver))
    with pytest.raises(DiagnosticError) as info:
        load(path, storage_path=tmp_path)
    rendered = info.value.render()
    assert f"{path}:{where}: " in rendered and message in rendered, rendered


def test_an_endpoint_under_protocol_is_refused(tmp_path: Path) -> None:
    text = CONFIG.format(resolver=STATIC).replace("        timeout: 3s\n", "        timeout: 3s\n        endpoint: x:1\n")
    with pytest.raises(DiagnosticError) as info:
        load(write(tmp_path, text), storage_path=tmp_path)
    assert "invalid keys: endpoint" in info.value.render()
